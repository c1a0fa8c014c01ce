"""The read-ahead socket must hand paho exactly the byte stream the broker sent."""

from __future__ import annotations

import socket

import pytest

from ingest.read_ahead import ReadAheadSocket


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
