"""InfluxDB stops during a steady stream and comes back: nothing lost, nothing twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from observability.metrics import parse_samples
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.faults.accounting import SteadyFleet, stored_keys, tally
from tools.servers import InfluxServer, MosquittoServer

DEVICES = 5
DRAINED = (("facmon_spool_drain_seconds_count", 1), ("facmon_spool_points", 0))
PER_DEVICE = 400


@pytest.fixture
def own_influx(tmp_path: Path) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path / "influx")
    server.workdir.mkdir(parents=True)
    server.start()
    yield server
    server.stop()


def _publish_steadily(port: int, site: str, stop_at_half: threading.Event) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("steady"))
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = int(time.time() * 1000) - 60_000
    infos = []
    for seq in range(1, PER_DEVICE + 1):
        for index in range(DEVICES):
            device = DeviceRef(site, "b1", "pump", f"pump-{index}")
            payload = encode_telemetry(start + seq * 100, seq, {"current_a": 2.0 + index})
            infos.append(client.publish(telemetry_topic(device), payload, qos=1))
        if seq == PER_DEVICE // 2:
            stop_at_half.set()
        time.sleep(0.005)  # a steady stream, not a burst
    for info in infos:
        info.wait_for_publish(30)
    client.loop_stop()
    client.disconnect()


def test_influx_outage_spools_then_replays_exactly_once(
    mosquitto: MosquittoServer, own_influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    database = unique("outage").replace("-", "_")
    service = started(
        service_settings(
            tmp_path, mqtt_url=mosquitto.url, influx_url=own_influx.url, influx_database=database
        )
    )
    try:
        half = threading.Event()
        publisher = threading.Thread(target=_publish_steadily, args=(mosquitto.port, site, half))
        publisher.start()
        assert half.wait(30)
        own_influx.stop()
        metrics = service.stores.metrics
        wait_until(lambda: metrics.spooled.total() > 0, what="batches to be spooled")
        publisher.join(60)
        assert not publisher.is_alive()
        # Every message is durable (in InfluxDB or in the spool) and acknowledged.
        wait_until(
            lambda: (
                metrics.ingested.value(kind="pump", channel="telemetry") == DEVICES * PER_DEVICE
            ),
            what="every message durable while InfluxDB is down",
        )
        assert service.pipeline.spool is not None and service.pipeline.spool.points > 0
        own_influx.start()
        spool = service.pipeline.spool
        wait_until(lambda: spool.points == 0, timeout_s=60, what="the spool to drain")
        store = InfluxStore(own_influx.url, database)
        for index in range(DEVICES):
            rows = store.query(f"SELECT seq FROM pump WHERE device_id = 'pump-{index}'")
            seqs = [row[1] for row in rows[0]["values"]]
            assert sorted(seqs) == list(range(1, PER_DEVICE + 1)), f"pump-{index}"
        assert metrics.write_errors.total() > 0
        store.close()
    finally:
        service.stop()


def test_spool_drains_while_live_traffic_flows(
    mosquitto: MosquittoServer, own_influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    """Before, the spool drained only once traffic stopped: every new batch queued behind it."""
    database = unique("drain").replace("-", "_")
    settings = service_settings(
        tmp_path, mqtt_url=mosquitto.url, influx_url=own_influx.url, influx_database=database
    )
    service = started(settings)
    store = InfluxStore(own_influx.url, database)
    spool = service.pipeline.spool
    metrics = service.stores.metrics
    assert spool is not None
    try:
        with SteadyFleet(mosquitto.port, site, devices=10) as fleet:  # 100 msg/s
            wait_until(lambda: len(stored_keys(store, site)) >= 100, what="ingest to run")
            own_influx.stop()
            wait_until(lambda: spool.points >= 1000, what="10 s of samples spooled")
            own_influx.start()
            back_at_tick = fleet.ticks
            # The drain is over once it is recorded: the writer empties the spool, then
            # observes the drain's time, so the test reads the metrics after both.
            wait_until(
                lambda: spool.points == 0 and metrics.spool_drain_seconds.snapshot().count >= 1,
                timeout_s=30,
                what="the spool to drain while the fleet keeps publishing",
            )
            assert fleet.ticks > back_at_tick, "traffic stopped: the drain proves nothing"
            exported = metrics.registry.render()
            for name, value in DRAINED:
                assert [v for _, v in parse_samples(exported, name)] == [value], name
            drain_s = metrics.spool_drain_seconds.snapshot().sum
            wait_until(lambda: fleet.ticks >= back_at_tick + 20, what="2 s more of traffic")
        last = {(device, fleet.ticks) for device in fleet.devices}
        wait_until(lambda: last <= set(stored_keys(store, site)), what="the last samples")
        result = tally(fleet, store, settings.ticket_database_url)
        print(result.line(f"InfluxDB down 10 s at 100 msg/s, spool drained in {drain_s:.1f} s"))
        assert result.lost == [] and result.duplicated == [] and result.dead_lettered == 0
    finally:
        service.stop()
        store.close()
