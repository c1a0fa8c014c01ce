"""A device's delayed last will on the real Mosquitto: a restart sends none, an outage one.

Two devices drop at the same moment with the same will delay; one comes back at
once, the other stays away. When the absent one's will arrives, the delay has
passed for both, so the restarted device's will would have arrived too.
"""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from contract.topics import DeviceRef, status_topic
from gateway.connection import parse_mqtt_url
from gateway.publisher import DeviceConnection
from tests.conftest import unique, wait_until
from tools.servers import MosquittoServer


def test_a_restart_within_the_will_delay_sends_no_will_and_an_outage_does(
    mosquitto: MosquittoServer, site: str
) -> None:
    address = parse_mqtt_url(mosquitto.url)
    restarting = DeviceRef(site, "b1", "pump", unique("restart"))
    vanishing = DeviceRef(site, "b1", "pump", unique("gone"))
    seen: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            seen.append((message.topic, bytes(message.payload)))

    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("will-listener"))
    listener.on_message = on_message
    subscribed = threading.Event()
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(f"facility/v1/{site}/#", qos=1)
    listener.loop_start()
    devices = {
        ref.device_id: DeviceConnection(
            ref, address, client_id=f"dev-{ref.device_id}", protocol="5", will_delay_s=2
        )
        for ref in (restarting, vanishing)
    }
    try:
        assert subscribed.wait(10)
        for connection in devices.values():
            connection.connect()
        wait_until(lambda: len(seen) >= 2, what="both devices online")
        for connection in devices.values():
            connection.drop()
        devices[restarting.device_id].connect()  # back within the delay: session resumed

        def offline(ref: DeviceRef) -> bool:
            with lock:
                return (status_topic(ref), b"offline") in seen

        wait_until(lambda: offline(vanishing), timeout_s=30, what="the absent device's will")
        assert not offline(restarting)
    finally:
        for connection in devices.values():
            connection.close()
        for ref in (restarting, vanishing):  # leave no retained status for other tests
            listener.publish(status_topic(ref), b"", qos=1, retain=True).wait_for_publish(10)
        listener.loop_stop()
        listener.disconnect()


def test_a_will_delay_needs_mqtt_v5() -> None:
    with pytest.raises(ValueError, match="needs MQTT v5"):
        DeviceConnection(
            DeviceRef("s", "b", "pump", "p"), parse_mqtt_url("mqtt://127.0.0.1:1"), will_delay_s=5
        )
