"""What a person is told about: the notification events a ticket event stands for.

The outbox carries the ticket store's events (`opened`, `transitioned`, `escalated`,
`reopened`); people think in the loop's steps, so a `transitioned` event to `dispatched`
is the notice `dispatched` (派单), an `escalated` one is an SLA escalation of one stage,
and an `opened` ticket carrying a yellow or red card is also `card_issued` (黄牌/红牌).

>>> [n.event for n in notices({"type": "transitioned", "event_id": "e",
...     "transition": {"to": "rectified"}, "ticket": {"card": "none"}})]
['rectified']
>>> [n.event for n in notices({"type": "opened", "event_id": "e", "ticket": {"card": "red"}})]
['opened', 'card_issued']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

EVENTS: Final = (
    "opened",
    "dispatched",
    "acknowledged",
    "rectified",
    "verified",
    "closed",
    "reopened",
    "escalated",
    "severity_raised",
    "card_issued",
)
_STEPS: Final = ("dispatched", "acknowledged", "rectified", "verified", "closed")


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification event about one ticket, from one outbox event."""

    event: str
    source_event_id: str
    ticket: dict[str, Any]
    occurred_at: str
    stage: str | None = None  # the SLA stage of an escalation
    actor: str | None = None
    note: str | None = None
    severity_from: str | None = None

    @property
    def ticket_id(self) -> int:
        return int(self.ticket.get("id") or 0)

    @property
    def critical(self) -> bool:
        """Critical tickets (an escalation raises the severity) are never held by quiet hours."""
        return self.ticket.get("severity") == "critical"


def notices(event: dict[str, Any]) -> list[Notice]:
    """The notices one outbox event stands for (none for a change nobody is told about)."""
    ticket = dict(event.get("ticket") or {})
    source = str(event.get("event_id", ""))
    occurred = str(event.get("occurred_at", ""))

    def notice(name: str, **extra: Any) -> Notice:
        return Notice(name, source, ticket, occurred, **extra)

    kind = event.get("type")
    raw_transition = event.get("transition")
    transition: dict[str, Any] = raw_transition if isinstance(raw_transition, dict) else {}
    found: list[Notice] = []
    if kind == "opened":
        found.append(notice("opened"))
        if ticket.get("card") in ("yellow", "red"):
            found.append(notice("card_issued"))
    elif kind == "reopened":
        found.append(notice("reopened", actor=transition.get("actor"), note=transition.get("note")))
    elif kind == "escalated":
        stage = (event.get("escalation") or {}).get("stage")
        found.append(notice("escalated", stage=None if stage is None else str(stage)))
    elif kind == "transitioned":
        severity = event.get("severity")
        if transition.get("to") in _STEPS:
            step = str(transition["to"])
            found.append(notice(step, actor=transition.get("actor"), note=transition.get("note")))
        elif isinstance(severity, dict):
            found.append(notice("severity_raised", severity_from=severity.get("from")))
    return found
