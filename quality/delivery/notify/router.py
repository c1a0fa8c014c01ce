"""The notification router: the outbox sink `notify`, which turns each ticket event into
the messages its rules ask for, each an outbox row of its own channel's sink (`n:<id>`).

So every message has the outbox's guarantees: written before it is sent, retried with
backoff until the platform accepts it, in ticket order per channel. Its id is stable,
uuid5 of (event, notice, channel, recipient): routing the same event again (a crash after
the rows were written, before `notify` was marked done) finds the rows there and adds none,
and a receiver sees a retry under the same id (the webhook's `X-Facmon-Event-Id`, the
e-mail's `Message-ID`, the message number in a robot's text).

Quiet hours (the channel's, and each matching rule's): a message that is not critical is
written with its first attempt at the end of the quiet period. Critical messages (the
ticket is critical; an SLA escalation raises the severity) go at once, and take any held
messages of their ticket on that channel with them, first, so the group reads the
ticket's story in order.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock
from quality.delivery.base import PendingEvent, SendResult
from quality.delivery.notify.events import Notice, notices
from quality.delivery.notify.limits import QuietHours
from quality.delivery.notify.render import render
from quality.delivery.notify.routing import Planned, plan
from quality.delivery.notify.store import NotificationStore
from quality.tickets.outbox import OutboxEvent

NOTIFY_SINK: Final = "notify"


def held_until(periods: list[dict[str, Any]], now: datetime) -> datetime | None:
    """The end of the quiet periods covering `now` (periods may chain), or None."""
    moment = now
    parsed = [q for q in (QuietHours.parse(period) for period in periods) if q is not None]
    for _ in range(len(parsed) + 1):
        ends = [end for end in (q.release_at(moment) for q in parsed) if end is not None]
        if not ends:
            break
        moment = max(ends)
    return None if moment == now else moment


class NotificationRouter:
    """A `Sender` for the `notify` sink: delivering one of its rows means writing the
    messages of that event."""

    fans_out = True

    def __init__(
        self,
        store: NotificationStore,
        board_url: str | None = None,
        timezone: str = "Asia/Shanghai",
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.engine: Engine = store.engine
        self.board_url = board_url
        self.zone = ZoneInfo(timezone)
        self.clock = clock or SystemClock()

    def send(self, event: PendingEvent) -> SendResult:
        found = notices(json.loads(event.payload))
        if not found:
            return SendResult.delivered()
        rules, channels = self.store.routing_view()
        if not rules:
            return SendResult.delivered()
        now = self.clock.now()
        with Session(self.engine) as session:
            for notice in found:
                for planned in plan(notice, rules, channels):
                    self._write(session, notice, planned, now)
            session.commit()
        return SendResult.delivered()

    def _write(self, session: Session, notice: Notice, planned: Planned, now: datetime) -> None:
        message_id = planned.message_id(notice)
        sink = planned.channel.sink
        written = session.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.event_id == message_id, OutboxEvent.sink == sink
            )
        )
        if written is not None:
            return
        people = [
            {
                key: value
                for key, value in (("name", p.name), ("mobile", p.mobile), ("email", p.email))
                if value
            }
            for p in planned.people
        ]
        rendered = render(notice, planned.language, message_id, self.board_url, self.zone, people)
        body = {
            **rendered.as_json(),
            "message_id": message_id,
            "source_event_id": notice.source_event_id,
            "event": notice.event,
            "critical": notice.critical,
            "channel": planned.channel.name,
            "channel_type": planned.channel.type,
            "recipient": planned.recipient,
            "rules": planned.rules,
            "to": [p.email for p in planned.people if p.email]
            if planned.channel.type == "email"
            else [],
            "ticket": notice.ticket,
            "occurred_at": notice.occurred_at,
        }
        quiet = [q for q in (planned.channel.quiet_hours, *planned.quiet_hours) if q]
        first_attempt = now if notice.critical else (held_until(quiet, now) or now)
        if notice.critical:
            session.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.sink == sink,
                    OutboxEvent.ticket_id == notice.ticket_id,
                    OutboxEvent.delivered_at.is_(None),
                    OutboxEvent.attempts == 0,
                    OutboxEvent.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )
        session.add(
            OutboxEvent(
                event_id=message_id,
                sink=sink,
                event_type=notice.event,
                ticket_id=notice.ticket_id,
                payload=json.dumps(body, ensure_ascii=False, sort_keys=True, default=str),
                created_at=now,
                attempts=0,
                next_attempt_at=first_attempt,
            )
        )
        session.flush()

    def close(self) -> None:
        pass
