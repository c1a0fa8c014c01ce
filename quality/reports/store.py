"""The reports table: a report is claimed before it is made, so that a period's report is
made once however many schedulers run (the unique key refuses the second claim), and a
person asking again for the same report gets it made afresh in the same row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import aware
from quality.reports.models import PORTFOLIO, QualityReport
from quality.reports.periods import ReportPeriod

LISTED_STATUSES = ("pending", "ready", "failed")
"""`skipped` (a scheduled period with nothing to report) is kept, not listed."""
STALE = timedelta(minutes=30)
"""A report pending longer was abandoned (its process stopped): another may take it over."""


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    fresh: bool
    """False: the row existed and was taken over (made again)."""


class ReportStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(
        self,
        period: ReportPeriod,
        site: str | None,
        language: str,
        *,
        trigger: str,
        by: str,
        now: datetime,
        again: bool,
    ) -> Claim | None:
        """The row to make this report in. A new key inserts one; an existing key is taken
        over when `again` (a person asked), or when it failed or is stale; otherwise None:
        another process has made or is making it."""
        values = {
            "kind": period.kind,
            "site": site or PORTFOLIO,
            "period": period.label,
            "language": language,
        }
        row = QualityReport(
            **values,
            time_zone=str(period.zone),
            period_start=period.start,
            period_end=period.end,
            status="pending",
            trigger=trigger,
            created_by=by,
            created_at=now,
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
                session.flush()
                return Claim(row.id, True)
        except IntegrityError:
            pass
        with Session(self.engine) as session, session.begin():
            existing = session.scalars(select(QualityReport).filter_by(**values)).one()
            if not again and not _retryable(existing, now):
                return None
            taken = session.execute(
                update(QualityReport)
                .where(QualityReport.id == existing.id, QualityReport.status == existing.status)
                .where(QualityReport.created_at == existing.created_at)
                .values(
                    status="pending", trigger=trigger, created_by=by, created_at=now, error=None
                )
            )
            return Claim(existing.id, False) if getattr(taken, "rowcount", 0) == 1 else None

    def finish(self, report_id: int, html: Path, pdf: Path) -> None:
        self._set(
            report_id,
            status="ready",
            html_path=str(html),
            html_bytes=html.stat().st_size,
            pdf_path=str(pdf),
            pdf_bytes=pdf.stat().st_size,
            error=None,
        )

    def fail(self, report_id: int, error: str) -> None:
        self._set(report_id, status="failed", error=error[:2000])

    def skip(self, report_id: int) -> None:
        self._set(report_id, status="skipped")

    def _set(self, report_id: int, **values: object) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(QualityReport).where(QualityReport.id == report_id).values(**values)
            )

    def get(self, report_id: int) -> QualityReport | None:
        with Session(self.engine) as session:
            return session.get(QualityReport, report_id)

    def list(
        self, *, site: str | None = None, kind: str | None = None, limit: int = 200
    ) -> Sequence[QualityReport]:
        """Newest first; `site` "" is the portfolio's reports."""
        query = select(QualityReport).where(QualityReport.status.in_(LISTED_STATUSES))
        if site is not None:
            query = query.where(QualityReport.site == site)
        if kind is not None:
            query = query.where(QualityReport.kind == kind)
        query = query.order_by(QualityReport.created_at.desc(), QualityReport.id.desc())
        with Session(self.engine) as session:
            return session.scalars(query.limit(limit)).all()

    def all_keys(self, now: datetime) -> set[tuple[str, str, str, str]]:
        """(kind, site, period, language) of every report made, being made or skipped."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(
                    QualityReport.kind,
                    QualityReport.site,
                    QualityReport.period,
                    QualityReport.language,
                    QualityReport.status,
                    QualityReport.created_at,
                )
            ).all()
        return {
            (k, s, p, lang)
            for k, s, p, lang, status, created in rows
            if not _retryable_status(status, created, now)
        }


def _retryable_status(status: str, created: datetime, now: datetime) -> bool:
    """Failed, or pending for longer than `STALE`."""
    made_at = aware(created)
    stale = status == "pending" and made_at is not None and made_at < now - STALE
    return status == "failed" or stale


def _retryable(row: QualityReport, now: datetime) -> bool:
    return _retryable_status(row.status, row.created_at, now)
