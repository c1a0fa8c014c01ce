"""The detector parameters a device runs with, and where each one came from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.deps import StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import Text
from contract.topics import DeviceRef, Kind
from detectors.config_file import Source, detectors_of

router = APIRouter(prefix="/api/detectors", tags=["detectors"], route_class=AuthenticatedRoute)

Name = Annotated[Text, Query(min_length=1, max_length=128)]


class EffectiveParameter(BaseModel):
    value: Any
    source: Source = Field(description="the most specific entry that set it")


class DetectorParameters(BaseModel):
    fault_type: str
    parameters: dict[str, EffectiveParameter]


class DeviceDetectorConfig(BaseModel):
    site: str
    building: str
    kind: Kind
    device_id: str
    config_version: str | None = Field(
        description="the version findings record; null: no file, the built-in defaults"
    )
    reload_error: str | None = Field(
        description="why the file as it is now was refused (the version shown stays in force)"
    )
    detectors: dict[str, DetectorParameters]


@router.get("/config", response_model=DeviceDetectorConfig)
def device_detector_config(
    site: Name,
    device_id: Name,
    stores: StoresDep,
    _who: ViewerDep,
    kind: Kind | None = None,
    building: Annotated[Text | None, Query(min_length=1, max_length=128)] = None,
) -> DeviceDetectorConfig:
    """Each detector of the device with its effective parameters (FACMON_DETECTORS_CONFIG
    over the defaults). Kind and building come from the device registry; a device not heard
    from yet needs them in the query."""
    known = stores.devices.get(site, device_id)
    if known is not None:
        kind = kind or Kind(known.kind)
        building = building or known.building
    if kind is None or building is None:
        raise HTTPException(
            404,
            f"no device {device_id!r} heard yet: give kind and building "
            "(?site=…&device_id=…&kind=pump&building=…), or see GET /api/devices",
        )
    source = stores.detector_config
    if not source.running:
        source.poll()  # a read-only API process: no reload thread keeps it current
    config = source.current
    device = DeviceRef(site, building, kind.value, device_id)
    explained = config.explain(device, source.defaults)
    return DeviceDetectorConfig(
        site=site,
        building=building,
        kind=kind,
        device_id=device_id,
        config_version=config.version,
        reload_error=source.error,
        detectors={
            cls.name: DetectorParameters(
                fault_type=cls.fault_type,
                parameters={
                    name: EffectiveParameter(value=p.value, source=p.source)
                    for name, p in explained[cls.name].items()
                },
            )
            for cls in detectors_of(kind.value)
        },
    )
