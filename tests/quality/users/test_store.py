"""Users on SQLite and PostgreSQL: argon2id hashes, one answer for every failed sign-in,
the throttle, sessions that expire and are revoked, resets and changes of password, and
the contractor scope a session carries."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import quality.users.store as store_module
from contract.clock import ManualClock
from quality.i18n import Language
from quality.tickets.lifecycle import Role
from quality.users.errors import (
    AccountError,
    InvalidInput,
    SignInRefused,
    Throttled,
    UnknownUser,
    UsernameTaken,
)
from quality.users.models import User, UserSession
from quality.users.store import UserStore
from quality.users.throttle import ThrottlePolicy

PASSWORD = "correct horse battery"


def _hash_of(engine: Engine, username: str) -> str:
    with Session(engine) as db:
        stored = db.scalar(select(User.password_hash).where(User.username == username))
    assert stored is not None
    return stored


def test_passwords_are_stored_as_argon2id_hashes_only(users: UserStore, engine: Engine) -> None:
    users.create("Zhang.Wei", "quality", "张伟", password=PASSWORD)
    stored = _hash_of(engine, "zhang.wei")
    assert stored.startswith("$argon2id$v=19$")
    assert PASSWORD not in stored
    view = users.get("ZHANG.WEI")
    assert (view.username, view.display_name, view.role, view.language) == (
        "zhang.wei",
        "张伟",
        "quality",
        "zh-CN",
    )
    assert view.active and not view.must_change_password


def test_sign_in_gives_a_session_that_names_the_user(users: UserStore) -> None:
    users.create("li.na", "engineer", "李娜", language="en", password=PASSWORD)
    made = users.sign_in(" Li.Na ", PASSWORD, "10.0.0.7")
    assert made.csrf and made.csrf != made.secret
    who = users.principal(made.secret)
    assert who is not None and who.user is not None
    assert (who.name, who.role, who.token_id, who.contractor) == (
        "li.na",
        Role.ENGINEER,
        None,
        None,
    )
    assert (who.user.display_name, who.user.language) == ("李娜", "en")
    assert users.get("li.na").last_sign_in_at is not None
    assert users.principal("not-a-session") is None


def test_wrong_password_unknown_user_and_deactivated_user_get_one_answer(
    users: UserStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.create("wang.fang", "viewer", password=PASSWORD)
    users.create("gone", "viewer", password=PASSWORD)
    users.update("gone", active=False)
    dummies: list[str] = []
    real = store_module.verify_dummy

    def counted(password: str) -> None:
        dummies.append(password)
        real(password)

    monkeypatch.setattr(store_module, "verify_dummy", counted)

    answers: list[tuple[str, dict[Language, str], str | None]] = []
    for name, password in (
        ("wang.fang", "wrong password"),
        ("nobody", PASSWORD),
        ("gone", PASSWORD),
    ):
        with pytest.raises(SignInRefused) as refused:
            users.sign_in(name, password, "10.0.0.8")
        answers.append((refused.value.key, dict(refused.value.both()), refused.value.field))
    assert answers[0] == answers[1] == answers[2]
    assert "zh-CN" in answers[0][1] and "en" in answers[0][1]
    # The unknown name cost an argon2 verification too, against a dummy hash.
    assert dummies == [PASSWORD]


def test_failed_sign_ins_are_throttled_per_name_known_or_not(
    users: UserStore, clock: ManualClock
) -> None:
    users.create("zhao.lei", "viewer", password=PASSWORD)
    for name in ("zhao.lei", "no.such.user"):
        for _ in range(5):
            with pytest.raises(SignInRefused):
                users.sign_in(name, "wrong password", f"client-{name}")
        # The limit holds even for the right password: nothing is checked past it.
        with pytest.raises(Throttled) as throttled:
            users.sign_in(name, PASSWORD, f"client-{name}")
        assert throttled.value.retry_after_s == 15 * 60
        assert "15" in throttled.value.say("en") and "15" in throttled.value.say("zh-CN")
    clock.advance(minutes=15, seconds=1)
    assert users.sign_in("zhao.lei", PASSWORD, "client-zhao.lei").user.username == "zhao.lei"
    # A good sign-in clears the name's count: one more failure does not lock it again.
    with pytest.raises(SignInRefused):
        users.sign_in("zhao.lei", "wrong password", "client-zhao.lei")
    users.sign_in("zhao.lei", PASSWORD, "client-zhao.lei")


def test_failed_sign_ins_are_throttled_per_client_address(engine: Engine) -> None:
    users = UserStore(engine, throttle_policy=ThrottlePolicy(per_user=5, per_client=3))
    users.create("sun.li", "viewer", password=PASSWORD)
    for name in ("a.one", "b.two", "c.three"):
        with pytest.raises(SignInRefused):
            users.sign_in(name, "wrong password", "203.0.113.9")
    with pytest.raises(Throttled):
        users.sign_in("sun.li", PASSWORD, "203.0.113.9")
    # Another address is not held back by this one's failures.
    assert users.sign_in("sun.li", PASSWORD, "198.51.100.4").user.username == "sun.li"


def test_sessions_end_when_idle_at_their_lifetime_and_at_sign_out(
    users: UserStore, clock: ManualClock
) -> None:
    users.create("qian.bo", "quality", password=PASSWORD)
    kept = users.sign_in("qian.bo", PASSWORD, None).secret
    idle = users.sign_in("qian.bo", PASSWORD, None).secret
    # Used every 100 minutes, a session outlives the 2 h idle timeout ...
    for _ in range(7):
        clock.advance(minutes=100)
        assert users.principal(kept) is not None
    # ... the one left alone does not ...
    assert users.principal(idle) is None
    # ... and none outlives its 12 h lifetime (800 min now).
    clock.advance(minutes=100)
    assert users.principal(kept) is None

    fresh = users.sign_in("qian.bo", PASSWORD, None)
    who = users.principal(fresh.secret)
    assert who is not None and who.user is not None
    users.sign_out(who.user.session_id)
    assert users.principal(fresh.secret) is None


def test_a_reset_ends_every_session_and_gives_a_one_time_password(
    users: UserStore, engine: Engine
) -> None:
    users.create("zhou.min", "engineer", password=PASSWORD)
    sessions = [users.sign_in("zhou.min", PASSWORD, None).secret for _ in range(2)]
    made = users.reset_password("zhou.min")
    assert made.sessions_revoked == 2 and made.one_time is not None
    assert all(users.principal(s) is None for s in sessions)
    with Session(engine) as db:
        reasons = set(db.scalars(select(UserSession.revoked_reason)))
    assert reasons == {"password_reset"}
    with pytest.raises(SignInRefused):
        users.sign_in("zhou.min", PASSWORD, None)
    signed = users.sign_in("zhou.min", made.one_time, None)
    who = users.principal(signed.secret)
    assert who is not None and who.user is not None and who.user.must_change_password

    # The user's own change: the current password is checked, the other sessions end.
    other = users.sign_in("zhou.min", made.one_time, None).secret
    with pytest.raises(InvalidInput) as wrong:
        users.change_password(who.user, "not it at all", "my own password 1", None)
    assert wrong.value.field == "current_password"
    assert users.change_password(who.user, made.one_time, "my own password 1", None) == 1
    assert users.principal(other) is None
    still = users.principal(signed.secret)
    assert still is not None and still.user is not None
    assert not still.user.must_change_password

    # An admin's reset with a chosen password needs no change.
    chosen = users.reset_password("zhou.min", "chosen by admin 2")
    assert chosen.one_time is None and not chosen.user.must_change_password
    assert users.principal(signed.secret) is None


@pytest.mark.parametrize(
    ("password", "key"),
    [
        ("short", "accounts.error.password_short"),
        ("x" * 1025, "accounts.error.password_long"),
        ("Ma.Jun.0001", "accounts.error.password_is_username"),
    ],
)
def test_the_password_policy_names_the_field_and_the_fix(
    users: UserStore, password: str, key: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        users.create("ma.jun.0001", "viewer", password=password)
    assert (refused.value.key, refused.value.field) == (key, "password")
    both = refused.value.both()
    assert "password" in both["en"] and "password" in both["zh-CN"]
    assert users.list() == []  # nothing stored


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "a"}, "username"),
        ({"username": "has space"}, "username"),
        ({"role": "system"}, "role"),
        ({"role": "boss"}, "role"),
        ({"language": "fr"}, "language"),
        ({"display_name": "bad\x00name"}, "display_name"),
        ({"contractor": "x" * 200}, "contractor"),
    ],
)
def test_bad_fields_are_refused_by_name(
    users: UserStore, changes: dict[str, str], field: str
) -> None:
    given = {"username": "good.name", "role": "viewer", "password": PASSWORD} | changes
    with pytest.raises(InvalidInput) as refused:
        users.create(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert users.list() == []


def test_names_are_unique_whatever_their_case(users: UserStore) -> None:
    users.create("he.jing", "viewer", password=PASSWORD)
    with pytest.raises(UsernameTaken):
        users.create("HE.JING", "admin", password=PASSWORD)
    with pytest.raises(UnknownUser):
        users.get("nobody")
    with pytest.raises(UnknownUser):
        users.get("\udc80 odd")  # not a name at all: no query, no driver error


def test_a_contractor_users_session_carries_its_scope_and_deactivation_ends_it(
    users: UserStore,
) -> None:
    users.create("tech.wu", "engineer", contractor="申安电梯维保有限公司", password=PASSWORD)
    secret = users.sign_in("tech.wu", PASSWORD, None).secret
    who = users.principal(secret)
    assert who is not None and who.contractor == "申安电梯维保有限公司"
    users.update("tech.wu", contractor=None, role="quality")
    who = users.principal(secret)
    assert who is not None and who.contractor is None and who.role is Role.QUALITY
    users.update("tech.wu", active=False)
    assert users.principal(secret) is None
    with pytest.raises(AccountError):
        users.sign_in("tech.wu", PASSWORD, None)
