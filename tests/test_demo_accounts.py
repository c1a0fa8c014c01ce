"""The demo's people: each can sign in with the password the console shows, the passwords
stay the same over runs on one data folder and differ between folders, and a re-run on a
database the demo does not reset brings the accounts back to them."""

from __future__ import annotations

from pathlib import Path

from facmon.demo.accounts import seed_demo_users, sign_in_lines
from quality.users.store import UserStore
from tests.databases import fresh_engine


def test_demo_people_sign_in_with_the_printed_passwords(tmp_path: Path) -> None:
    keys = tmp_path / "data"
    with fresh_engine("sqlite", tmp_path, "first") as first:
        seeded = seed_demo_users(first, keys, "申安电梯维保有限公司")
        users = UserStore(first)
        roles = {person.username: (person.role, person.contractor) for person, _ in seeded}
        assert roles == {
            "demo.quality": ("quality", None),
            "demo.dispatcher": ("engineer", None),
            "demo.technician": ("engineer", "申安电梯维保有限公司"),
            "demo.inspector": ("inspector", None),
            "demo.admin": ("admin", None),
        }
        for person, password in seeded:
            made = users.sign_in(person.username, password, None)
            assert made.user.contractor == person.contractor
            assert not made.user.must_change_password
        shown = sign_in_lines("http://127.0.0.1:8000", seeded)
        assert "http://127.0.0.1:8000/login" in shown
        assert all(f"{p.username}" in shown and password in shown for p, password in seeded)
        assert "维保单位技术员（申安电梯维保有限公司）" in shown

        # The same database again (FACMON_DATABASE_URL is not reset): same passwords.
        again = seed_demo_users(first, keys, "申安电梯维保有限公司")
        assert [pw for _, pw in again] == [pw for _, pw in seeded]
        users.sign_in("demo.quality", again[0][1], None)

    with fresh_engine("sqlite", tmp_path, "second") as second:
        rerun = seed_demo_users(second, keys, "door-team")
        assert [pw for _, pw in rerun] == [pw for _, pw in seeded]
    with fresh_engine("sqlite", tmp_path, "other") as other:
        elsewhere = seed_demo_users(other, tmp_path / "elsewhere", "door-team")
        assert {pw for _, pw in elsewhere}.isdisjoint(pw for _, pw in seeded)
