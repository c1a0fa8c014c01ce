"""The MQTT side of ingest: a persistent QoS 1 session with manual acknowledgements.

MQTT v5 is the default: its Receive Maximum lets the broker send thousands of
messages before any is acknowledged, which is what acknowledge-after-durable
needs (with 3.1.1, Mosquitto stalls at `max_inflight_messages`, 20 by default).
3.1.1 stays available for brokers without v5, such as the embedded one.

Over v5 ingest also subscribes with Retain Handling 1 ("send retained messages
only for a new subscription"). Ingest subscribes again on every connect, and
the broker would resend each retained message each time: a retained malformed
message became a new dead letter at every reconnect. With a persistent session
the subscription outlives the connection, so a retained message comes once per
session. Ingest cannot clear it: its account may not publish on device topics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.topics import SUBSCRIPTION
from gateway.connection import BrokerAddress, TlsFiles, configure_client
from ingest.pipeline import InboundMessage, MessageSink
from ingest.read_ahead import RawPublish, make_ingest_client

log = logging.getLogger(__name__)


def _no_ack() -> None:
    return None


class BrokerUnavailable(RuntimeError):
    """The broker cannot be reached or refused the ingest session."""


class IngestSubscriber:
    def __init__(
        self,
        address: BrokerAddress,
        sink: MessageSink,
        client_id: str = "facmon-ingest",
        protocol: str = "5",
        receive_maximum: int = 10_000,
        session_expiry_s: int = 86_400,
        subscriptions: Sequence[str] = (SUBSCRIPTION,),
        tls: TlsFiles | None = None,
        forget: Sequence[str] = (),
        read_ahead: bool = True,
    ) -> None:
        """`sink`: where each read's messages go (the pipeline's intake); the subscriber is
        in turn the pipeline's `AckSink`. `forget`: filters a persistent session may still
        hold from an earlier topic split; they are dropped once the current ones are in
        place, so nothing queued in between is lost. `read_ahead`: bulk parsing
        (`ingest.read_ahead`), or stock paho when False (FACMON_MQTT_READ_AHEAD=false)."""
        if not subscriptions:
            raise ValueError("ingest needs at least one topic filter")
        self.address = address
        self.sink = sink
        self.subscriptions = tuple(subscriptions)
        self.forget = tuple(topic for topic in forget if topic not in self.subscriptions)
        self.protocol = protocol
        self.receive_maximum = receive_maximum
        self.session_expiry_s = session_expiry_s
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._failure: str | None = None
        self._ack_lock = threading.Lock()
        self._unsent_acks: list[int] = []
        v5 = protocol == "5"
        self.client = make_ingest_client(
            read_ahead,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        configure_client(self.client, address, tls)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_publishes = self._on_publishes

    def _connect_properties(self) -> Properties | None:
        if self.protocol != "5":
            return None
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        properties.ReceiveMaximum = self.receive_maximum
        return properties

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._failure = str(reason_code)
            log.error("broker %s refused ingest: %s", self.address.redacted(), reason_code)
            return
        log.info(
            "connected to %s (session present: %s)", self.address.redacted(), flags.session_present
        )
        if self.protocol == "5":
            options = mqtt.SubscribeOptions(
                qos=1, retainHandling=mqtt.SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
            )
            client.subscribe([(topic_filter, options) for topic_filter in self.subscriptions])
        else:
            client.subscribe([(topic_filter, 1) for topic_filter in self.subscriptions])
        if self.forget:
            log.info("dropping earlier subscriptions: %s", ", ".join(self.forget))
            client.unsubscribe(list(self.forget))
        self.connected.set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[mqtt.ReasonCode],
        properties: Properties | None,
    ) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("subscription to %s refused: %s", ", ".join(self.subscriptions), failed)
            return
        self.subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason_code.is_failure:
            log.warning("lost the broker (%s); reconnecting with backoff", reason_code)

    def _ack_for(self, qos: int, mid: int) -> Callable[[], None]:
        # The subscription is QoS 1, so a message is QoS 1 or (downgraded) 0, with no ack.
        return partial(self._ack_later, mid) if qos == 1 else _no_ack

    def _on_publishes(self, publishes: list[RawPublish]) -> None:
        """The bulk path: one list per chunk read, so one hand-off to the intake thread."""
        received_ms = int(time.time() * 1000)
        ack_for = self._ack_for
        self.sink.submit(
            [
                InboundMessage(
                    # Mosquitto refuses topics that are not UTF-8; any that slipped
                    # through still become a dead letter, not a stopped reader.
                    publish.topic.decode("utf-8", "replace"),
                    publish.payload,
                    received_ms,
                    ack_for(publish.qos, publish.mid),
                )
                for publish in publishes
            ]
        )

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        """The packets paho's own reader takes: those split across two reads, QoS 2 and
        topic aliases."""
        received_ms = int(time.time() * 1000)
        ack = self._ack_for(message.qos, message.mid)
        self.sink.submit([InboundMessage(message.topic, bytes(message.payload), received_ms, ack)])

    def _ack_later(self, mid: int) -> None:
        with self._ack_lock:
            self._unsent_acks.append(mid)

    def flush_acks(self) -> None:
        """Send the acknowledgements made since the last flush in one write: one
        packet queued and one wake-up of paho's thread instead of one per message."""
        with self._ack_lock:
            mids, self._unsent_acks = self._unsent_acks, []
        self.client.ack_many(mids)

    def start(self, timeout_s: float = 15.0) -> None:
        try:
            self.client.connect(
                self.address.host,
                self.address.port,
                keepalive=30,
                clean_start=False if self.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                properties=self._connect_properties(),
            )
        except OSError as exc:
            raise BrokerUnavailable(
                f"cannot reach the MQTT broker at {self.address.redacted()}: {exc}; "
                "start it or fix FACMON_MQTT_URL"
            ) from exc
        self.client.loop_start()
        if not self.subscribed.wait(timeout_s):
            self.client.loop_stop()
            raise BrokerUnavailable(
                f"broker {self.address.redacted()} did not accept the ingest session: "
                f"{self._failure or 'no answer in time'}"
            )

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
