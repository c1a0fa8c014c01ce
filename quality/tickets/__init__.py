"""Quality tickets: lifecycle, SLA clocks, repeat faults, outbox events."""

from contract.clock import utcnow
from quality.tickets.lifecycle import Role, State
from quality.tickets.models import Ticket, TicketComment, TicketHistory, TicketOccurrence
from quality.tickets.policy import TicketPolicy
from quality.tickets.store import RecordResult, TicketStore

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
