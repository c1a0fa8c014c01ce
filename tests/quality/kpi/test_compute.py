"""Every KPI on a hand-built history, against numbers worked out by hand below.

The period is 10:00-12:00 (7,200 s) at site `hq`. Five devices:

- E1, elevator, tower: online since 09:00; T1 major, 09:30, verified 11:00.
- E2, elevator, tower: first status (online) at 11:00, a new device; no ticket.
- L1, lighting, tower: online since 08:00; T2 minor, T5 minor (dismissed).
- P1, pump, plant: offline 10:30-11:30; T4 critical at 11:40, T6 an old red card.
- A1, access, tower: online since 09:00; T3 major at 11:30, still open.

Integrity (device-seconds observed / in good condition):
- E1: observed 7,200; T1 spans the period start and is unresolved until
  verified at 11:00 (rectified at 10:45 still counts), so it is clipped to
  10:00-11:00: good 3,600.
- E2: appears at 11:00: observed 3,600, good 3,600.
- L1: minor tickets do not count: observed 7,200, good 7,200.
- P1: online 10:00-10:30 and 11:30-12:00 = 3,600; the offline hour has no
  ticket and still counts as not good; T4 (critical) is unresolved from
  11:40, so 1,200 s of the online time are not good either: good 2,400.
- A1: T3 opened 11:30 spans the period end: good 10:00-11:30 = 5,400.
- Site: observed 7,200 + 3,600 + 7,200 + 7,200 + 7,200 = 32,400;
  good 3,600 + 3,600 + 7,200 + 2,400 + 5,400 = 22,200 -> 68.519 %.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract.clock import to_ms
from quality.kpi import (
    GroupKey,
    LivenessChange,
    Period,
    TicketRecord,
    Transition,
    compute_kpis,
    device_time,
)
from quality.kpi.compute import online_intervals, unresolved_intervals


def at(hh_mm: str, day: int = 1) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(2027, 3, day, hours, minutes, tzinfo=UTC)


PERIOD = Period(at("10:00"), at("12:00"))
PLACES = {
    "E1": ("tower", "elevator"),
    "E2": ("tower", "elevator"),
    "L1": ("tower", "lighting"),
    "P1": ("plant", "pump"),
    "A1": ("tower", "access"),
}


def status(device: str, hh_mm: str, online: bool) -> LivenessChange:
    building, kind = PLACES[device]
    return LivenessChange(device, "hq", building, kind, to_ms(at(hh_mm)), online)


def ticket(
    ticket_id: int,
    device: str,
    severity: str,
    opened: str,
    moves: list[tuple[str, str]],
    **extra: object,
) -> TicketRecord:
    """A ticket opened at `opened` then moved through `moves` [(hh:mm, state)...]."""
    building, kind = PLACES[device]
    history = [Transition(at(opened), "open", None)]
    for hh_mm, state in moves:
        history.append(Transition(at(hh_mm), state, history[-1].to_state))
    values: dict[str, object] = {
        "dispatch_due_at": at(opened) + timedelta(hours=4),
        "rectify_due_at": at(opened) + timedelta(hours=72),
    }
    values.update(extra)
    return TicketRecord(
        id=ticket_id,
        device_id=device,
        site="hq",
        building=building,
        kind=kind,
        fault_type=f"fault-{ticket_id}",
        severity=severity,
        opened_at=at(opened),
        history=tuple(history),
        **values,  # type: ignore[arg-type]
    )


LIVENESS = [
    status("E1", "09:00", True),
    status("E2", "11:00", True),
    status("L1", "08:00", True),
    status("P1", "09:00", True),
    status("P1", "10:30", False),
    status("P1", "11:30", True),
    status("A1", "09:00", True),
    status("A1", "12:00", False),  # at the period end: belongs to the next period
]

TICKETS = [
    # T1: before the period, rectified on time in it (72 h deadline): repair 75 min = 4,500 s.
    # Its dispatch deadline (09:45) was breached, but before the period.
    ticket(
        1,
        "E1",
        "major",
        "09:30",
        [("10:15", "dispatched"), ("10:45", "rectified"), ("11:00", "verified")],
        dispatch_due_at=at("09:45"),
        dispatch_breached=True,
    ),
    # T2: a repeat (yellow card), dispatched late (due 10:35), rectified late (due 11:00):
    # repair 40 min = 2,400 s; still `rectified` (unresolved) at the end.
    ticket(
        2,
        "L1",
        "minor",
        "10:30",
        [("10:40", "dispatched"), ("11:10", "rectified")],
        dispatch_due_at=at("10:35"),
        rectify_due_at=at("11:00"),
        dispatch_breached=True,
        rectify_breached=True,
        repeat_count=2,
        card="yellow",
    ),
    # T3: opened near the end, one more finding added at 11:50, rectified after the period.
    ticket(
        3,
        "A1",
        "major",
        "11:30",
        [("12:10", "dispatched"), ("12:30", "rectified")],
        occurrences=(at("11:50"),),
    ),
    # T4: critical, dispatched, unresolved at the end.
    ticket(4, "P1", "critical", "11:40", [("11:45", "dispatched")]),
    # T5: dismissed as false: out of the completion rate.
    ticket(5, "L1", "minor", "10:05", [("10:10", "closed")]),
    # T6: an old red card on P1, closed long ago: the pump is chronic equipment.
    ticket(
        6,
        "P1",
        "major",
        "09:00",
        [("09:10", "dispatched"), ("09:20", "rectified"), ("09:30", "verified")],
        repeat_count=3,
        card="red",
    ),
]


@pytest.fixture(scope="module")
def kpis() -> dict[GroupKey, object]:
    return dict(compute_kpis(PERIOD, TICKETS, LIVENESS))


def test_integrity_per_site_is_time_weighted_over_devices(kpis: dict) -> None:
    site = kpis[GroupKey("site", "hq")]
    assert site.devices == 5
    assert site.observed_s == 32_400
    assert site.good_s == 22_200
    # online: 7,200 (E1) + 3,600 (E2) + 7,200 (L1) + 3,600 (P1) + 7,200 (A1)
    assert site.online_s == 28_800
    assert site.integrity_pct == pytest.approx(100 * 22_200 / 32_400)  # 68.519 %


def test_integrity_per_kind_and_per_building(kpis: dict) -> None:
    expected = {
        # elevators: E1 3,600 + E2 3,600 good of 7,200 + 3,600 observed
        GroupKey("kind", "hq", kind="elevator"): (10_800, 7_200),
        GroupKey("kind", "hq", kind="lighting"): (7_200, 7_200),
        GroupKey("kind", "hq", kind="pump"): (7_200, 2_400),
        GroupKey("kind", "hq", kind="access"): (7_200, 5_400),
        # tower: E1, E2, L1, A1; plant: P1
        GroupKey("building", "hq", building="tower"): (25_200, 19_800),
        GroupKey("building", "hq", building="plant"): (7_200, 2_400),
        GroupKey("building_kind", "hq", "tower", "elevator"): (10_800, 7_200),
        GroupKey("building_kind", "hq", "tower", "access"): (7_200, 5_400),
    }
    for key, (observed, good) in expected.items():
        assert (kpis[key].observed_s, kpis[key].good_s) == (observed, good), key
    assert kpis[GroupKey("kind", "hq", kind="elevator")].integrity_pct == pytest.approx(
        66.667, 1e-4
    )
    assert kpis[GroupKey("building", "hq", building="tower")].integrity_pct == pytest.approx(
        100 * 19_800 / 25_200
    )
    assert {key.scope for key in kpis} == {"site", "building", "kind", "building_kind"}
    # 1 site + 2 buildings + 4 kinds + 4 (building, kind) pairs with devices
    assert len(kpis) == 11


def test_device_added_mid_period_counts_from_its_first_status() -> None:
    time = device_time(PERIOD, [status("E2", "11:00", True)], [])
    assert time is not None
    assert (time.observed_s, time.online_s, time.good_s) == (3_600, 3_600, 3_600)
    # A device whose first word in the period is "offline" is observed, and not good.
    late = device_time(PERIOD, [status("E2", "11:30", False)], [])
    assert late is not None
    assert (late.observed_s, late.online_s, late.good_s) == (1_800, 0, 0)
    # A device first heard after the period is not in it at all.
    assert device_time(PERIOD, [status("E2", "12:00", True)], []) is None


def test_ticket_spanning_the_period_start_is_clipped() -> None:
    (t1,) = (t for t in TICKETS if t.id == 1)
    time = device_time(PERIOD, [status("E1", "09:00", True)], [t1])
    assert time is not None
    # Unresolved 09:30-11:00; only 10:00-11:00 falls in the period.
    assert (time.observed_s, time.good_s) == (7_200, 3_600)


def test_ticket_spanning_the_period_end_is_clipped() -> None:
    (t3,) = (t for t in TICKETS if t.id == 3)
    time = device_time(PERIOD, [status("A1", "09:00", True)], [t3])
    assert time is not None
    assert time.good_s == 5_400  # 11:30-12:00 out of 10:00-12:00


def test_offline_device_without_ticket_is_not_in_good_condition() -> None:
    changes = [status("P1", "09:00", True), status("P1", "10:30", False)]
    time = device_time(PERIOD, changes, [])
    assert time is not None
    assert (time.observed_s, time.online_s, time.good_s) == (7_200, 1_800, 1_800)
    assert online_intervals(PERIOD, changes)[1] == [(PERIOD.start_ms, to_ms(at("10:30")))]


def test_minor_ticket_does_not_count_against_integrity() -> None:
    minor = [t for t in TICKETS if t.device_id == "L1"]
    assert {t.severity for t in minor} == {"minor"}
    time = device_time(PERIOD, [status("L1", "08:00", True)], minor)
    assert time is not None and time.good_s == 7_200
    as_major = [ticket(2, "L1", "major", "10:30", [("11:10", "rectified"), ("11:20", "verified")])]
    time = device_time(PERIOD, [status("L1", "08:00", True)], as_major)
    assert time is not None and time.good_s == 7_200 - 50 * 60


def test_dispatched_and_rectified_tickets_still_count_until_verified() -> None:
    t = ticket(
        9,
        "E1",
        "major",
        "10:00",
        [
            ("10:10", "dispatched"),
            ("10:30", "rectified"),
            ("10:40", "verified"),
            ("10:50", "reopened"),
            ("11:00", "closed"),
        ],
    )
    assert unresolved_intervals(t) == [
        (to_ms(at("10:00")), to_ms(at("10:40"))),
        (to_ms(at("10:50")), to_ms(at("11:00"))),
    ]
    time = device_time(PERIOD, [status("E1", "09:00", True)], [t])
    assert time is not None and time.good_s == 7_200 - 50 * 60


def test_repair_timeliness_and_mttr(kpis: dict) -> None:
    site = kpis[GroupKey("site", "hq")]
    # Rectified in the period: T1 at 10:45 (due in 72 h: on time), T2 at 11:10 (due 11:00: late).
    assert (site.rectified, site.rectified_on_time) == (2, 1)
    assert site.timeliness_pct == 50.0
    # (4,500 + 2,400) / 2
    assert site.mttr_s == 3_450.0
    elevators = kpis[GroupKey("kind", "hq", kind="elevator")]
    assert (elevators.timeliness_pct, elevators.mttr_s) == (100.0, 4_500.0)
    lighting = kpis[GroupKey("kind", "hq", kind="lighting")]
    assert (lighting.timeliness_pct, lighting.mttr_s) == (0.0, 2_400.0)


def test_rectification_completion_is_judged_as_of_a_moment() -> None:
    # Opened in the period: T2 (rectified 11:10), T3, T4, and T5 (dismissed: left out).
    at_end = compute_kpis(PERIOD, TICKETS, LIVENESS)[GroupKey("site", "hq")]
    assert (at_end.completed, at_end.completion_base) == (1, 3)
    assert at_end.completion_pct == pytest.approx(100 / 3)
    # By 13:00, T3 has been rectified (12:30) too.
    later = compute_kpis(PERIOD, TICKETS, LIVENESS, as_of=at("13:00"))[GroupKey("site", "hq")]
    assert (later.completed, later.completion_base) == (2, 3)
    # What happened after the period changes nothing else.
    assert later.good_s == at_end.good_s and later.rectified == at_end.rectified


def test_mtbf_repeat_rate_and_findings(kpis: dict) -> None:
    site = kpis[GroupKey("site", "hq")]
    # Opened in the period: T2 (repeat), T3, T4, T5.
    assert (site.opened, site.repeats, site.repeat_pct) == (4, 1, 25.0)
    # Failures: major-or-worse openings T3 and T4; online device time 28,800 s.
    assert site.failures == 2
    assert site.mtbf_s == 14_400.0
    # Findings: 4 openings + the occurrence added to T3 at 11:50.
    assert site.findings == 5
    pump = kpis[GroupKey("kind", "hq", kind="pump")]
    assert (pump.failures, pump.mtbf_s) == (1, 3_600.0)  # P1 online 3,600 s, one failure (T4)


def test_open_tickets_by_severity_at_the_period_end(kpis: dict) -> None:
    site = kpis[GroupKey("site", "hq")]
    # T2 rectified (minor), T3 open (major), T4 dispatched (critical);
    # T1 verified, T5 and T6 closed.
    assert (site.open_critical, site.open_major, site.open_minor, site.open_total) == (1, 1, 1, 3)
    assert kpis[GroupKey("building_kind", "hq", "tower", "access")].open_major == 1


def test_sla_breaches_count_in_the_period_their_deadline_fell(kpis: dict) -> None:
    site = kpis[GroupKey("site", "hq")]
    # T2: both deadlines in the period; T1's dispatch deadline (09:45) was before it.
    assert (site.sla_dispatch_breaches, site.sla_rectify_breaches) == (1, 1)
    assert kpis[GroupKey("kind", "hq", kind="elevator")].sla_dispatch_breaches == 0


def test_chronic_equipment_counts_recent_red_cards(kpis: dict) -> None:
    assert kpis[GroupKey("site", "hq")].chronic == {("hq", "P1")}
    assert kpis[GroupKey("building", "hq", building="plant")].fields()["chronic_devices"] == 1
    # 31 days on, T6's red card is outside the 30-day repeat window.
    later = Period(PERIOD.start + timedelta(days=31), PERIOD.end + timedelta(days=31))
    assert not compute_kpis(later, TICKETS, LIVENESS)[GroupKey("site", "hq")].chronic


def test_ticket_of_a_device_without_liveness_counts_in_ticket_kpis_only() -> None:
    ghost = ticket(7, "E1", "major", "10:30", [])
    result = compute_kpis(PERIOD, [ghost], [])
    site = result[GroupKey("site", "hq")]
    assert (site.devices, site.opened, site.open_major) == (0, 1, 1)
    assert site.integrity_pct is None and site.mtbf_s is None


def test_fields_omit_ratio_parts_without_a_denominator(kpis: dict) -> None:
    site = kpis[GroupKey("site", "hq")].fields()
    assert site["integrity_pct"] == pytest.approx(68.5185, 1e-5)
    assert isinstance(site["devices"], int) and isinstance(site["good_s"], float)
    assert isinstance(site["opened"], int) and isinstance(site["mttr_s"], float)
    # Access: nothing rectified, so neither timeliness nor its parts are written (0/0 in
    # InfluxQL is 0, which a chart would show as "0 % on time").
    access = kpis[GroupKey("kind", "hq", kind="access")].fields()
    assert "rectified" not in access and "timeliness_pct" not in access
    assert access["sla_breaches"] == 0 and access["open_major"] == 1
    assert access["opened"] == 1 and access["repeat_pct"] == 0.0


def test_group_tags_leave_out_what_the_scope_does_not_group_by() -> None:
    assert GroupKey("site", "hq").tags() == {"scope": "site", "site": "hq"}
    assert GroupKey("building_kind", "hq", "tower", "pump").tags() == {
        "scope": "building_kind",
        "site": "hq",
        "building": "tower",
        "kind": "pump",
    }


def test_period_refuses_naive_or_empty_ranges() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Period(datetime(2027, 1, 1), datetime(2027, 1, 2))
    with pytest.raises(ValueError, match="before"):
        Period(at("11:00"), at("10:00"))
