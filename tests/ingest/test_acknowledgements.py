"""Ingest acknowledges what it made durable: its persistent session holds nothing back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from storage.timeseries.influx import InfluxStore
from tests.conftest import publish_qos1, unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import InfluxServer, MosquittoServer

DEVICES = 3
PER_DEVICE = 400


def test_a_stopped_ingest_session_has_nothing_unacknowledged(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    database = unique("acks").replace("-", "_")
    settings = service_settings(
        tmp_path,
        mqtt_url=mosquitto.url,
        influx_url=influx.url,
        influx_database=database,
        ingest_sites=site,
    )
    base_ms = int(time.time() * 1000) - 60_000
    devices = [DeviceRef(site, "b1", "elevator", f"lift-{i}") for i in range(DEVICES)]
    messages = [
        (telemetry_topic(d), encode_telemetry(base_ms + seq * 10, seq, {"door_close_time_s": 3.0}))
        for seq in range(1, PER_DEVICE + 1)
        for d in devices
    ]
    store = InfluxStore(influx.url, database)
    service = started(settings)
    try:
        publish_qos1(mosquitto.port, messages)

        def stored() -> int:
            series = store.query("SELECT count(seq) FROM elevator")
            return int(series[0]["values"][0][1]) if series else 0

        wait_until(lambda: stored() == len(messages), what="every message in InfluxDB")
    finally:
        service.stop()
        store.close()

    # Rejoin the session: the broker sends anything still unacknowledged first, then
    # a marker published afterwards. Only the marker may arrive.
    received: list[bytes] = []
    marker = encode_telemetry(base_ms, PER_DEVICE + 1, {"door_close_time_s": 3.0})
    marker_seen = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append(bytes(message.payload))
        if message.payload == marker:
            marker_seen.set()

    rejoined = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=settings.mqtt_client_id,
        protocol=mqtt.MQTTv5,
    )
    rejoined.on_message = on_message
    connected = threading.Event()
    rejoined.on_connect = lambda *args: connected.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0  # the session ends with this client
    rejoined.connect("127.0.0.1", mosquitto.port, clean_start=False, properties=properties)
    rejoined.loop_start()
    try:
        assert connected.wait(10)
        publish_qos1(mosquitto.port, [(telemetry_topic(devices[0]), marker)])
        assert marker_seen.wait(15), "the rejoined session received no marker"
        assert received == [marker], f"{len(received) - 1} messages were never acknowledged"
    finally:
        rejoined.loop_stop()
        rejoined.disconnect()
