"""Two people assign the same ticket at once, through two API processes' stores on one real
database (SQLite file, PostgreSQL): one wins, the other gets a 409 that says truthfully what
happened and who has the ticket now.

Both requests are held until both have read the ticket, so the race happens every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings
from quality.tickets.lifecycle import Role
from quality.tickets.models import Ticket
from tests.conftest import unique
from tests.quality.tickets.conftest import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh ticket database on each backend."""
    if request.param == "sqlite":
        yield Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
        return
    schema = unique("a").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp_path,
            database_url=f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def two_apis(settings: Settings) -> Iterator[tuple[Stores, Stores]]:
    first, second = Stores.open(settings), Stores.open(settings)
    yield first, second
    first.close()
    second.close()


def _hold_first_reads(stores: tuple[Stores, Stores]) -> None:
    """Each store's first read of the ticket waits until the other's has happened too."""
    barrier = threading.Barrier(2, timeout=20)
    for each in stores:
        read = each.tickets.require
        held = [True]

        def require(
            ticket_id: int, read: Callable[[int], Ticket] = read, held: Any = held
        ) -> Ticket:
            ticket = read(ticket_id)
            if held[0]:
                held[0] = False
                barrier.wait()
            return ticket

        each.tickets.require = require  # type: ignore[method-assign]


def _assign_at_once(
    stores: tuple[Stores, Stores], ticket_id: int, assignees: tuple[str, str]
) -> list[httpx.Response]:
    clients = []
    for each, person in zip(stores, ("ann", "bob"), strict=True):
        token = each.tokens.create("engineer", person)[1]
        clients.append(TestClient(create_app(each), headers={"Authorization": f"Bearer {token}"}))
    for client in clients:  # the apps build their routes on a first request: not in the race
        assert client.get("/api/me").status_code == 200
    _hold_first_reads(stores)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(client.post, f"/api/tickets/{ticket_id}/assign", json={"assignee": who})
            for client, who in zip(clients, assignees, strict=True)
        ]
        return [future.result(30) for future in futures]


def _ticket(stores: Stores) -> int:
    finding = Finding(
        DeviceRef("hq", "b1", "pump", unique("p")),
        "bearing_wear",
        Severity.MAJOR,
        "d",
        "1",
        1,
        "vibration rising",
        {},
    )
    return stores.tickets.record(finding).ticket_id


def _one_wins(responses: list[httpx.Response]) -> tuple[httpx.Response, dict[str, Any]]:
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 409], [response.text for response in responses]
    won = next(response for response in responses if response.status_code == 200)
    lost = next(response for response in responses if response.status_code == 409)
    detail: dict[str, Any] = lost.json()["detail"]
    return won, detail


def test_concurrent_first_assignments(two_apis: tuple[Stores, Stores]) -> None:
    """Before: the loser read "cannot go from dispatched to dispatched", as if it had asked
    for an illegal move, or a bare "changed meanwhile"."""
    ticket_id = _ticket(two_apis[0])
    won, detail = _one_wins(_assign_at_once(two_apis, ticket_id, ("team-a", "team-b")))
    winner = won.json()["assignee"]
    assert won.json()["state"] == "dispatched"
    assert "dispatched to dispatched" not in detail["message"]
    assert f"now dispatched, assigned to {winner}" in detail["message"], detail
    assert "was open, unassigned" in detail["message"], detail
    assert detail["allowed"] == ["acknowledged", "closed", "rectified"]
    ticket = two_apis[1].tickets.require(ticket_id)
    assert ticket.assignee == winner
    history = two_apis[1].tickets.history(ticket_id)
    assert [(h.from_state, h.to_state) for h in history] == [(None, "open"), ("open", "dispatched")]


def test_concurrent_reassignments(two_apis: tuple[Stores, Stores]) -> None:
    """Before: both answered 200 and the later write silently replaced the earlier one."""
    ticket_id = _ticket(two_apis[0])
    two_apis[0].tickets.assign(ticket_id, "team-0", "lead", Role.ENGINEER, None)
    won, detail = _one_wins(_assign_at_once(two_apis, ticket_id, ("team-a", "team-b")))
    winner = won.json()["assignee"]
    assert "was dispatched, assigned to team-0" in detail["message"], detail
    assert f"now dispatched, assigned to {winner}" in detail["message"], detail
    assert two_apis[1].tickets.require(ticket_id).assignee == winner
    notes = [h.note for h in two_apis[1].tickets.history(ticket_id)]
    assert notes[-1] == f"reassigned to {winner}"
    assert sum("reassigned" in (note or "") for note in notes) == 1
