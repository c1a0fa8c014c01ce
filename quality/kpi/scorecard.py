"""Contractor scorecards (维保单位考评): how each contractor handled the tickets
dispatched to it over a period, by the same ticket arithmetic as the site KPIs
(`quality.kpi.compute`), so a contractor's figures add up to the site's.

A ticket counts for the contractor its dispatch named last (the responsible party, who
also gets its cards); tickets never dispatched to a contractor are left out.

>>> from datetime import UTC, datetime
>>> from quality.kpi.records import Period, TicketRecord, Transition
>>> t0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
>>> at = lambda minutes: datetime(2027, 3, 1, 8, minutes, tzinfo=UTC)
>>> ticket = TicketRecord(
...     1, "p1", "hq", "b1", "pump", "leakage", "major", t0, at(30), at(50),
...     history=(Transition(t0, "open"), Transition(at(10), "dispatched", "open"),
...              Transition(at(16), "acknowledged", "dispatched"),
...              Transition(at(40), "rectified", "acknowledged")),
...     contractor="Clear Water")
>>> card = scorecards(Period(t0, at(59)), [ticket])["Clear Water"]
>>> card.tickets, card.response_time_s, card.on_time_rectification_pct
(1, 360.0, 100.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from contract.clock import to_ms
from quality.kpi.compute import GroupKpis, _add_ticket
from quality.kpi.records import Period, TicketRecord


@dataclass(slots=True)
class Scorecard:
    contractor: str
    kpis: GroupKpis = field(default_factory=GroupKpis)
    yellow_cards: int = 0
    red_cards: int = 0

    @property
    def tickets(self) -> int:
        """Tickets opened in the period and dispatched to this contractor."""
        return self.kpis.opened

    @property
    def response_time_s(self) -> float | None:
        """Mean dispatch-to-acknowledge (接单) time of the period's acknowledgements."""
        return self.kpis.response_time_s

    @property
    def on_time_rectification_pct(self) -> float | None:
        """Share of the period's rectifications (整改) made by their deadline."""
        return self.kpis.timeliness_pct

    @property
    def first_time_fix_pct(self) -> float | None:
        """Share of the period's close-outs (销项) never reopened."""
        return self.kpis.first_time_fix_pct

    @property
    def repeats(self) -> int:
        """Tickets of the period that repeat a recent fault (false alarms excepted)."""
        return self.kpis.repeats


def scorecards(
    period: Period, tickets: Iterable[TicketRecord], as_of: datetime | None = None
) -> dict[str, Scorecard]:
    """One scorecard per contractor that had a ticket event in the period."""
    as_of_ms = to_ms(as_of or period.end)
    cards: dict[str, Scorecard] = {}
    for ticket in tickets:
        if ticket.contractor is None:
            continue
        card = cards.get(ticket.contractor) or Scorecard(ticket.contractor)
        touched = _add_ticket(card.kpis, ticket, period, as_of_ms, chronic_since_ms=period.end_ms)
        opened_ms = to_ms(ticket.opened_at)
        if period.start_ms <= opened_ms < period.end_ms and not ticket.false_alarm:
            card.yellow_cards += ticket.card == "yellow"
            card.red_cards += ticket.card == "red"
        if touched:
            cards[ticket.contractor] = card
    return cards
