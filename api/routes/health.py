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
    healthy = series_ok and database_ok
    if not healthy:
        response.status_code = 503
    return Health(
        status="ok" if healthy else "degraded", series_store=series_ok, database=database_ok
    )


@router.get("/metrics", response_class=Response)
def metrics(stores: StoresDep) -> Response:
    return Response(
        stores.metrics.registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
