"""One morning at site `hq` with a small ledger, made through the real ledger and ticket
stores, and its telemetry as series points; the KPIs worked out by hand.

Period: 2024-05-01 08:00-12:00 UTC (4 h = 14,400 s).

Ledger (site hq):

| device     | building | kind      | status            | interval | what happens                 |
|------------|----------|-----------|-------------------|----------|------------------------------|
| elevator-1 | tower    | elevator  | in_service        | 60 s     | samples every minute from    |
|            |          |           |                   |          | 07:00, none 09:00-09:30      |
| pump-1     | plant    | pump      | in_service        | -        | offline (status) 11:00-11:30 |
| light-1    | tower    | lighting  | in_service        | 60 s     | never reports                |
| pump-2     | plant    | pump      | under_maintenance | -        | in service until 10:00, then |
|            |          |           | (since 10:00)     |          | under maintenance            |
| door-old   | tower    | access    | decommissioned    | -        | left service 2024-04-01      |
| door-new   | tower    | access    | pending           | -        | reports, awaiting approval   |

Tickets (reopen grace 10 min, so the fault coming back 20 min after a close-out is a repeat):

- T1 elevator-1 door_slowing, major: opened 10:00, dispatched 10:10, acknowledged 10:25,
  rectified 10:40, re-checked (verified) 11:00, closed 11:10.
- T2 pump-1 seal_leak, minor: opened 09:00, dispatched 09:05, acknowledged 09:15,
  rectified 09:45, verified 10:00, closed 10:05, reopened 10:30 (still reopened at 12:00).
- T3 pump-2 bearing_wear, major: opened 08:30, untouched.
- T4 elevator-1 door_slowing, major: opened 11:30, a repeat of T1 (yellow card).

Integrity, per device (answerable s / intact s):

- elevator-1: 14,400 answerable. Not intact: silent past 3 x 60 s from 09:03 to 09:30
  (1,620 s), T1 unresolved 10:00-11:00 (3,600 s), T4 from 11:30 (1,800 s): 14,400 - 7,020
  = 7,380 intact. Online (status) all 14,400.
- pump-1: 14,400 answerable, offline 1,800: 12,600 online and intact (T2 is minor).
- light-1: 14,400 answerable, never reported: 0 online, 0 intact.
- pump-2: answerable 08:00-10:00 = 7,200 (maintenance 10:00-12:00 = 7,200 s left out of
  both); online 7,200; T3 unresolved from 08:30: intact 08:00-08:30 = 1,800.
- door-old (decommissioned before the period) and door-new (pending): not counted.

Site hq: intact 7,380 + 12,600 + 0 + 1,800 = 21,780 of 14,400 x 3 + 7,200 = 50,400 s:
integrity 21,780 / 50,400 = 43.2142857 %. Building tower (elevator-1, light-1): 7,380 /
28,800 = 25.625 %. Building plant (pump-1, pump-2): 14,400 / 21,600 = 66.667 %.

Loop KPIs, site hq:

- repair timeliness: rectified in the period T1 and T2, both by their deadline: 2 / 2 = 100 %;
- MTTR: T1 10:00 -> 10:40 = 2,400 s, T2 09:00 -> 09:45 = 2,700 s: 5,100 / 2 = 2,550 s;
- response time: T1 10:10 -> 10:25 = 900 s, T2 09:05 -> 09:15 = 600 s: 1,500 / 2 = 750 s;
- rectification completion: opened T1-T4; only T1 rectified and not reopened: 1 / 4 = 25 %;
- first-time fix: close-outs T1 (never reopened) and T2 (reopened at 10:30): 1 / 2 = 50 %;
- repeat-fault rate: T4 of the four opened: 1 / 4 = 25 %;
- MTBF: online device-time 14,400 + 12,600 + 0 + 7,200 = 34,200 s over the major tickets
  opened (T1, T3, T4): 34,200 / 3 = 11,400 s;
- open at 12:00: major T3 and T4, minor T2.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from contract.clock import ManualClock, to_ms
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.ledger import Decommission, EquipmentCreate, EquipmentUpdate, LedgerStore
from quality.tickets import Role, TicketStore
from quality.tickets.policy import TicketPolicy
from storage.timeseries.base import Point

DAY = (2024, 5, 1)
START = datetime(*DAY, 8, tzinfo=UTC)
END = datetime(*DAY, 12, tzinfo=UTC)

ELEVATOR = DeviceRef("hq", "tower", "elevator", "elevator-1")
PUMP = DeviceRef("hq", "plant", "pump", "pump-1")
LIGHT = DeviceRef("hq", "tower", "lighting", "light-1")
PUMP_2 = DeviceRef("hq", "plant", "pump", "pump-2")
DOOR_OLD = DeviceRef("hq", "tower", "access", "door-old")
DOOR_NEW = DeviceRef("hq", "tower", "access", "door-new")

# The figures of the module docstring.
SITE_GOOD_S = 7380 + 12600 + 0 + 1800
SITE_OBSERVED_S = 14400 * 3 + 7200
SITE_INTEGRITY = 100 * SITE_GOOD_S / SITE_OBSERVED_S  # 43.2142857...
TOWER_INTEGRITY = 100 * 7380 / 28800  # 25.625
PLANT_INTEGRITY = 100 * (12600 + 1800) / (14400 + 7200)  # 66.667
SITE_FIGURES = {
    "integrity_pct": SITE_INTEGRITY,
    "timeliness_pct": 100.0,
    "completion_pct": 25.0,
    "response_time_s": 750.0,
    "first_time_fix_pct": 50.0,
    "mttr_s": 2550.0,
    "mtbf_s": 11400.0,
    "repeat_pct": 25.0,
}


def at(hh_mm: str, day: tuple[int, int, int] = DAY) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(*day, hours, minutes, tzinfo=UTC)


def _finding(device: DeviceRef, fault_type: str, severity: Severity) -> Finding:
    return Finding(device, fault_type, severity, "test", "1", 0, f"{fault_type} on {device}")


def make_ledger(engine: Engine) -> None:
    clock = ManualClock(at("06:00", (2024, 3, 1)))
    ledger = LedgerStore(engine, clock=clock)
    for device, interval, status in (
        (ELEVATOR, 60, None),
        (PUMP, None, None),
        (LIGHT, 60, None),
        (PUMP_2, None, None),
        (DOOR_OLD, None, None),
        (DOOR_NEW, None, "pending"),
    ):
        ledger.create(
            EquipmentCreate(
                site=device.site,
                building=device.building,
                kind=device.kind,
                device_id=device.device_id,
                name=device.device_id,
                reporting_interval_s=interval,
                status=status,
            )
        )
    ledger.decommission("hq", "door-old", Decommission(at=at("00:00", (2024, 4, 1)), reason="old"))
    clock.set(at("10:00"))
    ledger.update("hq", "pump-2", EquipmentUpdate(status="under_maintenance"))


def make_tickets(engine: Engine) -> TicketStore:
    clock = ManualClock(at("08:30"))
    store = TicketStore(
        engine, TicketPolicy(reopen_grace=timedelta(minutes=10)), clock=clock, sinks=()
    )

    def when(hh_mm: str) -> None:
        clock.set(at(hh_mm))

    store.record(_finding(PUMP_2, "bearing_wear", Severity.MAJOR))  # T3 at 08:30
    when("09:00")
    t2 = store.record(_finding(PUMP, "seal_leak", Severity.MINOR)).ticket_id
    when("09:05")
    store.assign(t2, "pump-team", "lead", Role.ENGINEER, None)
    when("09:15")
    store.transition(t2, "acknowledged", "tech", Role.ENGINEER, None)
    when("09:45")
    store.transition(t2, "rectified", "tech", Role.ENGINEER, "new seal")
    when("10:00")
    store.transition(t2, "verified", "qa", Role.QUALITY, "dry")
    t1 = store.record(_finding(ELEVATOR, "door_slowing", Severity.MAJOR)).ticket_id
    when("10:05")
    store.transition(t2, "closed", "qa", Role.QUALITY, None)
    when("10:10")
    store.assign(t1, "lift-team", "lead", Role.ENGINEER, None)
    when("10:25")
    store.transition(t1, "acknowledged", "tech", Role.ENGINEER, None)
    when("10:30")
    store.transition(t2, "reopened", "qa", Role.QUALITY, "leaking again")
    when("10:40")
    store.transition(t1, "rectified", "tech", Role.ENGINEER, "door operator adjusted")
    when("11:00")
    store.transition(t1, "verified", "qa", Role.QUALITY, "door times normal")
    when("11:10")
    store.transition(t1, "closed", "qa", Role.QUALITY, None)
    when("11:30")
    t4 = store.record(_finding(ELEVATOR, "door_slowing", Severity.MAJOR))
    assert t4.opened and t4.repeat_count == 2
    return store


def _status(device: DeviceRef, hh_mm: str, online: bool) -> Point:
    tags = {"site": device.site, "building": device.building, "device_id": device.device_id}
    return Point("device_status", {**tags, "kind": device.kind}, {"online": online}, _ms(hh_mm))


def _ms(hh_mm: str) -> int:
    return to_ms(at(hh_mm))


def series_points() -> list[Point]:
    """Status changes of every reporting device, and elevator-1's samples."""
    points = [
        _status(ELEVATOR, "07:00", True),
        _status(PUMP, "07:00", True),
        _status(PUMP, "11:00", False),
        _status(PUMP, "11:30", True),
        _status(PUMP_2, "07:00", True),
        _status(PUMP_2, "10:30", False),
        _status(DOOR_OLD, "07:00", True),
        _status(DOOR_NEW, "07:00", True),
    ]
    tags = {"site": "hq", "building": "tower", "device_id": "elevator-1"}
    minute = _ms("07:00")
    for seq in range(5 * 60):  # 07:00 .. 11:59, every minute
        ts = minute + seq * 60_000
        if _ms("09:00") < ts < _ms("09:30"):
            continue
        points.append(Point("elevator", tags, {"door_open_s": 3.0, "seq": seq}, ts))
    return points
