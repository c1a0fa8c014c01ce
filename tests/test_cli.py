"""`facmon simulate` against a real broker: publishes what it says, with a progress line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from facmon.embedded_broker import EmbeddedBroker
from tests.conftest import unique, wait_until
from tools.servers import MosquittoServer


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


def _scenario(path: Path, site: str, start: str = "-1h") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "site": site,
                "start": start,
                "speed": 5000,
                "rate_hz": 1,
                "devices": [{"id": "lamp-1", "kind": "lighting", "building": "b1"}],
            }
        )
    )
    return path


def _listen(port: int, site: str, received: list[str]) -> mqtt.Client:
    """A 3.1.1 subscriber (the embedded broker's version) to the test's site."""
    subscribed = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=unique("listen"), protocol=mqtt.MQTTv311
    )
    client.on_message = lambda _c, _u, msg: received.append(msg.topic)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(f"facility/v1/{site}/#", qos=1)
    client.loop_start()
    assert subscribed.wait(10)
    return client


def _simulate(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    return subprocess.run(
        [sys.executable, "-m", "facmon.cli", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**clean, **env},
    )


def test_simulate_without_broker_finds_the_demo_broker_on_its_fallback_port(
    site: str, tmp_path: Path
) -> None:
    """The demo's broker moved off its port (taken) and speaks 3.1.1 only: still found."""
    data = tmp_path / "data"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        configured = taken.getsockname()[1]
        broker = EmbeddedBroker(configured, endpoint_dir=data / "demo")
        broker.start()
    assert broker.port != configured
    received: list[str] = []
    listener = _listen(broker.port, site, received)
    try:
        result = _simulate(
            ["--scenario", str(_scenario(tmp_path / "s.yaml", site)), "--messages", "100"],
            tmp_path,
            {"FACMON_DATA_DIR": str(data), "FACMON_EMBEDDED_BROKER_PORT": str(configured)},
        )
        assert result.returncode == 0, result.stderr
        assert "published 100 samples" in result.stderr
        assert f"mqtt://127.0.0.1:{broker.port} (MQTT 3.1.1; recorded by" in result.stderr
        wait_until(
            lambda: sum(t.endswith("/telemetry") for t in received) == 100,
            what="100 samples at the embedded broker",
        )
    finally:
        listener.loop_stop()
        listener.disconnect()
        broker.stop()
    assert not (data / "demo" / "embedded-broker.json").exists()


def test_simulate_without_broker_honours_the_embedded_broker_port(
    site: str, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(0)  # records nothing: only the variable can lead there
    broker.start()
    received: list[str] = []
    listener = _listen(broker.port, site, received)
    try:
        env = {"FACMON_DATA_DIR": str(tmp_path), "FACMON_EMBEDDED_BROKER_PORT": str(broker.port)}
        args = ["--scenario", str(_scenario(tmp_path / "s.yaml", site)), "--messages", "20"]
        result = _simulate(args, tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert f"FACMON_EMBEDDED_BROKER_PORT={broker.port}" in result.stderr
        wait_until(lambda: sum(t.endswith("/telemetry") for t in received) == 20, what="samples")
    finally:
        listener.loop_stop()
        listener.disconnect()
        broker.stop()
    # With the broker gone, the user is told what to start or pass.
    result = _simulate(args, tmp_path, env)
    assert result.returncode == 2
    assert f"cannot reach an MQTT broker at mqtt://127.0.0.1:{broker.port}" in result.stderr
    assert "make demo" in result.stderr and "--broker" in result.stderr
    assert "Traceback" not in result.stderr


def test_simulate_falls_back_to_3_1_1_with_one_line_against_the_embedded_broker(
    site: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The README's example: --broker pointing at the demo's amqtt, which refuses v5."""
    broker = EmbeddedBroker(0)
    broker.start()
    received: list[str] = []
    listener = _listen(broker.port, site, received)
    try:
        args = ["--broker", broker.url, "--scenario", str(_scenario(tmp_path / "s.yaml", site))]
        result = _simulate([*args, "--messages", "50"], tmp_path, {})
        assert result.returncode == 0, result.stderr
        notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
        assert len(notes) == 1 and "refused MQTT v5" in notes[0] and "3.1.1" in notes[0]
        assert "published 50 samples" in result.stderr
        wait_until(lambda: sum(t.endswith("/telemetry") for t in received) == 50, what="samples")
        # The broker's side says it in one warning, not amqtt's error with a traceback.
        refused = [r for r in caplog.records if r.name.startswith("amqtt")]
        assert [r.levelname for r in refused] == ["WARNING"]
        assert "tried an MQTT version other than 3.1.1" in refused[0].getMessage()
    finally:
        listener.loop_stop()
        listener.disconnect()
        broker.stop()


def test_simulate_uses_v5_where_the_broker_speaks_it(
    mosquitto: MosquittoServer, site: str, tmp_path: Path
) -> None:
    scenario = _scenario(tmp_path / "s.yaml", site)
    args = ["--broker", mosquitto.url, "--scenario", str(scenario), "--messages", "5"]
    result = _simulate([*args, "--devices", "3"], tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert "(MQTT 5; from --broker)" in result.stderr and "note:" not in result.stderr
    # --devices counts all devices: the scenario's one plus two generated.
    assert "simulating 3 devices" in result.stderr


def test_simulate_refuses_a_scenario_dated_in_the_future_and_says_how_to_run_it(
    mosquitto: MosquittoServer, site: str, tmp_path: Path
) -> None:
    library = Path(__file__).resolve().parent.parent / "simulators/scenarios/library"
    for path in sorted(library.glob("*.yaml"))[:1]:
        result = _simulate(["--broker", mosquitto.url, "--scenario", str(path)], tmp_path, {})
        assert result.returncode == 2, result.stderr
        assert "from now" in result.stderr and "nothing would be published" in result.stderr
        assert "--start=-1h" in result.stderr
    future = _scenario(tmp_path / "future.yaml", site, start="2099-01-15T08:00:00Z")
    refused = _simulate(["--broker", mosquitto.url, "--scenario", str(future)], tmp_path, {})
    assert refused.returncode == 2 and "2099-01-15 08:00 UTC" in refused.stderr
    suggested = refused.stderr.split("--start ", 1)[1].split()[0]
    assert suggested.endswith("T08:00:00Z")  # the same time of day, in the past
    received: list[str] = []
    listener = _listen(mosquitto.port, site, received)
    try:
        args = ["--broker", mosquitto.url, "--scenario", str(future), "--messages", "10"]
        result = _simulate([*args, "--start", suggested], tmp_path, {})
        assert result.returncode == 0, result.stderr
        assert "published 10 samples" in result.stderr
        wait_until(lambda: sum(t.endswith("/telemetry") for t in received) == 10, what="samples")
    finally:
        listener.loop_stop()
        listener.disconnect()


def test_token_create_says_which_database_it_wrote_to(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    run = [sys.executable, "-m", "facmon.cli", "token", "create", "--role", "viewer"]
    first = subprocess.run(run, capture_output=True, text=True, cwd=elsewhere, env=clean)
    assert first.returncode == 0, first.stderr
    database = (elsewhere / ".data" / "facmon.sqlite").resolve()
    assert str(database) in first.stderr
    assert "new database" in first.stderr  # the folder had none: said, not silent
    assert first.stdout.startswith("fm_")
    second = subprocess.run(run, capture_output=True, text=True, cwd=elsewhere, env=clean)
    assert str(database) in second.stderr and "new database" not in second.stderr
