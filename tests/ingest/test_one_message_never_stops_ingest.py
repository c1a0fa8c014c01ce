"""One message never stops ingest: whatever an event's data holds, and whatever InfluxDB
refuses, the writer moves on, the message is stored or kept as a dead letter with a
reason, and the valid samples after it land. Against a real influxd and SQLite.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from contract.payload import encode_telemetry
from contract.topics import DeviceRef, event_topic, telemetry_topic
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import BatchPolicy, InboundMessage
from ingest.worker import IngestWorker
from storage.dead_letters import DeadLetter
from storage.timeseries.base import Point
from storage.timeseries.influx import InfluxStore, quote_ident
from tests.conftest import pipeline_for, publish_qos1, unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import InfluxServer, MosquittoServer

FAST = BatchPolicy(max_delay_s=0.2, min_delay_s=0.02)


def _database() -> str:
    return unique("never_stops").replace("-", "_")


@pytest.fixture
def stores(tmp_path: Path, influx: InfluxServer) -> Iterator[Stores]:
    opened = Stores.open(
        Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=tmp_path, influx_url=influx.url, influx_database=_database()
        )
    )
    yield opened
    opened.close()


@dataclass
class Running:
    """The real pipeline and writer thread over a test's stores, fed by hand."""

    stores: Stores
    worker: IngestWorker
    acked: list[str] = field(default_factory=list)

    def send(self, topic: str, payload: bytes, name: str) -> None:
        received = int(time.time() * 1000)
        self.worker.submit(
            [InboundMessage(topic, payload, received, lambda: self.acked.append(name))]
        )

    def wait_acked(self, count: int, what: str) -> None:
        wait_until(lambda: len(self.acked) >= count, timeout_s=20, what=what)

    def letters(self) -> list[DeadLetter]:
        return list(self.stores.dead_letters.find(limit=10_000))


@pytest.fixture
def running(stores: Stores) -> Iterator[Running]:
    worker = IngestWorker(pipeline_for(stores, policy=FAST), tick_interval_s=0.5)
    worker.start()
    yield Running(stores, worker)
    worker.stop()


def event(ts_ms: int, seq: int, data: Any, name: str = "fault_code") -> bytes:
    body = {"ts": ts_ms, "seq": seq, "event": name, "data": data}
    return json.dumps(body, allow_nan=True).encode()  # ensure_ascii: surrogates as \ud800


def canary(running: Running, device: DeviceRef, seq: int) -> None:
    ts_ms = int(time.time() * 1000) - 100_000 + seq
    payload = encode_telemetry(ts_ms, seq, {"current_a": 1.0 + seq / 1000})
    running.send(telemetry_topic(device), payload, f"canary-{seq}")


def test_a_surrogate_in_event_data_is_a_dead_letter_and_the_next_100_samples_land(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    """The issue's case through the broker: before, the batch was retried forever."""
    database = _database()
    service = started(
        service_settings(
            tmp_path, mqtt_url=mosquitto.url, influx_url=influx.url, influx_database=database
        )
    )
    try:
        now_ms = int(time.time() * 1000)
        lift = DeviceRef(site, "b1", "elevator", "lift-1")
        bad = b'{"ts":%d,"seq":1,"event":"fault_code","data":{"\\ud800x":1}}' % now_ms
        good = [
            (telemetry_topic(lift), encode_telemetry(now_ms + n, n + 2, {"trips": n}))
            for n in range(100)
        ]
        publish_qos1(mosquitto.port, [(event_topic(lift), bad), *good])
        store = InfluxStore(influx.url, database)
        try:
            wait_until(lambda: store.count("elevator", "lift-1") == 100, what="100 samples")
        finally:
            store.close()
        [letter] = wait_until(lambda: service.stores.dead_letters.find(), what="dead letter")
        assert letter.raw_payload() == bad
        assert "event data key '\\ud800x' is not a valid identifier" in letter.reason
        _id, token = service.stores.tokens.create("viewer", unique("viewer"))
        client = TestClient(create_app(service.stores))
        health = client.get("/healthz", headers={"Authorization": f"Bearer {token}"})
        assert health.json()["status"] == "ok", health.json()
    finally:
        service.stop()


# (data, a reason the dead letter must give, or None: stored)
CRAFTED: list[tuple[Any, str | None]] = [
    ({"\ud800x": 1}, "not a valid identifier"),
    ({"a\nb": 1}, "not a valid identifier"),
    ({"": 1}, "not a valid identifier"),
    ({"x\\": 1}, "not a valid identifier"),
    ({"a b,c=d": 1}, "not a valid identifier"),
    ({"a\x00": 1}, "not a valid identifier"),
    ({"température": 1}, "not a valid identifier"),
    ({"k" * 41: 1}, "not a valid identifier"),
    ({"seq": 5}, "is reserved"),
    ({"event": 1}, "is reserved"),
    ({"time": 1}, "is reserved"),
    ({"device_id": 1}, "is reserved"),
    ({"code": "E42"}, "must be a finite number or boolean, got str"),
    ({"code": {"nested": 1}}, "must be a finite number or boolean, got dict"),
    ({"code": float("nan")}, "non-finite number NaN"),
    ({"code": 7}, None),  # the type changes from one event to the next: all stored
    ({"code": 7.5}, None),
    ({"code": True}, None),
    ({"code": 2**62, "door": False}, None),
]


def test_each_crafted_event_is_stored_or_a_dead_letter_and_every_canary_lands(
    running: Running, site: str
) -> None:
    lift = DeviceRef(site, "b1", "elevator", "crafted")
    pump = DeviceRef(site, "b1", "pump", "canary")
    base_ms = int(time.time() * 1000) - 50_000
    payloads = []
    for seq, (data, _reason) in enumerate(CRAFTED, start=1):
        payloads.append(event(base_ms + seq, seq, data))
        running.send(event_topic(lift), payloads[-1], f"event-{seq}")
        canary(running, pump, seq)
    running.wait_acked(2 * len(CRAFTED), "every message acknowledged")

    series = running.stores.series
    assert series.count("pump", "canary") == len(CRAFTED)
    letters = {letter.raw_payload(): letter.reason for letter in running.letters()}
    stored = {row.fields["seq"]: row.fields for row in series.recent("events", "crafted", 100)}
    for seq, (data, reason) in enumerate(CRAFTED, start=1):
        if reason is None:
            assert seq in stored and payloads[seq - 1] not in letters, data
            fields = stored[seq]
            assert all(float(fields[key]) == float(value) for key, value in data.items()), fields
        else:
            assert seq not in stored, data
            assert reason in letters[payloads[seq - 1]], (data, letters[payloads[seq - 1]])


def test_a_point_influxdb_refuses_is_a_dead_letter_with_its_message(
    running: Running, site: str
) -> None:
    """An older release stored `code` as an integer: InfluxDB refuses the float now sent.
    The refused event becomes a dead letter with InfluxDB's words; its batch lands."""
    series = running.stores.series
    assert isinstance(series, InfluxStore)
    old_ms = int(time.time() * 1000) - 200_000
    series.write(
        [Point("events", {"device_id": "old"}, {"event": "x", "seq": 1, "code": 3}, old_ms)]
    )
    lift = DeviceRef(site, "b1", "elevator", "lift-2")
    pump = DeviceRef(site, "b1", "pump", "canary-2")
    for seq in range(1, 6):
        canary(running, pump, seq)
    clash = event(old_ms + 1, 9, {"code": 4})
    running.send(event_topic(lift), clash, "event")
    for seq in range(6, 11):
        canary(running, pump, seq)
    running.wait_acked(11, "every message acknowledged")

    assert series.count("pump", "canary-2") == 10
    [letter] = running.letters()
    assert letter.raw_payload() == clash and letter.topic == event_topic(lift)
    assert "InfluxDB refused the point" in letter.reason
    assert 'field type conflict: input field \\"code\\"' in letter.reason or (
        'field type conflict: input field "code"' in letter.reason
    )
    assert running.stores.metrics.dead_letters.value(reason="refused") == 1


def test_a_reused_timestamp_with_another_seq_is_a_dead_letter(running: Running, site: str) -> None:
    pump = DeviceRef(site, "b1", "pump", "stuck-clock")
    ts_ms = int(time.time() * 1000) - 10_000
    payloads = [encode_telemetry(ts_ms, seq, {"current_a": float(seq)}) for seq in range(1, 21)]
    for n, payload in enumerate(payloads):
        running.send(telemetry_topic(pump), payload, f"sample-{n}")
    running.send(telemetry_topic(pump), payloads[0], "redelivered")  # same seq: no letter
    running.wait_acked(21, "every message acknowledged")

    [row] = running.stores.series.recent("pump", "stuck-clock", 10)
    assert row.fields["seq"] == 1 and row.fields["current_a"] == 1.0  # the first, intact
    letters = running.letters()
    assert sorted(letter.raw_payload() for letter in letters) == sorted(payloads[1:])
    assert all(
        f"duplicate timestamp: ts {ts_ms} of device stuck-clock is already stored with seq 1"
        in letter.reason
        for letter in letters
    )


def test_health_is_degraded_with_the_reason_while_writes_fail(
    tmp_path: Path, influx: InfluxServer, site: str
) -> None:
    """InfluxDB answers its ping, but every write fails (a retention policy that does not
    exist yet: 500): /healthz says so within a few batch delays, and recovers."""
    database = _database()
    stores = Stores.open(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp_path,
            influx_url=influx.url,
            influx_database=database,
            influx_retention_policy="weekly",
        )
    )
    worker = IngestWorker(pipeline_for(stores, policy=FAST), tick_interval_s=0.5)
    worker.start()
    running = Running(stores, worker)
    _id, token = stores.tokens.create("viewer", unique("viewer"))
    client = TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})

    def health() -> dict[str, Any]:
        answer: dict[str, Any] = client.get("/healthz").json()
        return answer

    try:
        assert health()["status"] == "ok"
        canary(running, DeviceRef(site, "b1", "pump", "p1"), 1)
        degraded = wait_until(
            lambda: (answer := health())["status"] == "degraded" and answer, what="degraded"
        )
        assert degraded["series_store"] is True  # the ping alone would not tell
        assert "time-series writes failing for" in degraded["reason"]
        assert "retention policy not found: weekly" in degraded["reason"]
        rendered = stores.metrics.registry.render()  # what a worker process shows
        [failing] = [
            line for line in rendered.splitlines() if line.startswith("facmon_ingest_write_failing")
        ]
        assert float(failing.split()[1]) >= 1.0
        assert not running.acked

        assert isinstance(stores.series, InfluxStore)
        stores.series.query(
            f"CREATE RETENTION POLICY weekly ON {quote_ident(database)} DURATION 7d REPLICATION 1"
        )
        running.wait_acked(1, "the sample written once the policy exists")
        assert health() == {
            "status": "ok",
            "series_store": True,
            "database": True,
            "reason": None,
        }
    finally:
        worker.stop()
        stores.close()


# -- property: crafted event data against the real store -----------------------------

# The event point's own fields and tags.
_RESERVED = ["time", "event", "seq", "site", "building", "device_id", "kind"]
keys = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,39}", fullmatch=True),  # valid
    st.sampled_from(["code", "level", "door"]),  # a few keys whose value types vary
    st.sampled_from([*_RESERVED, "Seq", "TIME"]),
    st.text(st.characters(), max_size=12),  # every category but surrogates
    st.text(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
        | st.sampled_from("ab\n\r\t\\ ,=\"'\x00\x7f"),
        min_size=1,
        max_size=6,
    ),
)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(), max_size=8),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
event_data = st.dictionaries(keys, values, max_size=4)


def test_crafted_event_data_never_stops_ingest(running: Running, site: str) -> None:
    lift = DeviceRef(site, "b1", "elevator", "fuzzed")
    pump = DeviceRef(site, "b1", "pump", "fuzz-canary")
    base_ms = int(time.time() * 1000) - 60_000
    numbers = itertools.count(1)
    sent: dict[int, tuple[bytes, dict[str, Any]]] = {}

    @settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=event_data)
    def crafted(data: dict[str, Any]) -> None:
        seq = next(numbers)
        sent[seq] = (event(base_ms + seq, seq, data), data)
        running.send(event_topic(lift), sent[seq][0], f"event-{seq}")
        canary(running, pump, seq)
        # Ingest never stalls: both are acknowledged, stored or dead-lettered.
        running.wait_acked(2 * seq, f"event {seq} and its canary acknowledged")

    crafted()
    series = running.stores.series
    assert series.count("pump", "fuzz-canary") == len(sent)
    letters = {letter.raw_payload() for letter in running.letters()}
    stored = {row.fields["seq"] for row in series.recent("events", "fuzzed", 10_000)}
    for seq, (payload, data) in sent.items():
        assert (seq in stored) != (payload in letters), (seq, data)
