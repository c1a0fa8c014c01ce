"""Panels over the `kpi` measurement that `quality.kpi` writes (one point per hour and group).

Every panel reads the finest scope, `building_kind`, and sums its additive
parts, so the site, building and kind filters all apply at once, and a ratio
over any range is exact: integrity over a day is `sum(good_s) / sum(observed_s)`,
not the mean of 24 hourly ratios. The KPI definitions are in the README
("KPIs") and in `quality/kpi/compute.py`.

>>> kpi_ratio("good_s", "observed_s")
'100 * sum("good_s") / sum("observed_s")'
"""

from __future__ import annotations

from typing import Final

from dashboards.common import LOCATION
from dashboards.model import InfluxQLTarget, StatPanel, Threshold, TimeSeriesPanel
from quality.kpi.targets import integrity_target

KPI_INTERVAL: Final = "1h"
"""The KPI job's bucket: finer grouping would only show gaps between hourly points."""

INTEGRITY_DEFINITION: Final = (
    "Equipment integrity: the share of device-time in good condition, i.e. online (latest "
    "status) with no major or critical ticket open, dispatched, rectified-but-not-verified "
    "or reopened. Offline devices count as not in good condition even without a ticket; "
    "a new device counts from its first status message."
)


def kpi_where(kind: str | None = None) -> str:
    """Time, scope and location filter; `kind` fixes the kind, else the `$kind` variable."""
    kind_clause = f"\"kind\" = '{kind}'" if kind else '"kind" =~ /^$kind$/'
    return f"$timeFilter AND \"scope\" = 'building_kind' AND {LOCATION} AND {kind_clause}"


def kpi_ratio(numerator: str, denominator: str, scale: int = 100) -> str:
    """A ratio of sums; groups without a denominator are absent, never `0 / 0`."""
    prefix = f"{scale} * " if scale != 1 else ""
    return f'{prefix}sum("{numerator}") / sum("{denominator}")'


def _group_by(tags: tuple[str, ...], over_time: bool) -> str:
    parts = (["time($__interval)"] if over_time else []) + [f'"{tag}"' for tag in tags]
    if not parts:
        return ""
    return " GROUP BY " + ", ".join(parts) + (" fill(none)" if over_time else "")


def _alias(tags: tuple[str, ...]) -> str:
    return " / ".join(f"$tag_{tag}" for tag in tags)


def kpi_query(
    select: str, *, by: tuple[str, ...] = (), over_time: bool = True, kind: str | None = None
) -> str:
    return f'SELECT {select} FROM "kpi" WHERE {kpi_where(kind)}{_group_by(by, over_time)}'


def _integrity_thresholds(target: float) -> tuple[Threshold, ...]:
    return (Threshold(target, "green"),)


def integrity_stat(
    *, title: str, by: tuple[str, ...] = ("site",), kind: str | None = None, width: int = 6
) -> StatPanel:
    """Integrity over the whole time range, one number per group, red below target."""
    target = integrity_target(kind)
    return StatPanel(
        title=title,
        description=f"{INTEGRITY_DEFINITION} Target {target:g} %; red below it.",
        targets=(
            InfluxQLTarget(
                kpi_query(kpi_ratio("good_s", "observed_s"), by=by, over_time=False, kind=kind),
                alias=_alias(by),
            ),
        ),
        unit="percent",
        decimals=2,
        base_color="red",
        thresholds=_integrity_thresholds(target),
        width=width,
    )


def integrity_trend(
    *, title: str, by: tuple[str, ...] = ("site", "building"), kind: str | None = None
) -> TimeSeriesPanel:
    """Integrity per hour and group, with the target drawn as a line."""
    target = integrity_target(kind)
    return TimeSeriesPanel(
        title=title,
        description=f"{INTEGRITY_DEFINITION} The line is the target, {target:g} %.",
        targets=(
            InfluxQLTarget(
                kpi_query(kpi_ratio("good_s", "observed_s"), by=by, kind=kind), alias=_alias(by)
            ),
        ),
        unit="percent",
        decimals=2,
        max_value=100,
        base_color="red",
        thresholds=_integrity_thresholds(target),
        min_interval=KPI_INTERVAL,
        legend_calcs=("mean", "min", "lastNotNull"),
    )


_OPEN_BY_SEVERITY_INNER: Final = (
    'last("open_critical") AS "critical", last("open_major") AS "major", '
    'last("open_minor") AS "minor"'
)
_OPEN_BY_SEVERITY_OUTER: Final = (
    'sum("critical") AS "critical", sum("major") AS "major", sum("minor") AS "minor"'
)
_SEVERITY_COLOURS: Final = "critical: dark red, major: orange, minor: yellow"


def open_tickets_stat(*, kind: str | None = None, width: int = 6) -> StatPanel:
    """Tickets not yet verified or closed at the end of the latest hour, by severity."""
    inner = (
        f'SELECT {_OPEN_BY_SEVERITY_INNER} FROM "kpi" WHERE {kpi_where(kind)} '
        'GROUP BY "site", "building", "kind"'
    )
    return StatPanel(
        title="Open tickets by severity",
        description=(
            "Tickets open, dispatched, rectified (awaiting re-check) or reopened at the end of "
            "the latest KPI hour in the range, by current severity."
        ),
        targets=(
            InfluxQLTarget(
                f"SELECT {_OPEN_BY_SEVERITY_OUTER} FROM ({inner}) WHERE $timeFilter",
                alias="$col",
            ),
        ),
        base_color="blue",
        decimals=0,
        width=width,
    )


def open_tickets_over_time(*, kind: str | None = None, width: int = 12) -> TimeSeriesPanel:
    """The open-ticket backlog at each hour's end, stacked by severity."""
    inner = (
        f'SELECT {_OPEN_BY_SEVERITY_INNER} FROM "kpi" WHERE {kpi_where(kind)} '
        'GROUP BY time($__interval), "site", "building", "kind"'
    )
    return TimeSeriesPanel(
        title="Open tickets by severity over time",
        description=(
            "Unresolved tickets (open, dispatched, rectified awaiting re-check, reopened) at the "
            f"end of each hour, stacked by severity ({_SEVERITY_COLOURS})."
        ),
        targets=(
            InfluxQLTarget(
                f"SELECT {_OPEN_BY_SEVERITY_OUTER} FROM ({inner}) "
                "WHERE $timeFilter GROUP BY time($__interval) fill(none)",
                alias="$col",
            ),
        ),
        draw_style="bars",
        fill_opacity=80,
        stacked=True,
        min_value=0,
        decimals=0,
        min_interval=KPI_INTERVAL,
        width=width,
    )


def sla_breaches_stat(*, width: int = 3) -> StatPanel:
    return StatPanel(
        title="SLA breaches",
        description="Dispatch and rectify deadlines that passed in the time range unmet.",
        targets=(
            InfluxQLTarget(kpi_query('sum("sla_breaches")', over_time=False), alias="SLA breaches"),
        ),
        reduce_calc="sum",
        base_color="green",
        thresholds=(Threshold(1, "red"),),
        decimals=0,
        width=width,
    )


def sla_breaches_over_time(*, width: int = 12) -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="SLA breaches by stage",
        description=(
            "Deadlines breached per hour: `dispatch` (not assigned in time) and `rectify` (not "
            "repaired in time), counted in the hour the deadline fell. Each breach escalates "
            "the ticket one severity level."
        ),
        targets=(
            InfluxQLTarget(
                kpi_query(
                    'sum("sla_dispatch_breaches") AS "dispatch", '
                    'sum("sla_rectify_breaches") AS "rectify"'
                ),
                alias="$col",
            ),
        ),
        draw_style="bars",
        fill_opacity=80,
        stacked=True,
        min_value=0,
        decimals=0,
        base_color="red",
        min_interval=KPI_INTERVAL,
        width=width,
    )


def chronic_equipment_stat(*, width: int = 3) -> StatPanel:
    """Red-carded devices: the same fault a third time within the repeat window."""
    inner = (
        f'SELECT last("chronic_devices") AS "chronic" FROM "kpi" WHERE {kpi_where()} '
        'GROUP BY "site", "building", "kind"'
    )
    return StatPanel(
        title="Chronic equipment",
        description=(
            "Devices with a red card (the same fault a third time within the repeat window, "
            "FACMON_REPEAT_WINDOW_DAYS) opened within that window, at the latest KPI hour. "
            "`GET /api/equipment/chronic` lists them."
        ),
        targets=(
            InfluxQLTarget(
                f'SELECT sum("chronic") FROM ({inner}) WHERE $timeFilter', alias="red cards"
            ),
        ),
        base_color="green",
        thresholds=(Threshold(1, "red"),),
        decimals=0,
        width=width,
    )


def ratio_stat(
    *, title: str, description: str, select: str, unit: str, width: int = 4
) -> StatPanel:
    return StatPanel(
        title=title,
        description=description,
        targets=(InfluxQLTarget(kpi_query(select, over_time=False), alias=title),),
        unit=unit,
        decimals=1,
        base_color="blue",
        width=width,
    )


def ratio_trend(
    *,
    title: str,
    description: str,
    select: str,
    unit: str,
    by: tuple[str, ...] = ("kind",),
    width: int = 12,
) -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title=title,
        description=description,
        targets=(InfluxQLTarget(kpi_query(select, by=by), alias=_alias(by)),),
        unit=unit,
        decimals=1,
        min_value=0,
        min_interval=KPI_INTERVAL,
        draw_style="points" if unit == "s" else "line",
        legend_calcs=("mean", "lastNotNull"),
        width=width,
    )
