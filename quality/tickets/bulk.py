"""Dispatching several tickets at once (批量派单): each ticket is dispatched in its own
transaction, as `TicketStore.assign` does for one, so a ticket is either dispatched with its
history entry and events or left exactly as it was; the answer says which, per ticket.

>>> BulkOutcome(3, False, "open", "no ticket 3").public()["ok"]
False
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from quality.tickets.lifecycle import IllegalTransition, NoteRequired, NotPermitted, Role
from quality.tickets.models import Ticket
from quality.tickets.store import TicketConflict, TicketNotFound, TicketStore

MAX_BULK: Final = 200


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    ticket_id: int
    ok: bool
    state: str | None
    error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "ok": self.ok,
            "state": self.state,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Dispatch:
    assignee: str
    note: str | None = None
    contractor: str | None = None
    team: str | None = None


def _not_found(ticket_id: int) -> BulkOutcome:
    return BulkOutcome(ticket_id, False, None, f"no ticket {ticket_id} / 没有工单 {ticket_id}")


def dispatch_many(
    store: TicketStore,
    ticket_ids: Sequence[int],
    dispatch: Dispatch,
    actor: str,
    role: Role,
    visible: Callable[[Ticket], bool] = lambda _ticket: True,
) -> list[BulkOutcome]:
    """Dispatch (or reassign) each ticket of `ticket_ids` once, in the order given. A ticket
    the caller may not see (`visible`) answers as one that does not exist."""
    outcomes: list[BulkOutcome] = []
    for ticket_id in dict.fromkeys(ticket_ids):
        try:
            current = store.require(ticket_id)
        except TicketNotFound:
            outcomes.append(_not_found(ticket_id))
            continue
        if not visible(current):
            outcomes.append(_not_found(ticket_id))
            continue
        try:
            ticket = store.assign(
                ticket_id,
                dispatch.assignee,
                actor,
                role,
                dispatch.note,
                contractor=dispatch.contractor,
                team=dispatch.team,
            )
        except (IllegalTransition, TicketConflict, NotPermitted, NoteRequired, ValueError) as error:
            state = store.require(ticket_id).state
            outcomes.append(BulkOutcome(ticket_id, False, state, str(error)))
            continue
        outcomes.append(BulkOutcome(ticket_id, True, ticket.state))
    return outcomes
