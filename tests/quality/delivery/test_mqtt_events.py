"""Ticket events on a real Mosquitto: QoS 1, the documented topics, and broker outages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import Engine

from contract.clock import ManualClock
from contract.topics import DeviceRef
from gateway.connection import parse_mqtt_url
from quality.delivery import MqttEventSender, OutboxDispatcher, PendingEvent, event_topic
from quality.tickets import Role, TicketStore
from tests.conftest import unique, wait_until
from tests.quality.delivery.conftest import finding, outbox_rows
from tools.servers import MosquittoServer

MQTT_ONLY = ("mqtt",)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    qos: int
    payload: bytes


class Subscriber:
    """Listens to one site's ticket events; resubscribes after every reconnect."""

    def __init__(self, server: MosquittoServer, site: str) -> None:
        self.messages: list[Message] = []
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("sub"))
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = lambda client, *_: client.subscribe(
            f"facility/v1/tickets/{site}/#", qos=1
        )
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_disconnect = lambda *_: self.subscribed.clear()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", server.port, keepalive=30)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Message(msg.topic, msg.qos, bytes(msg.payload)))

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Message]:
        wait_until(lambda: len(self.snapshot()) >= count, timeout_s, f"{count} messages")
        return self.snapshot()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


MakeSubscriber = Callable[[MosquittoServer, str], Subscriber]
MakeSender = Callable[[MosquittoServer], MqttEventSender]


@pytest.fixture
def make_subscriber() -> Iterator[MakeSubscriber]:
    made: list[Subscriber] = []

    def make(server: MosquittoServer, site: str) -> Subscriber:
        made.append(Subscriber(server, site))
        return made[-1]

    yield make
    for subscriber in made:
        subscriber.close()


@pytest.fixture
def make_sender() -> Iterator[MakeSender]:
    made: list[MqttEventSender] = []

    def make(server: MosquittoServer) -> MqttEventSender:
        address = parse_mqtt_url(server.url)
        made.append(
            MqttEventSender(address, unique("events"), publish_timeout_s=5, max_reconnect_delay_s=2)
        )
        return made[-1]

    yield make
    for sender in made:
        sender.close()


def test_events_arrive_at_qos1_on_their_topics(
    mosquitto: MosquittoServer,
    site: str,
    sqlite_engine: Engine,
    clock: ManualClock,
    make_subscriber: MakeSubscriber,
    make_sender: MakeSender,
) -> None:
    pump = DeviceRef(site, "b1", "pump", "pump-01")
    lift = DeviceRef(site, "b2", "elevator", "lift-02")
    subscriber = make_subscriber(mosquitto, site)
    wait_until(subscriber.subscribed.is_set, 15, "subscription")
    store = TicketStore(sqlite_engine, clock=clock, sinks=MQTT_ONLY)
    pump_ticket = store.record(finding(pump)).ticket_id
    store.record(finding(lift, "door_fault"))
    store.transition(
        pump_ticket, "dispatched", actor="ann", role=Role.ENGINEER, note="x", assignee="team-a"
    )

    sender = make_sender(mosquitto)
    assert sender.start(wait_s=15), "sender did not connect"
    dispatcher = OutboxDispatcher(sqlite_engine, {"mqtt": sender}, clock)
    assert dispatcher.run_once() == 3
    messages = subscriber.wait_for(3)

    rows = outbox_rows(sqlite_engine)
    root = f"facility/v1/tickets/{site}"
    assert [(m.topic, m.payload) for m in messages] == [
        (f"{root}/b1/pump-01/opened", rows[0].payload.encode()),
        (f"{root}/b2/lift-02/opened", rows[1].payload.encode()),
        (f"{root}/b1/pump-01/transitioned", rows[2].payload.encode()),
    ]
    assert {m.qos for m in messages} == {1}
    assert all(row.delivered_at is not None and row.attempts == 1 for row in rows)
    assert dispatcher.delivered.value(sink="mqtt") == 3


def test_broker_outage_between_events_loses_nothing(
    own_mosquitto: MosquittoServer,
    site: str,
    sqlite_engine: Engine,
    clock: ManualClock,
    make_subscriber: MakeSubscriber,
    make_sender: MakeSender,
) -> None:
    first, second = DeviceRef(site, "b1", "pump", "pump-01"), DeviceRef(site, "b1", "pump", "p2")
    subscriber = make_subscriber(own_mosquitto, site)
    sender = make_sender(own_mosquitto)
    assert sender.start(wait_s=15)
    wait_until(subscriber.subscribed.is_set, 15, "subscription")
    store = TicketStore(sqlite_engine, clock=clock, sinks=MQTT_ONLY)
    dispatcher = OutboxDispatcher(sqlite_engine, {"mqtt": sender}, clock)

    first_ticket = store.record(finding(first)).ticket_id
    assert dispatcher.run_once() == 1
    assert len(subscriber.wait_for(1)) == 1

    own_mosquitto.stop()
    wait_until(lambda: not sender.connected.is_set(), 15, "the sender to notice the outage")
    store.transition(
        first_ticket, "dispatched", actor="ann", role=Role.ENGINEER, note="x", assignee="team-a"
    )
    store.record(finding(second))
    assert dispatcher.run_once() == 0
    waiting = [row for row in outbox_rows(sqlite_engine) if row.delivered_at is None]
    assert len(waiting) == 2
    assert all(row.attempts == 1 and "not connected" in (row.last_error or "") for row in waiting)

    own_mosquitto.start()
    wait_until(sender.connected.is_set, 30, "the sender to reconnect")
    wait_until(subscriber.subscribed.is_set, 30, "the subscriber to resubscribe")

    def drained() -> bool:
        clock.advance(seconds=5)
        dispatcher.run_once()
        return dispatcher.pending_count() == 0

    wait_until(drained, 30, "the outbox to drain")
    messages = subscriber.wait_for(3)

    rows = outbox_rows(sqlite_engine)
    received = [m.payload for m in messages]
    assert sorted(received) == sorted(row.payload.encode() for row in rows), "lost or doubled"
    first_topics = [m.topic for m in messages if "/pump-01/" in m.topic]
    assert first_topics == [
        f"facility/v1/tickets/{site}/b1/pump-01/opened",
        f"facility/v1/tickets/{site}/b1/pump-01/transitioned",
    ]
    assert {m.qos for m in messages} == {1}


def test_sender_started_while_the_broker_is_down_connects_later(
    own_mosquitto: MosquittoServer, make_sender: MakeSender
) -> None:
    own_mosquitto.stop()
    sender = make_sender(own_mosquitto)
    assert not sender.start()
    event = PendingEvent(1, "e-1", "mqtt", "opened", 1, _payload(), 0)
    result = sender.send(event)
    assert not result.ok and "not connected" in result.reason
    own_mosquitto.start()
    wait_until(sender.connected.is_set, 30, "the sender to connect")
    assert sender.send(event).ok


def _payload() -> str:
    return '{"event_id": "e-1", "ticket": {"building": "b1", "device_id": "d1", "site": "s1"}}'


def test_topic_levels_are_validated() -> None:
    assert (
        event_topic("hq", "b1", "pump-07", "opened") == "facility/v1/tickets/hq/b1/pump-07/opened"
    )
    for bad in ("", "a/b", "a+", "#"):
        with pytest.raises(ValueError):
            event_topic(bad, "b1", "pump-07", "opened")
