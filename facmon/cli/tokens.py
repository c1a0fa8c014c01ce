"""`facmon token create`: an API token, shown once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from facmon.settings import Settings


def _database_shown(url: str) -> tuple[str, bool]:
    """The ticket database as the user can find it (absolute path, no password), and
    whether it is a SQLite file that does not exist yet."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database).resolve()
        return str(path), not path.exists()
    return parsed.render_as_string(hide_password=True), False


def cmd_token_create(args: argparse.Namespace) -> int:
    from facmon.schema import create_schema
    from quality.accounts import TokenStore
    from storage.sql import make_engine

    settings = Settings()
    where, new = _database_shown(settings.ticket_database_url)
    engine = make_engine(settings.ticket_database_url)
    create_schema(engine)
    try:
        token_id, token = TokenStore(engine).create(
            args.role, args.name or f"{args.role}-cli", args.contractor
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"token {token_id} ({args.role}) written to {where}", file=sys.stderr)
    if new:
        print(
            "note: that is a new database: the service only accepts the token if it uses "
            "the same one. Run this from the folder where the service runs, or set "
            "FACMON_DATA_DIR (or FACMON_DATABASE_URL) as the service has it.",
            file=sys.stderr,
        )
    print("The token is shown once; store it now:", file=sys.stderr)
    print(token)
    return 0


def add_token_commands(sub: Any) -> None:
    """Add `token create`."""
    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument(
        "--role",
        required=True,
        choices=["viewer", "inspector", "engineer", "quality", "admin"],
        help="what the token may do; each role may do what those before it may",
    )
    create.add_argument("--name", help="who or what the token is for")
    create.add_argument(
        "--contractor",
        help="a contractor's (维保单位) name: the token sees and acts on the tickets "
        "dispatched to that contractor only",
    )
    create.set_defaults(func=cmd_token_create)
