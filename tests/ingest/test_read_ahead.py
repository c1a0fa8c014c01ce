"""The read-ahead socket must hand paho exactly the byte stream the broker sent."""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.read_ahead import RawPublish, ReadAheadSocket, encode_varint, take_publishes


def test_small_reads_come_from_one_buffered_chunk_in_order() -> None:
    left, right = socket.socketpair()
    try:
        left.sendall(b"abcdefghij")
        reader = ReadAheadSocket(right)
        assert reader.recv(1) == b"a"
        assert reader.pending() == 9  # the rest is buffered, so paho must not wait in select
        assert reader.recv(4) == b"bcde"
        assert reader.recv(100) == b"fghij"  # never more than what was buffered
        assert reader.pending() == 0
        right.setblocking(False)
        with pytest.raises(BlockingIOError):  # paho's signal that the stream is drained
            reader.recv(1)
        left.sendall(b"kl")
        assert reader.recv(2) == b"kl"
    finally:
        left.close()
        right.close()


def test_a_closed_connection_reads_as_empty() -> None:
    left, right = socket.socketpair()
    left.close()
    reader = ReadAheadSocket(right)
    try:
        assert reader.recv(1) == b""
    finally:
        reader.close()


def test_fill_says_whether_there_is_data_none_yet_or_an_end_for_paho_to_see() -> None:
    left, right = socket.socketpair()
    right.setblocking(False)
    reader = ReadAheadSocket(right)
    try:
        assert reader.fill() is False  # nothing sent yet: the loop waits in select
        left.sendall(b"abc")
        assert reader.fill() is True
        assert reader.buffered() == 3
        assert reader.recv(3) == b"abc"
        left.sendall(b"de")
        assert reader.fill() is True
        assert reader.recv(5) == b"de"  # only what this read brought, not the last one's
        left.close()
        assert reader.fill() is None  # closed: paho's reader reads the end itself
        assert reader.buffered() == 0
        assert reader.recv(1) == b""
    finally:
        reader.close()


def publish_packet(
    topic: bytes, payload: bytes, qos: int, mid: int, properties: Properties | None
) -> bytes:
    """A PUBLISH as a broker sends it, properties encoded by paho itself."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if properties is not None:
        body += properties.pack()
    body += payload
    return bytes([0x30 | qos << 1]) + encode_varint(len(body)) + body


def v5_properties(user: list[tuple[str, str]], expiry: int | None) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)
    if user:
        properties.UserProperty = user
    if expiry is not None:
        properties.MessageExpiryInterval = expiry
    return properties


publishes = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=300),
        st.binary(max_size=20_000),
        st.integers(0, 1),
        st.integers(1, 65_535),
        st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=3),
        st.none() | st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(publishes, st.booleans(), st.data())
def test_bulk_parsing_takes_exactly_the_whole_packets(
    messages: list[tuple[bytes, bytes, int, int, list[tuple[str, str]], int | None]],
    v5: bool,
    data: st.DataObject,
) -> None:
    packets = [
        publish_packet(topic, payload, qos, mid, v5_properties(user, expiry) if v5 else None)
        for topic, payload, qos, mid, user, expiry in messages
    ]
    stream = b"".join(packets)
    expected = [
        RawPublish(topic, qos, mid if qos else 0, payload)
        for topic, payload, qos, mid, _, _ in messages
    ]
    assert take_publishes(stream, 0, v5, limit=1_000) == (expected, len(stream))
    # Cut anywhere: only the packets wholly before the cut are taken, and the
    # position is where paho's reader must go on.
    cut = data.draw(st.integers(0, len(stream)))
    boundaries = [sum(len(p) for p in packets[:n]) for n in range(len(packets) + 1)]
    whole = max(n for n, boundary in enumerate(boundaries) if boundary <= cut)
    assert take_publishes(stream[:cut], 0, v5, limit=1_000) == (expected[:whole], boundaries[whole])
    # The limit bounds one call; the next call goes on from where it stopped.
    first, position = take_publishes(stream, 0, v5, limit=1)
    rest, end = take_publishes(stream, position, v5, limit=1_000)
    assert (first + rest, end) == (expected, len(stream))


def test_bulk_parsing_leaves_other_packets_to_paho() -> None:
    qos1 = publish_packet(b"a/b", b"x", 1, 7, None)
    qos2 = bytes([0x34]) + qos1[1:]
    pingresp = b"\xd0\x00"
    for tail in (qos2, pingresp, b"\x30\xff\xff\xff\xff\x01"):  # QoS 2, other type, bad length
        assert take_publishes(qos1 + tail + qos1, 0, False, 10) == (
            [RawPublish(b"a/b", 1, 7, b"x")],
            len(qos1),
        )
    topic_alias = publish_packet(b"", b"x", 1, 7, None)  # empty topic: an alias, paho's job
    assert take_publishes(topic_alias, 0, True, 10) == ([], 0)
    truncated_topic = b"\x32\x03\x00\x09a"  # says 9 topic bytes, the packet has 1
    assert take_publishes(truncated_topic, 0, False, 10) == ([], 0)
