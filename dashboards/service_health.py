"""The "Service health" dashboard: is ingest keeping up, and is anything being lost?

Reads `facmon_service`, the service's own metrics that
`quality.kpi.ServiceMetricsWriter` writes every few seconds (counters are
cumulative, so panels take `non_negative_difference`, which also survives a
restart resetting them), plus the telemetry measurements and the hourly
`kpi` service points (dead letters from the database, ingest lag).

>>> service_health().to_json()["uid"]
'facmon-service'
"""

from __future__ import annotations

from typing import Final

from dashboards.common import building_variable, kind_variable, site_variable
from dashboards.kpi_panels import KPI_INTERVAL
from dashboards.model import (
    FACMON_INFLUXDB,
    Dashboard,
    DataSourceRef,
    InfluxQLTarget,
    Panel,
    StatPanel,
    Threshold,
    TimeSeriesPanel,
)
from dashboards.overview import messages_per_kind

SERVICE: Final = '"facmon_service"'
PER_INSTANCE: Final = 'GROUP BY time($__interval), "instance" fill(none)'
SERVICE_KPI: Final = "$timeFilter AND \"scope\" = 'service'"
MSG_PER_S: Final = "suffix: msg/s"


def _per_instance(select: str) -> InfluxQLTarget:
    return InfluxQLTarget(
        f"SELECT {select} FROM {SERVICE} WHERE $timeFilter {PER_INSTANCE}", alias="$tag_instance"
    )


def _latest(select: str) -> InfluxQLTarget:
    return InfluxQLTarget(
        f'SELECT {select} FROM {SERVICE} WHERE $timeFilter GROUP BY "instance"',
        alias="$tag_instance",
    )


def ingest_rate_stat() -> StatPanel:
    return StatPanel(
        title="Ingest rate",
        description="Messages made durable per second, latest interval, per ingest instance.",
        targets=(_per_instance('non_negative_derivative(max("messages_ingested"), 1s)'),),
        unit=MSG_PER_S,
        decimals=1,
        base_color="blue",
        width=6,
    )


def lag_stat() -> StatPanel:
    return StatPanel(
        title="Latest ingest lag",
        description="Receive time minus device time of the latest sample (a device's clock "
        "skew shows here too).",
        targets=(_latest('last("ingest_lag_seconds")'),),
        unit="s",
        decimals=1,
        thresholds=(Threshold(10, "orange"), Threshold(60, "red")),
        width=6,
    )


def spool_stat() -> StatPanel:
    return StatPanel(
        title="Points in spool",
        description="Points waiting in the local disk spool for the series store, latest. "
        "Non-zero means InfluxDB was unreachable and the backlog is being replayed.",
        targets=(_latest('last("spool_points")'),),
        decimals=0,
        thresholds=(Threshold(1, "orange"),),
        width=6,
    )


def dead_letters_stat() -> StatPanel:
    return StatPanel(
        title="Dead letters",
        description="Messages refused in the time range, counted from the dead-letter table "
        "by the KPI job (`GET /api/dead-letters` lists them with their reasons).",
        targets=(
            InfluxQLTarget(
                f'SELECT sum("dead_letters") FROM "kpi" WHERE {SERVICE_KPI}', alias="dead letters"
            ),
        ),
        decimals=0,
        thresholds=(Threshold(1, "orange"),),
        width=6,
    )


def ingest_rate() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Messages ingested per second",
        description="Every channel (telemetry, events, status), per ingest instance.",
        targets=(_per_instance('non_negative_derivative(max("messages_ingested"), 1s)'),),
        unit=MSG_PER_S,
        min_value=0,
    )


def ingest_lag() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Ingest lag",
        description="Largest receive-minus-device-time seen per interval. A steady rise means "
        "ingest falls behind; a constant offset is usually a device clock.",
        targets=(_per_instance('max("ingest_lag_seconds")'),),
        unit="s",
        min_value=0,
    )


def ingest_lag_hourly() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Ingest lag per hour",
        description="The KPI job's hourly roll-up of the lag metric: maximum and mean.",
        targets=(
            InfluxQLTarget(
                'SELECT max("ingest_lag_max_s") AS "max", mean("ingest_lag_mean_s") AS "mean" '
                f'FROM "kpi" WHERE {SERVICE_KPI} GROUP BY time($__interval) fill(none)',
                alias="$col",
            ),
        ),
        unit="s",
        min_value=0,
        min_interval=KPI_INTERVAL,
    )


def counter_increase(title: str, field: str, description: str, color: str) -> TimeSeriesPanel:
    """A cumulative counter's increase per interval, as bars."""
    return TimeSeriesPanel(
        title=title,
        description=description,
        targets=(_per_instance(f'non_negative_difference(max("{field}"))'),),
        draw_style="bars",
        fill_opacity=80,
        min_value=0,
        decimals=0,
        base_color=color,
    )


def spool_depth() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Spool depth",
        description=(
            "Points kept in the local disk spool while the series store cannot take them; "
            "they are replayed oldest first once it answers. Past the spool's bound, batches "
            "stay unacknowledged and the broker holds the rest (see pending messages)."
        ),
        targets=(_per_instance('max("spool_points")'),),
        min_value=0,
        decimals=0,
        base_color="orange",
    )


def pending_messages() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Pending messages",
        description="Messages received but not yet durable (in the store or the spool), hence "
        "not yet acknowledged to the broker.",
        targets=(_per_instance('max("ingest_pending_messages")'),),
        min_value=0,
        decimals=0,
    )


def devices_online() -> TimeSeriesPanel:
    return TimeSeriesPanel(
        title="Devices online",
        description="Devices the ingestor currently considers online.",
        targets=(_per_instance('last("devices_online")'),),
        min_value=0,
        decimals=0,
    )


def service_panels() -> tuple[Panel, ...]:
    return (
        ingest_rate_stat(),
        lag_stat(),
        spool_stat(),
        dead_letters_stat(),
        ingest_rate(),
        messages_per_kind(),
        ingest_lag(),
        ingest_lag_hourly(),
        counter_increase(
            "Dead letters per interval",
            "dead_letters",
            "Messages refused (bad topic, payload, schema, timestamp...) per interval.",
            "orange",
        ),
        counter_increase(
            "Write errors",
            "write_errors",
            "Failed batch writes to the series store; ingest retries them with backoff.",
            "red",
        ),
        spool_depth(),
        pending_messages(),
        counter_increase(
            "Batches written", "batches_written", "Batches made durable per interval.", "blue"
        ),
        devices_online(),
    )


def service_health(*, datasource: DataSourceRef = FACMON_INFLUXDB) -> Dashboard:
    return Dashboard(
        uid="facmon-service",
        title="Service health",
        description="Ingest rate, lag, dead letters, write errors, spool depth and pending "
        "messages.",
        tags=("facmon", "service"),
        link_tag="facmon",
        datasource=datasource,
        variables=(site_variable(), building_variable(), kind_variable()),
        panels=service_panels(),
        time_from="now-6h",
        refresh="30s",
    )
