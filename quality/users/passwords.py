"""Passwords: argon2id hashes (argon2-cffi, RFC 9106's low-memory profile), the policy a
new password must meet, and one-time passwords an admin hands out.

>>> stored = hash_password("correct horse battery")
>>> stored.startswith("$argon2id$")
True
>>> verify_password(stored, "correct horse battery"), verify_password(stored, "wrong")
(True, False)
"""

from __future__ import annotations

import functools
import secrets
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quality.users.errors import InvalidInput

MIN_LENGTH: Final = 10
# Hashing cost grows with length; nobody types more than this.
MAX_LENGTH: Final = 1024
# No 0/O, 1/l/I: read out loud or off a screen without doubt.
ONE_TIME_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyz23456789"

_hasher: Final = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4


def _bytes(password: str) -> bytes:
    # Any string a JSON body can carry, unpaired surrogates included, hashes the same way.
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return _hasher.hash(_bytes(password))


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, _bytes(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when `stored` was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_dummy(password: str) -> None:
    """The work of a real verification for a name that has no user, so the time an answer
    takes does not tell whether the user exists."""
    verify_password(_dummy_hash(), password)


def check_policy(password: str, username: str, field: str = "password") -> None:
    """Refuse a password that is too short, too long, or the user name itself."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("accounts.error.password_short", field, field=field, min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise InvalidInput("accounts.error.password_long", field, field=field, max=MAX_LENGTH)
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidInput("accounts.error.password_is_username", field, field=field)


def one_time_password() -> str:
    """Sixteen random characters in four groups (about 79 bits), e.g. 'k7qm-x2rd-9fhe-tw4p'."""
    chars = "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))
