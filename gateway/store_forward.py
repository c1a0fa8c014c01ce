"""Store-and-forward for devices and edge bridges: nothing is lost while the broker is away.

Every message goes to a local SQLite queue first. A sender thread publishes the
queue in order at QoS 1 and deletes a message only after the broker's PUBACK,
so a device that loses the broker (or restarts) publishes its backlog, in
order, when the broker returns. The queue is bounded; past the bound the oldest
messages are dropped and counted, because the newest readings matter most.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from contract.payload import Channel
from contract.topics import DeviceRef, status_topic, topic_for
from gateway.connection import BrokerAddress, TlsFiles, configure_client

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outgoing (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL
);
"""


class StoreAndForwardPublisher:
    def __init__(
        self,
        device: DeviceRef,
        address: BrokerAddress,
        queue_path: Path,
        max_queued: int = 1_000_000,
        client_id: str | None = None,
        ack_timeout_s: float = 10.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.device = device
        self.address = address
        self.max_queued = max_queued
        self.ack_timeout_s = ack_timeout_s
        self.dropped = 0
        queue_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(queue_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"dev-{device.device_id}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        configure_client(self.client, address, tls)
        self.client.will_set(status_topic(device), b"offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._sender = threading.Thread(target=self._send_loop, name="store-forward", daemon=True)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("broker refused device %s: %s", self.device.device_id, reason_code)
            return
        client.publish(status_topic(self.device), b"online", qos=1, retain=True)
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, *_args: object) -> None:
        self.connected.clear()

    @property
    def queued(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outgoing").fetchone()[0])

    def start(self) -> None:
        """Start sending; works with the broker down (it connects when it can)."""
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        self._sender.start()

    def publish(self, channel: Channel, payload: bytes, retain: bool = False) -> None:
        """Queue durably; the sender publishes when the broker is there."""
        topic = topic_for(self.device, channel)
        with self._lock:
            self._db.execute(
                "INSERT INTO outgoing (topic, payload, retain) VALUES (?, ?, ?)",
                (topic, payload, int(retain)),
            )
            excess = (
                int(self._db.execute("SELECT COUNT(*) FROM outgoing").fetchone()[0])
                - self.max_queued
            )
            if excess > 0:
                self._db.execute(
                    "DELETE FROM outgoing WHERE id IN "
                    "(SELECT id FROM outgoing ORDER BY id LIMIT ?)",
                    (excess,),
                )
                self.dropped += excess
        self._wake.set()

    def _next(self) -> tuple[int, str, bytes, bool] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, topic, payload, retain FROM outgoing ORDER BY id LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]), bool(row[3]))

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            row = self._next() if self.connected.is_set() else None
            if row is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            row_id, topic, payload, retain = row
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            with contextlib.suppress(RuntimeError, ValueError):  # not connected: retried
                info.wait_for_publish(self.ack_timeout_s)
            if info.is_published():
                with self._lock:
                    self._db.execute("DELETE FROM outgoing WHERE id = ?", (row_id,))
            else:
                # Not acknowledged: keep it and try again once reconnected, in order.
                self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._sender.is_alive():
            self._sender.join(15)
        if self.connected.is_set():
            info = self.client.publish(status_topic(self.device), b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(5)
            self.client.disconnect()
        self.client.loop_stop()
        with self._lock:
            self._db.close()
