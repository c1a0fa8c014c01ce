"""The ticket API the board reads and writes: comments listed and searched, bulk dispatch
with its per-ticket outcome, verifying or closing while telemetry still shows the fault
(409 until confirmed, then recorded), floors from the ledger, devices' online status, facets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.app import create_app
from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from ingest.device_registry import DeviceState
from quality.ledger.models import Equipment
from tests.databases import BACKENDS, fresh_settings

T0 = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_settings(request.param, tmp_path, "b") as settings:
        opened = Stores.open(settings)
        opened.tickets.clock = ManualClock(T0)
        yield opened
        opened.close()


def client_for(stores: Stores, role: str, contractor: str | None = None) -> TestClient:
    token = stores.tokens.create(role, f"{role}-user", contractor=contractor)[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def open_ticket(
    stores: Stores, device: str, fault: str = "door_slowing", building: str = "b1"
) -> int:
    finding = Finding(
        DeviceRef("hq", building, "elevator", device),
        fault,
        Severity.MAJOR,
        "slowing",
        "1",
        1,
        f"{device} door slowing",
        {},
    )
    return stores.tickets.record(finding).ticket_id


def test_comments_are_listed_oldest_first_and_found_by_the_search(stores: Stores) -> None:
    client = client_for(stores, "engineer")
    first, second = open_ticket(stores, "lift-1"), open_ticket(stores, "lift-2")
    assert (
        client.post(
            f"/api/tickets/{first}/comments", json={"text": "spare part ordered"}
        ).status_code
        == 201
    )
    assert (
        client.post(f"/api/tickets/{first}/comments", json={"text": "技术员明早到场"}).status_code
        == 201
    )
    listed = client.get(f"/api/tickets/{first}/comments").json()
    assert [c["text"] for c in listed] == ["spare part ordered", "技术员明早到场"]
    assert listed[0]["author"] == "engineer-user"
    assert client.get(f"/api/tickets/{second}/comments").json() == []
    assert client.get("/api/tickets/999/comments").status_code == 404
    found = client.get("/api/tickets/page", params={"q": "SPARE PART"}).json()
    assert [t["id"] for t in found["items"]] == [first]
    found = client.get("/api/tickets/page", params={"q": "明早"}).json()
    assert [t["id"] for t in found["items"]] == [first]
    # the ticket's own text is still searched beside the comments
    found = client.get("/api/tickets/page", params={"q": "lift-2"}).json()
    assert [t["id"] for t in found["items"]] == [second]


def test_bulk_dispatch_reports_each_ticket_and_leaves_failures_untouched(stores: Stores) -> None:
    client = client_for(stores, "engineer")
    a, b, c = (open_ticket(stores, f"lift-{n}") for n in range(3))
    client.post(f"/api/tickets/{c}/assign", json={"assignee": "x"})
    client.post(f"/api/tickets/{c}/acknowledge")
    client.post(f"/api/tickets/{c}/transitions", json={"to": "rectified"})
    history_before = [(h.to_state, h.note) for h in stores.tickets.history(c)]
    answer = client.post(
        "/api/tickets/dispatch",
        json={"ticket_ids": [a, b, c, 4040, a], "assignee": "door-team", "contractor": "Otis"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["dispatched"], body["failed"]) == (2, 2)
    by_id = {r["ticket_id"]: r for r in body["results"]}
    assert [r["ticket_id"] for r in body["results"]] == [a, b, c, 4040]
    assert by_id[a] == {"ticket_id": a, "ok": True, "state": "dispatched", "error": None}
    assert by_id[c]["ok"] is False and by_id[c]["state"] == "rectified"
    assert "rectified" in by_id[c]["error"]
    assert by_id[4040]["ok"] is False and by_id[4040]["state"] is None
    for ticket_id in (a, b):
        ticket = stores.tickets.require(ticket_id)
        assert (ticket.state, ticket.assignee, ticket.contractor) == (
            "dispatched",
            "door-team",
            "Otis",
        )
    assert [(h.to_state, h.note) for h in stores.tickets.history(c)] == history_before
    assert stores.tickets.require(c).assignee == "x"


def test_bulk_dispatch_refuses_bad_input_and_viewers(stores: Stores) -> None:
    engineer = client_for(stores, "engineer")
    ticket = open_ticket(stores, "lift-1")
    refused = engineer.post("/api/tickets/dispatch", json={"ticket_ids": [], "assignee": "t"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "ticket_ids"]
    refused = engineer.post("/api/tickets/dispatch", json={"ticket_ids": [ticket], "assignee": ""})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "assignee"]
    huge = engineer.post("/api/tickets/dispatch", json={"ticket_ids": [2**40], "assignee": "t"})
    assert huge.status_code == 422 and huge.json()["detail"][0]["loc"] == ["body", "ticket_ids", 0]
    viewer = client_for(stores, "viewer")
    assert (
        viewer.post(
            "/api/tickets/dispatch", json={"ticket_ids": [ticket], "assignee": "t"}
        ).status_code
        == 403
    )
    assert stores.tickets.require(ticket).state == "open"


def test_a_contractor_dispatches_only_its_own_tickets(stores: Stores) -> None:
    mine, other = open_ticket(stores, "lift-1"), open_ticket(stores, "lift-2")
    quality = client_for(stores, "quality")
    quality.post(f"/api/tickets/{mine}/assign", json={"assignee": "a", "contractor": "Otis"})
    contractor = client_for(stores, "engineer", contractor="Otis")
    body = contractor.post(
        "/api/tickets/dispatch", json={"ticket_ids": [mine, other], "assignee": "otis-night"}
    ).json()
    assert [(r["ticket_id"], r["ok"]) for r in body["results"]] == [(mine, True), (other, False)]
    assert body["results"][1]["state"] is None  # not told that it exists
    assert stores.tickets.require(other).state == "open"


def rectify(client: TestClient, ticket_id: int) -> None:
    for step in (
        client.post(f"/api/tickets/{ticket_id}/assign", json={"assignee": "t"}),
        client.post(f"/api/tickets/{ticket_id}/acknowledge"),
        client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "rectified"}),
    ):
        assert step.status_code == 200, step.text


def test_verifying_while_telemetry_shows_the_fault_needs_confirming(stores: Stores) -> None:
    client = client_for(stores, "quality")
    ticket = open_ticket(stores, "lift-1")
    rectify(client, ticket)
    assert client.get(f"/api/tickets/{ticket}").json()["recheck"] is None
    stores.tickets.record_recheck(ticket, True, 1_809_000_000_000, "elevator_slowing")
    shown = client.get(f"/api/tickets/{ticket}").json()["recheck"]
    assert shown["fault_present"] is True and shown["detector"] == "elevator_slowing"
    refused = client.post(
        f"/api/tickets/{ticket}/transitions", json={"to": "verified", "note": "looks fine"}
    )
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["code"] == "fault_still_present"
    assert detail["field"] == "confirm_despite_fault"
    assert "遥测仍显示" in detail["message"] and "telemetry still shows" in detail["message"]
    assert stores.tickets.require(ticket).state == "rectified"
    done = client.post(
        f"/api/tickets/{ticket}/transitions",
        json={"to": "verified", "note": "sensor fouled", "confirm_despite_fault": True},
    )
    assert done.status_code == 200, done.text
    verified = done.json()
    assert verified["state"] == "verified"
    last = verified["history"][-1]
    assert last["to_state"] == "verified"
    assert last["note"].startswith("confirmed despite telemetry still showing the fault")
    assert last["note"].endswith(": sensor fouled")
    assert verified["verification"]["confirmed_despite_fault"]["fault_present"] is True
    # closing out asks again: telemetry has not shown the fault gone since
    refused = client.post(f"/api/tickets/{ticket}/transitions", json={"to": "closed"})
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "fault_still_present"
    closed = client.post(
        f"/api/tickets/{ticket}/transitions", json={"to": "closed", "confirm_despite_fault": True}
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"


def test_normal_telemetry_or_none_needs_no_confirming(stores: Stores) -> None:
    client = client_for(stores, "quality")
    quiet, normal = open_ticket(stores, "lift-1"), open_ticket(stores, "lift-2")
    rectify(client, quiet)
    rectify(client, normal)
    stores.tickets.record_recheck(normal, True, 1, "d")
    stores.tickets.record_recheck(normal, False, 2, "d")
    for ticket in (quiet, normal):
        answer = client.post(
            f"/api/tickets/{ticket}/transitions", json={"to": "verified", "note": "ok"}
        )
        assert answer.status_code == 200, answer.text
        assert "confirmed despite" not in answer.json()["history"][-1]["note"]


def test_a_new_rectification_forgets_the_last_rechecks_judgement(stores: Stores) -> None:
    client = client_for(stores, "quality")
    ticket = open_ticket(stores, "lift-1")
    rectify(client, ticket)
    stores.tickets.record_recheck(ticket, True, 1, "d")
    assert (
        client.post(f"/api/tickets/{ticket}/transitions", json={"to": "reopened"}).status_code
        == 200
    )
    assert stores.tickets.recheck(ticket) is None


def test_floor_filter_reads_the_ledger_and_manual_places(stores: Stores) -> None:
    on_3, on_5 = open_ticket(stores, "lift-3"), open_ticket(stores, "lift-5")
    place = stores.tickets.record(
        Finding(
            DeviceRef("hq", "b1", "place", "place:b1/3F/stairwell"),
            "other",
            Severity.MINOR,
            "manual:x",
            "1",
            1,
            "s",
            {},
        )
    ).ticket_id
    with Session(stores.engine) as session:
        session.execute(
            insert(Equipment),
            [
                {
                    "site": "hq",
                    "building": "b1",
                    "floor": "3F",
                    "kind": "elevator",
                    "device_id": "lift-3",
                    "name": "L3",
                },
                {
                    "site": "hq",
                    "building": "b1",
                    "floor": "5F",
                    "kind": "elevator",
                    "device_id": "lift-5",
                    "name": "L5",
                },
            ],
        )
        session.commit()
    client = client_for(stores, "viewer")
    found = client.get("/api/tickets/page", params={"floor": "3F"}).json()
    assert sorted(t["id"] for t in found["items"]) == sorted([on_3, place])
    found = client.get("/api/tickets/page", params={"floor": "5F", "building": "b1"}).json()
    assert [t["id"] for t in found["items"]] == [on_5]
    facets = client.get("/api/tickets/facets").json()
    assert facets["floors"] == ["3F", "5F"]
    assert facets["sites"] == ["hq"] and facets["kinds"] == ["elevator", "place"]


def test_each_ticket_carries_its_devices_online_status(stores: Stores) -> None:
    up, down = open_ticket(stores, "lift-1"), open_ticket(stores, "lift-2")
    unknown = open_ticket(stores, "lift-9")
    stores.devices.save(
        [
            DeviceState("lift-1", "hq", "b1", "elevator", online=True),
            DeviceState("lift-2", "hq", "b1", "elevator", online=False),
        ]
    )
    client = client_for(stores, "viewer")
    items = {t["id"]: t for t in client.get("/api/tickets/page").json()["items"]}
    assert (items[up]["device_online"], items[down]["device_online"]) == (True, False)
    assert items[unknown]["device_online"] is None
    assert client.get(f"/api/tickets/{down}").json()["device_online"] is False


def test_columns_answer_each_states_first_page_and_a_cursor_the_list_takes(
    stores: Stores,
) -> None:
    client = client_for(stores, "quality")
    opened = [open_ticket(stores, f"lift-{n}", building=f"b{n % 2}") for n in range(7)]
    for ticket in opened[:3]:
        client.post(f"/api/tickets/{ticket}/assign", json={"assignee": "t"})
    answer = client.get(
        "/api/tickets/columns", params={"state": "open,dispatched,closed", "limit": "2"}
    )
    assert answer.status_code == 200, answer.text
    columns = {c["state"]: c for c in answer.json()["columns"]}
    assert list(columns) == ["open", "dispatched", "closed"]
    assert (
        columns["open"]["total"],
        columns["dispatched"]["total"],
        columns["closed"]["total"],
    ) == (
        4,
        3,
        0,
    )
    assert [t["id"] for t in columns["open"]["items"]] == [opened[6], opened[5]]
    rest = client.get(
        "/api/tickets/page",
        params={"state": "open", "limit": "2", "cursor": columns["open"]["next_cursor"]},
    ).json()
    assert [t["id"] for t in rest["items"]] == [opened[4], opened[3]]
    filtered = client.get("/api/tickets/columns", params={"building": "b0", "severity": "major"})
    assert [c["state"] for c in filtered.json()["columns"]] == [
        "open",
        "dispatched",
        "acknowledged",
        "rectified",
        "verified",
        "closed",
        "reopened",
    ]
    assert {t["building"] for c in filtered.json()["columns"] for t in c["items"]} == {"b0"}
    refused = client.get("/api/tickets/columns", params={"state": "lost"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "state"
    refused = client.get("/api/tickets/columns", params={"sort": "price"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "sort"
