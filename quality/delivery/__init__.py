"""Delivery of ticket events from the outbox: a signed webhook and MQTT, at least once."""

from quality.delivery.base import PendingEvent, Sender, SendResult
from quality.delivery.dispatcher import OutboxDispatcher, backoff_seconds
from quality.delivery.mqtt_events import MqttEventSender, event_topic
from quality.delivery.webhook import WebhookSender, sign, signature_problem, verify_signature

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
