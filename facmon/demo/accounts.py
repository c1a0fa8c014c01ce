"""The demo's people: a quality manager, a dispatcher, a contractor's technician, an
inspector and an administrator, each with a password a newcomer can sign in with.

The passwords are derived (HMAC-SHA256) from a random key kept next to the demo's folder
(`<FACMON_DATA_DIR>/demo-accounts.key`, outside the folder each run empties), so they are
different on every machine yet the same on every run over the same data folder. Delete
the key file for new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import Engine

from quality.i18n import text
from quality.users.errors import UsernameTaken
from quality.users.passwords import ONE_TIME_ALPHABET
from quality.users.store import UserStore

KEY_FILE: Final = "demo-accounts.key"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    username: str
    display_name: str
    role: str
    what: str  # catalog key saying who they are
    contractor: str | None = None


def demo_people(contractor: str) -> list[DemoPerson]:
    return [
        DemoPerson("demo.quality", "陈静", "quality", "accounts.demo.quality"),
        DemoPerson("demo.dispatcher", "刘洋", "engineer", "accounts.demo.dispatcher"),
        DemoPerson("demo.technician", "王强", "engineer", "accounts.demo.technician", contractor),
        DemoPerson("demo.inspector", "赵敏", "inspector", "accounts.demo.inspector"),
        DemoPerson("demo.admin", "系统管理员", "admin", "accounts.demo.admin"),
    ]


def _key(folder: Path) -> bytes:
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        path.chmod(0o600)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def demo_password(key: bytes, username: str) -> str:
    """Twelve characters of the one-time alphabet, in three groups: 'k7qm-x2rd-9fhe'."""
    digest = hmac.new(key, username.encode(), hashlib.sha256).digest()
    chars = "".join(ONE_TIME_ALPHABET[b % len(ONE_TIME_ALPHABET)] for b in digest[:12])
    return "-".join(chars[i : i + 4] for i in range(0, 12, 4))


def seed_demo_users(
    engine: Engine, key_folder: Path, contractor: str
) -> list[tuple[DemoPerson, str]]:
    """Each demo person with their password, created or brought back to it."""
    key = _key(key_folder)
    users = UserStore(engine)
    seeded = []
    for person in demo_people(contractor):
        password = demo_password(key, person.username)
        try:
            users.create(
                person.username,
                person.role,
                display_name=person.display_name,
                contractor=person.contractor,
                password=password,
            )
        except UsernameTaken:  # a database the demo does not reset (FACMON_DATABASE_URL)
            users.update(
                person.username,
                role=person.role,
                contractor=person.contractor,
                display_name=person.display_name,
                active=True,
            )
            users.reset_password(person.username, password)
        seeded.append((person, password))
    return seeded


def sign_in_lines(base: str, seeded: list[tuple[DemoPerson, str]]) -> str:
    """The accounts as the demo's console shows them, in both languages."""
    url = f"{base}/login"
    lines = [text("accounts.demo.heading", "en", url=url)]
    lines.append(text("accounts.demo.heading", "zh-CN", url=url))
    for person, password in seeded:
        who = " / ".join(
            text(person.what, lang, contractor=person.contractor or "") for lang in ("zh-CN", "en")
        )
        lines.append(f"  {person.username:<16} {password}   {person.role:<9} {who}")
    return "\n".join(lines) + "\n"
