"""`facmon db upgrade|current|history|revision`: the database schema and its migrations.

Messages follow the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`, as POSIX orders them):
zh-CN for a Chinese locale, English otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from facmon.cli.tokens import _database_shown
from facmon.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

# key: (English, 简体中文)
MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "upgraded": (
        "Database {where} upgraded from {before} to revision {after}.",
        "数据库 {where} 已从 {before} 升级到版本 {after}。",
    ),
    "unchanged": (
        "Database {where} is already at the newest revision {after}.",
        "数据库 {where} 已是最新版本 {after}。",
    ),
    "current": (
        "Database {where}: revision {current}; newest revision {head}.",
        "数据库 {where}：当前版本 {current}，最新版本 {head}。",
    ),
    "up_to_date": ("Up to date.", "已是最新。"),
    "behind": (
        "Run `facmon db upgrade` to bring it up to date.",
        "请运行 `facmon db upgrade` 升级。",
    ),
    "no_revision_empty": ("none (empty database)", "无（空数据库）"),
    "no_revision_legacy": (
        "none (made before migrations)",
        "无（在引入迁移之前创建）",
    ),
    "history": ("Schema revisions, newest first:", "数据库结构版本（从新到旧）："),
    "newest": ("(newest)", "（最新）"),
    "wrote": (
        "Wrote revision {revision}: {path}\nRead it, adjust it, and commit it.",
        "已写入版本 {revision}：{path}\n请检查并修改，然后提交。",
    ),
    "format_it": (
        "ruff was not found: run `ruff format` on it.",
        "未找到 ruff：请对该文件运行 `ruff format`。",
    ),
    "nothing_changed": (
        "No model change found: the revision is empty; write upgrade() and downgrade() by hand.",
        "未发现模型变更：该版本为空，请手动编写 upgrade() 和 downgrade()。",
    ),
    "no_database": (
        "error: no database at {path}: run this with the service's FACMON_DATA_DIR or "
        "FACMON_DATABASE_URL, or pass --database-url",
        "错误：{path} 处没有数据库：请使用与服务相同的 FACMON_DATA_DIR 或 "
        "FACMON_DATABASE_URL 运行，或传入 --database-url",
    ),
    "bad_url": (
        "error: --database-url {url!r} is not a database URL ({reason}); "
        "e.g. sqlite:///data/facmon.db or postgresql+psycopg://user@host/facmon",
        "错误：--database-url {url!r} 不是数据库地址（{reason}）；"
        "例如 sqlite:///data/facmon.db 或 postgresql+psycopg://user@host/facmon",
    ),
    "unreachable": (
        "error: cannot reach database {where}: {reason}",
        "错误：无法连接数据库 {where}：{reason}",
    ),
    "several_heads": (
        "error: the migrations have several heads ({heads}): make the newest revision's "
        "down_revision the other head, so there is one",
        "错误：迁移有多个最新版本（{heads}）：请把最新版本的 down_revision "
        "改为另一个最新版本，只保留一个",
    ),
}


def language(environ: Mapping[str, str] = os.environ) -> str:
    """`zh` for a Chinese locale, else `en`; the first of LC_ALL, LC_MESSAGES, LANG set wins.

    >>> language({"LANG": "zh_CN.UTF-8"}), language({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"})
    ('zh', 'en')
    """
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def say(key: str, **fields: object) -> str:
    english, chinese = MESSAGES[key]
    return (chinese if language() == "zh" else english).format(**fields)


def _url(args: argparse.Namespace) -> str:
    return str(args.database_url or Settings().ticket_database_url)


def _engine(url: str) -> Engine | None:
    """An engine for `url`, or None after saying why the URL is unusable."""
    from sqlalchemy.exc import ArgumentError

    from storage.sql import make_engine

    try:
        return make_engine(url)
    except ArgumentError as exc:
        print(say("bad_url", url=url, reason=exc), file=sys.stderr)
        return None


def _missing_sqlite_file(url: str) -> str | None:
    where, new = _database_shown(url)
    return where if new else None


def _no_revision(engine: Engine) -> str:
    from sqlalchemy import inspect

    return say("no_revision_legacy" if inspect(engine).get_table_names() else "no_revision_empty")


def cmd_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from facmon.schema import current_revision, upgrade_schema

    url = _url(args)
    where, _ = _database_shown(url)
    engine = _engine(url)
    if engine is None:
        return 2
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        shown_before = before or _no_revision(engine)
        after = upgrade_schema(engine)
    except OperationalError as exc:
        print(say("unreachable", where=where, reason=exc.orig or exc), file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if before == after:
        print(say("unchanged", where=where, after=after))
    else:
        print(say("upgraded", where=where, before=shown_before, after=after))
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from facmon.schema import current_revision, head_revision

    url = _url(args)
    where, _ = _database_shown(url)
    missing = _missing_sqlite_file(url)
    if missing is not None:
        print(say("no_database", path=missing), file=sys.stderr)
        return 2
    engine = _engine(url)
    if engine is None:
        return 2
    try:
        with engine.connect() as connection:
            current = current_revision(connection)
        shown = current or _no_revision(engine)
    except OperationalError as exc:
        print(say("unreachable", where=where, reason=exc.orig or exc), file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    head = head_revision()
    print(say("current", where=where, current=shown, head=head))
    print(say("up_to_date" if current == head else "behind"))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from alembic.script import ScriptDirectory

    from facmon.migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    heads = set(scripts.get_heads())
    print(say("history"))
    for script in scripts.walk_revisions():
        mark = say("newest") if script.revision in heads else ""
        title = (script.doc or "").strip().splitlines()[0] if script.doc else ""
        print(f"{script.revision:>6}  {mark:<8}  {title}")
    return 0


def _next_revision_id(heads: list[str]) -> str | None:
    """The number after the head's, zero-padded like `0001`; None if the head is no number."""
    return f"{int(heads[0]) + 1:04d}" if heads and heads[0].isdigit() else None


def cmd_revision(args: argparse.Namespace) -> int:
    """Autogenerate against a scratch SQLite database that the migrations alone built."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from facmon.migrations import alembic_config
    from storage.sql import make_engine

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) > 1:
        print(say("several_heads", heads=", ".join(sorted(heads))), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), "head")
                made = command.revision(
                    alembic_config(connection),
                    message=args.message,
                    autogenerate=True,
                    rev_id=_next_revision_id(heads),
                )
        finally:
            engine.dispose()
    for script in made if isinstance(made, list) else [made]:
        if script is None:
            continue
        print(say("wrote", revision=script.revision, path=script.path))
        empty = _upgrade_is_empty(Path(script.path).read_text())
        if not _formatted(Path(script.path), fix=not empty):
            print(say("format_it"))
        if empty:
            print(say("nothing_changed"))
    return 0


def _formatted(path: Path, fix: bool) -> bool:
    """Run ruff (the virtualenv's, else the PATH's) on a written revision; an empty one keeps
    its imports for the hand-written operations to come."""
    beside = Path(sys.executable).with_name("ruff")
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        return False
    if fix:
        subprocess.run([ruff, "check", "--fix", "--quiet", str(path)], check=False)
    return subprocess.run([ruff, "format", "--quiet", str(path)], check=False).returncode == 0


def _upgrade_is_empty(source: str) -> bool:
    """Whether upgrade() holds nothing but comments and `pass`.

    >>> _upgrade_is_empty("def upgrade() -> None:\\n    # note\\n    pass\\n\\n\\ndef downgrade()")
    True
    """
    body = source.split("def upgrade() -> None:", 1)[-1].split("def downgrade", 1)[0]
    lines = [line.strip() for line in body.splitlines()]
    return [line for line in lines if line and not line.startswith("#")] == ["pass"]


def add_db_commands(subparsers: Any) -> None:
    """Add `db upgrade`, `db current`, `db history` and `db revision`."""
    db = subparsers.add_parser(
        "db", help="the database schema: upgrade it, show its revision and the history"
    )
    db_sub = db.add_subparsers(dest="db_command", required=True)

    def database(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--database-url",
            metavar="URL",
            help="SQLAlchemy URL (default: the service's, FACMON_DATABASE_URL or the SQLite "
            "file under FACMON_DATA_DIR)",
        )

    upgrade = db_sub.add_parser(
        "upgrade",
        help="bring the database to the newest revision (the service also does at start)",
    )
    database(upgrade)
    upgrade.set_defaults(func=cmd_upgrade)
    current = db_sub.add_parser("current", help="the database's revision and the newest one")
    database(current)
    current.set_defaults(func=cmd_current)
    history = db_sub.add_parser("history", help="the schema's revisions, newest first")
    history.set_defaults(func=cmd_history)
    revision = db_sub.add_parser(
        "revision",
        help="write a new revision from the models' changes (development)",
        description="Compare the models with the schema the migrations build (on a scratch "
        "SQLite database) and write the difference as the next revision in "
        "facmon/migrations/versions/.",
    )
    revision.add_argument("-m", "--message", required=True, help="what the revision changes")
    revision.set_defaults(func=cmd_revision)
