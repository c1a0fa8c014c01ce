"""Ticket endpoints: transitions (409 with allowed states), filters, paging, comments, chronic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas import TransitionTarget
from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings
from quality.tickets.lifecycle import TRANSITIONS, State

T0 = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def stores(tmp_path: Path, clock: ManualClock) -> Iterator[Stores]:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    stores.tickets.clock = clock
    yield stores
    stores.close()


@pytest.fixture
def client(stores: Stores) -> TestClient:
    token = stores.tokens.create("quality", "qa")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def open_ticket(
    stores: Stores, device: str, kind: str = "pump", severity: Severity = Severity.MAJOR
) -> int:
    finding = Finding(
        DeviceRef("hq", f"b-{kind}", kind, device), f"{kind}_fault", severity, "d", "1", 1, "s", {}
    )
    return stores.tickets.record(finding).ticket_id


def test_illegal_transition_is_409_with_allowed_states(stores: Stores, client: TestClient) -> None:
    ticket_id = open_ticket(stores, "p1")
    response = client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "verified"})
    assert response.status_code == 409
    assert response.json()["detail"]["allowed"] == ["closed", "dispatched"]
    needs_note = client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "closed"})
    assert needs_note.status_code == 422 and "note" in needs_note.json()["detail"]
    missing = client.post("/api/tickets/999/transitions", json={"to": "closed", "note": "x"})
    assert missing.status_code == 404


def test_assign_dispatches_and_history_comments_are_listed(
    stores: Stores, client: TestClient
) -> None:
    ticket_id = open_ticket(stores, "p1")
    body = client.post(
        f"/api/tickets/{ticket_id}/assign", json={"assignee": "pump-team", "note": "go"}
    ).json()
    assert (body["state"], body["assignee"]) == ("dispatched", "pump-team")
    assert body["allowed_next"] == ["acknowledged", "closed", "rectified"]
    comment = client.post(f"/api/tickets/{ticket_id}/comments", json={"text": "parts ordered"})
    assert comment.status_code == 201 and comment.json()["author"] == "qa"
    history = client.get(f"/api/tickets/{ticket_id}/history").json()
    assert [(h["from_state"], h["to_state"], h["actor"]) for h in history] == [
        (None, "open", "facmon"),
        ("open", "dispatched", "qa"),
    ]
    detail = client.get(f"/api/tickets/{ticket_id}").json()
    assert [c["text"] for c in detail["comments"]] == ["parts ordered"]


def test_filters_paging_and_overdue(stores: Stores, client: TestClient, clock: ManualClock) -> None:
    ids = [open_ticket(stores, f"p{i}") for i in range(5)]
    lamp = open_ticket(stores, "l1", "lighting", Severity.CRITICAL)
    page = client.get("/api/tickets", params={"kind": "pump", "limit": 2, "offset": 1})
    assert page.headers["X-Total-Count"] == "5"
    assert [t["id"] for t in page.json()] == [ids[3], ids[2]]
    assert [
        t["id"] for t in client.get("/api/tickets", params={"severity": "critical"}).json()
    ] == [lamp]
    assert client.get("/api/tickets", params={"device_id": "p4"}).json()[0]["id"] == ids[4]
    assert client.get("/api/tickets", params={"building": "b-lighting"}).json()[0]["id"] == lamp
    assert client.get("/api/tickets", params={"overdue": True}).json() == []
    clock.set(T0 + timedelta(minutes=16))  # past the critical 15-minute dispatch deadline
    overdue = client.get("/api/tickets", params={"overdue": True}).json()
    assert [t["id"] for t in overdue] == [lamp]
    clock.set(T0 + timedelta(hours=5))  # past the major 4-hour dispatch deadline too
    assert len(client.get("/api/tickets", params={"overdue": True}).json()) == 6
    assert client.get("/api/tickets", params={"limit": 0}).status_code == 422


def test_chronic_equipment_lists_red_cards(
    stores: Stores, client: TestClient, clock: ManualClock
) -> None:
    for _ in range(3):
        ticket_id = open_ticket(stores, "p9")
        for to in ("dispatched", "rectified", "verified", "closed"):
            moved = client.post(
                f"/api/tickets/{ticket_id}/transitions", json={"to": to, "note": "fixed"}
            )
            assert moved.status_code == 200, moved.text
        clock.advance(days=2)
    chronic = client.get("/api/equipment/chronic").json()
    assert [(c["device_id"], c["repeat_count"], len(c["ticket_ids"])) for c in chronic] == [
        ("p9", 3, 3)
    ]


def test_severity_override(stores: Stores, client: TestClient) -> None:
    ticket_id = open_ticket(stores, "p1", severity=Severity.MINOR)
    body = client.patch(
        f"/api/tickets/{ticket_id}/severity", json={"severity": "critical", "note": "unsafe"}
    ).json()
    assert (body["severity"], body["detector_severity"]) == ("critical", "minor")
    bad = client.patch(f"/api/tickets/{ticket_id}/severity", json={"severity": "urgent"})
    assert bad.status_code == 422


def test_unknown_filter_state_or_severity_is_422_naming_the_allowed_values(
    stores: Stores, client: TestClient
) -> None:
    """An unknown state used to answer 200 with an empty list: a typo looked like no tickets."""
    open_ticket(stores, "p1")
    bogus = client.get("/api/tickets", params={"state": "bogus"})
    assert bogus.status_code == 422, bogus.text
    error = bogus.json()["detail"][0]
    assert error["loc"] == ["query", "state"]
    assert all(f"'{state.value}'" in error["msg"] for state in State), error["msg"]
    urgent = client.get("/api/tickets", params={"severity": "urgent"})
    assert urgent.status_code == 422
    assert "'critical', 'major' or 'minor'" in urgent.json()["detail"][0]["msg"]
    assert len(client.get("/api/tickets", params={"state": "open"}).json()) == 1


def test_transition_target_is_an_enum_of_the_lifecycle_targets(
    stores: Stores, client: TestClient
) -> None:
    """`{"to": "done"}` used to be a 409 (as if "done" were a state it could not reach yet)."""
    ticket_id = open_ticket(stores, "p1")
    done = client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "done"})
    assert done.status_code == 422, done.text
    assert done.json()["detail"][0]["loc"] == ["body", "to"]
    assert "'dispatched'" in done.json()["detail"][0]["msg"]
    spec = client.get("/openapi.json").json()
    target = spec["components"]["schemas"]["TransitionRequest"]["properties"]["to"]
    targets = {to.value for (_from, to) in TRANSITIONS}
    assert set(target["enum"]) == targets == set(get_args(TransitionTarget))
    filter_state = next(
        p for p in spec["paths"]["/api/tickets"]["get"]["parameters"] if p["name"] == "state"
    )
    ref = filter_state["schema"]["anyOf"][0]["$ref"].rsplit("/", 1)[1]
    assert spec["components"]["schemas"][ref]["enum"] == [state.value for state in State]
