"""A device that loses the broker keeps its samples on disk and sends them in order later."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from contract.payload import Channel, encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from gateway.connection import parse_mqtt_url
from gateway.store_forward import StoreAndForwardPublisher
from tests.conftest import unique, wait_until
from tools.servers import MosquittoServer


def listen(port: int, topic: str) -> tuple[mqtt.Client, list[int]]:
    seqs: list[int] = []
    subscribed = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=unique("listen"), clean_session=False
    )
    client.on_message = lambda _c, _u, msg: seqs.append(json.loads(msg.payload)["seq"])
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(10)
    return client, seqs


def test_backlog_survives_broker_outage_and_device_restart(
    own_mosquitto: MosquittoServer, site: str, tmp_path: Path
) -> None:
    device = DeviceRef(site, "b1", "lighting", "lamp-7")
    queue_file = tmp_path / "queue.sqlite"
    listener, seqs = listen(own_mosquitto.port, telemetry_topic(device))
    address = parse_mqtt_url(own_mosquitto.url)
    publisher = StoreAndForwardPublisher(device, address, queue_file)
    publisher.start()
    try:
        assert publisher.connected.wait(10)
        for seq in range(1, 11):
            publisher.publish(Channel.TELEMETRY, encode_telemetry(seq, seq, {"current_a": 1.0}))
        wait_until(lambda: seqs == list(range(1, 11)), what="the first ten live")

        own_mosquitto.stop()
        wait_until(lambda: not publisher.connected.is_set(), what="the device to notice")
        for seq in range(11, 61):
            publisher.publish(Channel.TELEMETRY, encode_telemetry(seq, seq, {"current_a": 1.0}))
        assert publisher.queued == 50
    finally:
        publisher.stop()  # the device restarts, with its backlog on disk

    restarted = StoreAndForwardPublisher(device, address, queue_file)
    assert restarted.queued == 50
    restarted.start()
    try:
        for seq in range(61, 71):
            restarted.publish(Channel.TELEMETRY, encode_telemetry(seq, seq, {"current_a": 1.0}))
        own_mosquitto.start()
        wait_until(
            lambda: seqs[-1:] == [70] and len(set(seqs)) == 70,
            timeout_s=60,
            what="the backlog after the broker returns",
        )
        deduplicated = list(dict.fromkeys(seqs))
        assert deduplicated == list(range(1, 71)), "out of order"
        wait_until(lambda: restarted.queued == 0, what="the queue to empty")
    finally:
        restarted.stop()
        listener.loop_stop()
        listener.disconnect()


def test_queue_is_bounded_and_drops_oldest(tmp_path: Path) -> None:
    device = DeviceRef("s", "b", "pump", "p1")
    address = parse_mqtt_url("mqtt://127.0.0.1:9")  # nothing listens: stays queued
    publisher = StoreAndForwardPublisher(device, address, tmp_path / "q.sqlite", max_queued=5)
    for seq in range(1, 9):
        publisher.publish(Channel.TELEMETRY, encode_telemetry(seq, seq, {"current_a": 1.0}))
    assert publisher.queued == 5 and publisher.dropped == 3
    first = publisher._next()
    assert first is not None and json.loads(first[2])["seq"] == 4
    publisher.stop()
