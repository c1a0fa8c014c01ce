"""Findings recorded in one transaction (`TicketStore.record_many`) end as `record` would
leave them, also when other writers race for the same tickets."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.tickets import Ticket, TicketStore
from quality.tickets.models import TicketOccurrence


def offline(device_id: str, onset_ms: int = 1_000) -> Finding:
    return Finding(
        device=DeviceRef("hq", "b1", "elevator", device_id),
        fault_type="offline",
        severity=Severity.MAJOR,
        detector="offline",
        detector_version="1",
        onset_ms=onset_ms,
        summary=f"{device_id} silent",
        evidence={"silent_s": 120.0},
    )


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket))
        occurrences = session.scalar(select(func.count()).select_from(TicketOccurrence))
    return int(tickets or 0), int(occurrences or 0)


def test_one_transaction_opens_joins_and_keeps_the_order(
    engine_factory: Callable[[], Engine],
) -> None:
    engine = engine_factory()
    store = TicketStore(engine)
    earlier = store.record(offline("lift-0"))
    batch = [offline("lift-0", 2_000), offline("lift-1"), offline("lift-2"), offline("lift-1")]
    results = store.record_many(batch)

    assert [r.opened for r in results] == [False, True, True, False]
    assert results[0].ticket_id == earlier.ticket_id  # joined the active ticket
    assert results[3].ticket_id == results[1].ticket_id  # a repeat within the batch joins too
    assert len({r.ticket_id for r in results}) == 3
    assert counts(engine) == (3, 2)  # three tickets; two findings were occurrences
    found = store.get(results[1].ticket_id)
    assert found is not None and found[0].evidence["detector"] == "offline"
    assert found[0].occurrences == 2
    assert store.record_many([]) == []


def test_racing_batches_still_give_one_active_ticket_per_device(
    engine_factory: Callable[[], Engine],
) -> None:
    """Four writers record the same 30 findings at once: a batch that loses a race is
    recorded finding by finding, and nothing is lost or opened twice."""
    writers, devices = 4, 30
    stores = [TicketStore(engine_factory()) for _ in range(writers)]
    barrier = threading.Barrier(writers)
    opened: list[int] = []
    errors: list[BaseException] = []

    def record(store: TicketStore) -> None:
        try:
            barrier.wait(10)
            results = store.record_many([offline(f"lift-{n}") for n in range(devices)])
            opened.append(sum(r.opened for r in results))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(opened) == devices  # each device's ticket opened exactly once
    tickets, occurrences = counts(stores[0].engine)
    assert (tickets, occurrences) == (devices, devices * (writers - 1))
