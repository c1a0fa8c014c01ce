"""One test per endpoint, on real SQLite stores filled through the real pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import InboundMessage
from observability.metrics import parse_samples
from tests.conftest import pipeline_for

NOW = int(time.time() * 1000)
DOOR = DeviceRef("hq", "b1", "access", "door-1")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    pipeline = pipeline_for(stores)
    for seq in range(1, 31):
        held = 0.0 if seq < 20 else float((seq - 19) * 10)
        payload = encode_telemetry(
            NOW - 60_000 + seq * 1000, seq, {"door_open": held > 0, "held_open_s": held}
        )
        pipeline.handle(InboundMessage(telemetry_topic(DOOR), payload, NOW))
    pipeline.handle(InboundMessage(telemetry_topic(DOOR), b"{broken", NOW))
    pipeline.flush()
    yield stores
    stores.close()


@pytest.fixture
def client(stores: Stores) -> TestClient:
    _id, token = stores.tokens.create("viewer", "test-viewer")
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def test_devices(client: TestClient) -> None:
    devices = client.get("/api/devices").json()
    assert [(d["device_id"], d["kind"], d["samples"], d["last_seq"]) for d in devices] == [
        ("door-1", "access", 30, 30)
    ]
    assert client.get("/api/devices", params={"kind": "pump"}).json() == []


def test_device_telemetry(client: TestClient) -> None:
    body = client.get("/api/devices/door-1/telemetry", params={"limit": 3}).json()
    assert body["kind"] == "access"
    assert [s["metrics"]["seq"] for s in body["samples"]] == [30, 29, 28]
    assert body["samples"][0]["metrics"]["held_open_s"] == 110.0
    missing = client.get("/api/devices/nope/telemetry")
    assert missing.status_code == 404 and "GET /api/devices" in missing.json()["detail"]
    assert client.get("/api/devices/door-1/telemetry", params={"limit": 0}).status_code == 422


def test_tickets_list_and_detail(client: TestClient) -> None:
    tickets = client.get("/api/tickets").json()
    assert [(t["device_id"], t["fault_type"], t["state"]) for t in tickets] == [
        ("door-1", "door_held_open", "open")
    ]
    assert client.get("/api/tickets", params={"state": "closed"}).json() == []
    detail = client.get(f"/api/tickets/{tickets[0]['id']}").json()
    assert detail["evidence"]["threshold"] == 60.0
    assert detail["evidence"]["detector"] == "access_door_held_open"
    assert client.get("/api/tickets/9999").status_code == 404


def test_dead_letters(client: TestClient) -> None:
    letters = client.get("/api/dead-letters").json()
    assert len(letters) == 1
    assert letters[0]["payload"] == "{broken"
    assert "malformed JSON" in letters[0]["reason"]
    assert letters[0]["topic"] == telemetry_topic(DOOR)


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "series_store": True,
        "database": True,
        "reason": None,
    }


def test_metrics(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    ingested = {"channel": "telemetry", "kind": "access"}
    assert (ingested, 30) in parse_samples(text, "facmon_messages_ingested_total")
    assert ({"reason": "json"}, 1) in parse_samples(text, "facmon_dead_letters_total")
    opened = {"fault_type": "door_held_open", "kind": "access"}
    assert (opened, 1) in parse_samples(text, "facmon_tickets_opened_total")


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {
        "/api/devices",
        "/api/devices/{device_id}/telemetry",
        "/api/tickets",
        "/api/tickets/{ticket_id}",
        "/api/dead-letters",
        "/healthz",
        "/metrics",
    } <= paths


def test_config_shows_where_webhooks_go_but_not_their_secret(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "hooks",
        webhook_url="https://bot:pw@hooks.example.com/services/T0/B1/SeCrEt?token=QuErY",
        webhook_secret="0123456789abcdef0123",
    )
    stores = Stores.open(settings)
    try:
        _id, token = stores.tokens.create("admin", "test-admin")
        admin = TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})
        body = admin.get("/api/config").text
        assert "hooks.example.com" in body
        for secret in ("SeCrEt", "QuErY", "pw@", "0123456789abcdef"):
            assert secret not in body
    finally:
        stores.close()
