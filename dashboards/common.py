"""What every facmon dashboard shares: filters, template variables, annotations, units.

Queries are raw InfluxQL against the measurements the ingestor writes (one
per device kind, plus `events`, `device_status` and `tickets`) and those the
KPI job writes (`kpi`, `ticket_events`, `facmon_service`). Filters use
Grafana's regex form, `"site" =~ /^$site$/`, which works for one value,
several values and All (`.*`) alike.

>>> metric(Kind.ACCESS, "held_open_s").unit
's'
"""

from __future__ import annotations

from typing import Final, Literal

from contract.topics import TELEMETRY_SCHEMAS, Kind, MetricSpec
from dashboards.model import (
    InfluxQLAnnotation,
    InfluxQLTarget,
    QueryVariable,
    Threshold,
    TimeSeriesPanel,
)
from detectors.access_held_open import DoorHeldOpenDetector
from detectors.base import Detector


def detector_default(detector: type[Detector], parameter: str) -> float:
    """A detector's default setting, so that a line drawn for it follows its code."""
    default = getattr(detector.Config.defaults(), parameter)
    if isinstance(default, bool) or not isinstance(default, int | float):
        raise TypeError(f"{detector.__name__}.{parameter} has no numeric default")
    return float(default)


HELD_OPEN_LIMIT_S: Final = detector_default(DoorHeldOpenDetector, "limit_s")
"""The access detector's fixed limit: a door open longer than this opens a ticket."""

LOCATION: Final = '"site" =~ /^$site$/ AND "building" =~ /^$building$/'
"""Filter by the site and building variables; every measurement carries both tags."""

DEVICE_FILTER: Final = '"device_id" =~ /^$device$/'
"""Filter by the `device` variable of the per-kind dashboards (with `$site`: a device is
its site and its id)."""

PER_DEVICE: Final = '"site", "device_id"'
"""GROUP BY for one series per device: door-1 of two sites is two series."""

DEVICE_ALIAS: Final = "$tag_site/$tag_device_id"
"""A per-device series' legend: the site, then the id."""

KIND_MEASUREMENTS: Final = "/^$kind$/"
"""Telemetry is stored in one measurement per kind, so `kind` selects measurements."""

NO_KIND_TAG: Final = "\"kind\" = ''"
"""Keeps `events` (which has a `seq` field and a `kind` tag) out of telemetry counts.

A measurement regex cannot be intersected with the list of kinds, and with
All (`.*`) it matches every measurement; only telemetry measurements lack
the `kind` tag, and InfluxQL treats a missing tag as the empty string.
"""

ALL_KINDS_REGEX: Final = "/^(" + "|".join(sorted(k.value for k in Kind)) + ")$/"

_GRAFANA_UNITS: Final[dict[str, str]] = {
    "A": "amp",
    "V": "volt",
    "W": "watt",
    "bar": "pressurebar",
    "bool": "bool",
    "code": "none",
    "count": "short",
    "degC": "celsius",
    "floor": "short",
    "g": "accG",
    "h": "h",
    "l/min": "flowlpm",
    "lx": "lux",
    "m/s": "velocityms",
    "m/s2": "accMS2",
    "mm": "lengthmm",
    "ms": "ms",
    "s": "s",
}


def metric(kind: Kind, name: str) -> MetricSpec:
    """Look a metric up in the gateway contract.

    A metric renamed in the contract then breaks the dashboard build, not a
    panel that silently shows "No data".
    """
    try:
        return TELEMETRY_SCHEMAS[kind][name]
    except KeyError:
        raise ValueError(f"{kind.value} has no metric {name!r} in contract.topics") from None


def grafana_unit(spec: MetricSpec) -> str:
    """Grafana's unit id for a contract unit, so axes show A, lx, g... not bare numbers."""
    return _GRAFANA_UNITS.get(spec.unit, "short")


def per_device_metric(
    kind: Kind,
    name: str,
    *,
    title: str,
    description: str,
    aggregate: str = "mean",
    thresholds: tuple[Threshold, ...] = (),
    device: bool = False,
    draw_style: Literal["line", "bars", "points"] = "line",
) -> TimeSeriesPanel:
    """One series per device of one contract metric, aggregated per interval.

    `device=True` also filters by the `$device` variable of a per-kind dashboard.
    """
    spec = metric(kind, name)
    where = f"$timeFilter AND {LOCATION}" + (f" AND {DEVICE_FILTER}" if device else "")
    query = (
        f'SELECT {aggregate}("{name}") FROM "{kind.value}" WHERE {where} '
        f"GROUP BY time($__interval), {PER_DEVICE} fill(none)"
    )
    return TimeSeriesPanel(
        title=title,
        description=description,
        targets=(InfluxQLTarget(query, alias=DEVICE_ALIAS),),
        unit=grafana_unit(spec),
        min_value=spec.minimum if spec.minimum == 0 else None,
        thresholds=thresholds,
        legend_calcs=("mean", "max", "lastNotNull"),
        draw_style=draw_style,
    )


def site_variable() -> QueryVariable:
    return QueryVariable(name="site", label="Site", query='SHOW TAG VALUES WITH KEY = "site"')


def building_variable() -> QueryVariable:
    """Buildings of the selected sites only, hence refreshed from `$site`."""
    return QueryVariable(
        name="building",
        label="Building",
        query='SHOW TAG VALUES WITH KEY = "building" WHERE "site" =~ /^$site$/',
    )


def kind_variable() -> QueryVariable:
    """Kinds are telemetry measurement names, so list those that hold data.

    `SHOW TAG VALUES WITH KEY = "kind"` would miss a kind whose devices have
    sent telemetry but no event, status or ticket yet.
    """
    return QueryVariable(
        name="kind",
        label="Kind",
        query=f"SHOW MEASUREMENTS WITH MEASUREMENT =~ {ALL_KINDS_REGEX}",
    )


def device_variable(kind: Kind) -> QueryVariable:
    """Devices of one kind in the selected sites and buildings."""
    return QueryVariable(
        name="device",
        label="Device",
        query=(f'SHOW TAG VALUES FROM "{kind.value}" WITH KEY = "device_id" WHERE {LOCATION}'),
    )


def kind_filter(kind: Kind | None) -> str:
    """`kind` tag filter: one fixed kind (per-kind dashboards) or the `$kind` variable."""
    return f"\"kind\" = '{kind.value}'" if kind else '"kind" =~ /^$kind$/'


def _where(kind: Kind | None, device: bool) -> str:
    where = f"$timeFilter AND {LOCATION} AND {kind_filter(kind)}"
    return where + (f" AND {DEVICE_FILTER}" if device else "")


def device_events_annotation(kind: Kind | None = None, device: bool = False) -> InfluxQLAnnotation:
    return InfluxQLAnnotation(
        name="Device events",
        query=(
            'SELECT "event", "site", "device_id", "kind" FROM "events" '
            f"WHERE {_where(kind, device)}"
        ),
        text_column="event",
        tags_column="kind,site,device_id",
        icon_color="orange",
    )


def tickets_opened_annotation(kind: Kind | None = None, device: bool = False) -> InfluxQLAnnotation:
    return InfluxQLAnnotation(
        name="Tickets opened",
        query=(
            'SELECT "ticket_id", "fault_type", "severity", "site", "device_id" FROM "tickets" '
            f"WHERE {_where(kind, device)}"
        ),
        text_column="fault_type",
        tags_column="severity,site,device_id",
        icon_color="red",
    )


def ticket_progress_annotation(
    kind: Kind | None = None, device: bool = False
) -> InfluxQLAnnotation:
    """Dispatch, rectification, verification, closing and reopening, from `ticket_events`.

    The KPI job writes them from the ticket history every minute, so they
    appear up to a minute after the move; openings come from `tickets`.
    """
    return InfluxQLAnnotation(
        name="Ticket progress",
        query=(
            'SELECT "text", "event", "site", "device_id", "severity" FROM "ticket_events" '
            f"WHERE {_where(kind, device)} AND \"event\" != 'open'"
        ),
        text_column="text",
        tags_column="event,site,device_id",
        icon_color="green",
    )
