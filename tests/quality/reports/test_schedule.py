"""Reports on schedule: each period's report is made once, even by two schedulers (two
service processes) due at the same moment; a period with nothing to report is skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.reports.config import ReportSettings
from quality.reports.generator import Reporter
from quality.reports.periods import parse_period
from quality.reports.scheduler import ReportScheduler
from quality.reports.store import ReportStore
from tests.quality.reports.conftest import ECHARTS, signals

# Monday 2024-05-06 08:00 UTC: week 2024-W18 (the scenario's) falls due. Before that, W17's
# (due 04-29 08:00) and April's (due 05-01 08:00) are the latest due: no device had been
# heard from and no ticket opened by then, so they are skipped.
DUE = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def test_two_schedulers_make_each_report_once(filled: tuple[Engine, Path], tmp_path: Path) -> None:
    engine, series = filled
    settings = ReportSettings(time_zone="UTC")
    clock = ManualClock(datetime(2024, 5, 6, 7, 59, tzinfo=UTC))

    def scheduler() -> ReportScheduler:
        reporter = Reporter(
            engine, lambda: signals(series), tmp_path / "data", ECHARTS, settings, clock=clock
        )
        return ReportScheduler(reporter, sites=lambda: [])

    first, second = scheduler(), scheduler()
    early = [first.run_once(), second.run_once()]  # 07:59
    assert (early[0].made, early[0].skipped) == ([], 2)
    assert (early[1].made, early[1].skipped) == ([], 0)  # already recorded as skipped
    clock.set(DUE)
    runs = [first.run_once(), second.run_once(), first.run_once()]
    made = [report_id for run in runs for report_id in run.made]
    rows = ReportStore(engine).list()
    assert [(r.kind, r.site, r.period, r.status, r.trigger) for r in rows] == [
        ("weekly", "", "2024-W18", "ready", "schedule")  # "": the portfolio
    ]
    (w18,) = rows
    assert made == [w18.id]  # made by the first scheduler only, once
    assert Path(w18.pdf_path or "").is_file()


def test_a_period_with_nothing_to_report_is_skipped(tmp_path: Path) -> None:
    from storage.timeseries.sqlite import SQLiteSeriesStore
    from tests.databases import fresh_engine

    SQLiteSeriesStore(tmp_path / "none.sqlite").close()  # an empty series store
    with fresh_engine("sqlite", tmp_path, "empty") as engine:
        reporter = Reporter(
            engine,
            lambda: signals(tmp_path / "none.sqlite"),
            tmp_path / "data",
            ECHARTS,
            ReportSettings(time_zone="UTC"),
            clock=ManualClock(DUE),
        )
        run = ReportScheduler(reporter, sites=lambda: []).run_once()
        assert run.made == [] and run.skipped == 2
        assert ReportStore(engine).list() == []  # skipped periods are not listed
        assert ReportScheduler(reporter, sites=lambda: []).run_once().skipped == 0


def test_a_report_abandoned_half_made_is_taken_over(
    filled: tuple[Engine, Path], tmp_path: Path
) -> None:
    """A process that stopped while making a report leaves it pending; 30 minutes on, the
    schedule makes it (in the same row) instead of waiting for ever."""
    engine, series = filled
    settings = ReportSettings(time_zone="UTC")
    store = ReportStore(engine)
    period = parse_period("weekly", "2024-W18", ZoneInfo("UTC"))
    claim = store.claim(
        period, None, "zh-CN", trigger="schedule", by="schedule", now=DUE, again=False
    )
    assert claim is not None
    clock = ManualClock(DUE + timedelta(minutes=10))
    reporter = Reporter(
        engine, lambda: signals(series), tmp_path / "data", ECHARTS, settings, clock=clock
    )
    scheduler = ReportScheduler(reporter, sites=lambda: [])
    assert scheduler.run_once().made == []  # still being made, as far as anyone knows
    clock.set(DUE + timedelta(minutes=31))
    assert scheduler.run_once().made == [claim.id]
    (row,) = store.list()
    assert (row.id, row.status) == (claim.id, "ready")
