"""`facmon bench board` loads its open tickets, opens the board in headless Chromium and
prints the time to first view and the filter changes' re-render times."""

from __future__ import annotations

import json

import pytest

from facmon.cli import main
from tools.bench_board import CHANGES


def test_bench_board_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "board", "--tickets", "300", "--loads", "2", "--changes", "1", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["tickets_open"], result["database"]) == (300, "sqlite")
    assert len(result["first_view_ms"]) == 2 and all(ms > 0 for ms in result["first_view_ms"])
    assert set(result["filter_rerender_median_ms"]) == {
        f"{name}={value or 'any'}" for name, value in CHANGES
    }
    # The open column counts the open tickets the board holds (25 shown on its first page).
    assert result["open_column_heading"].startswith("待派单")
    assert "25/" in result["open_column_heading"]
