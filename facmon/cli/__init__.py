"""The `facmon` command: run the service, the demo, simulators, dashboards and benchmarks."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import logging
import signal
import sys

from pydantic import ValidationError

from facmon.cli.backtest import add_backtest_command
from facmon.cli.dashboards import add_dashboards_commands
from facmon.cli.db import add_db_commands
from facmon.cli.dead_letters import add_dead_letter_commands
from facmon.cli.devices import add_device_commands
from facmon.cli.kpi import add_kpi_commands
from facmon.cli.ledger import add_ledger_commands
from facmon.cli.notify import add_notify_commands
from facmon.cli.plugins import add_plugin_commands
from facmon.cli.report import add_report_commands
from facmon.cli.serve import add_serve_commands
from facmon.cli.simulate import add_simulate_command
from facmon.cli.tokens import add_token_commands
from facmon.cli.users import add_user_commands
from facmon.ports import StartupError
from facmon.settings_errors import explain as explain_settings_error

log = logging.getLogger("facmon")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "amqtt", "transitions", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _dump_stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` writes every thread's stack to standard error: what a process
    that seems stuck (a start that never says `running`) is waiting for, without
    stopping it."""
    if not hasattr(signal, "SIGUSR1"):
        return
    # Standard error may be no file: the command called in-process, its output captured.
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


class _OneLinePerCommand(argparse.HelpFormatter):
    """`facmon --help` lists each command with its help on one line, whatever the terminal."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=24, width=100)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            # argparse measures command names at the group's indent, not at the deeper one
            # it prints them at, so the longest name would push its help to a second line.
            deepest = self._current_indent + self._indent_increment
            longest = max((len(name) for name in action.choices), default=0)
            self._action_max_length = max(self._action_max_length, deepest + longest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facmon", description=__doc__, formatter_class=_OneLinePerCommand
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_commands(sub)
    add_simulate_command(sub)
    add_dashboards_commands(sub)
    add_kpi_commands(sub)
    add_report_commands(sub)
    add_dead_letter_commands(sub)
    add_device_commands(sub)
    add_ledger_commands(sub)
    add_notify_commands(sub)
    add_token_commands(sub)
    add_user_commands(sub)
    add_db_commands(sub)
    add_backtest_command(sub)
    add_plugin_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    _dump_stacks_on_sigusr1()
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # settings from FACMON_* variables
        if args.verbose:
            raise
        print(f"error: {explain_settings_error(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: a clear message instead of a traceback
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result
