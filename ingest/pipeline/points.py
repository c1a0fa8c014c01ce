"""The points ingest writes to the time-series store, one function per measurement."""

from __future__ import annotations

from contract.finding import Finding
from contract.payload import Event, Sample, StatusChange
from storage.timeseries import Point
from storage.timeseries.base import FieldValue


def sample_point(sample: Sample) -> Point:
    device = sample.device
    return Point(
        device.kind,
        {"site": device.site, "building": device.building, "device_id": device.device_id},
        {**sample.metrics, "seq": sample.seq},
        sample.ts_ms,
    )


def event_point(event: Event) -> Point:
    """The event as a point; its `data` values are stored as floats (a boolean as 1.0
    or 0.0), so that a key sent as an integer, a float or a boolean never conflicts
    with the type InfluxDB fixed for it. The point's own fields come last and win."""
    device = event.device
    fields: dict[str, FieldValue] = {key: float(value) for key, value in event.data.items()}
    fields["event"] = event.event
    fields["seq"] = event.seq
    return Point(
        "events",
        {
            "site": device.site,
            "building": device.building,
            "device_id": device.device_id,
            "kind": device.kind,
        },
        fields,
        event.ts_ms,
    )


def status_point(status: StatusChange, ts_ms: int) -> Point:
    device = status.device
    return Point(
        "device_status",
        {
            "site": device.site,
            "building": device.building,
            "device_id": device.device_id,
            "kind": device.kind,
        },
        {"online": status.online},
        ts_ms,
    )


def ticket_point(finding: Finding, ticket_id: int, ts_ms: int) -> Point:
    device = finding.device
    return Point(
        "tickets",
        {
            "site": device.site,
            "building": device.building,
            "device_id": device.device_id,
            "kind": device.kind,
            "fault_type": finding.fault_type,
            "severity": finding.severity.value,
        },
        {"opened": 1, "ticket_id": ticket_id},
        ts_ms,
    )
