"""The broker passwords simulated devices log in with, one account per device.

On a broker with accounts (the shipped Mosquitto), each simulated device logs in
as a real one does: its `device_id` as user name, the password
`facmon devices provision` generated for it, and the client id its account is
bound to (`dev-<device_id>`). There is no shared gateway login, so nothing the
simulator holds can open another client's session (ingest's above all).

Two spellings of the same pairs: the file `facmon devices provision
--passwords-out` writes (`device_id password` lines), and the one-line value of
`FACMON_SIMULATOR_PASSWORDS` (`device_id=password,...`), which
`facmon devices provision --env-file` writes for docker-compose.

>>> parse_inline("pump-01=s3cret,lift-1=other")
{'pump-01': 's3cret', 'lift-1': 'other'}
>>> format_inline({"pump-01": "s3cret"})
'pump-01=s3cret'
>>> parse_lines("pump-01 s3cret\\n\\n# a comment\\n", "devices.txt")
{'pump-01': 's3cret'}
>>> missing({"pump-01": "s3cret"}, ["pump-01", "lift-1", "lift-2"])
['lift-1', 'lift-2']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

ENV_VAR: Final = "FACMON_SIMULATOR_PASSWORDS"


class CredentialsError(ValueError):
    """The passwords cannot be read; the text names the file or variable and the fix."""


def parse_lines(text: str, source: str) -> dict[str, str]:
    """`device_id password` per line; blank lines and `#` comments are skipped."""
    passwords: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2:
            # The line may hold a password: say where it is, never what it says.
            raise CredentialsError(
                f"{source} line {number}: expected `device_id password` (two words, as "
                f"`facmon devices provision --passwords-out` writes), found {len(words)} words"
            )
        passwords[words[0]] = words[1]
    return passwords


def parse_inline(value: str, source: str = ENV_VAR) -> dict[str, str]:
    """`device_id=password` items separated by commas."""
    passwords: dict[str, str] = {}
    for position, item in enumerate(filter(None, (i.strip() for i in value.split(","))), 1):
        device_id, sep, password = item.partition("=")
        if not sep or not device_id or not password:
            raise CredentialsError(
                f"{source} item {position}: expected device_id=password (items separated by "
                "commas, as `facmon devices provision --env-file` writes)"
            )
        passwords[device_id] = password
    return passwords


def format_inline(passwords: Mapping[str, str]) -> str:
    return ",".join(f"{device_id}={password}" for device_id, password in passwords.items())


def load_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(
            f"--credentials {path}: cannot read it ({exc.strerror}); pass the file "
            "`facmon devices provision --passwords-out` wrote"
        ) from None
    passwords = parse_lines(text, str(path))
    if not passwords:
        raise CredentialsError(f"--credentials {path} holds no `device_id password` line")
    return passwords


def missing(passwords: Mapping[str, str], device_ids: Iterable[str]) -> list[str]:
    """The devices that have no password, in the order given."""
    return [device_id for device_id in device_ids if device_id not in passwords]
