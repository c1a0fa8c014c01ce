"""Tickets printed as detectors open them, with their property: two properties may have
a device of the same id (`demo/door-1`, `riverside/door-1`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from facmon.demo.words import fault_zh, line, severity_zh
from facmon.service import Service

POLL_S = 0.5


class TicketPrinter(threading.Thread):
    def __init__(self, service: Service, stop: threading.Event, say: Callable[[str], None]):
        super().__init__(name="demo-tickets", daemon=True)
        self.service, self.stop_event, self.say = service, stop, say
        self._printed: set[int] = set()

    def printed(self, ticket_id: int) -> bool:
        """Whether the ticket's line is out: the walk-through waits for it, so the ticket
        is always shown before anyone acts on it."""
        return ticket_id in self._printed

    def run(self) -> None:
        while not self.stop_event.wait(POLL_S):
            for ticket in reversed(self.service.stores.tickets.list(limit=50)):
                if ticket.id in self._printed:
                    continue
                device = f"{ticket.site}/{ticket.device_id}"
                self.say(
                    line(
                        f"ticket #{ticket.id} [{ticket.severity}] {device} {ticket.fault_type}: "
                        f"{ticket.summary}",
                        f"工单 #{ticket.id} [{severity_zh(ticket.severity)}] {device} "
                        f"{fault_zh(ticket.fault_type)}",
                    )
                )
                self._printed.add(ticket.id)
