"""Planned maintenance (保养计划).

- `/api/maintenance/plans`: plans per device (`site`, `device_id`) or per kind (`kind`,
  optionally `site`), due every `every_days`, on `monthly_day`, or by an RFC 5545 `rrule`,
  opened `lead_days` ahead; viewers read, the quality role writes. `DELETE` deactivates.
- `/api/maintenance/work-orders`: the work orders opened, each a ticket of fault type
  `maintenance` in the usual loop, with `overrun` when not verified by its planned end.
- `/api/maintenance/run`: open what is due now (the service does so every minute).
- `/api/maintenance/windows`: explicit windows (from, to) during which a device's findings
  are suppressed; `overrun` when one ended with the device still under maintenance.
- `/api/maintenance/suppressed`: the findings kept as suppressed on a device.
- `/api/maintenance/execution-rate`: 保养计划执行率, done on time / due, per site or kind.

A refused request answers 4xx with `field` and the fix in `en` and `zh` (a malformed body
or parameter: 422 with one such entry per problem in `detail`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel

from api.deps import MAX_ID, QualityDep, StoresDep, ViewerDep
from api.routes.ledger import LedgerRoute
from quality.ledger.messages import Text
from quality.maintenance.errors import MaintenanceError
from quality.maintenance.execution import execution_rate_of
from quality.maintenance.listing import list_work_orders
from quality.maintenance.plans import PlanStore, plan_public
from quality.maintenance.scheduler import MaintenanceScheduler
from quality.maintenance.validation import validate_plan
from quality.maintenance.windows import WindowStore, suppressed_public, window_public


class MaintenanceRefusal(BaseModel):
    """An error in both languages: `detail` holds both and `field` names what to fix; for
    a malformed body or parameter, `detail` lists each problem with its own `field`."""

    detail: str | list[dict[str, Any]]
    field: str | None = None
    en: str | None = None
    zh: str | None = None


def refusal(status: int, message: Text, field: str | None = None) -> Response:
    """ASCII-escaped JSON: a message may echo input holding an unpaired surrogate."""
    body = {"detail": message.both(), "field": field, "en": message.en, "zh": message.zh}
    return Response(
        json.dumps(body, separators=(",", ":")).encode("ascii"),
        status,
        media_type="application/json",
    )


router = APIRouter(prefix="/api/maintenance", tags=["maintenance"], route_class=LedgerRoute)

PlanId = Annotated[int, Path(ge=1, le=MAX_ID, description="plan id")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Ident = Annotated[str | None, Query(min_length=1, max_length=64)]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": MaintenanceRefusal, "description": "no such plan"},
    422: {"model": MaintenanceRefusal, "description": "a field is wrong; `field` names it"},
}


def _refused(error: MaintenanceError) -> Response:
    return refusal(error.status, error.message, error.field)


def _plans(stores: Any) -> PlanStore:
    return PlanStore(stores.engine, stores.tickets.clock)


@router.get("/plans")
def list_plans(
    stores: StoresDep, _: ViewerDep, site: Ident = None, active: bool | None = None
) -> list[dict[str, Any]]:
    return [plan_public(plan) for plan in _plans(stores).list(site, active)]


@router.post("/plans", status_code=201, responses=ERRORS)
def create_plan(
    stores: StoresDep, principal: QualityDep, body: Annotated[Any, Body()] = None
) -> Any:
    plans = _plans(stores)
    try:
        spec = validate_plan(body, plans.clock.now().astimezone(UTC).date())
        return plan_public(plans.create(spec, principal.name))
    except MaintenanceError as error:
        return _refused(error)


@router.get("/plans/{plan_id}", responses=ERRORS)
def get_plan(stores: StoresDep, _: ViewerDep, plan_id: PlanId) -> Any:
    try:
        return plan_public(_plans(stores).get(plan_id))
    except MaintenanceError as error:
        return _refused(error)


@router.put("/plans/{plan_id}", responses=ERRORS)
def replace_plan(
    stores: StoresDep,
    _: QualityDep,
    plan_id: PlanId,
    body: Annotated[Any, Body()] = None,
) -> Any:
    plans = _plans(stores)
    try:
        plans.get(plan_id)
        spec = validate_plan(body, plans.clock.now().astimezone(UTC).date())
        return plan_public(plans.replace(plan_id, spec))
    except MaintenanceError as error:
        return _refused(error)


@router.delete("/plans/{plan_id}", responses=ERRORS)
def deactivate_plan(stores: StoresDep, _: QualityDep, plan_id: PlanId) -> Any:
    """The plan stops opening work orders; it and its work orders are kept."""
    try:
        return plan_public(_plans(stores).deactivate(plan_id))
    except MaintenanceError as error:
        return _refused(error)


@router.get("/work-orders")
def work_orders(
    stores: StoresDep,
    _: ViewerDep,
    site: Ident = None,
    device_id: Ident = None,
    plan_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    due_from: date | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    now = stores.tickets.clock.now()
    return list_work_orders(stores.engine, now, site, device_id, plan_id, due_from, limit)


@router.post("/run")
def run_scheduler(stores: StoresDep, _: QualityDep) -> dict[str, Any]:
    """Open the work orders due now and flag overruns (idempotent)."""
    run = MaintenanceScheduler(stores.tickets).run_once()
    return {
        "opened": len(run.opened),
        "ticket_ids": sorted({o.ticket_id for o in run.opened}),
        "overruns": run.overruns,
    }


@router.post("/windows", status_code=201, responses=ERRORS)
def create_window(
    stores: StoresDep, principal: QualityDep, body: Annotated[Any, Body()] = None
) -> Any:
    try:
        window = WindowStore(stores.engine, stores.tickets.clock).create(body, principal.name)
    except MaintenanceError as error:
        return _refused(error)
    return window_public(window)


@router.get("/windows")
def list_windows(
    stores: StoresDep, _: ViewerDep, site: Ident = None, device_id: Ident = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    windows = WindowStore(stores.engine).list(site, device_id, limit)
    return [window_public(window) for window in windows]


@router.get("/suppressed")
def suppressed(
    stores: StoresDep,
    _: ViewerDep,
    site: Annotated[str, Query(min_length=1, max_length=64)],
    device_id: Ident = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    rows = WindowStore(stores.engine).suppressed(site, device_id, limit)
    return [suppressed_public(row) for row in rows]


@router.get("/execution-rate", responses=ERRORS)
def execution_rate(
    stores: StoresDep,
    _: ViewerDep,
    start: datetime,
    end: datetime,
    by: Literal["site", "kind", "site_kind", "all"] = "site",
) -> Any:
    """保养计划执行率: work orders verified by their planned end / work orders due, whose
    planned end falls in [start, end) and has passed."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return refusal(
            422,
            Text(
                "end: give start and end with their zone, end after start",
                "end：start 和 end 应带时区，且 end 晚于 start",
            ),
            "end",
        )
    now = stores.tickets.clock.now()
    rates = execution_rate_of(stores.engine, start, end, by, as_of=now)
    return [
        {**rate.group, "due": rate.due, "on_time": rate.on_time, "rate": rate.rate}
        for rate in rates
    ]
