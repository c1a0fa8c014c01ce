"""Every endpoint's role boundary: missing or wrong token 401, too weak a role 403."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings
from quality.accounts import hash_token
from quality.tickets.lifecycle import Role

ROLES = ["viewer", "engineer", "quality", "admin"]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield stores
    stores.close()


@pytest.fixture
def tokens(stores: Stores) -> dict[str, str]:
    return {role: stores.tokens.create(role, f"{role}-user")[1] for role in ROLES}


def _ticket(stores: Stores) -> int:
    finding = Finding(
        DeviceRef("hq", "b1", "pump", "p1"),
        "bearing_wear",
        Severity.MAJOR,
        "pump_bearing_wear",
        "1",
        int(time.time() * 1000),
        "vibration rising",
        {"value": 0.3},
    )
    return stores.tickets.record(finding).ticket_id


# (method, path template, body, least role)
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, str]] = [
    ("GET", "/api/devices", None, "viewer"),
    ("GET", "/api/dead-letters", None, "viewer"),
    ("GET", "/api/tickets", None, "viewer"),
    ("GET", "/api/tickets/{id}", None, "viewer"),
    ("GET", "/api/tickets/{id}/history", None, "viewer"),
    ("GET", "/api/equipment/chronic", None, "viewer"),
    ("GET", "/api/me", None, "viewer"),
    ("POST", "/api/tickets/{id}/comments", {"text": "seen"}, "engineer"),
    ("POST", "/api/tickets/{id}/assign", {"assignee": "team-a"}, "engineer"),
    ("PATCH", "/api/tickets/{id}/severity", {"severity": "minor", "note": "n"}, "quality"),
    ("GET", "/api/tokens", None, "admin"),
    ("POST", "/api/tokens", {"role": "viewer", "name": "x"}, "admin"),
    ("GET", "/api/config", None, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "least"), ENDPOINTS)
def test_role_boundaries(
    stores: Stores,
    tokens: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object] | None,
    least: str,
) -> None:
    client = TestClient(create_app(stores))
    url = path.format(id=_ticket(stores))
    assert client.request(method, url, json=body).status_code == 401
    bad = {"Authorization": "Bearer fm_not-a-token"}
    assert client.request(method, url, json=body, headers=bad).status_code == 401
    for role in ROLES:
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        status = client.request(method, url, json=body, headers=headers).status_code
        if ROLES.index(role) < ROLES.index(least):
            assert status == 403, (role, url, status)
        else:
            assert status < 400, (role, url, status)


@pytest.mark.parametrize(
    ("target", "least"),
    [("dispatched", "engineer"), ("closed", "quality")],
)
def test_transition_roles(stores: Stores, tokens: dict[str, str], target: str, least: str) -> None:
    client = TestClient(create_app(stores))
    for role in ROLES:
        ticket_id = _ticket(stores)
        response = client.post(
            f"/api/tickets/{ticket_id}/transitions",
            json={"to": target, "note": "checked on site"},
            headers={"Authorization": f"Bearer {tokens[role]}"},
        )
        expected_ok = ROLES.index(role) >= ROLES.index(least)
        assert (response.status_code == 200) == expected_ok, (role, response.json())
        if stores.tickets.require(ticket_id).state != "closed":
            # Out of the way, so that the next role gets a fresh open ticket.
            stores.tickets.transition(ticket_id, "closed", "t", Role.QUALITY, "reset")


def test_open_endpoints_need_no_token(stores: Stores) -> None:
    client = TestClient(create_app(stores))
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert "<html" in client.get("/").text.lower() or "<!doctype" in client.get("/").text.lower()


def test_every_page_has_an_icon_and_favicon_ico_is_not_a_404(stores: Stores) -> None:
    client = TestClient(create_app(stores))
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content == client.get("/static/favicon.svg").content
    for page in ("/", "/kpis", "/reports", "/login"):
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get(page).text, page


def test_tokens_are_stored_hashed_and_can_be_revoked(
    stores: Stores, tokens: dict[str, str]
) -> None:
    rows = stores.tokens.list()
    stored = {row.token_hash for row in rows}
    assert all(token not in stored for token in tokens.values())
    assert {hash_token(token) for token in tokens.values()} <= stored
    client = TestClient(create_app(stores))
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    viewer_id = next(row.id for row in rows if row.role == "viewer")
    assert client.delete(f"/api/tokens/{viewer_id}", headers=admin).status_code == 204
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/api/tickets", headers=viewer).status_code == 401


def test_oversized_body_is_refused(stores: Stores, tokens: dict[str, str]) -> None:
    client = TestClient(create_app(stores))
    headers = {"Authorization": f"Bearer {tokens['engineer']}"}
    response = client.post(
        f"/api/tickets/{_ticket(stores)}/comments", json={"text": "x" * 100_000}, headers=headers
    )
    assert response.status_code == 413
