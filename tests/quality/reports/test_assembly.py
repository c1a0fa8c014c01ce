"""A weekly report's figures from the stores, on SQLite and PostgreSQL, against figures
worked out by hand.

The scenario (tests/quality/kpi/scenario.py) is one morning at site hq, 2024-05-01, with
every device first heard at 07:00 UTC. The report is week 2024-W18 in UTC (Mon 04-29
00:00 to Mon 05-06 00:00) counted up to 05-01 12:00 (a running week: 60 h = 216,000 s).

Integrity (answerable s / intact s):
- elevator-1: 216,000 answerable; online 07:00-12:00 = 18,000 s; not intact: silent
  09:03-09:30 (1,620), T1 10:00-11:00 (3,600), T4 from 11:30 (1,800): 10,980 intact.
- pump-1: online 07:00-11:00 and 11:30-12:00 = 16,200, all intact (T2 is minor).
- light-1: never reports: 216,000 answerable, 0 intact.
- pump-2: under maintenance from 05-01 10:00: answerable 58 h = 208,800; online 07:00-10:00
  = 10,800; T3 from 08:30: intact 07:00-08:30 = 5,400.
Site: 32,580 / 856,800 = 3.80252 %. Elevators: 10,980 / 216,000 = 5.08333 % (target 100);
pumps: 21,600 / 424,800 = 5.08475 %; lighting 0 %.
MTBF: online 18,000 + 16,200 + 0 + 10,800 = 45,000 s over 3 major tickets = 15,000 s.
The loop's figures are the scenario's (every ticket event falls on 05-01 08:00-12:00):
timeliness 100 %, completion 25 %, response 750 s, first-time fix 50 %, MTTR 2,550 s,
repeats 25 %.

Previous week (W17): every device answerable, none heard: integrity 0 %, no loop figure.

Trend by day: 04-29 and 04-30 0 %; 05-01 [00:00, 12:00): answerable 43,200 x 3 + 36,000
= 165,600, intact 32,580: 19.6739 %; later days not begun. Opened on 05-01: major 3 (T1,
T3, T4), minor 1 (T2).

Top equipment: elevator-1 2 tickets (2 major), pump-2 1 (1 major), pump-1 1 (0).
Top faults: door_slowing 2 (1 device), bearing_wear 1, seal_leak 1.
Repeats: T4 (second door_slowing of elevator-1): one yellow card.

Overdue at 12:00 (policy defaults: major dispatch 4 h, rectify 72 h): T3 (major, opened
08:30, never dispatched) is due for dispatch at 12:30, so nothing is overdue yet.

PDCA (window 1 day): an integrity action started 05-01 10:00, finished 11:00.
- Before [04-30 10:00, 05-01 10:00): answerable 86,400 x 4 = 345,600 (pump-2 until 10:00);
  intact: elevator-1 07:00-10:00 less its silence 1,620 = 9,180; pump-1 10,800; pump-2
  5,400: 25,380 / 345,600 = 7.34375 %.
- After [11:00, 12:00) (cut at now): pump-2 under maintenance; elevator-1 intact 11:00-11:30
  = 1,800; pump-1 offline 11:00-11:30, intact 1,800; light-1 0: 3,600 / 10,800 = 33.333 %.
  Improved by 25.99 points.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from quality.reports.assembly import assemble
from quality.reports.config import ReportSettings
from quality.reports.loading import load_report_inputs
from quality.reports.pdca import PdcaChange, PdcaRefused, PdcaStore
from quality.reports.periods import parse_period
from tests.quality.reports.conftest import AS_OF, signals

UTC_ZONE = ZoneInfo("UTC")


def _report(engine: Engine, series: Path, settings: ReportSettings, site: str | None = "hq"):  # type: ignore[no-untyped-def]
    period = parse_period("weekly", "2024-W18", UTC_ZONE)
    source = signals(series)
    try:
        inputs = load_report_inputs(engine, source, source, period, site, settings, as_of=AS_OF)
    finally:
        source.close()
    return assemble(period, site, inputs, settings)


def test_weekly_report_figures(filled: tuple[Engine, Path]) -> None:
    engine, series = filled
    PdcaStore(engine).create(
        PdcaChange(
            title="Door operator tune-up",
            site="hq",
            target_kpi="integrity_pct",
            plan="find slow doors",
            owner="qa-lead",
            started_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
            finished_at=datetime(2024, 5, 1, 11, tzinfo=UTC),
        ),
        "qa-lead",
    )
    data = _report(engine, series, ReportSettings(time_zone="UTC", pdca_window_days=1))

    assert data.as_of == AS_OF and data.devices == 4 and data.denominator == "ledger"
    integrity = data.kpi("integrity_pct")
    assert integrity.value == pytest.approx(100 * 32_580 / 856_800)
    assert integrity.previous == 0.0 and integrity.target == 98.0 and integrity.meets is False
    assert integrity.change == pytest.approx(100 * 32_580 / 856_800)
    figures = {row.code: row.value for row in data.kpis}
    assert figures["timeliness_pct"] == 100.0
    assert figures["completion_pct"] == 25.0
    assert figures["response_time_s"] == 750.0
    assert figures["first_time_fix_pct"] == 50.0
    assert figures["mttr_s"] == 2550.0
    assert figures["mtbf_s"] == 15_000.0
    assert figures["repeat_pct"] == 25.0
    assert figures["maintenance_execution_pct"] is None
    assert data.kpi("response_time_s").meets is True  # 750 s <= 1,800 s
    assert data.kpi("repeat_pct").meets is False  # 25 % > 5 %

    kinds = {row.kind: row for row in data.kinds}
    assert set(kinds) == {"elevator", "lighting", "pump"}
    assert kinds["elevator"].integrity_pct == pytest.approx(100 * 10_980 / 216_000)
    assert kinds["elevator"].target == 100.0
    assert kinds["pump"].integrity_pct == pytest.approx(100 * 21_600 / 424_800)
    assert kinds["pump"].target == 98.0
    assert kinds["lighting"].integrity_pct == 0.0

    trend = {p.label: p for p in data.trend}
    assert [p.label for p in data.trend] == [
        "04-29",
        "04-30",
        "05-01",
        "05-02",
        "05-03",
        "05-04",
        "05-05",
    ]
    assert trend["04-29"].integrity_pct == 0.0
    assert trend["05-01"].integrity_pct == pytest.approx(100 * 32_580 / 165_600)
    assert trend["05-02"].integrity_pct is None
    assert trend["05-01"].opened == {"critical": 0, "major": 3, "minor": 1}
    assert trend["04-30"].opened == {"critical": 0, "major": 0, "minor": 0}

    assert [(r.device_id, r.tickets, r.impairing) for r in data.top_equipment] == [
        ("elevator-1", 2, 2),
        ("pump-2", 1, 1),
        ("pump-1", 1, 0),
    ]
    assert [(r.fault_type, r.tickets, r.devices) for r in data.top_faults] == [
        ("door_slowing", 2, 1),
        ("bearing_wear", 1, 1),
        ("seal_leak", 1, 1),
    ]
    assert [(r.device_id, r.repeat_count, r.card) for r in data.repeats] == [
        ("elevator-1", 2, "yellow")
    ]
    assert (data.yellow_cards, data.red_cards) == (1, 0)
    assert data.overdue == []

    (effect,) = data.pdca
    assert effect.before == pytest.approx(100 * 25_380 / 345_600)
    assert effect.after == pytest.approx(100 * 3_600 / 10_800)
    assert effect.improved is True
    assert effect.after_to == AS_OF


def test_overdue_once_the_deadline_passes(filled: tuple[Engine, Path]) -> None:
    """At 13:00 T3 (major, opened 08:30, never dispatched) is 30 min past its 4 h dispatch
    deadline; T4 (opened 11:30) is not yet (15:30)."""
    engine, series = filled
    period = parse_period("weekly", "2024-W18", UTC_ZONE)
    source = signals(series)
    settings = ReportSettings(time_zone="UTC")
    later = AS_OF + timedelta(hours=1)
    try:
        inputs = load_report_inputs(engine, source, source, period, "hq", settings, as_of=later)
    finally:
        source.close()
    data = assemble(period, "hq", inputs, settings)
    assert [(r.device_id, r.stage, r.overdue_s) for r in data.overdue] == [
        ("pump-2", "dispatch", 1800.0)
    ]


def test_portfolio_adds_up_the_sites(filled: tuple[Engine, Path]) -> None:
    """With one site, the portfolio's figures are the site's."""
    engine, series = filled
    settings = ReportSettings(time_zone="UTC")
    site = _report(engine, series, settings)
    portfolio = _report(engine, series, settings, site=None)
    assert [r.value for r in portfolio.kpis] == [r.value for r in site.kpis]
    assert portfolio.site is None and portfolio.devices == 4


def test_a_pdca_action_with_a_bad_field_is_refused_and_not_stored(
    filled: tuple[Engine, Path],
) -> None:
    engine, _ = filled
    store = PdcaStore(engine)
    with pytest.raises(PdcaRefused) as refused:
        store.create(
            PdcaChange(title="x", target_kpi="happiness", owner="qa", started_at=AS_OF),
            "qa",
        )
    assert refused.value.field == "target_kpi"
    assert "integrity_pct" in refused.value.messages["en"]
    assert "须为以下指标之一" in refused.value.messages["zh-CN"]
    assert store.list() == []


def test_monthly_report_trends_by_week(filled: tuple[Engine, Path]) -> None:
    """May 2024 in UTC, counted up to 05-01 12:00: weeks from the 1st (the last one 3 days);
    only the first has begun, and it holds the same half day as the weekly report's 05-01:
    32,580 / 165,600. April (previous): every device answerable, none heard: 0 %."""
    engine, series = filled
    settings = ReportSettings(time_zone="UTC")
    period = parse_period("monthly", "2024-05", UTC_ZONE)
    source = signals(series)
    try:
        inputs = load_report_inputs(engine, source, source, period, "hq", settings, as_of=AS_OF)
    finally:
        source.close()
    data = assemble(period, "hq", inputs, settings)
    assert (data.period, data.previous_period) == ("2024-05", "2024-04")
    assert [p.label for p in data.trend] == ["05-01", "05-08", "05-15", "05-22", "05-29"]
    assert data.trend[0].integrity_pct == pytest.approx(100 * 32_580 / 165_600)
    assert data.kpi("integrity_pct").value == pytest.approx(100 * 32_580 / 165_600)
    assert [p.integrity_pct for p in data.trend[1:]] == [None] * 4
    assert data.trend[0].opened == {"critical": 0, "major": 3, "minor": 1}
    assert data.kpi("integrity_pct").previous == 0.0
