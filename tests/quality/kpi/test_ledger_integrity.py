"""The ledger's side of the integrity rate, piece by piece: who is answerable for which
part of a period, when silence makes a device not intact (also from the embedded SQLite
series store), and the first-time fix rate's treatment of dismissals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from contract.clock import to_ms
from quality.kpi import GroupKey, LivenessChange, Period, SQLiteSignals, TicketRecord, Transition
from quality.kpi.compute import compute_kpis
from quality.kpi.equipment import LedgerDevice, load_ledger
from quality.kpi.report import Inputs, kpi_report, ledger_silences
from quality.kpi.silence import Heard, silent_intervals
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.quality.kpi import scenario
from tests.quality.kpi.scenario import END, START, at

PERIOD = Period(START, END)
SITE = GroupKey("site", "hq")


def ms(hh_mm: str) -> int:
    return to_ms(at(hh_mm))


def device(status: str, *, since: str = "06:00", decommissioned: str | None = None) -> LedgerDevice:
    return LedgerDevice(
        "hq",
        "pump-9",
        "plant",
        "pump",
        status,
        None,
        at(decommissioned) if decommissioned else None,
        at(since),
    )


@pytest.mark.parametrize(
    ("ledger_device", "answerable"),
    [
        (device("in_service"), [("08:00", "12:00")]),
        (device("pending"), []),
        # decommissioned at 09:30: in service until then
        (device("decommissioned", decommissioned="09:30"), [("08:00", "09:30")]),
        (device("decommissioned", decommissioned="07:00"), []),
        # under maintenance since 10:15: answerable before, left out after
        (device("under_maintenance", since="10:15"), [("08:00", "10:15")]),
        (device("under_maintenance", since="07:00"), []),
    ],
)
def test_answerable_time_follows_the_ledger_status(
    ledger_device: LedgerDevice, answerable: list[tuple[str, str]]
) -> None:
    expected = [(ms(lo), ms(hi)) for lo, hi in answerable]
    assert ledger_device.answerable_ms(PERIOD.start_ms, PERIOD.end_ms) == expected


def test_a_device_under_maintenance_all_period_is_left_out_of_both_sides() -> None:
    online = LivenessChange("pump-9", "hq", "plant", "pump", ms("07:00"), True)
    kept = device("in_service")
    kpis = compute_kpis(PERIOD, [], [online], ledger=[device("under_maintenance", since="07:00")])
    site = kpis[SITE]
    # nothing answerable: no device, no integrity, the 4 hours reported as maintenance
    assert (site.devices, site.observed_s, site.integrity_pct) == (0, 0, None)
    assert site.maintenance_s == 14400
    assert compute_kpis(PERIOD, [], [online], ledger=[kept])[SITE].integrity_pct == 100


@pytest.mark.parametrize(
    ("heard", "silent"),
    [
        # heard at 07:59 and every minute on: never silent past 3 minutes
        (Heard(ms("07:59"), ms("08:00"), ms("11:59"), ()), []),
        # last heard 07:58, next at 08:10: silent from 08:01 (07:58 + 3 min) to 08:10
        (Heard(ms("07:58"), ms("08:10"), ms("11:59"), ()), [("08:01", "08:10")]),
        # nothing since 11:00: silent from 11:03 to the end
        (Heard(None, ms("08:00"), ms("11:00"), ()), [("11:03", "12:00")]),
        # a gap of 2 minutes is within the limit; one of 10 minutes (10:00-10:10) is not
        (
            Heard(ms("07:59"), ms("08:00"), ms("11:59"), ((ms("09:02"), 120_000),)),
            [],
        ),
        (
            Heard(ms("07:59"), ms("08:00"), ms("11:59"), ((ms("10:10"), 600_000),)),
            [("10:03", "10:10")],
        ),
        # heard before the period and never in it: silent from the limit on
        (Heard(ms("07:58"), None, None, ()), [("08:01", "12:00")]),
    ],
)
def test_silence_starts_once_the_limit_has_passed(
    heard: Heard, silent: list[tuple[str, str]]
) -> None:
    expected = [(ms(lo), ms(hi)) for lo, hi in silent]
    assert silent_intervals(heard, PERIOD.start_ms, PERIOD.end_ms, 180_000) == expected


def test_silences_from_the_embedded_series_store(sql_engine: Engine, tmp_path: Path) -> None:
    """The same silences as from InfluxDB (`test_ledger_job`), from the SQLite series store."""
    series = SQLiteSeriesStore(tmp_path / "series.sqlite")
    series.write(scenario.series_points())
    scenario.make_ledger(sql_engine)
    signals = SQLiteSignals(series.path)
    try:
        silences = ledger_silences(signals, load_ledger(sql_engine), PERIOD)
    finally:
        signals.close()
        series.close()
    assert silences == {
        ("hq", "elevator-1"): [(ms("09:03"), ms("09:30"))],
        ("hq", "light-1"): [(ms("08:00"), ms("12:00"))],
    }


def _ticket(ticket_id: int, moves: list[tuple[str, str]], **extra: object) -> TicketRecord:
    history = []
    previous = None
    for hh_mm, state in moves:
        history.append(Transition(at(hh_mm), state, previous))
        previous = state
    opened = at(moves[0][0])
    return TicketRecord(
        id=ticket_id,
        device_id=f"pump-{ticket_id}",
        site="hq",
        building="plant",
        kind="pump",
        fault_type="seal_leak",
        severity="minor",
        opened_at=opened,
        dispatch_due_at=opened + timedelta(hours=1),
        rectify_due_at=opened + timedelta(hours=72),
        history=tuple(history),
        **extra,  # type: ignore[arg-type]
    )


def test_first_time_fix_counts_close_outs_and_leaves_dismissals_out() -> None:
    loop = [("08:00", "open"), ("08:10", "dispatched"), ("08:20", "rectified")]
    fixed = _ticket(1, [*loop, ("08:30", "verified"), ("08:40", "closed")])
    # closed, reopened, re-checked and closed again within the period: one close-out, reopened
    again = _ticket(
        2,
        [
            *loop,
            ("08:30", "verified"),
            ("08:40", "closed"),
            ("09:00", "reopened"),
            ("09:10", "dispatched"),
            ("09:20", "rectified"),
            ("09:30", "verified"),
            ("09:40", "closed"),
        ],
    )
    dismissed = _ticket(3, [("08:00", "open"), ("08:05", "closed")], false_alarm=True)
    # closed out after the period: not this period's
    late = _ticket(4, [*loop, ("11:30", "verified"), ("12:30", "closed")])
    site = compute_kpis(PERIOD, [fixed, again, dismissed, late], [])[SITE]
    # close-outs in the period: tickets 1 and 2; only 1 never reopened: 1 / 2
    assert (site.closed_out, site.first_time_fixes, site.first_time_fix_pct) == (2, 1, 50.0)
    # a period in which ticket 1 is closed out, judged before ticket 2's reopening: 2 / 2
    early = Period(at("08:00"), at("08:50"))
    before_reopen = compute_kpis(early, [fixed, again], [], as_of=at("08:50"))[SITE]
    assert before_reopen.first_time_fix_pct == 100.0


def test_a_filter_without_ledger_devices_keeps_the_ledger_denominator() -> None:
    """Riverside has tickets but no ledger equipment yet: its integrity is unknown (null),
    not computed over whatever devices reported there."""
    ledger = [device("in_service")]
    riverside = LivenessChange("door-1", "riverside", "gate", "access", ms("07:00"), True)
    ticket = TicketRecord(
        id=9,
        device_id="door-1",
        site="riverside",
        building="gate",
        kind="access",
        fault_type="door_forced",
        severity="critical",
        opened_at=at("09:00"),
        dispatch_due_at=at("09:15"),
        rectify_due_at=at("13:00"),
    )
    inputs = Inputs([ticket], [riverside], ledger).only(site="riverside")
    report = kpi_report(PERIOD, inputs, full_ledger=True)
    assert report.denominator == "ledger"
    ((key, kpis), *_) = report.groups
    assert key == GroupKey("building", "riverside", building="gate")
    assert (kpis.devices, kpis.integrity_pct, kpis.opened) == (0, None, 1)
    assert kpi_report(PERIOD, inputs).denominator == "reporting devices"


def test_a_ledger_of_pending_devices_only_is_no_denominator_yet() -> None:
    """Telemetry adds unknown devices to the ledger as pending: until the quality team
    confirms one, the devices that reported stay the denominator."""
    online = LivenessChange("pump-9", "hq", "plant", "pump", ms("07:00"), True)
    offline = LivenessChange("pump-9", "hq", "plant", "pump", ms("11:00"), False)
    pending = compute_kpis(PERIOD, [], [online, offline], ledger=[device("pending")])[SITE]
    # 08:00-11:00 online of 08:00-12:00 observed
    assert (pending.denominator, pending.integrity_pct) == ("reporting devices", 75.0)
    confirmed = compute_kpis(PERIOD, [], [online, offline], ledger=[device("in_service")])[SITE]
    assert (confirmed.denominator, confirmed.integrity_pct) == ("ledger", 75.0)
    assert "maintenance_s" in confirmed.fields() and "maintenance_s" not in pending.fields()


def test_silence_limit_is_three_reporting_intervals() -> None:
    elevator = LedgerDevice("hq", "e", "t", "elevator", "in_service", 60, None, datetime.now(UTC))
    assert elevator.silence_limit_ms == 180_000
    assert device("in_service").silence_limit_ms is None
