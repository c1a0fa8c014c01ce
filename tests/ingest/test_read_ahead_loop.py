"""`ReadAheadClient.loop_read` and `ack_many` driven through a scripted MQTT peer.

A real broker cannot be told where to split its TCP stream, so the peer here is a
scripted one on a loopback socket (a stand-in named as such): it answers CONNECT,
then sends byte runs chosen to cut packets in half, mix in a PINGRESP, a QoS 2
PUBLISH and topic aliases, and records every packet the client writes back.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.read_ahead import (
    RawPublish,
    ReadAheadClient,
    StockClient,
    encode_varint,
    make_ingest_client,
    missing_paho_members,
)

CONNACK_V5 = b"\x20\x03\x00\x00\x00"
PINGRESP = b"\xd0\x00"
PUBREL = b"\x62\x02"
PUBACK, PUBREC = 4, 5


def publish(topic: bytes, payload: bytes, qos: int, mid: int, alias: int | None = None) -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    properties = Properties(PacketTypes.PUBLISH)
    if alias is not None:
        properties.TopicAlias = alias
    body += properties.pack() + payload
    return bytes([0x30 | qos << 1]) + encode_varint(len(body)) + body


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    """(packet type, body) of the next packet the client wrote."""
    header = sock.recv(1)
    if not header:
        raise ConnectionError("client closed")
    length, shift = 0, 0
    while True:
        byte = sock.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return header[0] >> 4, body


class ScriptedPeer:
    """Accepts one client, answers its CONNECT, then sends what the test gives it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connection: socket.socket | None = None
        self.received: list[tuple[int, bytes]] = []
        self._accepted = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection = connection
        kind, _ = read_packet(connection)
        assert kind == 1  # CONNECT
        connection.sendall(CONNACK_V5)
        self._accepted.set()
        try:
            while True:
                self.received.append(read_packet(connection))
        except (ConnectionError, OSError, IndexError):
            return

    def send(self, data: bytes) -> None:
        assert self._accepted.wait(10), "the client never connected"
        assert self.connection is not None
        self.connection.sendall(data)

    def acks(self, kind: int) -> list[int]:
        return [
            struct.unpack("!H", body[:2])[0] for packet, body in self.received if packet == kind
        ]

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.server.close()


def until(condition: Callable[[], bool], client: mqtt.Client, timeout_s: float = 10) -> None:
    """Run the client's loop (which calls loop_read) until `condition` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        client.loop(timeout=0.05)


@contextmanager
def connected(client: mqtt.Client) -> Iterator[ScriptedPeer]:
    peer = ScriptedPeer()
    try:
        client.connect("127.0.0.1", peer.port, keepalive=60)
        until(lambda: client.is_connected(), client)
        yield peer
    finally:
        client.disconnect()
        peer.close()


def collecting_client(
    read_ahead_on: bool,
) -> tuple[ReadAheadClient | StockClient, list[RawPublish], list[mqtt.MQTTMessage]]:
    client = make_ingest_client(read_ahead_on, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True)
    bulk: list[RawPublish] = []
    single: list[mqtt.MQTTMessage] = []
    client.on_publishes = bulk.extend
    client.on_message = lambda _client, _userdata, message: single.append(message)
    return client, bulk, single


def test_split_packets_pingresp_qos2_and_topic_alias_all_arrive_once_in_order() -> None:
    client, bulk, single = collecting_client(True)
    assert isinstance(client, ReadAheadClient)
    first = publish(b"f/1", b"one", 1, 1)
    second = publish(b"f/2", b"two", 1, 2)
    with connected(client) as peer:
        # A whole packet, then one cut in the middle of its topic.
        peer.send(first + second[:5])
        until(lambda: len(bulk) == 1, client)
        assert bulk == [RawPublish(b"f/1", 1, 1, b"one")]
        # Its rest, a PINGRESP, a QoS 2 PUBLISH, a topic alias set and then used.
        peer.send(
            second[5:]
            + PINGRESP
            + publish(b"f/3", b"three", 2, 3)
            + publish(b"f/4", b"four", 1, 4, alias=1)
            + publish(b"", b"five", 1, 5, alias=1)
            + publish(b"f/6", b"six", 1, 6)
        )
        until(lambda: len(bulk) + len(single) == 5 and peer.acks(PUBREC) == [3], client)
        peer.send(PUBREL + struct.pack("!H", 3))  # QoS 2 reaches the app on PUBREL
        until(lambda: len(single) == 3, client)
        # The split packet, the alias-only topic and QoS 2 go through paho's own reader.
        assert [(m.topic, m.payload, m.qos, m.mid) for m in single] == [
            ("f/2", b"two", 1, 2),
            ("", b"five", 1, 5),
            ("f/3", b"three", 2, 3),
        ]
        assert [(p.topic, p.payload) for p in bulk] == [
            (b"f/1", b"one"),
            (b"f/4", b"four"),
            (b"f/6", b"six"),
        ]
        client.ack_many([1, 2, 4, 5, 6])
        until(lambda: peer.acks(PUBACK) == [1, 2, 4, 5, 6], client)


def test_ack_many_sends_nothing_for_no_messages() -> None:
    client, bulk, _ = collecting_client(True)
    with connected(client) as peer:
        client.ack_many([])
        peer.send(publish(b"g/1", b"x", 1, 7))
        until(lambda: len(bulk) == 1, client)
        client.ack_many([7])
        until(lambda: peer.acks(PUBACK) == [7], client)


def test_stock_paho_takes_over_when_the_read_ahead_is_off() -> None:
    client, bulk, single = collecting_client(False)
    assert isinstance(client, StockClient)
    with connected(client) as peer:
        peer.send(publish(b"h/1", b"x", 1, 9) + publish(b"h/2", b"y", 1, 10))
        until(lambda: len(single) == 2, client)
        assert bulk == []
        client.ack_many([9, 10])
        until(lambda: peer.acks(PUBACK) == [9, 10], client)


def test_a_paho_without_the_private_members_falls_back_with_one_warning() -> None:
    class Renamed(mqtt.Client):
        _packet_queue = None  # type: ignore[assignment]

    assert missing_paho_members(Renamed) == ["_packet_queue"]
    assert missing_paho_members() == []
    # A fresh interpreter whose paho lost a member before ingest imported it.
    script = (
        "import logging, paho.mqtt.client as m\n"
        "logging.basicConfig(format='%(levelname)s %(message)s')\n"
        "del m.Client._packet_queue\n"
        "from ingest.read_ahead import make_ingest_client, read_ahead_supported\n"
        "client = make_ingest_client(True, client_id='t', protocol=m.MQTTv5)\n"
        "print(read_ahead_supported(), type(client).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "StockClient"]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "_packet_queue" in warnings[0], done.stderr


def test_facmon_mqtt_read_ahead_false_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from facmon.settings import Settings

    monkeypatch.setenv("FACMON_MQTT_READ_AHEAD", "false")
    assert Settings().mqtt_read_ahead is False
    monkeypatch.delenv("FACMON_MQTT_READ_AHEAD")
    assert Settings().mqtt_read_ahead is True
