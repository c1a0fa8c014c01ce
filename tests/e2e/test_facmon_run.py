"""`facmon run` as a process, configured only by FACMON_* variables, against real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.embedded_broker import free_port
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tools.servers import InfluxServer, MosquittoServer


def test_facmon_run_uses_the_configured_servers_and_stops_cleanly(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    port = free_port()
    database = unique("run").replace("-", "_")
    env = {
        **os.environ,
        "FACMON_MQTT_URL": mosquitto.url,
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": database,
        "FACMON_DATA_DIR": str(tmp_path / "data"),
        "FACMON_MQTT_CLIENT_ID": unique("run-ingest"),
        "FACMON_API_PORT": str(port),
        "FACMON_BATCH_MAX_DELAY_S": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return process.poll() is not None

        wait_until(healthy, timeout_s=30, what="facmon run to answer /healthz")
        assert process.poll() is None
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        device = DeviceRef(site, "b1", "pump", "p-run")
        now = int(time.time() * 1000)
        for seq in range(1, 11):
            payload = encode_telemetry(now - 10_000 + seq, seq, {"current_a": 2.0})
            publisher.publish(telemetry_topic(device), payload, qos=1).wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()
        store = InfluxStore(influx.url, database)
        wait_until(lambda: store.count("pump", "p-run") == 10, what="samples in InfluxDB")
        store.close()
        assert (tmp_path / "data" / "facmon.sqlite").exists()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    # 130 is the conventional status after Ctrl-C; the service shut down first.
    assert process.returncode in (0, 130), output
    assert "stopped." in output and "Traceback" not in output
