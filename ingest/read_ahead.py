"""A paho client that reads the broker's stream in large chunks and parses its
PUBLISH packets in bulk.

Stock paho reads each PUBLISH with three `recv` calls (command byte, length,
body), waits in `select` before every packet, builds a `Properties` object and
an `MQTTMessage` per message, and calls back once per message. A profile of
ingest at thousands of messages a second spent most of paho's thread there and
in the per-message hand-off to the intake thread. Here the socket is read 64 KiB
at a time; the whole QoS 0/1 PUBLISH packets in that chunk are parsed in one
loop and handed on as one list. Packets split across two reads, and every other
packet type, go through paho's own reader, from the same buffer. The acknowledgements of a
durable batch go out as one write. Reconnects, TLS, keepalive and subscriptions
stay paho's own.

This leans on paho's private members (`PAHO_PRIVATE_MEMBERS`), so pyproject pins
paho to the minor series it was tested with, and at import the module checks
that each member is still there: if one is missing, `read_ahead_supported()` is
False, one warning says which, and `make_ingest_client` hands out stock paho
(with `ack_many` as one `ack` per message), slower but correct.
"""

from __future__ import annotations

import logging
import ssl
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK

log = logging.getLogger(__name__)

# What the read-ahead client uses of paho's internals: methods it overrides or
# calls, then attributes of a client instance it reads.
PAHO_PRIVATE_METHODS = ("_packet_queue", "_create_socket")
PAHO_PRIVATE_ATTRIBUTES = ("_sock", "_in_packet", "_protocol", "_last_bytes_received")
PAHO_PRIVATE_MEMBERS = PAHO_PRIVATE_METHODS + PAHO_PRIVATE_ATTRIBUTES

CHUNK_BYTES = 65_536
MESSAGES_PER_WAKEUP = 5_000  # then paho writes acks and pings before reading on
PUBACK_HEADER = struct.Struct("!BBH")  # type, remaining length 2 (success), packet id
PUBLISH_TYPE = 3
QOS_2 = 2


class RawPublish(NamedTuple):
    """A QoS 0 or 1 PUBLISH as it came off the wire; `topic` is still UTF-8 bytes."""

    topic: bytes
    qos: int
    mid: int
    payload: bytes


def encode_varint(value: int) -> bytes:
    """MQTT's variable byte integer (a packet's remaining length).

    >>> encode_varint(127), encode_varint(128), encode_varint(16_383)
    (b'\\x7f', b'\\x80\\x01', b'\\xff\\x7f')
    """
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varint(buffer: bytes, position: int, end: int) -> tuple[int, int] | None:
    """MQTT's variable byte integer at `position`: (value, next position), or None
    when the buffer ends first or it runs past the four bytes MQTT allows."""
    value = 0
    shift = 0
    while position < end and shift < 28:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    return None


def take_publishes(buffer: bytes, start: int, v5: bool, limit: int) -> tuple[list[RawPublish], int]:
    """Parse whole QoS 0/1 PUBLISH packets from `buffer[start:]`: (packets, where the
    first one not taken starts). Stops at anything else, a packet cut off by the end
    of the buffer, QoS 2, a topic alias (empty topic) or a malformed length, which
    paho's reader then takes, and for malformed packets, refuses."""
    taken: list[RawPublish] = []
    end = len(buffer)
    position = start
    while position < end and len(taken) < limit:
        header = buffer[position]
        qos = (header >> 1) & 0x03
        if header >> 4 != PUBLISH_TYPE or qos >= QOS_2:
            break
        length = _varint(buffer, position + 1, end)
        if length is None:
            break
        remaining, body = length
        packet_end = body + remaining
        if packet_end > end or remaining < 2:
            break
        topic_end = body + 2 + ((buffer[body] << 8) | buffer[body + 1])
        cursor = topic_end
        mid = 0
        if qos:
            if cursor + 2 > packet_end:
                break
            mid = (buffer[cursor] << 8) | buffer[cursor + 1]
            cursor += 2
        if v5:
            properties = _varint(buffer, cursor, packet_end)
            if properties is None:
                break
            cursor = properties[1] + properties[0]
        if cursor > packet_end or topic_end == body + 2:
            break
        taken.append(RawPublish(buffer[body + 2 : topic_end], qos, mid, buffer[cursor:packet_end]))
        position = packet_end
    return taken, position


class ReadAheadSocket:
    """A socket whose `pending()` counts what it has buffered, which paho's loop honours
    (it does so for TLS sockets) by not waiting in `select`."""

    __slots__ = ("_buffer", "_inner_pending", "_offset", "_sock")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._inner_pending = getattr(sock, "pending", None)  # TLS sockets buffer too
        self._buffer = b""
        self._offset = 0

    def recv(self, bufsize: int) -> bytes:
        if self._offset >= len(self._buffer):
            data = self._sock.recv(CHUNK_BYTES)  # raises BlockingIOError when empty
            if not data:
                return data  # the broker closed the connection
            self._buffer, self._offset = data, 0
        start = self._offset
        self._offset = min(start + bufsize, len(self._buffer))
        return self._buffer[start : self._offset]

    def fill(self) -> bool | None:
        """Read the next chunk into an empty buffer: True with data, False when the socket
        has none yet, None when paho's reader must see for itself what `recv` does (the
        connection closed or failed)."""
        try:
            data = self._sock.recv(CHUNK_BYTES)
        except (BlockingIOError, ssl.SSLWantReadError):
            return False
        except OSError:
            return None
        if not data:
            return None
        self._buffer, self._offset = data, 0
        return True

    def take_publishes(self, v5: bool, limit: int) -> list[RawPublish]:
        """The whole QoS 0/1 PUBLISH packets at the front of the buffer, consumed."""
        taken, self._offset = take_publishes(self._buffer, self._offset, v5, limit)
        return taken

    def buffered(self) -> int:
        return len(self._buffer) - self._offset

    def pending(self) -> int:
        inner = self._inner_pending() if self._inner_pending is not None else 0
        return len(self._buffer) - self._offset + int(inner)

    def send(self, data: bytes) -> int:
        return int(self._sock.send(data))

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ReadAheadClient(mqtt.Client):
    """Set `on_publishes` to receive QoS 0/1 messages in lists; without it, or for
    the packets paho's own reader takes, messages arrive through `on_message` as usual."""

    on_publishes: Callable[[list[RawPublish]], None] | None = None

    def ack_many(self, mids: Sequence[int]) -> None:
        """PUBACK each QoS 1 message id, all in one queued write."""
        if mids:
            packet = b"".join(PUBACK_HEADER.pack(PUBACK, 2, mid) for mid in mids)
            self._packet_queue(PUBACK, packet, 0, 0)

    def _create_socket(self) -> Any:
        return ReadAheadSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        success = mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        v5 = self._protocol == mqtt.MQTTv5
        budget = MESSAGES_PER_WAKEUP
        while budget > 0:
            sock = self._sock
            if not isinstance(sock, ReadAheadSocket):
                return super().loop_read(max_packets)
            deliver = self.on_publishes
            if deliver is not None and self._in_packet["command"] == 0:
                # The chunk is read here, not by paho's reader, so that its first
                # packet is parsed in bulk with the rest.
                if not sock.buffered() and sock.fill() is False:
                    return success
                messages = sock.take_publishes(v5, budget)
                if messages:
                    self._last_bytes_received = time.monotonic()  # for paho's keepalive
                    budget -= len(messages)
                    deliver(messages)
                    continue
            rc = super().loop_read(max_packets)  # one packet (or what a failed read means)
            budget -= 1
            if rc != success or not sock.pending():
                return rc
        return success


def missing_paho_members(client_class: type[mqtt.Client] = mqtt.Client) -> list[str]:
    """The private paho members the read-ahead needs that `client_class` lacks.

    >>> missing_paho_members()
    []
    """
    missing = [
        name for name in PAHO_PRIVATE_METHODS if not callable(getattr(client_class, name, None))
    ]
    probe = client_class(mqtt.CallbackAPIVersion.VERSION2)
    in_packet = getattr(probe, "_in_packet", None)
    missing += [name for name in PAHO_PRIVATE_ATTRIBUTES if not hasattr(probe, name)]
    if isinstance(in_packet, dict) and "command" not in in_packet:
        missing.append("_in_packet['command']")
    return missing


_MISSING_AT_IMPORT = missing_paho_members()
if _MISSING_AT_IMPORT:
    log.warning(
        "paho-mqtt %s lacks %s: ingest reads with stock paho (slower); pin paho-mqtt to "
        "the series in pyproject.toml to get the read-ahead back",
        getattr(mqtt, "__version__", "?"),
        ", ".join(_MISSING_AT_IMPORT),
    )


def read_ahead_supported() -> bool:
    """Whether the installed paho still has every private member the read-ahead uses."""
    return not _MISSING_AT_IMPORT


class StockClient(mqtt.Client):
    """Stock paho with the subscriber's `ack_many`, for when the read-ahead is off."""

    on_publishes: Callable[[list[RawPublish]], None] | None = None

    def ack_many(self, mids: Sequence[int]) -> None:
        for mid in mids:
            self.ack(mid, 1)


def make_ingest_client(read_ahead: bool, **client_options: Any) -> ReadAheadClient | StockClient:
    """The ingest's paho client: the read-ahead one when asked for and supported."""
    if read_ahead and read_ahead_supported():
        return ReadAheadClient(mqtt.CallbackAPIVersion.VERSION2, **client_options)
    return StockClient(mqtt.CallbackAPIVersion.VERSION2, **client_options)
