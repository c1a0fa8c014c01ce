"""Fixtures that start real servers on free ports, and helpers: await conditions, build
the real ingest pipeline over a test's stores."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest

from detectors.registry import DetectorBank
from facmon.service import Stores
from ingest.pipeline import IngestPipeline
from tools.servers import InfluxServer, MosquittoServer

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    timeout_s: float = 20.0,
    what: str = "condition",
    interval_s: float = 0.05,
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T = probe()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")
        time.sleep(interval_s)
        last = probe()
    return last


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def publish_qos1(port: int, messages: Iterable[tuple[str, bytes]]) -> None:
    """Publish (topic, payload) pairs at QoS 1; return once the broker has every one."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for info in [client.publish(topic, payload, qos=1) for topic, payload in messages]:
            info.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoServer]:
    server = MosquittoServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def influx() -> Iterator[InfluxServer]:
    server = InfluxServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A broker this test alone may stop and restart."""
    server = MosquittoServer(tmp_path / "mosquitto")
    server.workdir.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site() -> str:
    """A site id unique to the test, so topics never overlap between tests."""
    return unique("site")


@pytest.fixture(scope="session")
def output_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    return path


def pipeline_for(stores: Stores, **options: Any) -> IngestPipeline:
    """The real pipeline over a test's stores, with every detector."""
    return IngestPipeline(
        stores.series,
        stores.tickets,
        stores.dead_letters,
        stores.devices,
        DetectorBank(),
        stores.metrics,
        **options,
    )
