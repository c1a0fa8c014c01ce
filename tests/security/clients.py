"""Small MQTT v5 clients for the security tests: they report what the broker answered.

MQTT v5 because a 3.1.1 PUBACK looks the same whether the broker accepted the
message or its ACL dropped it; a v5 PUBACK carries the reason code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TIMEOUT_S = 10.0
NOT_AUTHORIZED = 0x87


class Refused(RuntimeError):
    """The broker refused the connection; `reason` is its CONNACK reason code."""

    def __init__(self, reason: mqtt.ReasonCode) -> None:
        super().__init__(f"connection refused: {reason}")
        self.reason = reason


class V5Client:
    """One connected MQTT v5 session; publishes wait for the PUBACK and return its code."""

    def __init__(
        self,
        port: int,
        user: str | None,
        password: str | None,
        client_id: str,
        clean_start: bool = True,
        session_expiry_s: int = 0,
    ) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._acks: dict[int, mqtt.ReasonCode] = {}
        self._connack: mqtt.ReasonCode | None = None
        self._answered = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._granted: list[mqtt.ReasonCode] = []
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry_s
        self.client.connect(
            "127.0.0.1", port, clean_start=clean_start, properties=properties, keepalive=30
        )
        self.client.loop_start()
        if not self._answered.wait(TIMEOUT_S):
            self.close()
            raise TimeoutError("no CONNACK")
        assert self._connack is not None
        if self._connack.is_failure:
            self.client.loop_stop()
            raise Refused(self._connack)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack = reason_code
        self._answered.set()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._acks[mid] = reason_code

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[mqtt.ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._granted = list(reason_codes)
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """The PUBACK's reason code (0 accepted, 0x10 accepted with no subscriber, 0x87 refused)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT_S)
        with self._lock:
            return int(self._acks.pop(info.mid).value)

    def subscribe(self, topic_filter: str) -> int:
        """The SUBACK's reason code: 1 (granted QoS 1) or 0x87 (refused)."""
        self._subscribed.clear()
        self.client.subscribe(topic_filter, qos=1)
        if not self._subscribed.wait(TIMEOUT_S):
            raise TimeoutError(f"no SUBACK for {topic_filter}")
        return int(self._granted[0].value)

    def received(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def refusal(port: int, user: str, password: str, client_id: str) -> int | None:
    """The CONNACK reason code if the broker refuses this login, else None."""
    try:
        V5Client(port, user, password, client_id).close()
    except Refused as exc:
        return int(exc.reason.value)
    return None


def publish_all(client: V5Client, messages: Iterable[tuple[str, bytes]]) -> list[int]:
    return [client.publish(topic, payload) for topic, payload in messages]
