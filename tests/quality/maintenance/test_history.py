"""The maintenance covers of a past period, read back for a replay: a work order covers
from its dispatch to its verification, a reopened and re-dispatched one again, one still
under way to the end; a window covers its own span; nothing outside the period. SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from contract.clock import ManualClock
from quality.maintenance.gate import Cover
from quality.maintenance.history import cover_at, past_covers
from quality.maintenance.plans import PlanStore
from quality.maintenance.scheduler import MaintenanceScheduler
from quality.maintenance.validation import validate_plan
from quality.maintenance.windows import WindowStore
from quality.tickets import TicketStore
from quality.tickets.lifecycle import Role, State
from tests.quality.maintenance.conftest import START, add_device

H = timedelta(hours=1)


def _work_order(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str, device: str
) -> int:
    add_device(engine, site, device, kind="access")
    spec = validate_plan(
        {"name": f"{device} service", "site": site, "device_id": device, "every_days": 90},
        START.date(),
    )
    PlanStore(engine, clock).create(spec, "lead")
    MaintenanceScheduler(tickets).run_once()
    (order,) = [t for t in tickets.list() if t.site == site and t.device_id == device]
    return order.id


def test_work_orders_and_windows_cover_what_they_covered_then(
    engine: Engine, clock: ManualClock, tickets: TicketStore, site: str
) -> None:
    done = _work_order(engine, clock, tickets, site, "door-1")
    clock.set(START + H)
    tickets.assign(done, "team-a", "lead", Role.QUALITY, None)  # 派单 at 09:00
    clock.set(START + 2 * H)
    tickets.transition(done, State.RECTIFIED, "team-a", Role.ENGINEER)
    clock.set(START + 3 * H)
    tickets.transition(done, State.VERIFIED, "lead", Role.QUALITY, "checked")  # 复核 at 11:00
    clock.set(START + 4 * H)
    tickets.transition(done, State.REOPENED, "lead", Role.QUALITY, "grease missed")
    clock.set(START + 5 * H)
    tickets.assign(done, "team-a", "lead", Role.QUALITY, None)  # under way again, still
    going = _work_order(engine, clock, tickets, site, "door-3")
    clock.set(START + 6 * H)
    tickets.assign(going, "team-b", "lead", Role.QUALITY, None)
    add_device(engine, site, "door-2", kind="access")
    window = WindowStore(engine, clock).create(
        {
            "site": site,
            "device_id": "door-2",
            "from": (START + 7 * H).isoformat(),
            "to": (START + 8 * H).isoformat(),
            "reason": "lock replacement",
        },
        "lead",
    )

    day = past_covers(engine, START, START + 24 * H)
    assert day[(site, "door-1")] == [
        Cover(START + H, START + 3 * H, ticket_id=done),
        Cover(START + 5 * H, None, ticket_id=done),
    ]
    assert day[(site, "door-3")] == [Cover(START + 6 * H, None, ticket_id=going)]
    assert day[(site, "door-2")] == [Cover(START + 7 * H, START + 8 * H, window_id=window.id)]
    at = START + 2 * H
    assert cover_at(day, (site, "door-1"), at) == Cover(START + H, START + 3 * H, ticket_id=done)
    assert cover_at(day, (site, "door-1"), START + 3 * H) is None  # verified: `to` excluded
    assert cover_at(day, (site, "door-2"), at) is None

    # Between the spans nothing covered; later, the span still under way does.
    assert past_covers(engine, START + 3 * H, START + 4 * H) == {}
    later = past_covers(engine, START + 5 * H + H / 2, START + 5 * H + H * 3 / 4)
    assert later == {(site, "door-1"): [Cover(START + 5 * H, None, ticket_id=done)]}
    # Nothing was dispatched or planned before 09:00.
    assert past_covers(engine, START - 24 * H, START + H) == {}
