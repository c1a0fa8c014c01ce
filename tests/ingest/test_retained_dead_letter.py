"""A retained malformed message is one dead letter, not a new one at every reconnect.

The broker sends a topic's retained message again whenever a subscription to it
is made; ingest subscribes on every connect, so each reconnect used to store
the same garbage again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.service import Service
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import MosquittoServer


def _publish(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("pub"))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def _letters_on(service: Service, topic: str) -> list[bytes]:
    letters = service.stores.dead_letters.list(limit=1000)
    return [letter.raw_payload() for letter in letters if letter.topic == topic]


def test_retained_garbage_is_one_dead_letter_across_three_reconnects(
    own_mosquitto: MosquittoServer, site: str, tmp_path: Path
) -> None:
    garbage_topic = telemetry_topic(DeviceRef(site, "b1", "pump", "broken-pump"))
    marker = DeviceRef(site, "b1", "pump", "marker-pump")
    _publish(own_mosquitto.port, garbage_topic, b"{oops", retain=True)
    settings = service_settings(tmp_path, mqtt_url=own_mosquitto.url)
    service = started(settings)
    sent = 0

    def settled(current: Service) -> None:
        """Once a sample published after the (re)subscription is stored, anything the
        broker sent on subscribing has been through ingest too."""
        nonlocal sent
        subscriber = current.subscriber
        assert subscriber is not None
        wait_until(subscriber.subscribed.is_set, 30, "ingest to subscribe again")
        sent += 1
        sample = encode_telemetry(int(time.time() * 1000), sent, {"current_a": 2.0})
        _publish(own_mosquitto.port, telemetry_topic(marker), sample)
        wait_until(
            lambda: current.stores.series.count("pump", "marker-pump") == sent,
            what=f"marker sample {sent}",
        )

    def restart_service() -> None:
        nonlocal service
        service.stop()
        service = started(settings)

    def restart_broker() -> None:
        subscriber = service.subscriber
        assert subscriber is not None
        own_mosquitto.stop()
        wait_until(lambda: not subscriber.connected.is_set(), 15, "ingest to notice")
        own_mosquitto.start()

    reconnects: list[Callable[[], None]] = [restart_service, restart_broker, restart_service]
    try:
        settled(service)
        assert _letters_on(service, garbage_topic) == [b"{oops"]
        for reconnect in reconnects:
            reconnect()
            settled(service)
            assert _letters_on(service, garbage_topic) == [b"{oops"], reconnect.__name__
        # A new retained payload on the topic is new garbage, and is kept once too.
        _publish(own_mosquitto.port, garbage_topic, b"{worse", retain=True)
        wait_until(lambda: len(_letters_on(service, garbage_topic)) == 2, what="the new garbage")
        restart_service()
        settled(service)
        assert sorted(_letters_on(service, garbage_topic)) == [b"{oops", b"{worse"]
    finally:
        service.stop()
