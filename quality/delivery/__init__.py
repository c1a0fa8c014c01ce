"""Delivery of ticket events from the outbox, at least once: a signed webhook, MQTT, and
notifications (WeCom, DingTalk, Feishu, e-mail, webhooks) routed by rules (`notify`)."""

from quality.delivery.base import PendingEvent, Sender, SendResult, SinkDirectory
from quality.delivery.dispatcher import OutboxDispatcher, backoff_seconds
from quality.delivery.mqtt_events import MqttEventSender, event_topic
from quality.delivery.webhook import WebhookSender, sign, signature_problem, verify_signature

__all__ = [
    "MqttEventSender",
    "OutboxDispatcher",
    "PendingEvent",
    "SendResult",
    "Sender",
    "SinkDirectory",
    "WebhookSender",
    "backoff_seconds",
    "event_topic",
    "sign",
    "signature_problem",
    "verify_signature",
]
