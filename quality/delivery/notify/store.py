"""Channels and rules in the database: created, replaced, listed and removed in one
transaction each; the router and the senders read them from here."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock
from quality.delivery.notify.models import NotificationChannel, NotificationRule
from quality.delivery.notify.routing import ChannelView, Recipient, RuleView, sink_of
from quality.delivery.notify.spec import ChannelSpec, NotifyError, RuleSpec
from quality.i18n import texts
from quality.tickets.outbox import OutboxEvent

_SECRET_PARAMS = ("key", "access_token")


def redact_url(url: str) -> str:
    """The URL with its credentials hidden: robot keys in the query, Feishu's hook token.

    >>> redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef123")
    'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd…'
    >>> redact_url("https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef")
    'https://open.feishu.cn/open-apis/bot/v2/hook/0123…'
    """
    parts = urlsplit(url)
    query = [
        (name, value[:4] + "…" if name in _SECRET_PARAMS else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    path = parts.path
    if "/hook/" in path:
        head, _, token = path.rpartition("/hook/")
        path = f"{head}/hook/{token[:4]}…"
    # Shown, never requested: the query is left readable rather than URL-encoded.
    shown_query = "&".join(f"{name}={value}" for name, value in query)
    return urlunsplit((parts.scheme, parts.netloc, path, shown_query, ""))


def channel_public(channel: NotificationChannel) -> dict[str, Any]:
    config = dict(channel.config)
    shown: dict[str, Any] = {}
    if "url" in config:
        shown["url"] = redact_url(str(config["url"]))
    if "msgtype" in config:
        shown["msgtype"] = config["msgtype"]
    if channel.type in ("dingtalk", "feishu", "webhook"):
        shown["secret_set"] = bool(config.get("secret"))
    return {
        "id": channel.id,
        "name": channel.name,
        "type": channel.type,
        **shown,
        "rate_per_minute": channel.rate_per_minute,
        "burst": channel.burst,
        "quiet_hours": channel.quiet_hours,
        "enabled": channel.enabled,
        "sink": sink_of(channel.id),
        "created_at": channel.created_at,
        "updated_at": channel.updated_at,
    }


def rule_public(rule: NotificationRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "enabled": rule.enabled,
        "match": rule.match,
        "channels": rule.channels,
        "recipients": rule.recipients,
        "language": rule.language,
        "quiet_hours": rule.quiet_hours,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


class NotificationStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    # -- channels -------------------------------------------------------------

    def channels(self) -> list[NotificationChannel]:
        with Session(self.engine) as session:
            return list(
                session.scalars(select(NotificationChannel).order_by(NotificationChannel.id))
            )

    def channel(self, channel_id: int) -> NotificationChannel:
        with Session(self.engine) as session:
            found = session.get(NotificationChannel, channel_id)
        if found is None:
            raise NotifyError(
                404, None, "not_found", id=channel_id, what=texts("notifications.what.channel")
            )
        return found

    def channel_named(self, name: str) -> NotificationChannel | None:
        with Session(self.engine) as session:
            return session.scalars(
                select(NotificationChannel).where(NotificationChannel.name == name)
            ).first()

    def channel_types(self) -> dict[str, str]:
        return {channel.name: channel.type for channel in self.channels()}

    def add_channel(self, spec: ChannelSpec) -> NotificationChannel:
        now = self.clock.now()
        channel = NotificationChannel(
            name=spec.name,
            type=spec.type,
            config=spec.config,
            rate_per_minute=spec.rate_per_minute,
            burst=spec.burst,
            quiet_hours=spec.quiet_hours,
            enabled=spec.enabled,
            created_at=now,
            updated_at=now,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(channel)
            self._commit(session, spec.name)
        return channel

    def replace_channel(self, channel_id: int, spec: ChannelSpec) -> NotificationChannel:
        old = self.channel(channel_id)
        with Session(self.engine, expire_on_commit=False) as session:
            if old.name != spec.name:
                # Rules name channels: a rename carries them along in the same transaction.
                for rule in session.scalars(select(NotificationRule)):
                    if old.name in rule.channels:
                        rule.channels = [spec.name if c == old.name else c for c in rule.channels]
            session.execute(
                update(NotificationChannel)
                .where(NotificationChannel.id == channel_id)
                .values(
                    name=spec.name,
                    type=spec.type,
                    config=spec.config,
                    rate_per_minute=spec.rate_per_minute,
                    burst=spec.burst,
                    quiet_hours=spec.quiet_hours,
                    enabled=spec.enabled,
                    updated_at=self.clock.now(),
                )
            )
            self._commit(session, spec.name)
        return self.channel(channel_id)

    def remove_channel(self, channel_id: int) -> int:
        """Remove a channel no rule names; its undelivered messages go with it (counted)."""
        channel = self.channel(channel_id)
        users = [rule.name for rule in self.rules() if channel.name in rule.channels]
        if users:
            raise NotifyError(
                409, "channels", "channel_in_use", name=channel.name, rules=", ".join(users)
            )
        with Session(self.engine) as session:
            result = session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.sink == sink_of(channel_id), OutboxEvent.delivered_at.is_(None)
                )
            )
            dropped = getattr(result, "rowcount", 0)
            session.execute(delete(NotificationChannel).where(NotificationChannel.id == channel_id))
            session.commit()
        return int(dropped or 0)

    # -- rules ------------------------------------------------------------------

    def rules(self) -> list[NotificationRule]:
        with Session(self.engine) as session:
            return list(session.scalars(select(NotificationRule).order_by(NotificationRule.id)))

    def rule(self, rule_id: int) -> NotificationRule:
        with Session(self.engine) as session:
            found = session.get(NotificationRule, rule_id)
        if found is None:
            raise NotifyError(
                404, None, "not_found", id=rule_id, what=texts("notifications.what.rule")
            )
        return found

    def add_rule(self, spec: RuleSpec) -> NotificationRule:
        now = self.clock.now()
        rule = NotificationRule(**_rule_values(spec), created_at=now, updated_at=now)
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(rule)
            self._commit(session, spec.name)
        return rule

    def replace_rule(self, rule_id: int, spec: RuleSpec) -> NotificationRule:
        self.rule(rule_id)
        with Session(self.engine) as session:
            session.execute(
                update(NotificationRule)
                .where(NotificationRule.id == rule_id)
                .values(**_rule_values(spec), updated_at=self.clock.now())
            )
            self._commit(session, spec.name)
        return self.rule(rule_id)

    def remove_rule(self, rule_id: int) -> None:
        self.rule(rule_id)
        with Session(self.engine) as session:
            session.execute(delete(NotificationRule).where(NotificationRule.id == rule_id))
            session.commit()

    # -- what routing reads -------------------------------------------------------

    def routing_view(self) -> tuple[list[RuleView], dict[str, ChannelView]]:
        """Enabled rules and enabled channels, by name."""
        with Session(self.engine) as session:
            rules = session.scalars(
                select(NotificationRule).where(NotificationRule.enabled.is_(True))
            ).all()
            channels = session.scalars(
                select(NotificationChannel).where(NotificationChannel.enabled.is_(True))
            ).all()
            return (
                [
                    RuleView(
                        rule.id,
                        rule.name,
                        dict(rule.match),
                        tuple(rule.channels),
                        tuple(Recipient.of(person) for person in rule.recipients),
                        rule.language,
                        rule.quiet_hours,
                    )
                    for rule in rules
                ],
                {
                    channel.name: ChannelView(
                        channel.id, channel.name, channel.type, channel.enabled, channel.quiet_hours
                    )
                    for channel in channels
                },
            )

    def pending(self) -> dict[str, int]:
        """Undelivered messages per channel name (held by quiet hours or a rate limit, or
        failing): what the API shows next to each channel."""
        by_sink = {sink_of(channel.id): channel.name for channel in self.channels()}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(OutboxEvent.sink, func.count())
                .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.sink.in_(list(by_sink)))
                .group_by(OutboxEvent.sink)
            ).all()
        return {by_sink[sink]: int(count) for sink, count in rows}

    def _commit(self, session: Session, name: str) -> None:
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise NotifyError(409, "name", "name_taken", name=name) from None


def _rule_values(spec: RuleSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "enabled": spec.enabled,
        "match": spec.match,
        "channels": spec.channels,
        "recipients": spec.recipients,
        "language": spec.language,
        "quiet_hours": spec.quiet_hours,
    }
