"""Signing in through the real app: the session cookie and its flags, CSRF on writes,
one answer for every failed sign-in, the throttle, expiry, sign-out, resets, the admin's
user API, and a contractor user's scope (SQLite and PostgreSQL). Token callers are
unaffected: they need no CSRF token and never touch a session."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from api.app import create_app
from api.deps import users_for
from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from quality.tickets.lifecycle import Role
from tests.conftest import unique
from tests.databases import BACKENDS, fresh_stores

PASSWORD = "correct horse battery"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores("sqlite", tmp_path, "sessions") as opened:
        yield opened


def _ticket(stores: Stores, device: str = "p1", contractor: str | None = None) -> int:
    finding = Finding(
        DeviceRef("hq", "b1", "pump", device), "pump_fault", Severity.MAJOR, "d", "1", 1, "s", {}
    )
    ticket_id = stores.tickets.record(finding).ticket_id
    if contractor is not None:
        stores.tickets.assign(ticket_id, "tech", "qa", Role.QUALITY, None, contractor=contractor)
    return ticket_id


def _signed_in(
    stores: Stores, username: str, password: str = PASSWORD, **client: str
) -> TestClient:
    browser = TestClient(create_app(stores), **client)  # type: ignore[arg-type]
    answer = browser.post("/api/session", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return browser


def _csrf(browser: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": browser.cookies["facmon_csrf"]}


def _set_cookies(answer: object) -> dict[str, SimpleCookie]:
    cookies: dict[str, SimpleCookie] = {}
    for header in answer.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        cookies[next(iter(jar))] = jar
    return cookies


def test_sign_in_sets_a_strict_http_only_session_cookie_and_a_readable_csrf_cookie(
    stores: Stores,
) -> None:
    users_for(stores).create("zhang.wei", "quality", "张伟", password=PASSWORD)
    browser = TestClient(create_app(stores))
    answer = browser.post("/api/session", json={"username": "Zhang.Wei", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json() | {"expires_at": None} == {
        "username": "zhang.wei",
        "display_name": "张伟",
        "role": "quality",
        "contractor": None,
        "language": "zh-CN",
        "must_change_password": False,
        "expires_at": None,
        "via": "session",
    }
    cookies = _set_cookies(answer)
    session = cookies["facmon_session"]["facmon_session"]
    csrf = cookies["facmon_csrf"]["facmon_csrf"]
    assert session["httponly"] and not csrf["httponly"]
    for morsel in (session, csrf):
        assert morsel["samesite"].lower() == "strict"
        assert morsel["path"] == "/"
        assert not morsel["secure"]  # plain http here
        assert int(morsel["max-age"]) == 12 * 3600
    assert browser.get("/api/session").json()["username"] == "zhang.wei"
    assert browser.get("/api/me").json()["name"] == "zhang.wei"


@pytest.mark.parametrize("how", ["https", "setting"])
def test_the_cookies_are_secure_over_https_or_when_a_setting_says_so(
    tmp_path: Path, how: str
) -> None:
    extra = {"session_cookie_secure": True} if how == "setting" else {}
    with fresh_stores("sqlite", tmp_path, "secure", **extra) as stores:
        users_for(stores).create("li.na", "viewer", password=PASSWORD)
        base = "https://testserver" if how == "https" else "http://testserver"
        browser = TestClient(create_app(stores), base_url=base)
        answer = browser.post("/api/session", json={"username": "li.na", "password": PASSWORD})
        cookies = _set_cookies(answer)
        assert cookies["facmon_session"]["facmon_session"]["secure"]
        assert cookies["facmon_csrf"]["facmon_csrf"]["secure"]


def test_a_wrong_password_and_an_unknown_user_get_identical_answers(stores: Stores) -> None:
    users_for(stores).create("wang.fang", "viewer", password=PASSWORD)
    browser = TestClient(create_app(stores))
    answers = [
        browser.post("/api/session", json={"username": name, "password": password}, headers=h)
        for name, password in (("wang.fang", "wrong password"), ("no.such.user", PASSWORD))
        for h in ({"Accept-Language": "en"}, {"Accept-Language": "zh-CN"})
    ]
    assert {a.status_code for a in answers} == {401}
    assert answers[0].json() == answers[2].json() and answers[1].json() == answers[3].json()
    assert answers[0].json()["detail"].startswith("Wrong user name or password")
    assert answers[1].json()["detail"].startswith("用户名或密码不正确")
    assert "facmon_session" not in browser.cookies


def test_five_failures_then_429_with_retry_after_for_any_name(stores: Stores) -> None:
    stores.tickets.clock = ManualClock(stores.tickets.clock.now())  # still while hashing
    users_for(stores).create("zhao.lei", "viewer", password=PASSWORD)
    browser = TestClient(create_app(stores), headers={"Accept-Language": "en"})
    for name in ("zhao.lei", "ghost"):
        for _ in range(5):
            refused = browser.post("/api/session", json={"username": name, "password": "nope"})
            assert refused.status_code == 401
        held = browser.post("/api/session", json={"username": name, "password": PASSWORD})
        assert held.status_code == 429
        assert held.headers["Retry-After"] == str(15 * 60)
        assert "try again in 15 min" in held.json()["detail"]
        assert "15 分钟后再试" in held.json()["zh"]


def test_cookie_writes_need_the_csrf_header_and_token_writes_do_not(stores: Stores) -> None:
    users_for(stores).create("li.na", "engineer", password=PASSWORD)
    ticket = _ticket(stores)
    url = f"/api/tickets/{ticket}/comments"
    browser = _signed_in(stores, "li.na")

    missing = browser.post(url, json={"text": "on site"}, headers={"Accept-Language": "en"})
    assert missing.status_code == 403
    assert "X-CSRF-Token" in missing.json()["detail"] and "facmon_csrf" in missing.json()["detail"]
    wrong = browser.post(url, json={"text": "on site"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    # A cookie planted by a neighbour, echoed in the header: not this session's token.
    browser.cookies.set("facmon_csrf", "planted")
    planted = browser.post(url, json={"text": "x"}, headers={"X-CSRF-Token": "planted"})
    assert planted.status_code == 403
    browser.cookies.delete("facmon_csrf")
    right = _signed_in(stores, "li.na")
    assert right.post(url, json={"text": "on site"}, headers=_csrf(right)).status_code in (200, 201)
    assert right.get(f"/api/tickets/{ticket}").status_code == 200  # reads need nothing more
    comments = [c.author for c in stores.tickets.comments(ticket)]
    assert comments == ["li.na"]

    token = stores.tokens.create("engineer", "robot")[1]
    machine = TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})
    assert machine.post(url, json={"text": "by token"}).status_code in (200, 201)
    assert machine.get("/api/session").json() | {"expires_at": None} == {
        "username": "robot",
        "display_name": "robot",
        "role": "engineer",
        "contractor": None,
        "language": None,
        "must_change_password": False,
        "expires_at": None,
        "via": "token",
    }


class BodyReads:
    """The app, with a record of whether it asked for any of the request body."""

    def __init__(self, stores: Stores) -> None:
        self.app = create_app(stores)
        self.read = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched() -> Message:
            message = await receive()
            self.read = self.read or message["type"] == "http.request"
            return message

        await self.app(scope, watched, send)


def test_a_cookie_write_without_csrf_is_refused_before_its_body_is_read(stores: Stores) -> None:
    users_for(stores).create("li.na", "engineer", password=PASSWORD)
    ticket = _ticket(stores)
    watched = BodyReads(stores)
    browser = TestClient(watched)
    browser.post("/api/session", json={"username": "li.na", "password": PASSWORD})
    watched.read = False
    refused = browser.post(f"/api/tickets/{ticket}/comments", json={"text": "x" * 1000})
    assert refused.status_code == 403 and not watched.read
    accepted = browser.post(
        f"/api/tickets/{ticket}/comments", json={"text": "seen"}, headers=_csrf(browser)
    )
    assert accepted.status_code in (200, 201) and watched.read


def test_sign_out_needs_csrf_then_ends_the_session_and_clears_the_cookies(stores: Stores) -> None:
    users_for(stores).create("qian.bo", "viewer", password=PASSWORD)
    browser = _signed_in(stores, "qian.bo")
    secret = browser.cookies["facmon_session"]
    assert browser.delete("/api/session").status_code == 403
    assert browser.get("/api/session").status_code == 200
    answer = browser.delete("/api/session", headers=_csrf(browser))
    assert answer.status_code == 204
    cleared = _set_cookies(answer)
    assert cleared["facmon_session"]["facmon_session"]["max-age"] == "0"
    assert cleared["facmon_csrf"]["facmon_csrf"]["max-age"] == "0"
    # The old cookie, replayed, names no session any more.
    replay = TestClient(create_app(stores), cookies={"facmon_session": secret})
    unauthenticated = replay.get("/api/tickets", headers={"Accept-Language": "en"})
    assert unauthenticated.status_code == 401
    assert "/login" in unauthenticated.json()["detail"]


def test_an_idle_session_expires(stores: Stores) -> None:
    clock = ManualClock(stores.tickets.clock.now())
    stores.tickets.clock = clock
    users_for(stores).create("sun.li", "viewer", password=PASSWORD)
    browser = _signed_in(stores, "sun.li")
    clock.advance(minutes=119)
    assert browser.get("/api/tickets").status_code == 200
    clock.advance(minutes=121)
    assert browser.get("/api/tickets").status_code == 401


def test_an_admin_reset_ends_the_users_sessions_and_the_one_time_password_must_change(
    stores: Stores,
) -> None:
    users_for(stores).create("zhou.min", "engineer", password=PASSWORD)
    browser = _signed_in(stores, "zhou.min")
    admin_token = stores.tokens.create("admin", "root")[1]
    admin = TestClient(create_app(stores), headers={"Authorization": f"Bearer {admin_token}"})

    reset = admin.post("/api/users/zhou.min/password", json={})
    assert reset.status_code == 200
    assert reset.json()["sessions_revoked"] == 1
    one_time = reset.json()["one_time_password"]
    assert browser.get("/api/tickets").status_code == 401

    fresh = _signed_in(stores, "zhou.min", one_time)
    assert fresh.get("/api/session").json()["must_change_password"] is True
    blocked = fresh.get("/api/tickets", headers={"Accept-Language": "zh-CN"})
    assert blocked.status_code == 403 and "请先修改密码" in blocked.json()["detail"]
    short = fresh.post(
        "/api/session/password",
        json={"current_password": one_time, "new_password": "short"},
        headers={**_csrf(fresh), "Accept-Language": "en"},
    )
    assert short.status_code == 422
    assert short.json()["field"] == "new_password" and "at least 10" in short.json()["detail"]
    changed = fresh.post(
        "/api/session/password",
        json={"current_password": one_time, "new_password": "my own password 1"},
        headers=_csrf(fresh),
    )
    assert changed.status_code == 204
    assert fresh.get("/api/tickets").status_code == 200


def test_admins_manage_users_through_the_api(stores: Stores) -> None:
    admin_token = stores.tokens.create("admin", "root")[1]
    admin = TestClient(
        create_app(stores),
        headers={"Authorization": f"Bearer {admin_token}", "Accept-Language": "en"},
    )
    created = admin.post(
        "/api/users",
        json={
            "username": "Tech.Wu",
            "role": "engineer",
            "display_name": "吴师傅",
            "language": "en",
        },
    )
    assert created.status_code == 201
    assert created.json()["user"]["username"] == "tech.wu"
    assert created.json()["one_time_password"]

    taken = admin.post("/api/users", json={"username": "tech.wu", "role": "viewer"})
    assert taken.status_code == 409 and taken.json()["field"] == "username"
    bad = admin.post("/api/users", json={"username": "x y", "role": "viewer"})
    assert bad.status_code == 422 and bad.json()["field"] == "username"
    assert bad.json()["zh"].startswith("用户名")
    bad_role = admin.post("/api/users", json={"username": "ok.name", "role": "system"})
    assert bad_role.status_code == 422 and bad_role.json()["field"] == "role"

    changed = admin.patch("/api/users/tech.wu", json={"role": "quality", "contractor": "申安"})
    assert (changed.json()["role"], changed.json()["contractor"]) == ("quality", "申安")
    cleared = admin.patch("/api/users/tech.wu", json={"contractor": None})
    assert cleared.json()["contractor"] is None and cleared.json()["role"] == "quality"
    assert admin.patch("/api/users/tech.wu", json={"active": False}).json()["active"] is False
    assert [u["username"] for u in admin.get("/api/users").json()] == ["tech.wu"]
    assert admin.get("/api/users/nobody").status_code == 404

    # An admin signed in cannot lock themself out; a non-admin cannot manage users.
    users_for(stores).create("root.person", "admin", password=PASSWORD)
    person = _signed_in(stores, "root.person")
    own = person.patch("/api/users/root.person", json={"role": "viewer"}, headers=_csrf(person))
    assert own.status_code == 422 and own.json()["field"] == "role"
    users_for(stores).create("viewer.only", "viewer", password=PASSWORD)
    viewer = _signed_in(stores, "viewer.only")
    assert viewer.get("/api/users").status_code == 403


def test_the_sign_in_page_is_served(stores: Stores) -> None:
    page = TestClient(create_app(stores)).get("/login")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="/static/login.js"' in page.text


@pytest.fixture(params=BACKENDS)
def any_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path, "scope") as opened:
        yield opened


def test_a_contractor_users_session_is_scoped_as_a_contractor_token_is(
    any_stores: Stores,
) -> None:
    stores = any_stores
    pumps, lifts = unique("pumps-co"), unique("lifts-co")
    mine = _ticket(stores, "p1", pumps)
    theirs = _ticket(stores, "p2", lifts)
    users_for(stores).create("tech.pump", "engineer", contractor=pumps, password=PASSWORD)
    tech = _signed_in(stores, "tech.pump")

    assert tech.get("/api/session").json()["contractor"] == pumps
    assert [t["id"] for t in tech.get("/api/tickets").json()] == [mine]
    assert [t["id"] for t in tech.get("/api/tickets/page").json()["items"]] == [mine]
    asked_other = tech.get("/api/tickets/page", params={"contractor": lifts})
    assert asked_other.status_code == 403 and pumps in asked_other.json()["detail"]
    assert tech.get(f"/api/tickets/{mine}").status_code == 200
    assert tech.get(f"/api/tickets/{theirs}").status_code == 404
    acted = tech.post(f"/api/tickets/{theirs}/comments", json={"text": "x"}, headers=_csrf(tech))
    assert acted.status_code == 404
    ok = tech.post(f"/api/tickets/{mine}/comments", json={"text": "on it"}, headers=_csrf(tech))
    assert ok.status_code in (200, 201)
