"""Tickets: evidence kept, one active ticket per (device, fault), also under a race."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.tickets import Ticket, TicketStore

DEVICE = DeviceRef("hq", "b1", "pump", "pump-07")


def finding(fault_type: str = "bearing_wear", onset_ms: int = 1_000, value: float = 0.3) -> Finding:
    return Finding(
        device=DEVICE,
        fault_type=fault_type,
        severity=Severity.MAJOR,
        detector="pump_bearing_wear",
        detector_version="1",
        onset_ms=onset_ms,
        summary=f"vibration {value}",
        evidence={"value": value, "threshold": 0.32, "window": [[1, 0.2], [2, 0.3]]},
    )


def test_ticket_keeps_its_evidence(engine_factory: Callable[[], Engine]) -> None:
    store = TicketStore(engine_factory())
    result = store.record(finding())
    assert result.opened
    found = store.get(result.ticket_id)
    assert found is not None
    ticket, occurrences = found
    assert (ticket.device_id, ticket.site, ticket.building, ticket.kind) == (
        "pump-07",
        "hq",
        "b1",
        "pump",
    )
    assert ticket.evidence["threshold"] == 0.32
    assert ticket.evidence["detector"] == "pump_bearing_wear"
    assert ticket.evidence["version"] == "1"
    assert ticket.onset_ms == 1_000 and ticket.state == "open" and occurrences == []


def test_same_fault_appends_occurrence_other_fault_opens(
    engine_factory: Callable[[], Engine],
) -> None:
    store = TicketStore(engine_factory())
    first = store.record(finding(onset_ms=1))
    again = store.record(finding(onset_ms=2, value=0.4))
    other = store.record(finding("cavitation", onset_ms=3))
    assert first.opened and not again.opened and other.opened
    assert again.ticket_id == first.ticket_id != other.ticket_id
    found = store.get(first.ticket_id)
    assert found is not None
    ticket, occurrences = found
    assert ticket.occurrences == 2
    assert [o.onset_ms for o in occurrences] == [2]
    assert store.count() == 2


def test_closed_ticket_lets_a_new_one_open(engine_factory: Callable[[], Engine]) -> None:
    engine = engine_factory()
    store = TicketStore(engine)
    first = store.record(finding())
    with Session(engine) as session:
        session.execute(update(Ticket).where(Ticket.id == first.ticket_id).values(state="closed"))
        session.commit()
    second = store.record(finding())
    assert second.opened and second.ticket_id != first.ticket_id


def test_database_enforces_one_active_ticket_under_a_race(
    engine_factory: Callable[[], Engine],
) -> None:
    """Eight writers, each with its own connection pool, record the same fault at once."""
    writers = 8
    stores = [TicketStore(engine_factory()) for _ in range(writers)]
    barrier = threading.Barrier(writers)
    results: list[bool] = []
    errors: list[BaseException] = []

    def record(store: TicketStore) -> None:
        try:
            barrier.wait(10)
            results.append(store.record(finding()).opened)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == [False] * (writers - 1) + [True]
    tickets = stores[0].list()
    assert len(tickets) == 1
    assert tickets[0].occurrences == writers


def test_two_processes_racing_open_one_ticket(engine_factory: Callable[[], Engine]) -> None:
    """Two processes, as two ingest workers sharing a database, record the same fault."""
    import multiprocessing

    from tests.quality.tickets.race_worker import record_findings

    engine = engine_factory()
    url = engine.url.render_as_string(hide_password=False)
    schema = None
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            schema = conn.exec_driver_sql("SHOW search_path").scalar()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    per_process = 20
    workers = [
        context.Process(target=record_findings, args=(url, schema, start, per_process, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    opened = [flag for outcome in outcomes for flag in outcome]
    assert opened.count(True) == 1
    tickets = TicketStore(engine).list()
    assert len(tickets) == 1 and tickets[0].occurrences == 2 * per_process
