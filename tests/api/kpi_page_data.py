"""Tickets and telemetry that the evidence and KPI-page tests share, made by the real
detectors and the real ticket store: a door held open two hours ago among three hours
of samples, a bearing's predictive finding, and a site whose tickets spread over
buildings, floors and kinds with a yellow and a red card."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from contract.clock import ManualClock, SystemClock, to_ms
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from detectors.access_held_open import DoorHeldOpenDetector
from detectors.pump_bearing import BearingWearDetector
from facmon.service import Stores
from ingest.pipeline.points import sample_point
from quality.inspections.manual import PLACE_KIND, ManualReport, Where, open_manual
from quality.ledger.models import Equipment
from quality.tickets.lifecycle import Role
from storage.timeseries.base import Point
from tests.detectors.series import door, feed, samples
from tests.detectors.test_contract_all_detectors import SPECS

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class MadeTicket:
    ticket_id: int
    onset_ms: int
    first_ms: int  # the first sample written
    last_ms: int  # the last sample written


def held_open_ticket(stores: Stores, site: str, now_ms: int) -> MadeTicket:
    """Three hours of a door's samples every 10 s ending now; held open from two hours
    ago for three minutes. The real detector finds it; points go to the real store."""
    dev = DeviceRef(site, "lobby", "access", "door-1")
    count = 3 * 360
    start = now_ms - count * 10_000
    fault_at = count - 2 * 360  # two hours before now
    held: list[float | None] = [None] * count
    for i in range(18):
        held[fault_at + i] = float(i * 10)
    batch = samples(dev, door(held), period_ms=10_000, t0=start)
    findings = feed(DoorHeldOpenDetector(dev), batch)
    assert findings, "the detector must find the door held open"
    stores.series.write([sample_point(s) for s in batch])
    finding = findings[0][1]
    ticket_id = stores.tickets.record(finding).ticket_id
    return MadeTicket(ticket_id, finding.onset_ms, batch[0].ts_ms, batch[-1].ts_ms)


def bearing_ticket(stores: Stores, site: str, now_ms: int) -> tuple[MadeTicket, Finding]:
    """The bearing detector's first (predictive) finding on the contract test's ramp,
    moved in time so that the ramp ends an hour ago; its samples go to the store."""
    detector = BearingWearDetector(DeviceRef(site, "plant", "pump", "pump-1"))
    steps = SPECS[BearingWearDetector].fault()
    shift = now_ms - HOUR_MS - steps[-1][0]
    moved = [
        replace(sample, ts_ms=sample.ts_ms + shift, device=detector.device)
        for _, sample in steps
        if sample is not None
    ]
    findings = feed(detector, moved)
    assert findings and findings[0][1].evidence["hours_to_limit"] is not None
    stores.series.write([sample_point(s) for s in moved])
    finding = findings[0][1]
    ticket_id = stores.tickets.record(finding).ticket_id
    return MadeTicket(ticket_id, finding.onset_ms, moved[0].ts_ms, moved[-1].ts_ms), finding


# -- a site for the heat map, the cards and the ranking ---------------------------------

LEDGER = [
    # device, building, floor, kind
    ("door-1", "A", "3", "access"),
    ("lift-1", "A", "1", "elevator"),
    ("pump-1", "A", "B1", "pump"),
    ("light-1", "B", "2", "lighting"),
]


def _finding(site: str, device_id: str, building: str, kind: str, fault: str, **kw: Any) -> Finding:
    return Finding(
        DeviceRef(site, building, kind, device_id),
        fault,
        kw.get("severity", Severity.MAJOR),
        kw.get("detector", "access_door_held_open"),
        "1",
        kw.get("onset_ms", 1),
        f"{fault} on {device_id}",
        {"metric": "held_open_s", "value": 90.0, "threshold": 60.0},
    )


def _close_out(stores: Stores, ticket_id: int, contractor: str) -> None:
    tickets = stores.tickets
    tickets.assign(ticket_id, "tech", "e", Role.ENGINEER, None, contractor=contractor)
    tickets.transition(ticket_id, "acknowledged", "e", Role.ENGINEER)
    tickets.transition(ticket_id, "rectified", "e", Role.ENGINEER, "fixed")
    tickets.transition(ticket_id, "verified", "q", Role.QUALITY, "checked on site")
    tickets.transition(ticket_id, "closed", "q", Role.QUALITY, None)


@dataclass(frozen=True)
class SeededSite:
    site: str
    start: datetime  # the first ticket's opening; every ticket lies in [start, now)
    expected_cells: dict[tuple[str, str | None, str], tuple[int, int, int, int]]


def seed_site(stores: Stores, site: str) -> SeededSite:
    """Over the last eight days: door-1 (A, floor 3) fails three times (a yellow, then a
    red card; Otis), lift-1 (A, floor 1) traps someone and is dispatched to Kone, pump-1's
    ticket is dismissed as a false alarm, a device the ledger does not know fails in
    building B, and an inspector reports a place on floor 2 of building B. The ledger's
    devices have been online throughout."""
    with Session(stores.engine) as session:
        for device_id, building, floor, kind in LEDGER:
            session.add(
                Equipment(
                    site=site,
                    building=building,
                    floor=floor,
                    kind=kind,
                    device_id=device_id,
                    name=f"{kind} {device_id}",
                )
            )
        session.commit()
    # Every ledger device came online long ago (before any period a test asks for), so
    # that its integrity depends on its tickets.
    online_since = to_ms(datetime.now(UTC) - timedelta(days=400))
    stores.series.write(
        [
            Point(
                "device_status",
                {"site": site, "building": building, "device_id": device_id, "kind": kind},
                {"online": True},
                online_since,
            )
            for device_id, building, _floor, kind in LEDGER
        ]
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)
    clock = ManualClock(start)
    stores.tickets.clock = clock
    try:
        door_fault = _finding(site, "door-1", "A", "access", "door_held_open")
        first = stores.tickets.record(door_fault).ticket_id
        _close_out(stores, first, "Otis")
        clock.advance(days=2)
        second = stores.tickets.record(door_fault).ticket_id
        _close_out(stores, second, "Otis")
        clock.advance(days=2)
        stores.tickets.record(door_fault)  # the third time: red card, still open
        lift = _finding(
            site,
            "lift-1",
            "A",
            "elevator",
            "entrapment",
            severity=Severity.CRITICAL,
            detector="elevator_entrapment",
        )
        lift_id = stores.tickets.record(lift).ticket_id
        stores.tickets.assign(lift_id, "tech", "e", Role.ENGINEER, None, contractor="Kone")
        clock.advance(hours=1)
        pump_id = stores.tickets.record(
            _finding(site, "pump-1", "A", "pump", "bearing_wear", detector="pump_bearing_wear")
        ).ticket_id
        stores.tickets.transition(pump_id, "closed", "q", Role.QUALITY, "false alarm: sensor")
        stores.tickets.record(
            _finding(site, "ghost-1", "B", "lighting", "lamp_failure", detector="lighting_lamp")
        )
        clock.advance(hours=1)
        open_manual(
            stores.tickets,
            ManualReport(
                where=Where(site, "B", PLACE_KIND, floor="2", place="stairwell"),
                category="illuminance_low",
                severity=Severity.MINOR,
                description="stairwell light out",
                reported_by="inspector",
                observed_at=clock.now(),
            ),
        )
    finally:
        stores.tickets.clock = SystemClock()
    return SeededSite(
        site,
        start,
        {
            # (building, floor, kind): (tickets, active, critical, repeats)
            ("A", "3", "access"): (3, 1, 0, 2),
            ("A", "1", "elevator"): (1, 1, 1, 0),
            ("B", None, "lighting"): (1, 1, 0, 0),
            ("B", "2", PLACE_KIND): (1, 1, 0, 0),
        },
    )
