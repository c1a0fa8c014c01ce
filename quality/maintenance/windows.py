"""Explicit maintenance windows (保养时段) and the findings suppressed on a device.

A window covers one device from `from` to `to`, for a reason; findings on it then are
suppressed as under a dispatched work order. Its `overrun` flag says it ended while the
ledger still marked the device under maintenance (`overrun`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.ledger.messages import Text
from quality.ledger.models import Equipment
from quality.maintenance.errors import Invalid
from quality.maintenance.models import MaintenanceWindow, SuppressedFinding
from quality.maintenance.validation import identifier_field, text_field

WINDOW_FIELDS = ("site", "device_id", "from", "to", "reason")
MAX_WINDOW_DAYS = 92


def _moment(body: dict[str, Any], field: str) -> datetime:
    value = body.get(field)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Invalid(
            Text(
                f"{field}: must be a time with its zone, e.g. 2027-01-31T08:00:00+08:00",
                f"{field}：应为带时区的时间，例如 2027-01-31T08:00:00+08:00",
            ),
            field,
        )
    return moment.astimezone(UTC)


def window_public(window: MaintenanceWindow) -> dict[str, Any]:
    return {
        "id": window.id,
        "site": window.site,
        "device_id": window.device_id,
        "from": aware(window.starts_at),
        "to": aware(window.ends_at),
        "reason": window.reason,
        "created_by": window.created_by,
        "created_at": aware(window.created_at),
        "overrun": window.overrun_at is not None,
        "overrun_at": aware(window.overrun_at),
        "overrun_ticket_id": window.overrun_ticket_id,
    }


def suppressed_public(row: SuppressedFinding) -> dict[str, Any]:
    return {
        "id": row.id,
        "site": row.site,
        "device_id": row.device_id,
        "at": aware(row.at),
        "onset_ms": row.onset_ms,
        "fault_type": row.fault_type,
        "severity": row.severity,
        "detector": row.detector,
        "summary": row.summary,
        "ticket_id": row.ticket_id,
        "window_id": row.window_id,
    }


class WindowStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    def create(self, body: Any, actor: str) -> MaintenanceWindow:
        if not isinstance(body, dict):
            raise Invalid(Text("the body must be a JSON object", "请求体应为 JSON 对象"), "body")
        for field in body:
            if field not in WINDOW_FIELDS:
                raise Invalid(
                    Text(
                        f"{field}: is not a field of a maintenance window: remove it "
                        f"(fields: {', '.join(WINDOW_FIELDS)})",
                        f"{field}：不是保养时段的字段：请删除（字段：{', '.join(WINDOW_FIELDS)}）",
                    ),
                    str(field),
                )
        site = identifier_field(body, "site")
        device_id = identifier_field(body, "device_id")
        for field, value in (("site", site), ("device_id", device_id)):
            if value is None:
                raise Invalid(
                    Text(f"{field}: is missing: give a value", f"{field}：缺失：请填写"), field
                )
        starts, ends = _moment(body, "from"), _moment(body, "to")
        if ends <= starts:
            raise Invalid(Text("to: must be after from", "to：应晚于 from"), "to")
        if (ends - starts).days > MAX_WINDOW_DAYS:
            raise Invalid(
                Text(
                    f"to: a window lasts at most {MAX_WINDOW_DAYS} days: shorten it",
                    f"to：保养时段最长 {MAX_WINDOW_DAYS} 天：请缩短",
                ),
                "to",
            )
        reason = text_field(body, "reason", 500, required=True)
        assert reason is not None
        with Session(self.engine, expire_on_commit=False) as session:
            known = session.scalar(
                select(Equipment.id).where(Equipment.site == site, Equipment.device_id == device_id)
            )
            if known is None:
                raise Invalid(
                    Text(
                        f"device_id: {site}/{device_id} is not in the equipment ledger: "
                        "add it first",
                        f"device_id：设备台账中没有 {site}/{device_id}；请先登记",
                    ),
                    "device_id",
                )
            window = MaintenanceWindow(
                site=site,
                device_id=device_id,
                starts_at=starts,
                ends_at=ends,
                reason=reason,
                created_by=actor,
                created_at=self.clock.now(),
            )
            session.add(window)
            session.commit()
            return window

    def list(
        self, site: str | None = None, device_id: str | None = None, limit: int = 100
    ) -> Sequence[MaintenanceWindow]:
        query = select(MaintenanceWindow)
        if site is not None:
            query = query.where(MaintenanceWindow.site == site)
        if device_id is not None:
            query = query.where(MaintenanceWindow.device_id == device_id)
        with Session(self.engine) as session:
            return session.scalars(query.order_by(MaintenanceWindow.id.desc()).limit(limit)).all()

    def suppressed(
        self, site: str, device_id: str | None = None, limit: int = 100
    ) -> Sequence[SuppressedFinding]:
        query = select(SuppressedFinding).where(SuppressedFinding.site == site)
        if device_id is not None:
            query = query.where(SuppressedFinding.device_id == device_id)
        with Session(self.engine) as session:
            return session.scalars(query.order_by(SuppressedFinding.id.desc()).limit(limit)).all()
