"""Bad input over a real broker: each becomes a dead letter; good messages around it land."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import InfluxServer, MosquittoServer


def _bad_cases(site: str, now_ms: int) -> list[tuple[str, bytes, str]]:
    good_topic = telemetry_topic(DeviceRef(site, "b1", "pump", "bad-target"))

    def body(**fields: object) -> bytes:
        base: dict[str, object] = {"ts": now_ms, "seq": 1, "metrics": {"current_a": 2.0}}
        base.update(fields)
        return json.dumps(base).encode()

    return [
        (good_topic, b"{oops", "malformed JSON"),
        (good_topic, b"\xc3\x28\xa0\xa1", "not UTF-8"),
        (good_topic, body(metrics={"current_a": "high"}), "must be a number"),
        (good_topic, body(metrics={"current_a": 1e6}), "above the valid range"),
        (good_topic, body(metrics={"rpm": 3000.0}), "unknown metric"),
        (f"facility/v1/{site}/b1/toaster/t1/telemetry", body(), "unknown device kind"),
        (f"facility/v1/{site}//pump/p1/telemetry", body(), "building is empty"),
        (f"facility/v1/{site}/b1/pump/p1/extra/telemetry", body(), "8 levels"),
        (f"facility/v1/{site}/b 1/pump/p1/telemetry", body(), "not a valid identifier"),
        (good_topic, b"x" * 20_000, "over the 16384-byte limit"),
        (good_topic, body(ts=now_ms + 86_400_000), "in the future"),
        (good_topic, body(ts=now_ms - 30 * 86_400_000), "in the past"),
        (good_topic, b"[" * 3000 + b"]" * 3000, "nested too deeply"),
        (good_topic, body(seq=True), "seq must be"),
    ]


def test_bad_input_becomes_dead_letters_and_good_input_lands(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    database = unique("db").replace("-", "_")
    service = started(
        service_settings(
            tmp_path, mqtt_url=mosquitto.url, influx_url=influx.url, influx_database=database
        )
    )
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        now_ms = int(time.time() * 1000)
        device = DeviceRef(site, "b1", "pump", "good-pump")
        cases = _bad_cases(site, now_ms)
        infos = []
        seq = 0
        for topic, payload, _reason in cases:
            for _ in range(2):
                seq += 1
                good = encode_telemetry(now_ms - 100_000 + seq, seq, {"current_a": 2.0 + seq / 100})
                infos.append(publisher.publish(telemetry_topic(device), good, qos=1))
            infos.append(publisher.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(10)

        store = InfluxStore(influx.url, database)
        wait_until(lambda: store.count("pump", "good-pump") == seq, what="every good sample")
        letters = wait_until(
            lambda: (
                (found := service.stores.dead_letters.list(limit=100))
                and len(found) >= len(cases)
                and found
            ),
            what="a dead letter per bad message",
        )
        assert len(letters) == len(cases)
        by_reason = [letter.reason for letter in reversed(letters)]
        for (topic, _payload, reason), stored_reason in zip(cases, by_reason, strict=True):
            assert reason in stored_reason, (topic, stored_reason)
        oversized = next(letter for letter in letters if "byte limit" in letter.reason)
        assert oversized.truncated and oversized.payload_size == 20_000
        assert len(oversized.payload) == 2048
        binary = next(letter for letter in letters if "UTF-8" in letter.reason)
        assert binary.payload_encoding == "base64"
        metrics = service.stores.metrics
        assert metrics.dead_letters.total() == len(cases)
        wait_until(
            lambda: metrics.ingested.value(kind="pump", channel="telemetry") == seq,
            what="the ingested counter to count every good sample",
        )
        store.close()
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        service.stop()


@pytest.mark.parametrize("bad_kind", ["toaster", "PUMP"])
def test_unknown_kinds_are_refused_by_the_contract(bad_kind: str) -> None:
    from contract.topics import ContractError, parse_topic

    with pytest.raises(ContractError, match="unknown device kind"):
        parse_topic(f"facility/v1/s/b/{bad_kind}/d/telemetry")
