"""The channels as the dispatcher sees them: a sink per channel (`n:<id>`), its sender
built from the stored settings (rebuilt when they change), and its rate limit.

A disabled channel has no sender: its messages wait, and go out once it is enabled again.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock
from quality.delivery.base import PendingEvent, Sender, SendResult
from quality.delivery.dingtalk import DingTalkSender
from quality.delivery.email_smtp import EmailSender, SmtpSettings
from quality.delivery.feishu import FeishuSender
from quality.delivery.notify.limits import TokenBucket
from quality.delivery.notify.models import NotificationChannel
from quality.delivery.notify.routing import sink_of
from quality.delivery.webhook import WebhookSender
from quality.delivery.wecom import WeComSender


class _NoRelay:
    """E-mail while no SMTP relay is configured: every attempt fails with the fix, and the
    messages wait until the service runs with one."""

    def send(self, event: PendingEvent) -> SendResult:
        return SendResult.failed("no SMTP relay: set FACMON_SMTP_HOST (and port, security, login)")

    def close(self) -> None:
        pass


def build_sender(
    channel: NotificationChannel,
    smtp: SmtpSettings | None,
    clock: Clock,
    timeout_s: float = 10.0,
) -> Sender:
    config = channel.config
    if channel.type == "wecom":
        return WeComSender(config["url"], config.get("msgtype", "markdown"), timeout_s)
    if channel.type == "dingtalk":
        return DingTalkSender(
            config["url"], config.get("secret"), config.get("msgtype", "markdown"), timeout_s, clock
        )
    if channel.type == "feishu":
        return FeishuSender(
            config["url"],
            config.get("secret"),
            config.get("msgtype", "interactive"),
            timeout_s,
            clock,
        )
    if channel.type == "webhook":
        return WebhookSender(config["url"], config["secret"], timeout_s, clock)
    if channel.type == "email":
        return EmailSender(smtp) if smtp is not None else _NoRelay()
    raise ValueError(f"unknown channel type {channel.type!r}")


def channel_id_of(sink: str) -> int | None:
    """The channel of a sink name, None for another kind of sink.

    >>> channel_id_of("n:7"), channel_id_of("webhook")
    (7, None)
    """
    prefix, _, rest = sink.partition(":")
    return int(rest) if prefix == "n" and rest.isdigit() else None


class ChannelSenders:
    """The `SinkDirectory` of notification channels."""

    def __init__(
        self,
        engine: Engine,
        smtp: SmtpSettings | None = None,
        clock: Clock | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.engine = engine
        self.smtp = smtp
        self.clock = clock or SystemClock()
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._senders: dict[int, tuple[datetime, Sender]] = {}
        self._buckets: dict[int, tuple[float, int, TokenBucket]] = {}

    def _channel(self, channel_id: int) -> NotificationChannel | None:
        with Session(self.engine) as session:
            return session.get(NotificationChannel, channel_id)

    def sinks(self) -> list[str]:
        with Session(self.engine) as session:
            ids = session.scalars(select(NotificationChannel.id).order_by(NotificationChannel.id))
            return [sink_of(channel_id) for channel_id in ids]

    def sender_for(self, sink: str) -> Sender | None:
        channel_id = channel_id_of(sink)
        channel = None if channel_id is None else self._channel(channel_id)
        if channel is None or not channel.enabled:
            return None
        with self._lock:
            cached = self._senders.get(channel.id)
            if cached is not None and cached[0] == channel.updated_at:
                return cached[1]
            if cached is not None:
                cached[1].close()
            sender = build_sender(channel, self.smtp, self.clock, self.timeout_s)
            self._senders[channel.id] = (channel.updated_at, sender)
            if self._buckets.get(channel.id, (None, None))[:2] != (
                channel.rate_per_minute,
                channel.burst,
            ):
                self._buckets[channel.id] = (
                    channel.rate_per_minute,
                    channel.burst,
                    TokenBucket(channel.rate_per_minute, channel.burst),
                )
            return sender

    def wait_s(self, sink: str, now: datetime) -> float:
        """0 with a token taken, or the seconds until the channel may send again."""
        channel_id = channel_id_of(sink)
        with self._lock:
            bucket = None if channel_id is None else self._buckets.get(channel_id)
        return 0.0 if bucket is None else bucket[2].take(now)

    def close(self) -> None:
        with self._lock:
            for _, sender in self._senders.values():
                sender.close()
            self._senders.clear()
