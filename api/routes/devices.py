"""Devices ingest has heard from, and their recent telemetry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import DevicePublic, TelemetryPublic, TelemetrySample, Text
from storage.timeseries import StoreUnavailable

router = APIRouter(prefix="/api/devices", tags=["devices"], route_class=AuthenticatedRoute)


@router.get("", response_model=list[DevicePublic])
def list_devices(
    stores: StoresDep, _who: ViewerDep, kind: Text | None = None
) -> list[DevicePublic]:
    return [DevicePublic.model_validate(d) for d in stores.devices.list(kind)]


@router.get("/{device_id}/telemetry", response_model=TelemetryPublic)
def device_telemetry(
    device_id: Text,
    stores: StoresDep,
    _who: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> TelemetryPublic:
    device = stores.devices.get(device_id)
    if device is None:
        raise HTTPException(404, f"no device {device_id!r}: see GET /api/devices")
    try:
        rows = stores.series.recent(device.kind, device_id, limit)
    except StoreUnavailable as exc:
        raise HTTPException(503, f"time-series store unavailable: {exc}") from exc
    samples = [
        TelemetrySample(
            ts_ms=row.ts_ms,
            time=datetime.fromtimestamp(row.ts_ms / 1000, UTC),
            metrics=row.fields,
        )
        for row in rows
    ]
    return TelemetryPublic(device_id=device_id, kind=device.kind, samples=samples)
