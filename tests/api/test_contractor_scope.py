"""A contractor's (维保单位) token sees and acts on its own tickets only: another
contractor's tickets are not listed, answer 404 as if they did not exist, and cannot be
acted on. Through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from quality.tickets.lifecycle import Role
from tests.conftest import unique
from tests.databases import BACKENDS, fresh_stores


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    with fresh_stores(request.param, tmp_path, "scope") as opened:
        yield opened


def client_for(stores: Stores, role: str, contractor: str | None = None) -> TestClient:
    token = stores.tokens.create(role, unique(role), contractor)[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def dispatched(stores: Stores, site: str, device: str, contractor: str) -> int:
    finding = Finding(
        DeviceRef(site, "b1", "pump", device), "pump_fault", Severity.MAJOR, "d", "1", 1, "s", {}
    )
    ticket_id = stores.tickets.record(finding).ticket_id
    stores.tickets.assign(ticket_id, "tech", "qa", Role.QUALITY, None, contractor=contractor)
    return ticket_id


def test_a_contractor_sees_and_acts_on_its_own_tickets_only(stores: Stores) -> None:
    site = unique("site")
    lifts, pumps = unique("lifts-co"), unique("pumps-co")
    mine = dispatched(stores, site, "p1", pumps)
    theirs = dispatched(stores, site, "p2", lifts)
    pumps_tech = client_for(stores, "engineer", pumps)
    lifts_tech = client_for(stores, "engineer", lifts)
    quality = client_for(stores, "quality")

    assert pumps_tech.get("/api/me").json()["contractor"] == pumps
    listed = pumps_tech.get("/api/tickets", params={"site": site}).json()
    assert [t["id"] for t in listed] == [mine]
    page = pumps_tech.get("/api/tickets/page", params={"site": site}).json()
    assert [t["id"] for t in page["items"]] == [mine]
    asked_other = pumps_tech.get("/api/tickets/page", params={"contractor": lifts})
    assert asked_other.status_code == 403 and pumps in asked_other.json()["detail"]

    assert pumps_tech.get(f"/api/tickets/{mine}").status_code == 200
    hidden = pumps_tech.get(f"/api/tickets/{theirs}")
    assert hidden.status_code == 404 and hidden.json()["detail"] == f"no ticket {theirs}"
    assert pumps_tech.get(f"/api/tickets/{theirs}/history").status_code == 404
    refused = pumps_tech.post(f"/api/tickets/{theirs}/acknowledge", json={})
    assert refused.status_code == 404
    assert stores.tickets.get(theirs)[0].state == "dispatched"  # type: ignore[index]

    acknowledged = pumps_tech.post(f"/api/tickets/{mine}/acknowledge", json={})
    assert acknowledged.status_code == 200, acknowledged.text
    assert lifts_tech.post(f"/api/tickets/{mine}/acknowledge", json={}).status_code == 404
    assert [t["id"] for t in lifts_tech.get("/api/tickets", params={"site": site}).json()] == [
        theirs
    ]
    # people without a contractor still see everything
    everything = quality.get("/api/tickets", params={"site": site}).json()
    assert sorted(t["id"] for t in everything) == sorted([mine, theirs])


def test_admin_creates_a_contractor_token(stores: Stores) -> None:
    admin = client_for(stores, "admin")
    made = admin.post(
        "/api/tokens", json={"role": "engineer", "name": "tech", "contractor": "Acme Lifts"}
    )
    assert made.status_code == 201 and made.json()["contractor"] == "Acme Lifts"
    listed = {t["id"]: t for t in admin.get("/api/tokens").json()}
    assert listed[made.json()["id"]]["contractor"] == "Acme Lifts"
