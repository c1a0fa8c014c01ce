"""What a user's fields may hold; each refusal names the field and the fix.

>>> username("  Zhang.Wei ")
'zhang.wei'
>>> language("EN")
'en'
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from quality.accounts import HUMAN_ROLES
from quality.i18n import LANGUAGES, Language
from quality.tickets.lifecycle import Role
from quality.users.errors import InvalidInput

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
MAX_NAME: Final = 128


def username(raw: str) -> str:
    """Sign-in names are case-blind: stored and compared in lower case."""
    cleaned = raw.strip().lower()
    if not USERNAME.fullmatch(cleaned):
        raise InvalidInput("accounts.error.username_format", "username")
    return cleaned


def _printable(raw: str) -> bool:
    return not any(unicodedata.category(ch) in {"Cc", "Cs", "Cf"} for ch in raw)


def display_name(raw: str) -> str:
    cleaned = raw.strip()
    if not cleaned or len(cleaned) > MAX_NAME or not _printable(cleaned):
        raise InvalidInput("accounts.error.display_name", "display_name", max=MAX_NAME)
    return cleaned


def role(raw: str) -> Role:
    allowed = ", ".join(r.value for r in HUMAN_ROLES)
    try:
        parsed = Role(raw.strip().lower())
    except ValueError:
        raise InvalidInput("accounts.error.role", "role", roles=allowed) from None
    if parsed not in HUMAN_ROLES:
        raise InvalidInput("accounts.error.role", "role", roles=allowed)
    return parsed


def contractor(raw: str | None) -> str | None:
    """A contractor's name as tickets and tokens carry it; empty means none."""
    if raw is None or not raw.strip():
        return None
    cleaned = raw.strip()
    if len(cleaned) > MAX_NAME or not _printable(cleaned):
        raise InvalidInput("accounts.error.contractor", "contractor", max=MAX_NAME)
    return cleaned


def language(raw: str) -> Language:
    for known in LANGUAGES:
        if raw.strip().lower() == known.lower():
            return known
    raise InvalidInput("accounts.error.language", "language")
