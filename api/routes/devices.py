"""Devices ingest has heard from, and their recent telemetry.

A device is its site and its id (`door-1` may exist in two sites), so a device's path names
its site: `/api/sites/{site}/devices/{device_id}`. The older `/api/devices/{device_id}/
telemetry` still answers while the id is in one site only; once it is in more, it answers
409 with the candidate sites, so a client never gets another site's door by mistake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import DevicePublic, TelemetryPublic, TelemetrySample, Text
from api.stores import Stores
from ingest.device_registry import Device
from storage.timeseries import StoreUnavailable

router = APIRouter(prefix="/api", tags=["devices"], route_class=AuthenticatedRoute)

Limit = Annotated[int, Query(ge=1, le=10_000)]


class SiteTelemetryPublic(TelemetryPublic):
    site: str


def _bilingual(en: str, zh: str) -> str:
    """Both languages at once: an error body cannot know its reader's."""
    return f"{en} / {zh}"


def _not_found(site: str, device_id: str) -> HTTPException:
    return HTTPException(
        404,
        _bilingual(
            f"no device {device_id!r} in site {site!r}: see GET /api/devices?site={site}",
            f"项目 {site!r} 中没有设备 {device_id!r}：请查看 GET /api/devices?site={site}",
        ),
    )


def _telemetry(stores: Stores, device: Device, limit: int) -> SiteTelemetryPublic:
    try:
        rows = stores.series.recent(device.kind, device.device_id, limit, site=device.site)
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
    return SiteTelemetryPublic(
        site=device.site, device_id=device.device_id, kind=device.kind, samples=samples
    )


@router.get("/devices", response_model=list[DevicePublic])
def list_devices(
    stores: StoresDep, _who: ViewerDep, kind: Text | None = None, site: Text | None = None
) -> list[DevicePublic]:
    return [DevicePublic.model_validate(d) for d in stores.devices.list(kind, site)]


@router.get("/sites/{site}/devices/{device_id}", response_model=DevicePublic)
def get_device(site: Text, device_id: Text, stores: StoresDep, _who: ViewerDep) -> DevicePublic:
    device = stores.devices.get(site, device_id)
    if device is None:
        raise _not_found(site, device_id)
    return DevicePublic.model_validate(device)


@router.get("/sites/{site}/devices/{device_id}/telemetry", response_model=SiteTelemetryPublic)
def site_device_telemetry(
    site: Text, device_id: Text, stores: StoresDep, _who: ViewerDep, limit: Limit = 100
) -> SiteTelemetryPublic:
    device = stores.devices.get(site, device_id)
    if device is None:
        raise _not_found(site, device_id)
    return _telemetry(stores, device, limit)


@router.get(
    "/devices/{device_id}/telemetry",
    response_model=SiteTelemetryPublic,
    responses={409: {"description": "the id names a device in more than one site"}},
)
def device_telemetry(
    device_id: Text, stores: StoresDep, _who: ViewerDep, limit: Limit = 100
) -> SiteTelemetryPublic:
    """The path without a site: answered while the id is in one site only."""
    found = stores.devices.named(device_id)
    if not found:
        raise HTTPException(
            404,
            _bilingual(
                f"no device {device_id!r}: see GET /api/devices",
                f"没有设备 {device_id!r}：请查看 GET /api/devices",
            ),
        )
    if len(found) > 1:
        sites = [d.site for d in found]
        raise HTTPException(
            409,
            {
                "message": _bilingual(
                    f"device id {device_id!r} is in {len(sites)} sites: name the site, "
                    f"GET /api/sites/{{site}}/devices/{device_id}/telemetry",
                    f"设备编号 {device_id!r} 在 {len(sites)} 个项目中：请指明项目，"
                    f"GET /api/sites/{{site}}/devices/{device_id}/telemetry",
                ),
                "device_id": device_id,
                "sites": sites,
            },
        )
    return _telemetry(stores, found[0], limit)
