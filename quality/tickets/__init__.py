"""Quality tickets: lifecycle, SLA clocks, repeat faults, outbox events."""

from facmon.tickets.lifecycle import Role, State
from facmon.tickets.models import Ticket, TicketComment, TicketHistory, TicketOccurrence, utcnow
from facmon.tickets.policy import TicketPolicy
from facmon.tickets.store import RecordResult, TicketStore

__all__ = [
    "RecordResult",
    "Role",
    "State",
    "Ticket",
    "TicketComment",
    "TicketHistory",
    "TicketOccurrence",
    "TicketPolicy",
    "TicketStore",
    "utcnow",
]
