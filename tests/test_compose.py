"""The docker-compose stack is valid and its parts agree with each other.

No Docker engine runs here, so the compose file is checked by
`docker-compose config`, and the broker configuration by running the real
Mosquitto on it (paths and port rewritten) and trying the accounts it ships.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
MOSQUITTO_DIR = REPO / "deploy" / "mosquitto"
PROVISIONING = REPO / "dashboards" / "provisioning"
CONTAINER_CONFIG_DIR = "/mosquitto/config/"


def _tool(name: str) -> str:
    """The path of a CLI the test needs; CI installs them, so missing there is a failure."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    # A clean environment, so that the file's own defaults are what gets checked.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [_tool("docker-compose"), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    result = _compose("config")
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout)["services"])


def _mosquitto_options() -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for line in (MOSQUITTO_DIR / "mosquitto.conf").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            options.setdefault(key, []).append(value.strip())
    return options


def _acl_lines() -> list[str]:
    text = (MOSQUITTO_DIR / "acl").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _mqtt_credentials(service: dict[str, Any]) -> tuple[str, str]:
    url = urlsplit(service["environment"]["FACMON_MQTT_URL"])
    assert url.username and url.password, url
    return url.username, url.password


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> source, from either the short or the long volume syntax."""
    mounts: dict[str, str] = {}
    for volume in service["volumes"]:
        if isinstance(volume, str):
            source, target, *_ = volume.split(":")
            mounts[target] = source
        else:
            mounts[volume["target"]] = volume.get("source", "")
    return mounts


def test_compose_file_is_valid() -> None:
    result = _compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_stack_has_every_part(services: dict[str, Any]) -> None:
    assert set(services) >= {"mosquitto", "influxdb", "grafana", "facmon", "simulator"}
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert services["influxdb"]["image"].startswith("influxdb:1.")
    assert services["influxdb"]["environment"]["INFLUXDB_DB"] == "facmon"
    assert services["grafana"]["image"].startswith("grafana/grafana-oss")
    facmon, simulator = services["facmon"], services["simulator"]
    assert facmon["command"] == ["facmon", "run"]
    assert simulator["command"][:2] == ["facmon", "simulate"]
    assert facmon["image"] == simulator["image"]
    assert facmon["environment"]["FACMON_INFLUX_URL"] == "http://influxdb:8086"
    assert facmon["environment"]["FACMON_API_HOST"] == "0.0.0.0"
    assert facmon["environment"]["FACMON_DATA_DIR"] == "/data"
    # One MQTT client id per connection, or the broker keeps evicting one of them.
    assert simulator["environment"]["FACMON_MQTT_CLIENT_ID"] not in {"", "facmon-ingest"}


def test_grafana_mounts_what_provisioning_expects(services: dict[str, Any]) -> None:
    mounts = _mounts(services["grafana"])
    assert Path(mounts["/etc/grafana/provisioning"]) == PROVISIONING
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "facmon.yaml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert Path(mounts[dashboards_path]) == REPO / "dashboards" / "generated"
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text())
    influx = datasource["datasources"][0]
    assert urlsplit(influx["url"]).hostname in services
    assert influx["jsonData"]["dbName"] == services["influxdb"]["environment"]["INFLUXDB_DB"]
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO / "dashboards" / "generated" / Path(home).name).is_file()


def test_mosquitto_requires_passwords_and_an_acl(services: dict[str, Any]) -> None:
    options = _mosquitto_options()
    assert options["allow_anonymous"] == ["false"]
    for key in ("password_file", "acl_file"):
        (path,) = options[key]
        assert path.startswith(CONTAINER_CONFIG_DIR), path
        assert (MOSQUITTO_DIR / path.removeprefix(CONTAINER_CONFIG_DIR)).is_file(), path
    mounts = _mounts(services["mosquitto"])
    assert Path(mounts[CONTAINER_CONFIG_DIR.rstrip("/")]) == MOSQUITTO_DIR


def test_mosquitto_keeps_a_deep_bounded_queue_across_restarts() -> None:
    options = _mosquitto_options()
    assert options["persistence"] == ["true"]
    assert int(options["max_queued_messages"][0]) >= 1_000_000
    assert 0 < int(options["max_queued_bytes"][0]) <= 4 * 1024**3


def test_acl_confines_devices_to_their_own_topics() -> None:
    lines = _acl_lines()
    patterns = [line for line in lines if line.startswith("pattern ")]
    assert patterns == ["pattern write facility/v1/+/+/+/%u/#"]
    assert "%u" in patterns[0]
    assert "topic read facility/#" in lines[lines.index("user facmon") :]


def test_password_file_holds_hashed_service_accounts(services: dict[str, Any]) -> None:
    entries = dict(
        line.split(":", 1)
        for line in (MOSQUITTO_DIR / "passwd").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    for service in ("facmon", "simulator"):
        user, password = _mqtt_credentials(services[service])
        assert entries[user].startswith("$7$"), f"{user} is not hashed by mosquitto_passwd"
        assert password not in entries[user]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    """The shipped broker configuration on a free port, with a device account `pump-01`."""
    mosquitto = _tool("mosquitto")
    shutil.copy(MOSQUITTO_DIR / "acl", tmp_path / "acl")
    shutil.copy(MOSQUITTO_DIR / "passwd", tmp_path / "passwd")
    subprocess.run(
        [_tool("mosquitto_passwd"), "-b", str(tmp_path / "passwd"), "pump-01", "device-pw"],
        check=True,
        timeout=30,
    )
    port = _free_port()
    replaced = {"listener", "password_file", "acl_file", "persistence_location", "log_dest"}
    lines = [
        line
        for line in (MOSQUITTO_DIR / "mosquitto.conf").read_text().splitlines()
        if line.split(" ", 1)[0] not in replaced
    ]
    lines += [
        f"listener {port} 127.0.0.1",
        f"password_file {tmp_path / 'passwd'}",
        f"acl_file {tmp_path / 'acl'}",
        f"persistence_location {tmp_path}/",
        "log_dest stderr",
    ]
    if os.geteuid() == 0:
        lines.append("user root")  # else Mosquitto drops to a user that cannot read tmp_path
    (tmp_path / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [mosquitto, "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    _, stderr = process.communicate()
                    pytest.fail(f"mosquitto did not start on the shipped config:\n{stderr}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _publish(port: int, user: str, password: str, topic: str, payload: str) -> int:
    """mosquitto_pub's exit status: non-zero when the broker refuses the login."""
    server = ["-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password]
    return subprocess.run(
        [_tool("mosquitto_pub"), *server, "-q", "1", "-t", topic, "-m", payload],
        capture_output=True,
        timeout=30,
        check=False,
    ).returncode


def test_broker_enforces_the_shipped_accounts_and_acl(
    broker: int, services: dict[str, Any]
) -> None:
    service_user, service_password = _mqtt_credentials(services["facmon"])
    sim_user, sim_password = _mqtt_credentials(services["simulator"])
    received: list[tuple[str, str]] = []
    subscribed, done = threading.Event(), threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append((message.topic, message.payload.decode()))
        if message.payload == b"end":
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-compose-acl")
    client.username_pw_set(service_user, service_password)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = on_message
    client.connect("127.0.0.1", broker)
    client.subscribe("facility/#", qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(10), "the facmon account could not subscribe"
        own = "facility/v1/hq/tower-a/pump/pump-01/telemetry"
        other = "facility/v1/hq/tower-a/pump/pump-02/telemetry"
        assert _publish(broker, "pump-01", "device-pw", own, "own") == 0
        assert _publish(broker, "pump-01", "device-pw", other, "impersonated") == 0
        assert _publish(broker, service_user, service_password, own, "from-service") == 0
        assert _publish(broker, sim_user, "wrong-password", own, "bad-login") != 0
        # Messages reach the subscriber in the order the broker accepted them: once
        # "end" is here, anything the ACL let through before it is here too.
        assert _publish(broker, sim_user, sim_password, other, "end") == 0
        assert done.wait(10), f"the simulator account could not publish: {received}"
    finally:
        client.loop_stop()
        client.disconnect()
    assert received == [(own, "own"), (other, "end")]
