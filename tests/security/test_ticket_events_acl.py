"""Ticket events and the broker's ACL: a refused event stays in the outbox; the shipped
accounts deliver the service's events."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from contract.clock import ManualClock
from contract.topics import DeviceRef
from facmon.cli import main
from gateway.connection import parse_mqtt_url
from quality.delivery import MqttEventSender, OutboxDispatcher
from quality.tickets import TicketStore
from tests.conftest import unique, wait_until
from tests.quality.delivery.conftest import finding, outbox_rows
from tests.security.clients import V5Client
from tests.security.shipped_broker import ShippedBroker
from tools.servers import MosquittoServer

MQTT_ONLY = ("mqtt",)


def _sender(url: str) -> MqttEventSender:
    sender = MqttEventSender(parse_mqtt_url(url), unique("events"), publish_timeout_s=5)
    assert sender.start(wait_s=15), "the ticket events session did not connect"
    return sender


def test_an_event_the_broker_refuses_stays_undelivered_and_is_retried(
    tmp_path: Path, site: str, sqlite_engine: Engine, clock: ManualClock
) -> None:
    """An ACL that lets this login read but not write: the PUBACK says 0x87 Not authorized."""
    acl = tmp_path / "acl"
    acl.write_text("topic read facility/#\n")
    broker = MosquittoServer(tmp_path / "broker", extra_config=f"acl_file {acl}\n")
    broker.workdir.mkdir(parents=True)
    broker.start()
    listener = V5Client(broker.port, None, None, unique("listener"))
    sender = _sender(broker.url)
    try:
        assert listener.subscribe(f"facility/v1/tickets/{site}/#") == 1
        TicketStore(sqlite_engine, clock=clock, sinks=MQTT_ONLY).record(
            finding(DeviceRef(site, "b1", "pump", "pump-01"))
        )
        dispatcher = OutboxDispatcher(sqlite_engine, {"mqtt": sender}, clock)
        for attempt in (1, 2, 3):
            assert dispatcher.run_once() == 0
            (row,) = outbox_rows(sqlite_engine)
            assert row.delivered_at is None and row.attempts == attempt
            assert "Not authorized" in (row.last_error or "") and "0x87" in (row.last_error or "")
            clock.advance(seconds=3600)  # past any backoff
        assert dispatcher.delivered.value(sink="mqtt") == 0
        assert listener.received() == []
    finally:
        sender.close()
        listener.close()
        broker.stop()


def test_the_service_account_delivers_ticket_events_on_the_shipped_broker(
    tmp_path: Path,
    site: str,
    sqlite_engine: Engine,
    clock: ManualClock,
) -> None:
    broker = ShippedBroker(tmp_path / "broker")
    env_file = tmp_path / ".env"
    args = ["devices", "service-passwords", "facmon", "--file", str(broker.dynsec_file)]
    assert main([*args, "--env-file", str(env_file)]) == 0
    password = env_file.read_text().strip().split("=", 1)[1]
    broker.start()
    listener = V5Client(broker.port, "facmon", password, unique("listener"))
    sender = _sender(broker.url_for("facmon", password))
    try:
        assert listener.subscribe(f"facility/v1/tickets/{site}/#") == 1
        TicketStore(sqlite_engine, clock=clock, sinks=MQTT_ONLY).record(
            finding(DeviceRef(site, "b1", "pump", "pump-01"))
        )
        dispatcher = OutboxDispatcher(sqlite_engine, {"mqtt": sender}, clock)
        assert dispatcher.run_once() == 1
        (row,) = outbox_rows(sqlite_engine)
        assert row.delivered_at is not None
        wait_until(listener.received, what="the ticket event at the subscriber")
        assert listener.received() == [
            (f"facility/v1/tickets/{site}/b1/pump-01/opened", row.payload.encode())
        ]
    finally:
        sender.close()
        listener.close()
        broker.stop()
