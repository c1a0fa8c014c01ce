"""`facmon simulate` against a real broker: publishes what it says, with a progress line."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml

from facmon.servers import MosquittoServer
from tests.conftest import unique, wait_until


def test_simulate_publishes_to_a_broker_with_progress(
    mosquitto: MosquittoServer, site: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "site": site,
                "start": "-1h",
                "speed": 5000,
                "rate_hz": 1,
                "devices": [
                    {"id": "lamp-1", "kind": "lighting", "building": "b1"},
                    {"id": "door-1", "kind": "access", "building": "b1"},
                ],
            }
        )
    )
    received: list[str] = []
    subscribed = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("listen"))
    listener.on_message = lambda _c, _u, msg: received.append(msg.topic)
    listener.on_subscribe = lambda *_args: subscribed.set()
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(f"facility/v1/{site}/#", qos=1)
    listener.loop_start()
    try:
        assert subscribed.wait(10)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "facmon.cli",
                "simulate",
                "--broker",
                mosquitto.url,
                "--scenario",
                str(scenario),
                "--messages",
                "200",
                "--seed",
                "3",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "published 200 samples" in result.stderr
        assert "simulated" in result.stderr and "2 devices" in result.stderr
        wait_until(
            lambda: sum(t.endswith("/telemetry") for t in received) == 200,
            what="200 telemetry messages at the broker",
        )
        assert f"facility/v1/{site}/b1/lighting/lamp-1/status" in received
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_simulate_explains_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("devices:\n  - {id: x1, kind: toaster}\n")
    result = subprocess.run(
        [sys.executable, "-m", "facmon.cli", "simulate", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "toaster" in result.stderr and "devices[0]" in result.stderr
