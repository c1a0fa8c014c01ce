"""`facmon bench tickets` loads tickets into a PostgreSQL schema of its own, runs its query mix
through the real API and prints percentiles per query kind; the schema is gone afterwards.
No timing is asserted: the machine is shared."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from facmon.cli import main
from tests.databases import POSTGRES_URL
from tools import bench_tickets
from tools.bench_tickets import COLUMNS, ticket_lines

NOW = datetime(2027, 6, 1, tzinfo=UTC)


def test_the_generated_tickets_are_mostly_closed_and_one_active_per_device_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench_tickets, "DEVICES", 2_000)  # 20 tickets per device (25 at a million)
    rows = [line.rstrip("\n").split("\t") for line in ticket_lines(40_000, NOW, seed=3)]
    assert all(len(row) == len(COLUMNS) for row in rows)
    column = {name: index for index, name in enumerate(COLUMNS)}
    states = Counter(row[column["state"]] for row in rows)
    assert states["closed"] / len(rows) > 0.8
    assert set(states) == {
        "closed",
        "open",
        "dispatched",
        "acknowledged",
        "rectified",
        "verified",
        "reopened",
    }
    active = [
        (row[column["site"]], row[column["device_id"]], row[column["fault_type"]])
        for row in rows
        if row[column["state"]] != "closed"
    ]
    assert len(active) == len(set(active))
    assert len({row[column["site"]] for row in rows}) == 50
    assert {row[column["kind"]] for row in rows} == {"elevator", "lighting", "pump", "access"}
    assert all(row[column["opened_at"]] < NOW.isoformat() for row in rows)


def bench_schemas() -> set[str]:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_tickets_%'")
            )
            return {str(name) for (name,) in found}
    finally:
        engine.dispose()


def test_a_small_run_prints_percentiles_per_query_kind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = bench_schemas()
    argv = ["bench", "tickets", "--tickets", "2000", "--requests", "2", "--runs", "1"]
    assert main([*argv, "--database-url", POSTGRES_URL, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tickets"] == 2000 and result["runs"] == 1
    figures = result["median_of_runs"]
    assert {"newest", "overdue", "search_word", "next_page", "overall"} <= set(figures)
    for name, kind in figures.items():
        assert 0 < kind["p50_ms"] <= kind["p95_ms"] <= kind["p99_ms"], name
    assert figures["overall"]["n"] >= 2 * 16
    assert set(result["load_phases_s"]) == {"copy_s", "index_s", "vacuum_analyze_s"}
    assert result["cpu_ms_per_request"]["api"] > 0
    assert result["cpu_ms_per_request"]["database"] > 0
    assert bench_schemas() == before, "the bench's schema must be dropped"


def test_the_text_report_names_the_command_and_the_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "tickets", "--tickets", "500", "--requests", "1", "--runs", "1"]
    assert main([*argv, "--database-url", POSTGRES_URL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("$ facmon bench tickets")
    assert "p99 ms" in out and "overall" in out and "150 ms" in out


def test_sqlite_is_refused_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "tickets", "--database-url", "sqlite:///x.sqlite"]) == 2
    assert "PostgreSQL" in capsys.readouterr().err
