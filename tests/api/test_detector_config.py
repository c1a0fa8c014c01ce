"""GET /api/detectors/config: a device's effective detector parameters and their origin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from detectors.config_file import detectors_of
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import InboundMessage
from tests.conftest import pipeline_for

NOW = int(time.time() * 1000)
CIRCUIT = DeviceRef("ims", "test2", "lighting", "t2-c1")
CONFIG = """\
version: 5
kinds:
  lighting:
    lighting_lamp_failure: {persist: 6, window_s: 20}
sites:
  ims:
    lighting:
      lighting_lamp_failure: {persist: 7}
      offline: {offline_after_ms: 1800000}
buildings:
  ims/test2:
    lighting:
      lighting_lamp_failure: {learn_s: 90}
devices:
  ims/t2-c1:
    lighting_lamp_failure: {window_s: 25}
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "detectors.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def stores(tmp_path: Path, config_path: Path) -> Iterator[Stores]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, detectors_config=config_path, offline_after_s=300
    )
    stores = Stores.open(settings)
    pipeline = pipeline_for(stores)
    payload = encode_telemetry(NOW - 1000, 1, {"on": True, "current_a": 2.0})
    pipeline.handle(InboundMessage(telemetry_topic(CIRCUIT), payload, NOW))
    pipeline.flush()
    yield stores
    stores.close()


@pytest.fixture
def client(stores: Stores) -> TestClient:
    _id, token = stores.tokens.create("viewer", "test-viewer")
    return TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})


def test_a_known_device_shows_each_parameter_and_its_origin(client: TestClient) -> None:
    reply = client.get("/api/detectors/config", params={"site": "ims", "device_id": "t2-c1"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["site"], body["building"], body["kind"], body["device_id"]) == (
        "ims",
        "test2",
        "lighting",
        "t2-c1",
    )
    assert body["config_version"] == "5" and body["reload_error"] is None
    assert set(body["detectors"]) == {cls.name for cls in detectors_of("lighting")}
    lamp = body["detectors"]["lighting_lamp_failure"]
    assert lamp["fault_type"] == "lamp_failure"
    origins = {name: (p["value"], p["source"]) for name, p in lamp["parameters"].items()}
    assert {k: v for k, v in origins.items() if v[1] != "default" or k == "min_ratio"} == {
        "window_s": (25.0, "device"),
        "learn_s": (90.0, "building"),
        "persist": (7, "site"),
        "min_ratio": (0.6, "default"),
    }
    offline = body["detectors"]["offline"]["parameters"]
    assert offline["offline_after_ms"] == {"value": 1_800_000, "source": "site"}
    # the service's own setting sits under the file: FACMON_OFFLINE_AFTER_S=300 is gone
    # here, and shows as the default where the file says nothing
    other = client.get(
        "/api/detectors/config",
        params={"site": "hq", "device_id": "c9", "kind": "lighting", "building": "b1"},
    ).json()
    assert other["detectors"]["offline"]["parameters"]["offline_after_ms"] == {
        "value": 300_000,
        "source": "default",
    }
    assert other["detectors"]["lighting_lamp_failure"]["parameters"]["persist"] == {
        "value": 6,
        "source": "kind",
    }


def test_an_unknown_device_needs_its_kind_and_building(client: TestClient) -> None:
    reply = client.get("/api/detectors/config", params={"site": "ims", "device_id": "new-1"})
    assert reply.status_code == 404
    assert "give kind and building" in reply.json()["detail"]
    wrong_site = client.get("/api/detectors/config", params={"site": "hq", "device_id": "t2-c1"})
    # t2-c1 is heard at ims only: t2-c1 of hq is another device, not heard yet
    assert wrong_site.status_code == 404 and "give kind and building" in wrong_site.json()["detail"]
    bad_kind = client.get(
        "/api/detectors/config",
        params={"site": "ims", "device_id": "x", "kind": "boiler", "building": "b"},
    )
    assert bad_kind.status_code == 422


def test_the_reply_follows_the_file_and_reports_a_refused_one(
    client: TestClient, config_path: Path
) -> None:
    params = {"site": "ims", "device_id": "t2-c1"}
    config_path.write_text(CONFIG.replace("version: 5", "version: 6"))
    assert client.get("/api/detectors/config", params=params).json()["config_version"] == "6"
    config_path.write_text(CONFIG.replace("{window_s: 25}", "{windw: 25}"))
    body = client.get("/api/detectors/config", params=params).json()
    assert body["config_version"] == "6"  # still in force
    assert (
        "devices.ims/t2-c1.lighting_lamp_failure.windw: unknown parameter" in body["reload_error"]
    )
    assert body["reload_error"].endswith("(line 16)")


def test_it_needs_a_token(stores: Stores) -> None:
    reply = TestClient(create_app(stores)).get(
        "/api/detectors/config", params={"site": "ims", "device_id": "t2-c1"}
    )
    assert reply.status_code == 401


def test_without_a_file_every_value_is_a_default(tmp_path: Path) -> None:
    stores = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    try:
        _id, token = stores.tokens.create("viewer", "v")
        client = TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})
        body = client.get(
            "/api/detectors/config",
            params={"site": "s", "device_id": "d", "kind": "lighting", "building": "b"},
        ).json()
        assert body["config_version"] is None
        sources = {
            p["source"] for d in body["detectors"].values() for p in d["parameters"].values()
        }
        assert sources == {"default"}
    finally:
        stores.close()
