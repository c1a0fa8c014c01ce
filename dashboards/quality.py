"""The "Quality loop" dashboard: how well the inspect-dispatch-rectify-verify loop runs.

Every number comes from the hourly `kpi` points (see `dashboards.kpi_panels`
for why they are sums of parts), filterable by site, building and kind.

>>> quality_loop().to_json()["uid"]
'facmon-quality'
"""

from __future__ import annotations

from typing import Final

from dashboards.common import (
    building_variable,
    kind_variable,
    site_variable,
    ticket_progress_annotation,
    tickets_opened_annotation,
)
from dashboards.kpi_panels import (
    KPI_INTERVAL,
    kpi_query,
    kpi_ratio,
    open_tickets_over_time,
    ratio_stat,
    ratio_trend,
    sla_breaches_over_time,
)
from dashboards.model import (
    FACMON_INFLUXDB,
    Dashboard,
    DataSourceRef,
    InfluxQLTarget,
    Panel,
    StatPanel,
    StatusHistoryPanel,
    Threshold,
    TimeSeriesPanel,
)

TIMELINESS: Final = (
    "Repair timeliness: of the tickets rectified in the time range, the share rectified by "
    "their rectify deadline (counted from opening, per severity: FACMON_SLA_*_RECTIFY_S)."
)
COMPLETION: Final = (
    "Rectification completion: of the tickets opened in the time range, the share rectified "
    "(and not reopened since) when the KPI job last computed their hour. Tickets dismissed "
    "as false (closed without rectification) are left out. An hour's figure is final 7 days "
    "after it; until then it rises as repairs come in."
)
MTTR: Final = (
    "Mean time to repair: from a ticket's opening to its rectification, over the tickets "
    "rectified in the time range (first rectification in each hour)."
)
MTBF: Final = (
    "Mean time between failures: online device-time divided by the major and critical "
    "tickets opened in the time range (minor tickets are not failures)."
)
REPEATS: Final = (
    "Repeat-fault rate: of the tickets opened in the time range, the share that repeat the "
    "same fault on the same device within the repeat window after a close (yellow or red card)."
)
FINDINGS: Final = (
    "Detector findings: tickets opened plus findings added to an active ticket. Shown by "
    "building and kind: the data model has no floor, so building x kind is the finest place."
)


def timeliness_stat() -> StatPanel:
    return ratio_stat(
        title="Repair timeliness",
        description=TIMELINESS,
        select=kpi_ratio("rectified_on_time", "rectified"),
        unit="percent",
    )


def completion_stat() -> StatPanel:
    return ratio_stat(
        title="Rectification completion",
        description=COMPLETION,
        select=kpi_ratio("completed", "completion_base"),
        unit="percent",
    )


def mttr_stat() -> StatPanel:
    return ratio_stat(
        title="MTTR", description=MTTR, select=kpi_ratio("repair_s", "rectified", 1), unit="s"
    )


def mtbf_stat() -> StatPanel:
    return ratio_stat(
        title="MTBF", description=MTBF, select=kpi_ratio("online_s", "failures", 1), unit="s"
    )


def repeat_stat() -> StatPanel:
    return ratio_stat(
        title="Repeat-fault rate",
        description=REPEATS,
        select=kpi_ratio("repeats", "opened"),
        unit="percent",
    )


def findings_stat() -> StatPanel:
    return StatPanel(
        title="Findings",
        description=FINDINGS,
        targets=(InfluxQLTarget(kpi_query('sum("findings")', over_time=False), alias="findings"),),
        base_color="blue",
        decimals=0,
        width=4,
    )


def opened_and_rectified() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Tickets opened and rectified",
        description="Tickets opened and tickets rectified per hour: the loop's inflow and outflow.",
        targets=(
            InfluxQLTarget(
                kpi_query('sum("opened") AS "opened", sum("rectified") AS "rectified"'),
                alias="$col",
            ),
        ),
        draw_style="bars",
        fill_opacity=70,
        min_value=0,
        decimals=0,
        min_interval=KPI_INTERVAL,
    )


def findings_by_building_and_kind() -> StatusHistoryPanel:
    return StatusHistoryPanel(
        title="Findings by building and kind",
        description=FINDINGS + " Darker cells: more findings in that hour.",
        targets=(
            InfluxQLTarget(
                kpi_query('sum("findings")', by=("building", "kind")),
                alias="$tag_building / $tag_kind",
            ),
        ),
        decimals=0,
        base_color="transparent",
        thresholds=(Threshold(1, "yellow"), Threshold(3, "orange"), Threshold(10, "red")),
        min_interval=KPI_INTERVAL,
        width=24,
        height=10,
    )


def quality_panels() -> tuple[Panel, ...]:
    return (
        timeliness_stat(),
        completion_stat(),
        mttr_stat(),
        mtbf_stat(),
        repeat_stat(),
        findings_stat(),
        ratio_trend(
            title="Repair timeliness by kind",
            description=TIMELINESS,
            select=kpi_ratio("rectified_on_time", "rectified"),
            unit="percent",
        ),
        ratio_trend(
            title="Rectification completion by kind",
            description=COMPLETION,
            select=kpi_ratio("completed", "completion_base"),
            unit="percent",
        ),
        ratio_trend(
            title="MTTR by kind",
            description=MTTR,
            select=kpi_ratio("repair_s", "rectified", 1),
            unit="s",
        ),
        ratio_trend(
            title="MTBF by kind",
            description=MTBF,
            select=kpi_ratio("online_s", "failures", 1),
            unit="s",
        ),
        opened_and_rectified(),
        ratio_trend(
            title="Repeat-fault rate by kind",
            description=REPEATS,
            select=kpi_ratio("repeats", "opened"),
            unit="percent",
        ),
        findings_by_building_and_kind(),
        sla_breaches_over_time(),
        open_tickets_over_time(),
    )


def quality_loop(*, datasource: DataSourceRef = FACMON_INFLUXDB) -> Dashboard:
    return Dashboard(
        uid="facmon-quality",
        title="Quality loop",
        description=(
            "Repair timeliness, rectification completion, MTTR and MTBF, repeat faults and "
            "where findings come from: the quality department's KPIs, hourly."
        ),
        tags=("facmon", "kpi"),
        link_tag="facmon",
        datasource=datasource,
        variables=(site_variable(), building_variable(), kind_variable()),
        annotations=(tickets_opened_annotation(), ticket_progress_annotation()),
        panels=quality_panels(),
        time_from="now-7d",
        refresh="5m",
    )
