"""The README stays true: every setting is documented, every documented command exists."""

from __future__ import annotations

import re
from pathlib import Path

from facmon.cli import build_parser
from facmon.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(re.findall(r"^\| `(FACMON_[A-Z0-9_]+)` \|", README, re.MULTILINE))
    expected = {f"FACMON_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_documented_facmon_commands_parse() -> None:
    parser = build_parser()
    commands = re.findall(r"\.venv/bin/facmon ([a-z][^\n`#]*)", README)
    assert commands
    for command in commands:
        words = command.replace("\\", " ").split()
        parser.parse_args(words)
