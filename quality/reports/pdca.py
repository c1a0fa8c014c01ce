"""PDCA actions (计划-执行-检查-处理): what the quality team did to move a KPI, recorded so
that the reports can show the KPI before the action and after it.

A bad field is refused with the field's name and the fix in both languages
(`PdcaRefused`), and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.i18n import Language, texts
from quality.reports.config import KPIS
from quality.reports.data import PdcaRecord
from quality.reports.loading import load_actions, record_of
from quality.reports.models import PdcaAction

STATUSES: Final = ("planned", "doing", "checking", "done")
TEXT_FIELDS: Final = ("plan", "do", "check", "act")
MAX_TEXT: Final = 4000


class PdcaRefused(ValueError):
    def __init__(self, field: str, messages: Mapping[Language, str]) -> None:
        super().__init__(f"{field}: {messages['en']}")
        self.field = field
        self.messages = messages


class PdcaNotFound(LookupError):
    pass


@dataclass(slots=True)
class PdcaChange:
    """The fields of a new action, or those an update changes (None: unchanged)."""

    title: str | None = None
    site: str | None = None
    target_kpi: str | None = None
    plan: str | None = None
    do: str | None = None
    check: str | None = None
    act: str | None = None
    owner: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str | None = None
    clear_finished: bool = False


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate, which JSON can carry
        return False
    return "\x00" not in value


def _check(change: PdcaChange, creating: bool) -> None:
    for name in ("title", "owner", "site", "target_kpi", "status", *TEXT_FIELDS):
        value = getattr(change, name)
        if isinstance(value, str) and not _encodable(value):
            raise PdcaRefused(name, texts("reports.pdca.error.characters", field=name))
    title = change.title
    if (title is not None or creating) and (not title or not title.strip() or len(title) > 200):
        raise PdcaRefused("title", texts("reports.pdca.error.title"))
    owner = change.owner
    if (owner is not None or creating) and (not owner or not owner.strip() or len(owner) > 128):
        raise PdcaRefused("owner", texts("reports.pdca.error.owner"))
    if (change.target_kpi is not None or creating) and change.target_kpi not in KPIS:
        raise PdcaRefused(
            "target_kpi", texts("reports.pdca.error.target_kpi", allowed=", ".join(KPIS))
        )
    if change.status is not None and change.status not in STATUSES:
        raise PdcaRefused("status", texts("reports.pdca.error.status", allowed=", ".join(STATUSES)))
    if creating and change.started_at is None:
        raise PdcaRefused("started_at", texts("reports.pdca.error.time", field="started_at"))
    for name in ("started_at", "finished_at"):
        value = getattr(change, name)
        if value is not None and value.tzinfo is None:
            raise PdcaRefused(name, texts("reports.pdca.error.time", field=name))
    for name in TEXT_FIELDS:
        value = getattr(change, name)
        if value is not None and len(value) > MAX_TEXT:
            raise PdcaRefused(
                name,
                {
                    "zh-CN": f"{name}：最多 {MAX_TEXT} 个字符",
                    "en": f"{name}: at most {MAX_TEXT} characters",
                },
            )


class PdcaStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    def create(self, change: PdcaChange, by: str) -> PdcaRecord:
        _check(change, creating=True)
        assert change.started_at is not None
        if change.finished_at is not None and change.finished_at <= change.started_at:
            raise PdcaRefused("finished_at", texts("reports.pdca.error.finished_at"))
        now = self.clock.now()
        row = PdcaAction(
            title=(change.title or "").strip(),
            site=change.site or None,
            target_kpi=change.target_kpi,
            plan=change.plan or "",
            do=change.do or "",
            check=change.check or "",
            act=change.act or "",
            owner=(change.owner or "").strip(),
            started_at=change.started_at,
            finished_at=change.finished_at,
            status=change.status or ("done" if change.finished_at else "doing"),
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            return record_of(row)

    def update(self, action_id: int, change: PdcaChange) -> PdcaRecord:
        _check(change, creating=False)
        with Session(self.engine) as session, session.begin():
            row = session.get(PdcaAction, action_id)
            if row is None:
                raise PdcaNotFound(action_id)
            for name in ("title", "target_kpi", "owner", "status", "started_at", *TEXT_FIELDS):
                value = getattr(change, name)
                if value is not None:
                    setattr(row, name, value.strip() if name in ("title", "owner") else value)
            if change.site is not None:
                row.site = change.site or None
            if change.clear_finished:
                row.finished_at = None
            elif change.finished_at is not None:
                row.finished_at = change.finished_at
            started, finished = aware(row.started_at), aware(row.finished_at)
            if started is not None and finished is not None and finished <= started:
                raise PdcaRefused("finished_at", texts("reports.pdca.error.finished_at"))
            row.updated_at = self.clock.now()
            session.flush()
            return record_of(row)

    def list(self, site: str | None = None) -> Sequence[PdcaRecord]:
        return load_actions(self.engine, site)

    def get(self, action_id: int) -> PdcaRecord:
        with Session(self.engine) as session:
            row = session.get(PdcaAction, action_id)
            if row is None:
                raise PdcaNotFound(action_id)
            return record_of(row)
