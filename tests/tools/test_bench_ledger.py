"""`facmon bench ledger` imports its generated ledger into a fresh database twice (inserts,
then updates) on SQLite and PostgreSQL, in both formats, and leaves no schema behind."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, inspect

from facmon.cli import main
from tests.databases import POSTGRES_URL


def _bench_schemas() -> set[str]:
    engine = create_engine(POSTGRES_URL)
    try:
        return {s for s in inspect(engine).get_schema_names() if s.startswith("bench_ledger_")}
    finally:
        engine.dispose()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_bench_ledger_prints_its_figures(
    database: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _bench_schemas() if database == "postgresql" else set()
    url = ["--database-url", POSTGRES_URL] if database == "postgresql" else []
    assert main(["bench", "ledger", "--rows", "300", "--format", fmt, "--json", *url]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["database"], result["format"], result["rows"]) == (database, fmt, 300)
    assert result["insert_rows_per_s"] > 0 and result["update_rows_per_s"] > 0
    assert result["insert_cpu_s"] > 0
    if database == "postgresql":
        assert _bench_schemas() == before
