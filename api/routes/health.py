"""Liveness for orchestrators and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.deps import StoresDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(stores: StoresDep, response: Response) -> Health:
    series_ok = stores.series.ping()
    try:
        with stores.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database_ok = True
    except Exception:
        database_ok = False
    reasons = [
        problem
        for problem, ok in (
            ("time-series store does not answer its ping", series_ok),
            ("database does not answer", database_ok),
        )
        if not ok
    ]
    writes = stores.metrics.write_health.problem()
    if writes:
        reasons.append(writes)
    healthy = not reasons
    if not healthy:
        response.status_code = 503
    return Health(
        status="ok" if healthy else "degraded",
        series_store=series_ok,
        database=database_ok,
        reason="; ".join(reasons) or None,
    )


@router.get("/metrics", response_class=Response)
def metrics(stores: StoresDep) -> Response:
    return Response(
        stores.metrics.registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
