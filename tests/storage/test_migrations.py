"""Schema migrations on SQLite and PostgreSQL: a database of the release before migrations
keeps its data through the upgrade, the migrations build exactly the models' schema, a new
database is stamped at the newest revision, and processes starting together take turns."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

import facmon.migrations
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.cli import main
from facmon.migrations import alembic_config
from facmon.schema import PG_LOCK_KEY, current_revision, head_revision, upgrade_schema
from facmon.service import Stores
from facmon.settings import Settings
from ingest.device_registry import DeviceRegistry
from quality.accounts import TokenStore
from quality.tickets.store import TicketStore
from storage.dead_letters import DeadLetterStore
from storage.detector_state import DetectorStateStore
from storage.sql import Base, make_engine
from tests.conftest import unique, wait_until
from tests.databases import POSTGRES_URL

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Database:
    """One empty database of a dialect: a SQLite file, or a PostgreSQL schema of its own."""

    dialect: str
    url: str  # for another process: the PostgreSQL schema is in the URL's options
    engine: Engine

    def load(self, sql: str) -> None:
        """Run a dump script, as the database's own client would."""
        if self.dialect == "sqlite":
            path = self.engine.url.database
            assert path is not None
            with sqlite3.connect(path) as connection:
                connection.executescript(sql)
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql)
            cursor.close()
            raw.commit()
        finally:
            raw.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'facmon.sqlite'}"
        engine = make_engine(url)
        yield Database("sqlite", url, engine)
        engine.dispose()
        return
    schema = unique("m").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    yield Database("postgresql", url, engine)
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def release_dump(dialect: str) -> str:
    return (FIXTURES / f"release_eb27afb_{dialect}.sql").read_text()


def release_token(dump: str) -> str:
    marker = "-- The API token's plain text, for the tests: "
    line = next(line for line in dump.splitlines() if line.startswith(marker))
    return line.removeprefix(marker).strip()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection)


def test_the_migrations_have_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads == [head_revision()], f"several heads {heads}: chain the newest revision"


def test_a_release_database_keeps_its_data_through_the_upgrade(database: Database) -> None:
    dump = release_dump(database.dialect)
    database.load(dump)
    assert revision_of(database.engine) is None

    assert upgrade_schema(database.engine) == head_revision()

    engine = database.engine
    assert revision_of(engine) == head_revision()
    tickets = TicketStore(engine)
    found = tickets.get(1)
    assert found is not None
    ticket, occurrences = found
    assert (ticket.device_id, ticket.fault_type, ticket.state) == (
        "pump-7",
        "vibration_rising",
        "dispatched",
    )
    assert ticket.assignee == "li"
    assert ticket.evidence["threshold"] == 3.5
    assert [o.summary for o in occurrences] == ["vibration_rising on pump-7"]
    assert [(h.from_state, h.to_state, h.note) for h in tickets.history(1)] == [
        (None, "open", "vibration_rising on pump-7"),
        ("open", "dispatched", "派单 to the pump contractor"),
    ]
    assert [c.text for c in tickets.comments(1)] == ["bearing ordered"]
    entrapment = tickets.get(2)
    assert entrapment is not None and entrapment[0].severity == "critical"

    letters = DeadLetterStore(engine).list()
    assert [(letter.reason, letter.replayed_at is not None) for letter in letters] == [
        ("not UTF-8", True),
        ("bad JSON", False),
    ]
    assert letters[0].raw_payload() == b"\xff\x00"
    devices = DeviceRegistry(engine).list()
    assert [(d.device_id, d.site, d.samples) for d in devices] == [("pump-7", "site-a", 42)]
    states = list(DetectorStateStore(engine).load())
    assert [(s.device_id, s.detector, s.state) for s in states] == [
        ("pump-7", "vibration", b"\x00state\xff")
    ]
    principal = TokenStore(engine).authenticate(release_token(dump))
    assert principal is not None and principal.name == "release-admin"

    # New rows go after the release's: the id sequences came through.
    pump = DeviceRef("site-a", "b1", "pump", "pump-9")
    finding = Finding(pump, "dry_running", Severity.CRITICAL, "dry", "1.0", 1, "dry running")
    assert tickets.record(finding).ticket_id == 3


def test_the_migrations_build_exactly_the_models_schema(database: Database) -> None:
    database.load(release_dump(database.dialect))
    upgrade_schema(database.engine)
    assert schema_differences(database.engine) == []


def test_the_migrations_alone_build_the_models_schema_from_nothing(database: Database) -> None:
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    assert revision_of(database.engine) == head_revision()
    assert schema_differences(database.engine) == []


def test_a_database_older_than_the_release_gets_what_it_lacks(database: Database) -> None:
    """Before `dead_letters.replayed_at` and `detector_state` existed."""
    database.load(release_dump(database.dialect))
    with database.engine.begin() as connection:
        connection.execute(text("ALTER TABLE dead_letters DROP COLUMN replayed_at"))
        connection.execute(text("DROP TABLE detector_state"))

    upgrade_schema(database.engine)

    assert schema_differences(database.engine) == []
    assert len(DeadLetterStore(database.engine).list()) == 2
    assert list(DetectorStateStore(database.engine).load()) == []


def test_a_new_database_is_made_whole_and_stamped_at_the_newest_revision(
    database: Database,
) -> None:
    assert upgrade_schema(database.engine) == head_revision()
    assert revision_of(database.engine) == head_revision()
    assert schema_differences(database.engine) == []
    assert upgrade_schema(database.engine) == head_revision()  # again: nothing to do


def _hold_pg_lock(url: str) -> Callable[[], None]:
    """Take the migration lock as a migrating process would; returns its release."""
    holder = create_engine(url)
    connection = holder.connect()
    transaction = connection.begin()
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})

    def release() -> None:
        transaction.commit()
        connection.close()
        holder.dispose()

    return release


def _waiting_for_pg_lock(engine: Engine, application: str) -> int:
    """This test's processes that wait for the migration lock."""
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
                "WHERE locktype = 'advisory' AND NOT granted "
                "AND (classid::bigint << 32) + objid::bigint = :key "
                "AND application_name = :application"
            ),
            {"key": PG_LOCK_KEY, "application": application},
        ).scalar_one()
    return int(waiting)


def _upgrade_process(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "db", "upgrade", "--database-url", url],
        cwd=ROOT,
        env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("start", ["empty", "release"])
def test_two_processes_upgrading_one_postgresql_database_at_once_both_succeed(
    start: str, tmp_path: Path
) -> None:
    """Both wait on the lock held here, then race for it the moment it is released."""
    schema = unique("m").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    try:
        if start == "release":
            Database("postgresql", url, engine).load(release_dump("postgresql"))
        application = unique("upgrade")
        release = _hold_pg_lock(url)
        try:
            named = f"{url}&application_name={application}"
            processes = [_upgrade_process(named) for _ in range(2)]
            wait_until(
                lambda: (
                    _waiting_for_pg_lock(admin, application) >= 2
                    or any(p.poll() is not None for p in processes)
                ),
                timeout_s=60,
                what="both processes waiting for the migration lock",
            )
            assert all(p.poll() is None for p in processes), "a process did not wait"
        finally:
            release()
        outcomes = [(p.wait(timeout=120), *p.communicate()) for p in processes]
        assert [code for code, _, _ in outcomes] == [0, 0], outcomes
        assert all(head_revision() in out for _, out, _ in outcomes), outcomes
        assert revision_of(engine) == head_revision()
        assert schema_differences(engine) == []
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT count(*) FROM alembic_version"))
            assert versions.scalar_one() == 1
        expected_tickets = 2 if start == "release" else 0
        assert TicketStore(engine).count() == expected_tickets
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _blocked_on_flock(pids: set[int]) -> int:
    """How many of `pids` wait for a flock (a `->` line in /proc/locks)."""
    waiting = 0
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:
            waiting += int(fields[fields.index("FLOCK") + 3]) in pids
    return waiting


def test_two_processes_upgrading_one_sqlite_file_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "facmon.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(release_dump("sqlite"))
    url = f"sqlite:///{path}"
    lock = Path(f"{path}.migrate-lock")
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        processes = [_upgrade_process(url) for _ in range(2)]
        wait_until(
            lambda: (
                _blocked_on_flock({p.pid for p in processes}) >= 2
                or any(p.poll() is not None for p in processes)
            ),
            timeout_s=60,
            what="both processes waiting for the migration lock",
        )
        assert all(p.poll() is None for p in processes), "a process did not wait"
        fcntl.flock(held, fcntl.LOCK_UN)
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    engine = make_engine(url)
    try:
        assert revision_of(engine) == head_revision()
        assert schema_differences(engine) == []
        assert TicketStore(engine).count() == 2
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("lang", "first", "again"),
    [
        ("en_US.UTF-8", "upgraded from none (empty database) to revision", "already at the newest"),
        ("zh_CN.UTF-8", "已从 无（空数据库） 升级到版本", "已是最新版本"),
    ],
)
def test_db_upgrade_says_the_revision_in_the_locale_language(
    lang: str,
    first: str,
    again: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", lang)
    url = f"sqlite:///{tmp_path / 'facmon.sqlite'}"

    assert main(["db", "upgrade", "--database-url", url]) == 0
    said = capsys.readouterr().out
    assert first in said and head_revision() in said and str(tmp_path) in said

    assert main(["db", "upgrade", "--database-url", url]) == 0
    said = capsys.readouterr().out
    assert again in said and head_revision() in said

    assert main(["db", "current", "--database-url", url]) == 0
    said = capsys.readouterr().out
    assert head_revision() in said
    assert ("已是最新" if lang.startswith("zh") else "Up to date") in said


def test_db_current_names_a_release_database_and_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    path = tmp_path / "facmon.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(release_dump("sqlite"))

    assert main(["db", "current", "--database-url", f"sqlite:///{path}"]) == 0
    said = capsys.readouterr().out
    assert "none (made before migrations)" in said and "facmon db upgrade" in said
    assert "alembic_version" not in inspect(make_engine(f"sqlite:///{path}")).get_table_names()


def test_db_commands_refuse_a_missing_file_and_a_bad_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    missing = tmp_path / "nowhere.sqlite"
    assert main(["db", "current", "--database-url", f"sqlite:///{missing}"]) == 2
    assert f"{missing} 处没有数据库" in capsys.readouterr().err
    assert not missing.exists()

    assert main(["db", "upgrade", "--database-url", "nosuch://x"]) == 2
    assert "--database-url 'nosuch://x' 不是数据库地址" in capsys.readouterr().err


def test_db_history_lists_every_revision_newest_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert main(["db", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Schema revisions, newest first:"
    revisions = [line.split()[0] for line in lines[1:]]
    assert revisions[0] == head_revision() and "(newest)" in lines[1]
    assert revisions[-1] == "0001"


def test_db_revision_writes_the_next_numbered_revision_after_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a copy of the migrations, so the package's own stay as they are."""
    copy = tmp_path / "migrations"
    shutil.copytree(facmon.migrations.SCRIPT_LOCATION, copy)
    monkeypatch.setattr(facmon.migrations, "SCRIPT_LOCATION", copy)
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    head = head_revision()

    assert main(["db", "revision", "-m", "a note on dead letters"]) == 0

    expected = f"{int(head) + 1:04d}"
    written = copy / "versions" / f"{expected}_a_note_on_dead_letters.py"
    assert f"Wrote revision {expected}: {written}" in capsys.readouterr().out
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [expected]
    revision = scripts.get_revision(expected)
    assert revision is not None and revision.down_revision == head


def test_the_service_upgrades_a_release_database_when_it_opens_its_stores(
    database: Database, tmp_path: Path
) -> None:
    """What `facmon run`, `facmon ingest` and every worker do first."""
    database.load(release_dump(database.dialect))
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database.url)  # type: ignore[call-arg]
    stores = Stores.open(settings)
    try:
        assert revision_of(stores.engine) == head_revision()
        assert stores.tickets.count() == 2
    finally:
        stores.close()
