"""What ingest asks of planned maintenance, in one object: may a finding open a ticket
(`suppress`), and the periodic work (`tick`: the covers re-read every `refresh_s`, and the
scheduler started every `schedule_every_s`).

The scheduler runs in a thread of its own: opening a thousand work orders takes tens of
seconds, and the intake thread that calls `tick` must not wait for it. One run at a time;
a failed run is logged and tried again at the next interval. Findings and SLA escalation
never wait for maintenance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from contract.finding import Finding
from quality.maintenance.gate import MaintenanceGate
from quality.maintenance.scheduler import MaintenanceScheduler
from quality.maintenance.suppression import Suppressor
from quality.tickets import TicketStore

log = logging.getLogger(__name__)


class MaintenanceDesk:
    def __init__(
        self,
        tickets: TicketStore,
        refresh_s: float = 10.0,
        schedule_every_s: float = 60.0,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gate = MaintenanceGate(tickets.engine, tickets.clock, refresh_s, monotonic_s)
        self.suppressor = Suppressor(self.gate)
        self.scheduler = MaintenanceScheduler(tickets)
        self.schedule_every_s = schedule_every_s
        self.monotonic_s = monotonic_s
        self.runs = 0
        """Scheduler runs finished, failed ones included (tests await it)."""
        self._scheduled_s = float("-inf")
        self._thread: threading.Thread | None = None

    def suppress(self, finding: Finding, now_ms: int) -> bool:
        """True: the device is under maintenance and the finding was kept as suppressed."""
        return self.suppressor.suppress(finding, now_ms)

    def tick(self) -> None:
        try:
            self.gate.tick()
        except Exception:
            log.exception("planned maintenance: could not re-read the covers; keeping the last")
        if self._thread is not None and self._thread.is_alive():
            return
        if self.monotonic_s() - self._scheduled_s >= self.schedule_every_s:
            self._scheduled_s = self.monotonic_s()
            self._thread = threading.Thread(
                target=self._run, name="facmon-maintenance", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        try:
            self.scheduler.run_once()
        except Exception:
            log.exception("planned maintenance: scheduler run failed; trying again later")
        finally:
            self.runs += 1
