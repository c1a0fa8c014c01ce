"""Secrets never reach the logs, and the repository holds none.

`facmon -v run` gets a broker password, an InfluxDB password, a webhook URL
with a secret path and query, a webhook signing key and an API token, then
does everything that logs: connects, ingests, dead-letters bad input, opens a
ticket, fails to deliver it to a webhook that is down, serves the API and
stops. Its whole output (debug level) must contain none of the secrets.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from contract.payload import encode_event
from contract.topics import DeviceRef, event_topic, telemetry_topic
from facmon.embedded_broker import free_port
from tests.conftest import unique, wait_until
from tools.servers import InfluxServer, MosquittoServer

ROOT = Path(__file__).resolve().parents[1]


def _secret(label: str) -> str:
    return f"{label}{secrets.token_hex(12)}"


def test_facmon_run_logs_no_secret(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    mqtt_password = _secret("mqttpw")
    influx_password = _secret("influxpw")
    hook_path, hook_query = _secret("hookpath"), _secret("hookquery")
    signing_key = _secret("signing")
    api_port, closed_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "FACMON_MQTT_URL": f"mqtt://facmon:{mqtt_password}@127.0.0.1:{mosquitto.port}",
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": unique("secrets").replace("-", "_"),
        "FACMON_INFLUX_USERNAME": "facmon",
        "FACMON_INFLUX_PASSWORD": influx_password,
        "FACMON_WEBHOOK_URL": f"http://127.0.0.1:{closed_port}/{hook_path}?token={hook_query}",
        "FACMON_WEBHOOK_SECRET": signing_key,
        "FACMON_DATA_DIR": str(data_dir),
        "FACMON_MQTT_CLIENT_ID": unique("secrets-ingest"),
        "FACMON_API_PORT": str(api_port),
        "FACMON_BATCH_MAX_DELAY_S": "0.2",
    }
    created = subprocess.run(
        [sys.executable, "-m", "facmon.cli", "token", "create", "--role", "viewer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = re.search(r"fm_[A-Za-z0-9_\-]+", created.stdout)
    assert token, created.stdout
    api_token = token.group(0)

    log_path = tmp_path / "facmon-run.log"
    log_file = log_path.open("w")  # a file, not a pipe: debug output would fill a pipe
    process = subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "-v", "run"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return process.poll() is not None

        wait_until(healthy, timeout_s=60, what="facmon run to answer /healthz")
        assert process.poll() is None
        headers = {"Authorization": f"Bearer {api_token}"}
        api = f"http://127.0.0.1:{api_port}/api/tickets"
        assert httpx.get(api, headers=headers, timeout=5).status_code == 200
        assert httpx.get(api, headers={"Authorization": "Bearer fm_wrong"}).status_code == 401

        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        door = DeviceRef(site, "b1", "access", f"{site}-door")
        forced = encode_event(int(time.time() * 1000), 1, "door_forced")
        publisher.publish(event_topic(door), forced, qos=1).wait_for_publish(10)
        publisher.publish(telemetry_topic(door), b"{not json", qos=1).wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()

        def webhook_tried_and_failed() -> bool:
            text = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=5).text
            return 'facmon_outbox_failures_total{sink="webhook"}' in text

        wait_until(webhook_tried_and_failed, timeout_s=60, what="a failed webhook delivery")
        tickets = httpx.get(api, headers=headers, timeout=5).json()
        assert door.device_id in str(tickets)
        metrics = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=5).text
        assert "facmon_dead_letters_total{" in metrics
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        log_file.close()
    output = log_path.read_text()

    assert "ticket" in output and "webhook" in output, output[-2000:]
    for name, value in {
        "MQTT password": mqtt_password,
        "InfluxDB password": influx_password,
        "webhook URL path": hook_path,
        "webhook URL query": hook_query,
        "webhook signing key": signing_key,
        "API token": api_token,
    }.items():
        assert value not in output, f"the {name} appears in the service's log"


def test_the_repository_holds_no_private_key_or_live_token() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    pattern = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bfm_[A-Za-z0-9_\-]{30,}")
    found = []
    for name in tracked:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".svg"}:
            continue
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        if pattern.search(text):
            found.append(name)
    assert found == []
