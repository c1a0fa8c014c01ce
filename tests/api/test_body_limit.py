"""Authentication before the body, and a body limit that counts streamed bytes, on every
route that takes a body (the app in-process; tests/api/test_body_limit_live.py runs a
300 MiB upload against uvicorn)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from api.app import MAX_BODY_BYTES, create_app
from api.deps import MAX_ID, users_for
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.service import Stores
from facmon.settings import Settings

# One valid body per operation that takes one, so that with a token the route reads it.
BODIES: dict[str, dict[str, object]] = {
    "/api/tickets/{ticket_id}/transitions": {"to": "dispatched"},
    "/api/tickets/{ticket_id}/assign": {"assignee": "team-a"},
    "/api/tickets/{ticket_id}/acknowledge": {"note": "on my way"},
    "/api/tickets/{ticket_id}/severity": {"severity": "minor"},
    "/api/tickets/{ticket_id}/comments": {"text": "seen"},
    "/api/tokens": {"role": "viewer", "name": "x"},
    # In this order the device and contractor 1 exist before they are changed.
    "/api/ledger/equipment": {
        "site": "hq",
        "building": "b1",
        "kind": "pump",
        "device_id": "p1",
        "name": "P1",
    },
    "/api/ledger/equipment/{site}/{device_id}": {"name": "Pump 1"},
    "/api/ledger/equipment/{site}/{device_id}/decommission": {"reason": "replaced"},
    "/api/ledger/contractors": {"name": "Clear Water"},
    "/api/ledger/contractors/{contractor_id}": {"active": False},
    "/api/ledger/import": {},
    "/api/tickets/manual": {},
    "/api/inspections/routes": {
        "name": "lobby",
        "site": "hq",
        "stops": [
            {"building": "b1", "place": "lobby", "items": [{"question": "q", "kind": "text"}]}
        ],
    },
    "/api/inspections/routes/{route_id}": {
        "name": "lobby, daily",
        "site": "hq",
        "stops": [
            {"building": "b1", "place": "lobby", "items": [{"question": "q", "kind": "text"}]}
        ],
    },
    "/api/inspections/rounds": {"route_id": 1},
    "/api/inspections/rounds/{round_id}/answers": {},
    "/api/maintenance/plans": {"name": "pumps", "kind": "pump", "every_days": 30},
    "/api/maintenance/plans/{plan_id}": {"name": "pumps", "kind": "pump", "monthly_day": 1},
    # PATCH (POST /api/session, signing in, needs nobody signed in: PUBLIC below)
    "/api/session": {"language": "en"},
    "/api/session/password": {
        "current_password": "desk-password-1",
        "new_password": "desk-password-2",
    },
    "/api/users": {"username": "ops.lead", "role": "engineer", "password": "lead-password-1"},
    "/api/users/{username}": {"display_name": "运维组长"},
    "/api/users/{username}/password": {"password": "lead-password-2"},
    # Bulk dispatch answers per ticket: an unknown one leaves the walked ticket alone.
    "/api/tickets/dispatch": {"ticket_ids": [MAX_ID], "assignee": "pump team"},
    # In this order the channel exists before the rule names it.
    "/api/notifications/channels": {
        "name": "qa-wecom",
        "type": "wecom",
        "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0",
    },
    "/api/notifications/channels/{channel_id}": {
        "name": "qa-wecom",
        "type": "wecom",
        "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a1",
    },
    "/api/notifications/rules": {
        "name": "all",
        "match": {},
        "channels": ["qa-wecom"],
        "recipients": [{"name": "王经理", "language": "zh-CN"}],
    },
    "/api/notifications/rules/{rule_id}": {
        "name": "everything",
        "match": {},
        "channels": ["qa-wecom"],
        "recipients": [{"name": "Lee", "language": "en"}],
    },
    "/api/reports": {"kind": "weekly", "site": "hq", "period": "2026-W49", "language": "en"},
    "/api/pdca": {
        "title": "pump bearings greased monthly",
        "target_kpi": "integrity_pct",
        "owner": "quality",
        "started_at": "2026-11-01T00:00:00+08:00",
    },
    "/api/pdca/{action_id}": {"status": "done"},
    "/api/maintenance/windows": {
        "site": "hq",
        "device_id": "p1",
        "from": "2027-03-01T08:00:00+08:00",
        "to": "2027-03-01T12:00:00+08:00",
        "reason": "seals",
    },
}
# Signing in is the one write that needs nobody signed in.
PUBLIC = {("/api/session", "POST")}
# A person's own session and password: answered with a session cookie, not a token.
SESSION_ONLY = {"/api/session", "/api/session/password"}
# Routes that take a file rather than JSON: the multipart body each is sent.
FILES: dict[str, dict[str, tuple[str | None, bytes] | tuple[str, bytes, str]]] = {
    "/api/ledger/import": {
        "file": ("ledger.csv", b"site,building,kind,device_id,name\nhq,b1,pump,p2,P2\n", "text/csv")
    },
    # Form fields are parts without a file name.
    "/api/tickets/manual": {
        "site": (None, b"hq"),
        "building": (None, b"b1"),
        "place": (None, b"lobby"),
        "category": (None, b"other"),
        "severity": (None, b"minor"),
        "description": (None, b"a loose tile"),
    },
    "/api/inspections/rounds/{round_id}/answers": {
        "stop": (None, b"0"),
        "item": (None, b"0"),
        "value": (None, b"ok"),
    },
}


def _body(path: str) -> dict[str, Any]:
    return {"files": FILES[path]} if path in FILES else {"json": BODIES[path]}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield stores
    stores.close()


class BodyReads:
    """The app, with a record of whether it asked for any of the request body."""

    def __init__(self, stores: Stores) -> None:
        self.app = create_app(stores)
        self.read = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched() -> Message:
            message = await receive()
            self.read = self.read or message["type"] == "http.request"
            return message

        await self.app(scope, watched, send)


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


def test_every_route_with_a_body_authenticates_before_reading_it(stores: Stores) -> None:
    """FastAPI reads the body before it solves dependencies: a token checked only by a
    dependency let an unknown caller's body be read (300 MiB of it, chunked) before the 401."""
    admin = stores.tokens.create("admin", "root")[1]
    watched = BodyReads(stores)
    client = TestClient(watched)
    users_for(stores).create("desk", "viewer", password="desk-password-1")
    signed_in = TestClient(watched)
    signed_in.post("/api/session", json={"username": "desk", "password": "desk-password-1"})
    session_headers = {"X-CSRF-Token": signed_in.cookies["facmon_csrf"]}
    spec = client.get("/openapi.json").json()
    routes = [
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation and (path, method.upper()) not in PUBLIC
    ]
    assert {path for path, _ in routes} == set(BODIES), "a body route without a test body"
    ticket_id = _ticket(stores)
    for path, method in routes:
        url = path.format(
            ticket_id=ticket_id,
            site="hq",
            device_id="p1",
            contractor_id=1,
            route_id=1,
            round_id=1,
            plan_id=1,
            channel_id=1,
            rule_id=1,
            action_id=1,
            username="ops.lead",
        )
        for headers in ({}, {"Authorization": "Bearer fm_not-a-token"}):
            watched.read = False
            response = client.request(method, url, headers=headers, **_body(path))
            assert response.status_code == 401, (method, path, response.text)
            assert not watched.read, f"{method} {path} read the body before the 401"
        watched.read = False
        if path in SESSION_ONLY:
            answered = signed_in.request(method, url, headers=session_headers, **_body(path))
        else:
            answered = client.request(
                method,
                url,
                headers={"Authorization": f"Bearer {admin}"},
                **_body(path),
            )
        assert answered.status_code < 300, (method, path, answered.text)
        assert watched.read, f"{method} {path} did not read its body"


def test_a_streamed_body_over_the_limit_is_413_naming_the_limit(stores: Stores) -> None:
    """A chunked body announces no length; the limit counts the bytes as they come."""
    engineer = stores.tokens.create("engineer", "e")[1]
    client = TestClient(create_app(stores), headers={"Authorization": f"Bearer {engineer}"})
    sent: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB offered in 64 KiB pieces
            sent.append(1)
            yield b"x" * 65536

    url = f"/api/tickets/{_ticket(stores)}/comments"
    response = client.post(url, content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert f"limit of {MAX_BODY_BYTES} bytes" in response.json()["detail"]
    announced = client.post(url, content=b"x" * (MAX_BODY_BYTES + 1))
    assert announced.status_code == 413
    assert f"limit of {MAX_BODY_BYTES} bytes" in announced.json()["detail"]
    fits = client.post(url, json={"text": "y" * 4000})
    assert fits.status_code == 201, fits.text
