"""The shipped broker accounts on the real Mosquitto: no device acts as another, or as the service.

Accounts are made with the real `facmon devices` commands in a copy of the
shipped dynamic-security file; the broker runs the shipped mosquitto.conf.
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract.payload import encode_telemetry
from contract.topics import Channel, DeviceRef, topic_for
from facmon.cli import main
from facmon.dynsec import check_password, device_client_id, find_client
from gateway.connection import parse_mqtt_url
from gateway.publisher import DeviceConnection, PublishError
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.security.clients import NOT_AUTHORIZED, V5Client, refusal
from tests.security.shipped_broker import SHIPPED_DIR, ShippedBroker

# The passwords the repository once documented, and what people try first.
DEMO_PASSWORDS = {"facmon": "change-me-facmon", "sim": "change-me-sim"}
INGEST_ID = "facmon-ingest"  # the service's default, which the shipped stack uses


@dataclass
class Stand:
    broker: ShippedBroker
    passwords: dict[str, str]
    pump: DeviceRef
    lift: DeviceRef


def _read_pairs(path: Path) -> dict[str, str]:
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if line)
    return {name: password for name, password in pairs}


def _read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}


@pytest.fixture
def stand(tmp_path: Path, site: str) -> Iterator[Stand]:
    broker = ShippedBroker(tmp_path / "broker")
    pump = DeviceRef(site, "b1", "pump", unique("pump"))
    lift = DeviceRef(site, "b1", "elevator", unique("lift"))
    file = str(broker.dynsec_file)
    env_file, device_file = tmp_path / ".env", tmp_path / "devices.txt"
    assert main(["devices", "service-passwords", "--file", file, "--env-file", str(env_file)]) == 0
    devices = [f"{d.site}/{d.building}/{d.kind}/{d.device_id}" for d in (pump, lift)]
    assert (
        main(
            ["devices", "provision", *devices, "--file", file, "--passwords-out", str(device_file)]
        )
        == 0
    )
    env = _read_env(env_file)
    passwords = {"facmon": env["MQTT_FACMON_PASSWORD"], **_read_pairs(device_file)}
    broker.start()
    yield Stand(broker, passwords, pump, lift)
    broker.stop()


def test_shipped_file_accepts_no_password(tmp_path: Path) -> None:
    """Neither the once-documented demo passwords nor an empty one open a shipped account."""
    shipped = json.loads((SHIPPED_DIR / "dynamic-security.json").read_text())
    assert all("password" not in client for client in shipped["clients"])
    broker = ShippedBroker(tmp_path / "broker")
    broker.start()
    try:
        for user, password in DEMO_PASSWORDS.items():
            for attempt in (password, ""):
                assert refusal(broker.port, user, attempt, unique("probe")) == NOT_AUTHORIZED
    finally:
        broker.stop()


def test_provisioning_writes_hashes_and_private_password_files(
    stand: Stand, tmp_path: Path
) -> None:
    text = stand.broker.dynsec_file.read_text()
    config = json.loads(text)
    for name, password in stand.passwords.items():
        assert password not in text, f"{name}'s password is in the file in plain text"
        assert check_password(find_client(config, name), password)
    for private in (tmp_path / ".env", tmp_path / "devices.txt"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert find_client(config, stand.pump.device_id)["clientid"] == f"dev-{stand.pump.device_id}"


def test_a_device_publishes_only_on_its_own_topics(stand: Stand) -> None:
    port, pw = stand.broker.port, stand.passwords
    pump, lift = stand.pump, stand.lift
    listener = V5Client(port, "facmon", pw["facmon"], unique("listener"))
    assert listener.subscribe("facility/#") == 1
    device = V5Client(port, pump.device_id, pw[pump.device_id], device_client_id(pump.device_id))
    try:
        own = [topic_for(pump, channel) for channel in Channel]
        foreign = [
            topic_for(lift, Channel.TELEMETRY),  # another device
            topic_for(
                DeviceRef(pump.site, pump.building, "elevator", pump.device_id), Channel.EVENT
            ),
            topic_for(DeviceRef(pump.site, "b2", pump.kind, pump.device_id), Channel.TELEMETRY),
            topic_for(DeviceRef(unique("site"), "b1", pump.kind, pump.device_id), Channel.STATUS),
            f"facility/v1/tickets/{pump.site}/{pump.building}/{pump.device_id}/opened",
            f"{topic_for(pump, Channel.TELEMETRY)}/extra",
        ]
        assert [device.publish(topic, b"own") for topic in own] == [0, 0, 0]
        assert [device.publish(topic, b"forged") for topic in foreign] == [NOT_AUTHORIZED] * 6
        assert device.publish(own[0], b"end") == 0
        # The broker forwards in the order it accepted: after "end", nothing else can come.
        wait_until(lambda: (own[0], b"end") in listener.received(), what="the device's last sample")
        assert listener.received() == [*((topic, b"own") for topic in own), (own[0], b"end")]
    finally:
        device.close()
        listener.close()


def test_the_device_library_works_with_a_provisioned_account(stand: Stand) -> None:
    """gateway.publisher's default client id is the bound one; its retained `online` and its
    last will `offline` are on the device's own topics. Another device's login is refused."""
    port, pw, pump = stand.broker.port, stand.passwords, stand.pump
    listener = V5Client(port, "facmon", pw["facmon"], unique("listener"))
    assert listener.subscribe(f"facility/v1/{pump.site}/#") == 1
    device = DeviceConnection(
        pump, parse_mqtt_url(stand.broker.url_for(pump.device_id, pw[pump.device_id]))
    )
    try:
        device.connect()
        device.publish(Channel.TELEMETRY, b"sample").wait_for_publish(10)
        device.drop()  # vanishes: the broker publishes its will
        status = topic_for(pump, Channel.STATUS)
        wait_until(lambda: (status, b"offline") in listener.received(), what="the device's will")
        assert listener.received() == [
            (status, b"online"),
            (topic_for(pump, Channel.TELEMETRY), b"sample"),
            (status, b"offline"),
        ]
        impostor = DeviceConnection(
            stand.lift,
            parse_mqtt_url(stand.broker.url_for(pump.device_id, pw[pump.device_id])),
            connect_timeout_s=2,  # DeviceConnection waits this long even after a refusal
        )
        with pytest.raises(PublishError, match="Not authorized"):
            impostor.connect()
    finally:
        listener.close()


def test_a_device_may_not_subscribe(stand: Stand) -> None:
    """A device reads nothing: not other devices' data, not ticket events."""
    pump, pw = stand.pump, stand.passwords
    device = V5Client(
        stand.broker.port, pump.device_id, pw[pump.device_id], device_client_id(pump.device_id)
    )
    try:
        for topic_filter in ("facility/#", "facility/v1/tickets/#", topic_for(pump, Channel.EVENT)):
            assert device.subscribe(topic_filter) == NOT_AUTHORIZED, topic_filter
    finally:
        device.close()


def test_logins_are_bound_to_their_client_ids(stand: Stand) -> None:
    port, pw, pump, lift = stand.broker.port, stand.passwords, stand.pump, stand.lift
    own = device_client_id(pump.device_id)
    assert refusal(port, pump.device_id, pw[pump.device_id], own) is None
    for taken in ("facmon-ingest", device_client_id(lift.device_id), pump.device_id):
        assert refusal(port, pump.device_id, pw[pump.device_id], taken) == NOT_AUTHORIZED, taken
    assert refusal(port, pump.device_id, pw[lift.device_id], own) == NOT_AUTHORIZED


def test_ingest_session_cannot_be_taken_over(stand: Stand, tmp_path: Path) -> None:
    """With ingest stopped, every login but the service's asking for ingest's client id with
    a clean start is refused, and every sample queued for ingest meanwhile is stored when
    it comes back. `service-passwords` opens no shared gateway account to try it with."""
    port, pw, pump = stand.broker.port, stand.passwords, stand.pump
    settings = service_settings(
        tmp_path, mqtt_url=stand.broker.url_for("facmon", pw["facmon"]), mqtt_client_id=INGEST_ID
    )
    started(settings).stop()  # leaves ingest's persistent session subscribed

    device = V5Client(port, pump.device_id, pw[pump.device_id], device_client_id(pump.device_id))
    try:
        topic, now_ms = topic_for(pump, Channel.TELEMETRY), int(time.time() * 1000)
        samples = [
            encode_telemetry(now_ms - 1000 + seq, seq, {"current_a": 2.0}) for seq in range(101)
        ]
        assert {device.publish(topic, sample) for sample in samples} == {0}
    finally:
        device.close()
    config = json.loads(stand.broker.dynsec_file.read_text())
    accounts = {client["username"] for client in config["clients"]}
    assert accounts == set(pw) == {"facmon", pump.device_id, stand.lift.device_id}
    for user in sorted(accounts - {"facmon"}):
        assert refusal(port, user, pw[user], INGEST_ID) == NOT_AUTHORIZED, user

    service = started(settings)
    try:
        wait_until(
            lambda: service.stores.series.count("pump", pump.device_id) == 101,
            what="the 101 samples queued while ingest was away",
        )
    finally:
        service.stop()


def test_only_the_service_publishes_ticket_events(stand: Stand) -> None:
    port, pw, pump = stand.broker.port, stand.passwords, stand.pump
    ticket_topic = f"facility/v1/tickets/{pump.site}/{pump.building}/{pump.device_id}/opened"
    listener = V5Client(port, "facmon", pw["facmon"], unique("listener"))
    listener.subscribe(f"facility/v1/tickets/{pump.site}/#")
    device = V5Client(port, pump.device_id, pw[pump.device_id], device_client_id(pump.device_id))
    service = V5Client(port, "facmon", pw["facmon"], unique("facmon-events"))
    try:
        assert device.publish(ticket_topic, b"forged by the device") == NOT_AUTHORIZED
        assert service.publish(ticket_topic, b"from the service") == 0
        wait_until(listener.received, what="the service's ticket event")
        assert listener.received() == [(ticket_topic, b"from the service")]
    finally:
        for client in (service, device, listener):
            client.close()
