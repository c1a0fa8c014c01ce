"""Delivery of ticket events from the outbox: a signed webhook and MQTT, at least once."""

from facmon.delivery.base import PendingEvent, Sender, SendResult
from facmon.delivery.dispatcher import OutboxDispatcher, backoff_seconds
from facmon.delivery.mqtt_events import MqttEventSender, event_topic
from facmon.delivery.webhook import WebhookSender, sign, signature_problem, verify_signature

__all__ = [
    "MqttEventSender",
    "OutboxDispatcher",
    "PendingEvent",
    "SendResult",
    "Sender",
    "WebhookSender",
    "backoff_seconds",
    "event_topic",
    "sign",
    "signature_problem",
    "verify_signature",
]
