"""The `/write` path: one kept-alive connection, no garbage cycles, a server restart
survived without an error, and InfluxDB's answers mapped to retry or refuse."""

from __future__ import annotations

import base64
import gc
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from storage.timeseries.base import Point, StoreUnavailable
from storage.timeseries.influx import InfluxStore, PointsRefused
from tools.servers import InfluxServer


def points(ts_ms: int, count: int = 20) -> list[Point]:
    return [Point("pump", {"device_id": f"p{i}"}, {"seq": i}, ts_ms) for i in range(count)]


def test_writes_leave_no_reference_cycles(influx: InfluxServer) -> None:
    store = InfluxStore(influx.url, f"cycles_{uuid.uuid4().hex[:8]}")
    try:
        store.write(points(1_700_000_000_000))
        gc.collect()
        gc.disable()
        try:
            for n in range(1, 21):
                store.write(points(1_700_000_000_000 + n))
            # Through httpx, each write left about 50 objects for the collector.
            assert gc.collect() == 0
        finally:
            gc.enable()
        assert store.count("pump") == 20 * 21
    finally:
        store.close()


def test_a_restarted_influxdb_is_written_to_on_a_new_connection(tmp_path: Path) -> None:
    server = InfluxServer(tmp_path / "influx")
    server.workdir.mkdir(parents=True)
    server.start()
    store = InfluxStore(server.url, "restart")
    try:
        store.write(points(1_700_000_000_000))
        server.stop()
        with pytest.raises(StoreUnavailable, match="InfluxDB write failed"):
            store.write(points(1_700_000_000_001))
        server.start()
        # The kept-alive connection died with the server: the write goes on a new one.
        store.write(points(1_700_000_000_002))
        assert store.count("pump") == 40
    finally:
        store.close()
        server.stop()


class _Recorded(BaseHTTPRequestHandler):
    answer = 204
    requests: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((self.path, dict(self.headers), body))
        message = b'{"error":"field type conflict"}'
        self.send_response(self.answer)
        self.send_header("Content-Length", str(len(message)))
        self.end_headers()
        self.wfile.write(message)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorded]]]:
    handler = type("Handler", (_Recorded,), {"requests": [], "answer": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_the_request_names_database_retention_precision_and_user(
    recorder: tuple[str, type[_Recorded]],
) -> None:
    url, handler = recorder
    store = InfluxStore(
        url, "plant", "writer", "s3cret", retention_policy="week", create_database=False
    )
    try:
        store.write(points(1_700_000_000_000, count=2))
        store.write(points(1_700_000_000_001, count=2))
    finally:
        store.close()
    assert len(handler.requests) == 2
    path, headers, body = handler.requests[0]
    parts = urlsplit(path)
    assert parts.path == "/write"
    assert parse_qs(parts.query) == {"db": ["plant"], "rp": ["week"], "precision": ["ms"]}
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"writer:s3cret").decode()
    assert body.decode().splitlines() == [
        "pump,device_id=p0 seq=0i 1700000000000",
        "pump,device_id=p1 seq=1i 1700000000000",
    ]


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (400, PointsRefused, "refused the point: field type conflict"),
        (401, StoreUnavailable, "FACMON_INFLUX_USERNAME"),
        (503, StoreUnavailable, "503"),
    ],
)
def test_answers_map_to_refused_or_retry_later(
    recorder: tuple[str, type[_Recorded]], status: int, error: type[Exception], says: str
) -> None:
    url, handler = recorder
    handler.answer = status
    store = InfluxStore(url, "plant", create_database=False)
    try:
        with pytest.raises(error, match=says):
            store.write(points(1_700_000_000_000, count=1))
    finally:
        store.close()
