"""The command line documents itself: every command and option has help text, `facmon --help`
gives each command one line, and the development commands come from entry points."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from facmon.cli import build_parser, plugins


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if name not in helped:
                    missing.append(f"{path} {name}")
                missing += _undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_help() -> None:
    assert _undocumented(build_parser(), "facmon") == []


def test_help_lists_every_command_on_one_line() -> None:
    [command_action] = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    commands = list(command_action.choices)
    shown = subprocess.run(
        [sys.executable, "-m", "facmon.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "60", "PATH": ""},
    ).stdout.splitlines()
    for name in commands:
        lines = [line for line in shown if line.split()[:1] == [name]]
        assert len(lines) == 1, (name, shown)
        assert len(lines[0].split()) > 1, f"{name}'s help is not on its line"
    assert {"bench", "evaluate", "run", "dead-letters"} <= set(commands)


def test_development_commands_come_from_entry_points() -> None:
    sub = argparse.ArgumentParser().add_subparsers()
    assert plugins.add_plugin_commands(sub) == ["bench", "evaluate"]
    assert {"bench", "evaluate"} <= set(sub.choices)


def test_a_command_whose_module_is_absent_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = EntryPoint("absent", "no_such_tools.commands:add", plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [absent])
    sub = argparse.ArgumentParser().add_subparsers()
    assert plugins.add_plugin_commands(sub) == []
    assert sub.choices == {}
