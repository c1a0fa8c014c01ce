"""A write's body must be freed when the write returns, not when the collector runs.

Ingest raises the collector's thresholds (facmon/gc_tuning.py), so a body caught
in a reference cycle stays in memory for minutes: through httpx, whose request
and response objects form cycles, a worker grew by hundreds of MB in a soak.
"""

from __future__ import annotations

import gc
import tracemalloc
import uuid

from storage.timeseries.base import Point
from storage.timeseries.influx import InfluxStore
from storage.timeseries.line_protocol import encode_points
from tools.servers import InfluxServer

WRITES = 10


def test_written_bodies_are_not_held_until_a_collection(influx: InfluxServer) -> None:
    store = InfluxStore(influx.url, f"memory_{uuid.uuid4().hex[:8]}")
    points = [
        Point("pump", {"device_id": f"p{i}"}, {"current_a": i / 7, "seq": i}, 1_700_000_000_000 + i)
        for i in range(5_000)
    ]
    body_bytes = len(encode_points(points))
    store.write(points)  # the database exists, the connection is pooled
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(WRITES):
            store.write(points)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    try:
        assert store.count("pump") == 5_000  # the stream was sent whole, every time
    finally:
        store.close()
    # With the body caught in the cycles, ten writes held ten bodies (2 MB here).
    assert held < body_bytes, f"{held} bytes held after {WRITES} writes of {body_bytes}"
