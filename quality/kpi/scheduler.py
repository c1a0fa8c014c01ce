"""Run the KPI job on a schedule, in a thread of the service.

Every `interval_s` it computes the last completed bucket and the one running
now (up to now), so dashboards move within a minute rather than an hour.
Once per new bucket (and at start) it recomputes the last `settle` window
instead: rectification completion of a bucket's tickets is judged "as of
the run", so it keeps rising while repairs come in, and is final `settle`
(7 days by default) after the bucket. The job is idempotent, so recomputing
only overwrites.

>>> from datetime import UTC, datetime
>>> from contract.clock import ManualClock
>>> class Job:  # a stand-in for KpiJob that records the windows it is asked for
...     bucket = timedelta(hours=1)
...     clock = ManualClock(datetime(2027, 1, 8, 10, 20, tzinfo=UTC))
...     def run(self, start, end): print(start.isoformat(), end.isoformat())
>>> scheduler = KpiScheduler(Job(), settle=timedelta(days=1))  # type: ignore[arg-type]
>>> scheduler.run_once()
2027-01-07T10:00:00+00:00 2027-01-08T10:20:00+00:00
>>> scheduler.run_once()
2027-01-08T09:00:00+00:00 2027-01-08T10:20:00+00:00
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contract.clock import Clock
from quality.kpi.job import KpiRun, floor_time

log = logging.getLogger(__name__)


class _Job(Protocol):
    bucket: timedelta
    clock: Clock

    def run(self, start: datetime, end: datetime) -> KpiRun | None: ...


class KpiScheduler:
    """`start` runs the job now and then every `interval_s` until `stop`."""

    def __init__(
        self, job: _Job, *, interval_s: float = 60.0, settle: timedelta = timedelta(days=7)
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.job = job
        self.interval_s = interval_s
        self.settle = settle
        self.runs = 0
        """Successful runs so far (tests await it instead of sleeping)."""
        self.failures = 0
        self.last_error: str | None = None
        self._settled_bucket: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> KpiRun | None:
        """One scheduled run; raises what the job raises (the thread logs and retries)."""
        now = self.job.clock.now().astimezone(UTC)
        current = floor_time(now, self.job.bucket)
        settling = self._settled_bucket != current
        if settling:
            start = floor_time(now - self.settle, self.job.bucket)
        else:  # the last completed bucket and the running one
            start = current - self.job.bucket
        result = self.job.run(start, now)
        if settling:
            self._settled_bucket = current
        self.runs += 1
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # the store may be down: log and try again next time
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("KPI run failed, retrying in %.0f s: %s", self.interval_s, exc)
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the KPI scheduler is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="facmon-kpi", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the run in progress, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
