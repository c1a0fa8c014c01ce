"""A report reads a ticket's summary in the report's language: a detector's ticket left
undispatched is overdue in the weekly report, and its row carries the detector's message in
Chinese in the zh-CN report and in English in the en one (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contract.clock import ManualClock
from detectors.access_held_open import DoorHeldOpenDetector
from quality.i18n.summaries import summary_labels
from quality.reports.assembly import assemble
from quality.reports.config import ReportSettings
from quality.reports.loading import load_report_inputs
from quality.reports.periods import parse_period
from quality.reports.render.html import render_html
from quality.tickets import TicketStore
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.databases import BACKENDS, fresh_engine
from tests.detectors.test_contract_all_detectors import SPECS, run
from tests.quality.reports.conftest import signals

OPENED = datetime(2024, 4, 29, 8, tzinfo=UTC)  # Monday of 2024-W18
AS_OF = datetime(2024, 5, 5, 12, tzinfo=UTC)  # days past any dispatch deadline


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_overdue_tickets_summary_is_in_the_reports_language(
    backend: str, tmp_path: Path
) -> None:
    _, finding = run(DoorHeldOpenDetector, SPECS[DoorHeldOpenDetector].fault())[0]
    labels = summary_labels(finding.summary_key, finding.summary_params, finding.summary)
    assert labels["zh-CN"].startswith("门保持开启") and labels["en"] == finding.summary
    SQLiteSeriesStore(tmp_path / "series.sqlite").close()
    with fresh_engine(backend, tmp_path, "rep") as engine:
        TicketStore(engine, clock=ManualClock(OPENED)).record(finding)
        period = parse_period("weekly", "2024-W18", ZoneInfo("UTC"))
        settings = ReportSettings(time_zone="UTC")
        source = signals(tmp_path / "series.sqlite")
        try:
            inputs = load_report_inputs(engine, source, source, period, None, settings, as_of=AS_OF)
        finally:
            source.close()
    data = assemble(period, None, inputs, settings)
    assert [dict(row.summary) for row in data.overdue] == [labels]
    for lang in ("zh-CN", "en"):
        html = render_html(data, lang, echarts_js="", generated_at=AS_OF)
        assert f'<div class="summary">{labels[lang]}</div>' in html
    assert finding.summary not in render_html(data, "zh-CN", echarts_js="", generated_at=AS_OF)
