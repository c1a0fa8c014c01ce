"""A separate process that records findings, as a second ingest process would."""

from __future__ import annotations

import multiprocessing.synchronize

from sqlalchemy import create_engine

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.tickets.store import TicketStore
from storage.sql import make_engine


def record_findings(
    url: str,
    schema: str | None,
    start: multiprocessing.synchronize.Event,
    count: int,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    if schema:
        engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    else:
        engine = make_engine(url)
    store = TicketStore(engine)
    finding = Finding(
        DeviceRef("hq", "b1", "elevator", "lift-3"),
        "door_slowing",
        Severity.MAJOR,
        "elevator_door_slowing",
        "1",
        1,
        "door close time 4.1 s",
        {"value": 4.1},
    )
    start.wait(30)
    opened = [store.record(finding).opened for _ in range(count)]
    results.put(opened)
    engine.dispose()
