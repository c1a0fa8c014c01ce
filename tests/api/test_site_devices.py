"""door-1 in two sites is two devices, through the real pipeline to the API, on SQLite and
PostgreSQL: two registry rows, two tickets, a device path that names its site, and 409 on
the old path that names none."""

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
from tests.conftest import pipeline_for
from tests.databases import BACKENDS, fresh_settings

NOW = int(time.time() * 1000)
NORTH = DeviceRef("north", "b1", "access", "door-1")
SOUTH = DeviceRef("south", "b9", "access", "door-1")
LONE = DeviceRef("north", "b1", "access", "door-2")


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with fresh_settings(request.param, tmp_path, "s") as chosen:
        yield chosen


@pytest.fixture
def stores(settings: Settings) -> Iterator[Stores]:
    """Both doors held open from the same second on, sample for sample at the same times;
    door-2 exists in north only, and stays closed."""
    stores = Stores.open(settings)
    pipeline = pipeline_for(stores)
    for seq in range(1, 31):
        ts_ms = NOW - 60_000 + seq * 1000
        for door in (NORTH, SOUTH, LONE):
            held = 0.0 if seq < 20 or door is LONE else float((seq - 19) * 10)
            metrics = {"door_open": held > 0, "held_open_s": held}
            if door is SOUTH:
                metrics["held_open_s"] = held + 0.5  # tells south's samples apart
            payload = encode_telemetry(ts_ms, seq, metrics)
            pipeline.handle(InboundMessage(telemetry_topic(door), payload, NOW))
    pipeline.flush()
    yield stores
    stores.close()


@pytest.fixture
def client(stores: Stores) -> TestClient:
    _id, token = stores.tokens.create("viewer", "test-viewer")
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def test_each_sites_held_open_door_opens_its_own_ticket(stores: Stores) -> None:
    tickets = sorted(stores.tickets.list(), key=lambda t: t.site)
    assert [(t.site, t.building, t.device_id, t.fault_type) for t in tickets] == [
        ("north", "b1", "door-1", "door_held_open"),
        ("south", "b9", "door-1", "door_held_open"),
    ]
    rows = [(d.site, d.device_id, d.building, d.samples) for d in stores.devices.list()]
    assert rows == [
        ("north", "door-1", "b1", 30),
        ("north", "door-2", "b1", 30),
        ("south", "door-1", "b9", 30),
    ]


def test_devices_are_listed_per_site(client: TestClient) -> None:
    every = client.get("/api/devices").json()
    assert [(d["site"], d["device_id"]) for d in every] == [
        ("north", "door-1"),
        ("north", "door-2"),
        ("south", "door-1"),
    ]
    south = client.get("/api/devices", params={"site": "south"}).json()
    assert [(d["site"], d["building"]) for d in south] == [("south", "b9")]
    one = client.get("/api/sites/south/devices/door-1")
    assert one.status_code == 200 and one.json()["building"] == "b9"
    missing = client.get("/api/sites/east/devices/door-1")
    assert missing.status_code == 404
    assert "GET /api/devices?site=east" in missing.json()["detail"]
    assert "项目" in missing.json()["detail"]


def test_a_device_path_names_its_site(client: TestClient) -> None:
    for site, offset in (("north", 0.0), ("south", 0.5)):
        reply = client.get(f"/api/sites/{site}/devices/door-1/telemetry", params={"limit": 3})
        assert reply.status_code == 200
        body = reply.json()
        assert (body["site"], body["device_id"], body["kind"]) == (site, "door-1", "access")
        assert [s["metrics"]["seq"] for s in body["samples"]] == [30, 29, 28]
        assert body["samples"][0]["metrics"]["held_open_s"] == 110.0 + offset
    assert client.get("/api/sites/east/devices/door-1/telemetry").status_code == 404


def test_the_old_path_answers_an_unambiguous_id_and_409_with_the_sites_otherwise(
    client: TestClient,
) -> None:
    lone = client.get("/api/devices/door-2/telemetry", params={"limit": 2})
    assert lone.status_code == 200 and lone.json()["site"] == "north"
    assert [s["metrics"]["seq"] for s in lone.json()["samples"]] == [30, 29]
    ambiguous = client.get("/api/devices/door-1/telemetry")
    assert ambiguous.status_code == 409
    detail = ambiguous.json()["detail"]
    assert detail["sites"] == ["north", "south"] and detail["device_id"] == "door-1"
    assert "/api/sites/{site}/devices/door-1/telemetry" in detail["message"]
    assert "项目" in detail["message"]
    assert client.get("/api/devices/nope/telemetry").status_code == 404


def test_tickets_filter_by_site_and_device(client: TestClient) -> None:
    both = client.get("/api/tickets", params={"device_id": "door-1"}).json()
    assert sorted(t["site"] for t in both) == ["north", "south"]
    south = client.get("/api/tickets", params={"device_id": "door-1", "site": "south"}).json()
    assert [(t["site"], t["building"]) for t in south] == [("south", "b9")]
