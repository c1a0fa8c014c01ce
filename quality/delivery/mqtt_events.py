"""Ticket events on MQTT: `facility/v1/tickets/{site}/{building}/{device_id}/{event_type}`.

An event counts as delivered only when the broker has accepted it: a QoS 1
PUBACK with a success reason code. The session speaks MQTT v5 because with
3.1.1 Mosquitto acknowledges a publish its ACL refused, so refused events
would be marked delivered while no subscriber got them; a v5 PUBACK carries the
refusal (reason code 0x80 or above, e.g. 0x87 Not authorized). Until accepted,
the outbox row stays pending and is published again later. The embedded broker
speaks only 3.1.1 (and has no ACL), so the service passes its protocol on.
The same event may therefore arrive twice; subscribers deduplicate on
`event_id` in the payload. Ingest ignores this topic tree
(`contract.topics.SERVICE_TOPIC_PREFIXES`).
"""

from __future__ import annotations

import json
import logging
import threading

import paho.mqtt.client as mqtt

from contract.topics import CONTRACT_VERSION, TOPIC_ROOT
from gateway.connection import BrokerAddress, TlsFiles, configure_client
from quality.delivery.base import PendingEvent, SendResult

log = logging.getLogger(__name__)

TICKET_TOPIC_ROOT = f"{TOPIC_ROOT}/{CONTRACT_VERSION}/tickets"


def event_topic(site: str, building: str, device_id: str, event_type: str) -> str:
    """The topic of one event; subscribe to `facility/v1/tickets/{site}/#` for a site.

    >>> event_topic("hq", "b1", "pump-07", "opened")
    'facility/v1/tickets/hq/b1/pump-07/opened'
    """
    for part in (site, building, device_id, event_type):
        if not part or any(char in part for char in "/+#\0"):
            raise ValueError(f"{part!r} cannot be an MQTT topic level")
    return f"{TICKET_TOPIC_ROOT}/{site}/{building}/{device_id}/{event_type}"


def topic_for_event(event: PendingEvent) -> str:
    ticket = json.loads(event.payload)["ticket"]
    return event_topic(
        str(ticket["site"]), str(ticket["building"]), str(ticket["device_id"]), event.event_type
    )


class MqttEventSender:
    """One MQTT session for outgoing ticket events, kept alive by paho's network thread.

    `start()` returns at once even when the broker is down; paho keeps trying to
    connect and reconnects after an outage, while `send` reports failures (so
    the dispatcher backs off) until the session is back. The client id must be
    unique per running process: the broker disconnects a duplicate.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        publish_timeout_s: float = 10.0,
        max_reconnect_delay_s: int = 30,
        tls: TlsFiles | None = None,
        protocol: str = "5",
    ) -> None:
        self.address = address
        self.publish_timeout_s = publish_timeout_s
        self.connected = threading.Event()
        self._started = False
        self._acks_lock = threading.Lock()
        self._acks: dict[int, mqtt.ReasonCode] = {}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
        )
        configure_client(self.client, address, tls)
        self.client.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay_s)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused ticket events: %s", self.address.redacted(), reason_code)
            return
        log.info("ticket events connected to %s", self.address.redacted())
        self.connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning(
                "ticket events lost %s (%s); reconnecting", self.address.redacted(), reason_code
            )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        # paho calls this before it marks the message published, so `send` finds
        # the reason code as soon as its wait ends.
        with self._acks_lock:
            self._acks[mid] = reason_code

    def start(self, wait_s: float = 0.0) -> bool:
        """Begin connecting in the background; optionally wait up to `wait_s` for it."""
        if not self._started:
            self.client.connect_async(self.address.host, self.address.port, keepalive=30)
            self.client.loop_start()
            self._started = True
        return self.connected.wait(wait_s) if wait_s > 0 else self.connected.is_set()

    def send(self, event: PendingEvent) -> SendResult:
        try:
            topic = topic_for_event(event)
        except (ValueError, KeyError, TypeError) as exc:
            return SendResult.failed(f"no topic for the event: {exc}")
        if not self.connected.is_set():
            # Publishing now would only queue inside paho; the outbox is the queue.
            return SendResult.failed(f"not connected to {self.address.redacted()}")
        info = self.client.publish(topic, event.body, qos=1)
        try:
            info.wait_for_publish(self.publish_timeout_s)
        except (RuntimeError, ValueError) as exc:
            return SendResult.failed(f"publish failed: {exc}")
        published = info.is_published()
        with self._acks_lock:
            ack = self._acks.pop(info.mid, None)
        if not published:
            return SendResult.failed(f"no PUBACK within {self.publish_timeout_s} s")
        if ack is not None and ack.is_failure:
            return SendResult.failed(
                f"broker {self.address.redacted()} refused {topic}: {ack} (reason code "
                f"{ack.value:#04x}); the MQTT login needs write access to {TICKET_TOPIC_ROOT}/#"
            )
        return SendResult.delivered()

    def close(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False
        self.connected.clear()
