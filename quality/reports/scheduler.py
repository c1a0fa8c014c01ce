"""Make the weekly and monthly reports on schedule, in a thread of the service.

Each run looks, for every scope (the whole portfolio and each site of the ledger) and each
language, for the latest period whose report is due: a week's on the following Monday at
08:00, a month's on the 1st at 08:00 of the next (`FACMON_REPORT_WEEKLY_AT`,
`FACMON_REPORT_MONTHLY_AT`), in the site's time zone. A report already claimed is left
alone, so two schedulers make each report once (`ReportStore.claim`). A period with
nothing to report (no counted equipment, no ticket) is recorded as skipped, not made.

>>> from datetime import UTC, datetime
>>> from contract.clock import ManualClock
>>> settings = ReportSettings()
>>> due = due_periods(settings, None, datetime(2026, 12, 7, 1, tzinfo=UTC))  # 09:00 Shanghai
>>> [(p.kind, p.label) for p in due]
[('weekly', '2026-W49'), ('monthly', '2026-11')]
>>> [(p.kind, p.label) for p in due_periods(settings, None, datetime(2026, 12, 6, 23, tzinfo=UTC))]
[('weekly', '2026-W48'), ('monthly', '2026-11')]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quality.ledger.models import Equipment
from quality.reports.config import ReportSettings
from quality.reports.generator import Reporter
from quality.reports.models import PORTFOLIO
from quality.reports.periods import ReportPeriod, last_complete

log = logging.getLogger(__name__)


def _due_at(period: ReportPeriod, settings: ReportSettings) -> datetime:
    """When a period's report falls due: after the period, at the configured day and time."""
    if period.kind == "weekly":
        first = period.next_first_day
        day = first + timedelta(days=(settings.weekly_weekday - first.weekday()) % 7)
        return datetime.combine(day, settings.weekly_time, period.zone)
    day = period.next_first_day.replace(day=settings.monthly_day)
    return datetime.combine(day, settings.monthly_time, period.zone)


def due_periods(settings: ReportSettings, site: str | None, now: datetime) -> list[ReportPeriod]:
    """The latest weekly and monthly period of `site` whose report is due by `now`."""
    zone = settings.zone(site)
    found = []
    for kind in ("weekly", "monthly"):
        period = last_complete(kind, now, zone)
        if _due_at(period, settings) > now:
            period = period.previous()
        found.append(period)
    return found


def ledger_sites(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(set(session.scalars(select(Equipment.site).distinct())))


@dataclass(slots=True)
class ScheduleRun:
    made: list[int] = field(default_factory=list)
    skipped: int = 0


class ReportScheduler:
    """`start` checks now and then every `interval_s` until `stop`."""

    def __init__(
        self,
        reporter: Reporter,
        *,
        sites: Callable[[], Iterable[str]] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.reporter = reporter
        self.settings = reporter.settings
        self.sites = sites or (lambda: ledger_sites(reporter.engine))
        self.interval_s = interval_s or self.settings.schedule_interval_s
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> ScheduleRun:
        run = ScheduleRun()
        now = self.reporter.clock.now()
        done = self.reporter.store.all_keys(now)
        for site in [None, *self.sites()]:
            for period in due_periods(self.settings, site, now):
                for language in self.settings.languages:
                    key = (period.kind, site or PORTFOLIO, period.label, language)
                    if key in done:
                        continue
                    try:
                        made = self.reporter.generate(
                            period.kind,
                            site,
                            period.label,
                            language,
                            trigger="schedule",
                            by="schedule",
                            again=False,
                            skip_empty=True,
                        )
                    except Exception as exc:  # recorded as failed; retried on a later run
                        self.failures += 1
                        log.warning("report %s %s failed: %s", key, period.label, exc)
                        continue
                    if made.report is None:
                        continue
                    if made.report.status == "skipped":
                        run.skipped += 1
                    else:
                        run.made.append(made.report.id)
        self.runs += 1
        return run

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the store may be down: log, retry next time
                self.failures += 1
                log.warning("scheduled report failed, retrying in %.0f s: %s", self.interval_s, exc)
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the report scheduler is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="facmon-reports", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
