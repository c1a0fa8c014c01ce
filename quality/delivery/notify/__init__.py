"""Notifications where the team already is: routing rules send ticket events to WeCom,
DingTalk and Feishu groups, e-mail and signed webhooks, in each person's language,
through the outbox (see docs/notifications.md)."""

from quality.delivery.notify.events import EVENTS, Notice, notices
from quality.delivery.notify.router import NOTIFY_SINK, NotificationRouter
from quality.delivery.notify.routing import sink_of
from quality.delivery.notify.senders import ChannelSenders, build_sender
from quality.delivery.notify.spec import NotifyError, validate_channel, validate_rule
from quality.delivery.notify.store import NotificationStore, channel_public, rule_public

__all__ = [
    "EVENTS",
    "NOTIFY_SINK",
    "ChannelSenders",
    "Notice",
    "NotificationRouter",
    "NotificationStore",
    "NotifyError",
    "build_sender",
    "channel_public",
    "notices",
    "rule_public",
    "sink_of",
    "validate_channel",
    "validate_rule",
]
