"""Work orders as the API lists them: with their ticket's state and the overrun flag."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.clock import aware
from quality.maintenance.models import MaintenanceWorkOrder
from quality.tickets.models import Ticket


def list_work_orders(
    engine: Engine,
    now: datetime,
    site: str | None = None,
    device_id: str | None = None,
    plan_id: int | None = None,
    due_from: date | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    query = select(MaintenanceWorkOrder, Ticket.state, Ticket.verified_at).join(
        Ticket, Ticket.id == MaintenanceWorkOrder.ticket_id
    )
    for column, value in (
        (MaintenanceWorkOrder.site, site),
        (MaintenanceWorkOrder.device_id, device_id),
        (MaintenanceWorkOrder.plan_id, plan_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if due_from is not None:
        query = query.where(MaintenanceWorkOrder.due_date >= due_from)
    query = query.order_by(MaintenanceWorkOrder.due_date.desc(), MaintenanceWorkOrder.id.desc())
    with Session(engine) as session:
        rows = session.execute(query.limit(limit)).all()
    result = []
    for order, state, verified_at in rows:
        due_at, verified = aware(order.due_at), aware(verified_at)
        assert due_at is not None
        done_on_time = verified is not None and verified <= due_at
        result.append(
            {
                "id": order.id,
                "plan_id": order.plan_id,
                "due_date": order.due_date.isoformat(),
                "due_at": due_at,
                "site": order.site,
                "device_id": order.device_id,
                "kind": order.kind,
                "ticket_id": order.ticket_id,
                "state": state,
                "opened_at": aware(order.opened_at),
                "verified_at": verified,
                "done_on_time": done_on_time,
                # flagged by the scheduler, or already past its end while not verified
                "overrun": order.overrun_at is not None or (verified is None and due_at < now),
                "overrun_at": aware(order.overrun_at),
            }
        )
    return result
