"""The simulator on the shipped broker: each simulated device logs in with its own account.

The shipped file has no shared gateway login; `facmon devices provision --scenario`
gives the simulator's devices accounts bound to `dev-<device_id>`, and
`facmon simulate` logs each in with its own password, from the passwords file
(`--credentials`) or from FACMON_SIMULATOR_PASSWORDS (what docker-compose passes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from facmon.cli import main
from facmon.cli.devices import SIMULATOR_ENV_VAR, read_env
from facmon.dynsec import SERVICE_ACCOUNT
from simulators.credentials import ENV_VAR, parse_inline, parse_lines
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.security.clients import NOT_AUTHORIZED, refusal
from tests.security.shipped_broker import ShippedBroker

INGEST_ID = "facmon-ingest"
SAMPLES = 60


def _scenario(path: Path, site: str) -> tuple[Path, dict[str, str]]:
    """A two-device scenario file, and its devices' kinds by id."""
    kinds = {unique("lamp"): "lighting", unique("pump"): "pump"}
    devices = [{"id": i, "kind": kind, "building": "b1"} for i, kind in kinds.items()]
    path.write_text(
        yaml.safe_dump(
            {"site": site, "start": "-1h", "speed": 5000, "rate_hz": 1, "devices": devices}
        )
    )
    return path, kinds


@pytest.mark.parametrize("source", ["env-file", "credentials-file"])
def test_simulated_devices_log_in_as_themselves_and_ingest_stores_every_sample(
    source: str, tmp_path: Path, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ingest away, its persistent session queues the simulator's samples; no
    simulated device's login can open that session; back, ingest stores them all."""
    broker = ShippedBroker(tmp_path / "broker")
    file, env_file = str(broker.dynsec_file), tmp_path / ".env"
    scenario, kinds = _scenario(tmp_path / "small.yaml", site)
    assert main(["devices", "service-passwords", "--file", file, "--env-file", str(env_file)]) == 0
    provision = ["devices", "provision", "--scenario", str(scenario), "--file", file]
    if source == "env-file":  # what docker-compose passes to the simulator
        assert main([*provision, "--env-file", str(env_file)]) == 0
        inline = read_env(env_file, SIMULATOR_ENV_VAR)
        monkeypatch.setenv(ENV_VAR, inline)
        passwords, credentials = parse_inline(inline), []
    else:
        out = tmp_path / "devices.txt"
        assert main([*provision, "--passwords-out", str(out)]) == 0
        monkeypatch.delenv(ENV_VAR, raising=False)
        passwords, credentials = parse_lines(out.read_text(), str(out)), ["--credentials", str(out)]
    assert set(passwords) == set(kinds)
    broker.start()
    service_pw = read_env(env_file, "MQTT_FACMON_PASSWORD")
    settings = service_settings(
        tmp_path, mqtt_url=broker.url_for(SERVICE_ACCOUNT, service_pw), mqtt_client_id=INGEST_ID
    )
    try:
        started(settings).stop()  # leaves ingest's persistent session subscribed
        simulate = ["simulate", "--broker", f"mqtt://127.0.0.1:{broker.port}", *credentials]
        assert main([*simulate, "--scenario", str(scenario), "--messages", str(SAMPLES)]) == 0
        for device_id, password in passwords.items():
            assert refusal(broker.port, device_id, password, INGEST_ID) == NOT_AUTHORIZED
        log = broker.log_path.read_text()
        assert all(f"as dev-{device_id} " in log for device_id in passwords), log[-2000:]
        service = started(settings)
        try:
            wait_until(
                lambda: sum(service.stores.series.count(k, d) for d, k in kinds.items()) == SAMPLES,
                what=f"the {SAMPLES} samples the simulator published while ingest was away",
            )
        finally:
            service.stop()
    finally:
        broker.stop()


def test_no_login_but_the_services_is_unbound_in_the_shipped_file(tmp_path: Path) -> None:
    """After the documented set-up (service password, the demo's devices), every account
    except the service's is bound to a client id that is not ingest's."""
    broker = ShippedBroker(tmp_path / "broker")
    file = str(broker.dynsec_file)
    demo = str(Path(__file__).resolve().parents[2] / "simulators/scenarios/demo.yaml")
    env_file = str(tmp_path / "service.env")
    assert main(["devices", "service-passwords", "--file", file, "--env-file", env_file]) == 0
    out = tmp_path / "devices.txt"
    assert (
        main(
            [
                "devices",
                "provision",
                "--scenario",
                demo,
                "--file",
                file,
                "--passwords-out",
                str(out),
            ]
        )
        == 0
    )
    clients = json.loads(broker.dynsec_file.read_text())["clients"]
    unbound = [c["username"] for c in clients if not c.get("clientid")]
    assert unbound == [SERVICE_ACCOUNT]
    assert {c["clientid"] for c in clients if c.get("clientid")} == {
        f"dev-{device_id}" for device_id in parse_lines(out.read_text(), str(out))
    }


def test_a_device_without_a_password_is_named_before_anything_connects(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Provisioned for the scenario's 2 devices, run with --devices 4: the 2 generated
    ones have no account. The error names them and the command that gives them one."""
    broker = ShippedBroker(tmp_path / "broker")
    scenario, _ = _scenario(tmp_path / "small.yaml", site)
    out = tmp_path / "devices.txt"
    provision = ["devices", "provision", "--scenario", str(scenario), "--passwords-out", str(out)]
    assert main([*provision, "--file", str(broker.dynsec_file)]) == 0
    monkeypatch.delenv(ENV_VAR, raising=False)
    capsys.readouterr()
    args = ["simulate", "--scenario", str(scenario), "--devices", "4", "--credentials", str(out)]
    started_at = time.monotonic()
    assert main([*args, "--broker", "mqtt://127.0.0.1:9"]) == 2  # nothing listens on 9
    err = capsys.readouterr().err
    assert f"--credentials {out} has no password for 2 of the 4 simulated devices" in err
    assert "(elevator-0003, lighting-0004)" in err
    assert f"facmon devices provision --scenario {scenario} --devices 4 --passwords-out" in err
    assert time.monotonic() - started_at < 10


def test_without_device_passwords_the_refusal_says_how_to_get_them(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped broker has no login for the simulator itself."""
    broker = ShippedBroker(tmp_path / "broker")
    scenario, _ = _scenario(tmp_path / "small.yaml", site)
    monkeypatch.delenv(ENV_VAR, raising=False)
    broker.start()
    try:
        url = f"mqtt://anyone:guess@127.0.0.1:{broker.port}"
        assert main(["simulate", "--broker", url, "--scenario", str(scenario)]) == 2
    finally:
        broker.stop()
    err = capsys.readouterr().err
    assert "Not authorized" in err and "guess" not in err
    assert "facmon devices provision --scenario FILE --passwords-out NEW_FILE" in err
    assert "pass --credentials NEW_FILE" in err
