"""Broker restarts and an ingest killed mid-batch: every QoS 1 sample lands exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.embedded_broker import free_port
from storage.timeseries.influx import InfluxStore
from tests.conftest import publish_qos1, unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import InfluxServer, MosquittoServer


def publish(port: int, site: str, seqs: range, devices: int = 4) -> None:
    base = int(time.time() * 1000) - 120_000
    publish_qos1(
        port,
        [
            (
                telemetry_topic(DeviceRef(site, "b1", "elevator", f"lift-{index}")),
                encode_telemetry(base + seq * 10, seq, {"door_close_time_s": 3.0}),
            )
            for seq in seqs
            for index in range(devices)
        ],
    )


def exactly_once(store: InfluxStore, seqs: range, devices: int = 4) -> bool:
    for index in range(devices):
        series = store.query(f"SELECT seq FROM elevator WHERE device_id = 'lift-{index}'")
        found = sorted(row[1] for row in series[0]["values"]) if series else []
        if found != list(seqs):
            return False
    return True


def test_broker_restart_and_queued_session_lose_nothing(
    own_mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    database = unique("broker").replace("-", "_")
    settings = service_settings(
        tmp_path, mqtt_url=own_mosquitto.url, influx_url=influx.url, influx_database=database
    )
    store = InfluxStore(influx.url, database)
    service = started(settings)
    try:
        publish(own_mosquitto.port, site, range(1, 201))
        wait_until(lambda: exactly_once(store, range(1, 201)), what="the first 200 per device")

        # The broker restarts under a connected ingest: it reconnects with backoff.
        own_mosquitto.stop()
        own_mosquitto.start()
        publish(own_mosquitto.port, site, range(201, 401))
        wait_until(
            lambda: exactly_once(store, range(1, 401)),
            timeout_s=60,
            what="ingest to reconnect and take what was published after the restart",
        )
    finally:
        service.stop()

    # Ingest is away: the broker queues for its persistent session, even across a restart.
    publish(own_mosquitto.port, site, range(401, 601))
    own_mosquitto.stop()
    own_mosquitto.start()
    service = started(settings)
    try:
        wait_until(
            lambda: exactly_once(store, range(1, 601)),
            timeout_s=60,
            what="the persistent session to deliver what was queued",
        )
    finally:
        service.stop()
        store.close()


def test_ingest_killed_mid_batch_loses_and_doubles_nothing(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    database = unique("kill").replace("-", "_")
    env = {
        **os.environ,
        "FACMON_MQTT_URL": mosquitto.url,
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": database,
        "FACMON_DATA_DIR": str(tmp_path / "data"),
        "FACMON_MQTT_CLIENT_ID": unique("kill-ingest"),
        # The first ingest holds its whole batch (1,200 lines, far from 5,000) until
        # killed; the second flushes quickly.
        "FACMON_BATCH_MAX_DELAY_S": "60",
        "FACMON_BATCH_MIN_DELAY_S": "60",
    }

    def start_ingest() -> subprocess.Popen[bytes]:
        env["FACMON_API_PORT"] = str(free_port())
        process = subprocess.Popen(
            [sys.executable, "-m", "facmon.cli", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = env["FACMON_API_PORT"]
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout_s=30, what="facmon run to start")
        return process

    store = InfluxStore(influx.url, database)
    first = start_ingest()
    try:
        publish(mosquitto.port, site, range(1, 301))
        # Killed while its batch is still being filled: nothing acknowledged yet.
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert not exactly_once(store, range(1, 301)), "the kill came too late to test anything"
    env["FACMON_BATCH_MAX_DELAY_S"] = "0.5"
    env["FACMON_BATCH_MIN_DELAY_S"] = "0.1"
    second = start_ingest()
    try:
        wait_until(
            lambda: exactly_once(store, range(1, 301)),
            timeout_s=60,
            what="redelivery after the crash, without duplicates",
        )
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(30)
        store.close()
