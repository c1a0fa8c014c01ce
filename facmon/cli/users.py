"""`facmon users create|list|set-role|reset-password|deactivate|activate`: people's accounts.

A password never goes on the command line, where the shell's history and `ps` would keep
it: it is typed at a prompt (`--prompt`), piped in (`--password-stdin`), or, with
neither, made for you as a one-time password, printed once, that the user must change at
the first sign-in. Messages follow the locale (zh-CN for a Chinese one).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from facmon.cli.db import language
from facmon.cli.tokens import _database_shown
from facmon.settings import Settings

ROLES = ["viewer", "inspector", "engineer", "quality", "admin"]


def _say(key: str, **params: object) -> str:
    from quality.i18n import text

    return text(key, language(), **params)


@contextmanager
def _engine() -> Iterator[Engine]:
    from facmon.schema import create_schema
    from storage.sql import make_engine

    settings = Settings()
    engine = make_engine(settings.ticket_database_url)
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()


def _password(args: argparse.Namespace, username: str) -> str | None:
    """The password the admin gives, or None for a one-time one."""
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ValueError(_say("accounts.cli.stdin_empty"))
        return line
    if args.prompt:
        first = getpass.getpass(_say("accounts.cli.prompt", username=username))
        if first != getpass.getpass(_say("accounts.cli.prompt_again")):
            raise ValueError(_say("accounts.cli.mismatch"))
        return first
    return None


def _run(work: Any) -> int:
    from quality.users.errors import AccountError
    from quality.users.store import UserStore

    try:
        with _engine() as engine:
            work(UserStore(engine))
    except AccountError as exc:
        print(f"error: {exc.say(language())}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_one_time(one_time: str | None) -> None:
    if one_time is not None:
        print(_say("accounts.cli.one_time"), file=sys.stderr)
        print(one_time)


def cmd_create(args: argparse.Namespace) -> int:
    def work(users: Any) -> None:
        made = users.create(
            args.username,
            args.role,
            display_name=args.display_name,
            contractor=args.contractor,
            language=args.language,
            password=_password(args, args.username),
        )
        where, _new = _database_shown(Settings().ticket_database_url)
        print(
            _say("accounts.cli.created", username=made.user.username, role=made.user.role)
            + f" ({where})",
            file=sys.stderr,
        )
        _print_one_time(made.one_time)

    return _run(work)


def cmd_list(_args: argparse.Namespace) -> int:
    def work(users: Any) -> None:
        listed = users.list()
        if not listed:
            print(_say("accounts.cli.no_users"), file=sys.stderr)
            return
        columns = ("username", "display_name", "role", "contractor", "language", "state")
        header = [_say(f"accounts.cli.col.{c}") for c in columns] + [
            _say("accounts.cli.col.last_sign_in")
        ]
        rows = [header]
        for user in listed:
            state = _say("accounts.cli.active" if user.active else "accounts.cli.inactive")
            last = (
                user.last_sign_in_at.strftime("%Y-%m-%d %H:%M UTC")
                if user.last_sign_in_at
                else _say("accounts.cli.never")
            )
            rows.append(
                [
                    user.username,
                    user.display_name,
                    user.role,
                    user.contractor or "-",
                    user.language,
                    state,
                    last,
                ]
            )
        for row in rows:
            print("\t".join(row))

    return _run(work)


def cmd_set_role(args: argparse.Namespace) -> int:
    from quality.users.store import UNSET

    def work(users: Any) -> None:
        contractor: Any = UNSET
        if args.no_contractor:
            contractor = None
        elif args.contractor is not None:
            contractor = args.contractor
        view = users.update(args.username, role=args.role, contractor=contractor)
        print(_say("accounts.cli.updated", username=view.username), file=sys.stderr)

    return _run(work)


def cmd_reset_password(args: argparse.Namespace) -> int:
    def work(users: Any) -> None:
        made = users.reset_password(args.username, _password(args, args.username))
        print(
            _say("accounts.cli.reset", username=made.user.username, sessions=made.sessions_revoked),
            file=sys.stderr,
        )
        _print_one_time(made.one_time)

    return _run(work)


def cmd_set_active(args: argparse.Namespace) -> int:
    def work(users: Any) -> None:
        view = users.update(args.username, active=args.active)
        key = "accounts.cli.activated" if args.active else "accounts.cli.deactivated"
        print(_say(key, username=view.username), file=sys.stderr)

    return _run(work)


def _password_options(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--prompt", action="store_true", help="type the password at a prompt")
    how.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


def add_user_commands(sub: Any) -> None:
    """Add `users create|list|set-role|reset-password|deactivate|activate`."""
    users = sub.add_parser("users", help="people's accounts: sign-in names and passwords")
    users_sub = users.add_subparsers(dest="users_command", required=True)

    create = users_sub.add_parser(
        "create", help="create a user (a one-time password unless --prompt/--password-stdin)"
    )
    create.add_argument("username", help="sign-in name: a-z, 0-9 and . _ @ -")
    create.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    create.add_argument("--display-name", help="the name people see, e.g. 张伟")
    create.add_argument(
        "--contractor",
        help="a contractor's (维保单位) name: the user sees and acts on its tickets only",
    )
    create.add_argument(
        "--language", default="zh-CN", choices=["zh-CN", "en"], help="preferred language"
    )
    _password_options(create)
    create.set_defaults(func=cmd_create)

    listing = users_sub.add_parser("list", help="list users")
    listing.set_defaults(func=cmd_list)

    role = users_sub.add_parser("set-role", help="change a user's role and contractor scope")
    role.add_argument("username", help="the user's sign-in name")
    role.add_argument("role", choices=ROLES, help="the new role")
    scope = role.add_mutually_exclusive_group()
    scope.add_argument("--contractor", help="limit the user to this contractor's tickets")
    scope.add_argument("--no-contractor", action="store_true", help="remove the limit")
    role.set_defaults(func=cmd_set_role)

    reset = users_sub.add_parser(
        "reset-password",
        help="set a new password and end the user's sessions (one-time unless given)",
    )
    reset.add_argument("username", help="the user's sign-in name")
    _password_options(reset)
    reset.set_defaults(func=cmd_reset_password)

    deactivate = users_sub.add_parser(
        "deactivate", help="stop a user signing in and end their sessions"
    )
    deactivate.add_argument("username", help="the user's sign-in name")
    deactivate.set_defaults(func=cmd_set_active, active=False)

    activate = users_sub.add_parser("activate", help="let a deactivated user sign in again")
    activate.add_argument("username", help="the user's sign-in name")
    activate.set_defaults(func=cmd_set_active, active=True)
