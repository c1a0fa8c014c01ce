"""SIGHUP makes a running `facmon run` re-read FACMON_DETECTORS_CONFIG; a bad file is
refused and the configuration in force stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from facmon.embedded_broker import free_port
from facmon.service import Stores
from facmon.settings import Settings
from tests.conftest import wait_until

# `facmon run` itself, with the file's polling slowed to once an hour: only SIGHUP can
# make it re-read the file within the test.
RUN = (
    "import detectors.config_watch as watch; watch.POLL_S = 3600.0; "
    "from facmon.cli import main; raise SystemExit(main(['run']))"
)


def lamp_file(version: str, persist: object) -> str:
    return (
        f"version: {version}\nkinds:\n  lighting:\n"
        f"    lighting_lamp_failure: {{persist: {persist}}}\n"
    )


def test_sighup_reloads_the_detector_configuration_of_a_running_service(tmp_path: Path) -> None:
    config = tmp_path / "detectors.yaml"
    config.write_text(lamp_file("v1", 3))
    data = tmp_path / "data"
    port = free_port()
    env = {
        **os.environ,
        "FACMON_DATA_DIR": str(data),
        "FACMON_API_PORT": str(port),
        "FACMON_EMBEDDED_BROKER_PORT": "0",
        "FACMON_DETECTORS_CONFIG": str(config),
    }
    for name in ("FACMON_MQTT_URL", "FACMON_INFLUX_URL", "FACMON_DATABASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-c", RUN],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return process.poll() is not None

        wait_until(healthy, timeout_s=60, what="facmon run to answer /healthz")
        assert process.poll() is None
        stores = Stores.open(Settings(_env_file=None, data_dir=data))  # type: ignore[call-arg]
        token = stores.tokens.create("viewer", "sighup-test")[1]
        stores.close()
        params = {"site": "s", "device_id": "c1", "kind": "lighting", "building": "b"}

        def in_force() -> dict[str, object]:
            reply = httpx.get(
                f"{base}/api/detectors/config",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            assert reply.status_code == 200, reply.text
            body: dict[str, object] = reply.json()
            return body

        assert in_force()["config_version"] == "v1"
        config.write_text(lamp_file("v2", 4))
        assert in_force()["config_version"] == "v1"  # no poll for an hour: not yet
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: in_force()["config_version"] == "v2", what="the SIGHUP reload")

        config.write_text(lamp_file("v3", "many"))
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: in_force()["reload_error"] is not None, what="the refused reload")
        body = in_force()
        assert body["config_version"] == "v2"
        assert "(line 4)" in str(body["reload_error"])
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode in (0, 130), output
    assert "detector configuration v2 loaded" in output
    assert "detector configuration refused, version v2 stays in force" in output
    assert "lighting_lamp_failure.persist: input should be a valid integer" in output
    assert "Traceback" not in output
