"""Which rules a notice matches, and the messages that follow: one per channel and
recipient, whatever the number of rules that name them.

A rule matches on site, building, kind, severity, event, contractor and (for SLA
escalations) stage; an empty list matches anything. E-mail goes to each person with an
address, in that person's language; a group robot or a webhook gets one message per
language among the rule's people, @-mentioning them (by mobile number) in it, or one in the
rule's language when it names nobody.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from quality.delivery.notify.events import Notice

MATCH_FIELDS: Final = (
    "sites",
    "buildings",
    "kinds",
    "severities",
    "events",
    "contractors",
    "stages",
)
# The namespace of message ids: uuid5(namespace, "<event id>/<event>/<channel>/<recipient>").
MESSAGE_NAMESPACE: Final = uuid.UUID("6f1c3e0a-5d4b-4f7e-9a51-2b8d7c0e4a19")


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    language: str
    email: str | None = None
    mobile: str | None = None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Recipient:
        return cls(
            str(raw.get("name") or raw.get("email") or raw.get("mobile") or ""),
            str(raw.get("language") or "zh-CN"),
            raw.get("email") or None,
            raw.get("mobile") or None,
        )


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule as routing reads it."""

    id: int
    name: str
    match: dict[str, list[str]]
    channels: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    language: str
    quiet_hours: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: int
    name: str
    type: str
    enabled: bool
    quiet_hours: dict[str, Any] | None = None

    @property
    def sink(self) -> str:
        return sink_of(self.id)


@dataclass(slots=True)
class Planned:
    """One message to send: a channel, a recipient key, a language, who to mention."""

    channel: ChannelView
    recipient: str
    language: str
    people: list[Recipient] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    quiet_hours: list[dict[str, Any]] = field(default_factory=list)

    def message_id(self, notice: Notice) -> str:
        key = f"{notice.source_event_id}/{notice.event}/{self.channel.id}/{self.recipient}"
        return str(uuid.uuid5(MESSAGE_NAMESPACE, key))


def sink_of(channel_id: int) -> str:
    """The outbox sink of a channel's messages.

    >>> sink_of(12)
    'n:12'
    """
    return f"n:{channel_id}"


def _value(notice: Notice, match_field: str) -> str | None:
    ticket = notice.ticket
    value = {
        "sites": ticket.get("site"),
        "buildings": ticket.get("building"),
        "kinds": ticket.get("kind"),
        "severities": ticket.get("severity"),
        "events": notice.event,
        "contractors": ticket.get("contractor"),
        "stages": notice.stage,
    }[match_field]
    return None if value is None else str(value)


def matches(rule: RuleView, notice: Notice) -> bool:
    """Every non-empty list of the rule holds the notice's value.

    >>> rule = RuleView(1, "r", {"sites": ["hq"], "events": ["escalated"]}, ("c",), (), "en")
    >>> n = Notice("escalated", "e", {"site": "hq"}, "", stage="rectify")
    >>> matches(rule, n), matches(rule, Notice("opened", "e", {"site": "hq"}, ""))
    (True, False)
    """
    for match_field in MATCH_FIELDS:
        wanted = rule.match.get(match_field) or []
        if wanted and _value(notice, match_field) not in wanted:
            return False
    return True


def plan(notice: Notice, rules: list[RuleView], channels: dict[str, ChannelView]) -> list[Planned]:
    """The messages for `notice`: deduplicated by (channel, recipient) across rules."""
    planned: dict[tuple[int, str], Planned] = {}
    for rule in rules:
        if not matches(rule, notice):
            continue
        for channel_name in rule.channels:
            channel = channels.get(channel_name)
            if channel is None:
                continue
            for recipient, language, people in _targets(channel, rule):
                item = planned.setdefault(
                    (channel.id, recipient), Planned(channel, recipient, language)
                )
                item.people.extend(p for p in people if p not in item.people)
                item.rules.append(rule.name)
                if rule.quiet_hours:
                    item.quiet_hours.append(rule.quiet_hours)
    return list(planned.values())


def _targets(channel: ChannelView, rule: RuleView) -> list[tuple[str, str, list[Recipient]]]:
    if channel.type == "email":
        return [
            (f"email:{person.email.lower()}", person.language, [person])
            for person in rule.recipients
            if person.email
        ]
    by_language: dict[str, list[Recipient]] = {}
    for person in rule.recipients:
        by_language.setdefault(person.language, []).append(person)
    if not by_language:
        by_language[rule.language] = []
    return [(f"group:{language}", language, people) for language, people in by_language.items()]
