"""Input the API once answered with a 500 or off its own spec; each now gets a clear answer.

On SQLite and on PostgreSQL: some of these were 500s on one backend only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.app import create_app
from api.schemas import TicketSeverity, TokenRole
from contract.finding import Finding, Severity
from contract.topics import DeviceRef, telemetry_topic
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import InboundMessage
from quality.accounts import HUMAN_ROLES
from quality.tickets.policy import SEVERITIES
from tests.conftest import pipeline_for
from tests.databases import POSTGRES_URL

MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL
MAX_OFFSET = 2**63 - 1


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    """Fresh stores on each backend; on PostgreSQL in a schema of the test's own."""
    if request.param == "sqlite":
        stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
        yield stores
        stores.close()
        return
    schema = f"api_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path, database_url=url))  # type: ignore[call-arg]
    try:
        yield stores
    finally:
        stores.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def client(stores: Stores) -> TestClient:
    token = stores.tokens.create("admin", "admin-user")[1]
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def _finding() -> Finding:
    return Finding(
        DeviceRef("hq", "b1", "pump", "p1"),
        "bearing_wear",
        Severity.MAJOR,
        "pump_bearing_wear",
        "1",
        int(time.time() * 1000),
        "vibration rising",
        {"value": 0.3},
    )


@pytest.fixture
def ticket_id(stores: Stores) -> int:
    return stores.tickets.record(_finding()).ticket_id


ID_ROUTES: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/tickets/{id}", None),
    ("GET", "/api/tickets/{id}/history", None),
    ("POST", "/api/tickets/{id}/transitions", {"to": "closed", "note": "n"}),
    ("POST", "/api/tickets/{id}/assign", {"assignee": "team-a"}),
    ("PATCH", "/api/tickets/{id}/severity", {"severity": "minor"}),
    ("POST", "/api/tickets/{id}/comments", {"text": "seen"}),
    ("DELETE", "/api/tokens/{id}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
def test_ids_past_the_column_are_422_not_500(
    client: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    """PostgreSQL raised "integer out of range" past 32 bits, SQLite OverflowError past 64;
    the range is now in the spec."""
    too_big = client.request(method, path.format(id=MAX_ID + 1), json=body)
    assert too_big.status_code == 422, too_big.text
    assert str(MAX_ID) in too_big.json()["detail"][0]["msg"]
    assert client.request(method, path.format(id=0), json=body).status_code == 422
    assert client.request(method, path.format(id=MAX_ID), json=body).status_code == 404


@pytest.mark.parametrize("path", ["/api/tickets", "/api/dead-letters"])
def test_offsets_past_64_bits_are_422_not_500(client: TestClient, path: str) -> None:
    """SQLite raised OverflowError."""
    too_big = client.get(path, params={"offset": MAX_OFFSET + 1})
    assert too_big.status_code == 422, too_big.text
    assert str(MAX_OFFSET) in too_big.json()["detail"][0]["msg"]
    assert client.get(path, params={"offset": MAX_OFFSET}).json() == []


def test_every_time_carries_its_utc_offset(
    stores: Stores, client: TestClient, ticket_id: int
) -> None:
    """SQLite drops the zone: times went out as naive, not RFC 3339 date-times."""
    pipeline = pipeline_for(stores)
    topic = telemetry_topic(DeviceRef("hq", "b1", "pump", "p1"))
    pipeline.handle(InboundMessage(topic, b"{broken", int(time.time() * 1000)))
    pipeline.flush()
    stores.tickets.record(_finding())  # a second occurrence, for the occurrence log
    client.post(f"/api/tickets/{ticket_id}/comments", json={"text": "seen"})
    detail = client.get(f"/api/tickets/{ticket_id}").json()
    times = [
        detail["opened_at"],
        detail["history"][0]["at"],
        detail["comments"][0]["at"],
        detail["occurrence_log"][0]["recorded_at"],
        client.get("/api/tokens").json()[0]["created_at"],
        client.get("/api/dead-letters").json()[0]["received_at"],
    ]
    assert all(t.endswith("Z") for t in times), times


def test_unknown_role_or_severity_is_422_listing_the_choices(
    client: TestClient, ticket_id: int
) -> None:
    """The store's "'nope' is not a valid Role" did not say what to send instead, and these
    handler-made 422s did not match the declared validation-error shape."""
    for role in ("nope", "system"):
        response = client.post("/api/tokens", json={"role": role, "name": "x"})
        assert response.status_code == 422
        assert (
            "'viewer', 'inspector', 'engineer', 'quality' or 'admin'"
            in response.json()["detail"][0]["msg"]
        )
    response = client.patch(f"/api/tickets/{ticket_id}/severity", json={"severity": "urgent"})
    assert response.status_code == 422
    assert "'critical', 'major' or 'minor'" in response.json()["detail"][0]["msg"]
    assert set(get_args(TokenRole)) == {role.value for role in HUMAN_ROLES}
    assert get_args(TicketSeverity) == SEVERITIES


def test_lifecycle_errors_are_declared_in_the_spec(client: TestClient, ticket_id: int) -> None:
    """A missing note is a 422 whose `detail` is a message, not the field-error list that
    FastAPI declares by default; the spec now says so."""
    needs_note = client.post(f"/api/tickets/{ticket_id}/transitions", json={"to": "closed"})
    assert needs_note.status_code == 422
    assert "needs a note" in needs_note.json()["detail"]
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/api/tickets/{ticket_id}/transitions"]["post"]["responses"]
    declared = {
        status: body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for status, body in responses.items()
        if status != "200"
    }
    assert declared == {"404": "Problem", "409": "TransitionConflict", "422": "InvalidRequest"}
    detail = spec["components"]["schemas"]["InvalidRequest"]["properties"]["detail"]
    assert {"type": "string"} in detail["anyOf"]


NUL_INPUTS: list[tuple[str, str, dict[str, str] | None, dict[str, str] | None]] = [
    ("GET", "/api/tickets", {"site": "hq\x00"}, None),
    ("GET", "/api/tickets", {"device_id": "\x00"}, None),
    ("GET", "/api/devices", {"kind": "pump\x00"}, None),
    ("GET", "/api/devices/p%001/telemetry", None, None),
    ("POST", "/api/tickets/{id}/comments", None, {"text": "a\x00b"}),
    ("POST", "/api/tickets/{id}/assign", None, {"assignee": "team\x00a"}),
    ("POST", "/api/tickets/{id}/transitions", None, {"to": "closed", "note": "\x00"}),
    ("PATCH", "/api/tickets/{id}/severity", None, {"severity": "minor", "note": "\x00"}),
    ("POST", "/api/tokens", None, {"role": "viewer", "name": "a\x00b"}),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), NUL_INPUTS)
def test_nul_in_text_is_422_not_500(
    client: TestClient,
    ticket_id: int,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: dict[str, str] | None,
) -> None:
    """PostgreSQL refuses NUL in text: a psycopg DataError, so a 500."""
    response = client.request(method, path.format(id=ticket_id), params=params, json=body)
    assert response.status_code == 422, response.text
    assert "may not contain NUL" in response.json()["detail"][0]["msg"]


def test_unpaired_surrogate_is_422_not_500(client: TestClient, ticket_id: int) -> None:
    """A lone surrogate is a legal JSON escape but not Unicode: the 422 that echoes it could
    not be encoded as UTF-8, so the answer was a 500."""
    response = client.post(
        f"/api/tickets/{ticket_id}/comments",
        content=b'{"text": "a\\ud800b"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "text"] and "unicode" in error["msg"]
