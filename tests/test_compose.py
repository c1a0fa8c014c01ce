"""The docker-compose stack is valid and its parts agree with each other.

No Docker engine runs here, so the compose file is checked by
`docker-compose config`; the broker's shipped accounts are tried on the real
Mosquitto in tests/security/test_broker_accounts.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

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


# What `facmon devices service-passwords --env-file .env` and `facmon devices provision
# --scenario ... --env-file .env` provide; the file has no defaults.
MQTT_PASSWORDS = {
    "MQTT_FACMON_PASSWORD": "test-facmon-pw",
    "MQTT_SIMULATOR_PASSWORDS": "elevator-01=test-pw-1,pump-01=test-pw-2",
}


def _compose(
    *args: str, passwords: dict[str, str] = MQTT_PASSWORDS
) -> subprocess.CompletedProcess[str]:
    # A clean environment, so that the file's own defaults are what gets checked.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(passwords)
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


def _dynsec_clients() -> dict[str, dict[str, Any]]:
    config = json.loads((MOSQUITTO_DIR / "dynamic-security.json").read_text(encoding="utf-8"))
    return {client["username"]: client for client in config["clients"]}


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


@pytest.mark.parametrize(
    ("unset", "command"),
    [
        ("MQTT_FACMON_PASSWORD", "facmon devices service-passwords --env-file .env"),
        (
            "MQTT_SIMULATOR_PASSWORDS",
            "facmon devices provision --scenario simulators/scenarios/demo.yaml --env-file .env",
        ),
    ],
)
def test_compose_refuses_to_start_without_mqtt_passwords(unset: str, command: str) -> None:
    others = {name: value for name, value in MQTT_PASSWORDS.items() if name != unset}
    result = _compose("config", "-q", passwords=others)
    assert result.returncode != 0
    assert f"{unset} is unset" in result.stderr
    assert f"run `{command}` first" in result.stderr


def test_the_simulator_logs_in_as_the_devices_the_documented_command_provisions(
    services: dict[str, Any],
) -> None:
    """The command compose's error message gives provisions exactly the devices the
    simulator service runs, and the simulator gets their passwords, not a login of its own."""
    from facmon.cli import build_parser
    from facmon.cli.devices import scenario_devices

    result = _compose("config", "-q", passwords={"MQTT_FACMON_PASSWORD": "x"})
    command = result.stderr.split("run `", 1)[1].split("`", 1)[0].split()
    assert command[:3] == ["facmon", "devices", "provision"]
    provision = build_parser().parse_args(command[1:])
    simulator = services["simulator"]
    simulate = build_parser().parse_args(simulator["command"][1:])
    assert simulate.credentials is None  # the passwords come from the environment
    provisioned = scenario_devices(REPO / provision.scenario, provision.scenario_devices)
    simulated = scenario_devices(REPO / simulate.scenario, simulate.devices)
    assert provisioned == simulated and len(simulated) == 13  # demo.yaml: its 13 devices
    environment = simulator["environment"]
    assert environment["FACMON_SIMULATOR_PASSWORDS"] == MQTT_PASSWORDS["MQTT_SIMULATOR_PASSWORDS"]
    assert urlsplit(environment["FACMON_MQTT_URL"]).username is None
    assert "FACMON_MQTT_CLIENT_ID" not in environment


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


def test_mosquitto_requires_logins_from_the_dynamic_security_file(
    services: dict[str, Any],
) -> None:
    options = _mosquitto_options()
    assert options["allow_anonymous"] == ["false"]
    assert "password_file" not in options and "acl_file" not in options
    assert options["plugin"] == ["/usr/lib/mosquitto_dynamic_security.so"]  # in the image
    (path,) = options["plugin_opt_config_file"]
    assert path.startswith(CONTAINER_CONFIG_DIR), path
    assert (MOSQUITTO_DIR / path.removeprefix(CONTAINER_CONFIG_DIR)).is_file(), path
    mounts = _mounts(services["mosquitto"])
    assert Path(mounts[CONTAINER_CONFIG_DIR.rstrip("/")]) == MOSQUITTO_DIR


def test_mosquitto_keeps_a_deep_bounded_queue_across_restarts() -> None:
    options = _mosquitto_options()
    assert options["persistence"] == ["true"]
    assert int(options["max_queued_messages"][0]) >= 1_000_000
    assert 0 < int(options["max_queued_bytes"][0]) <= 4 * 1024**3


def test_compose_logins_are_shipped_accounts_without_a_password(
    services: dict[str, Any],
) -> None:
    """The service logs in with the one shipped account, locked until set; it is the only
    account not bound to a client id, and the file ships no other (no shared gateway)."""
    clients = _dynsec_clients()
    user, password = _mqtt_credentials(services["facmon"])
    assert password == MQTT_PASSWORDS["MQTT_FACMON_PASSWORD"]
    assert list(clients) == [user] == ["facmon"]
    assert "password" not in clients[user], f"{user} ships with a password hash"
