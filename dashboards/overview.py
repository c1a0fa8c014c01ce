"""The "Facility overview" dashboard: the integrity rate against its targets, the ticket
backlog, ingest health, and one key signal per kind.

One function per panel, so that a panel can be read, tested and reused on
its own; `facility_overview` assembles them and takes the few things a
deployment may want to change (uid, title, datasource, reference lines).
Shared filters, variables and annotations are in `dashboards.common`, the
KPI panels in `dashboards.kpi_panels`.

>>> dashboard = facility_overview().to_json()
>>> dashboard["uid"], [v["name"] for v in dashboard["templating"]["list"]]
('facmon-overview', ['site', 'building', 'kind'])
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.topics import Kind
from dashboards.common import (
    HELD_OPEN_LIMIT_S,
    KIND_MEASUREMENTS,
    LOCATION,
    NO_KIND_TAG,
    building_variable,
    device_events_annotation,
    kind_variable,
    per_device_metric,
    site_variable,
    ticket_progress_annotation,
    tickets_opened_annotation,
)
from dashboards.kpi_panels import (
    chronic_equipment_stat,
    integrity_stat,
    integrity_trend,
    open_tickets_over_time,
    open_tickets_stat,
    sla_breaches_over_time,
    sla_breaches_stat,
)
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


@dataclass(frozen=True, slots=True)
class ReferenceLines:
    """Where the reference lines sit on the per-kind panels.

    They guide the eye; the detectors, not these lines, decide what becomes
    a ticket. Defaults sit well above the simulators' normal running
    (pump ~0.21 g, door closing ~3 s, doors open 3-12 s per badge).
    """

    pump_vibration_warn_g: float = 0.3
    pump_vibration_alarm_g: float = 0.45
    door_close_warn_s: float = 5.0
    door_close_alarm_s: float = 8.0
    held_open_warn_s: float = 30.0
    held_open_alarm_s: float = HELD_OPEN_LIMIT_S
    """The door detector's own limit: past this line it opens a ticket."""


def _warn_alarm(warn: float, alarm: float) -> tuple[Threshold, ...]:
    return (Threshold(warn, "orange"), Threshold(alarm, "red"))


def devices_reporting_stat() -> StatPanel:
    """Distinct devices per kind that sent telemetry in the time range."""
    query = (
        'SELECT count("messages") FROM ('
        f'SELECT count("seq") AS "messages" FROM {KIND_MEASUREMENTS} '
        f"WHERE $timeFilter AND {NO_KIND_TAG} AND {LOCATION} "
        'GROUP BY "site", "building", "device_id"'
        ") WHERE $timeFilter"
    )
    return StatPanel(
        title="Devices reporting",
        description="Devices that sent at least one telemetry message in the time range, by kind.",
        targets=(InfluxQLTarget(query, alias="$measurement"),),
        base_color="blue",
        width=12,
    )


def tickets_opened_by_severity_stat() -> StatPanel:
    """Tickets the detectors opened in the time range, one number per severity."""
    query = (
        'SELECT sum("opened") FROM "tickets" '
        f'WHERE $timeFilter AND {LOCATION} AND "kind" =~ /^$kind$/ GROUP BY "severity"'
    )
    return StatPanel(
        title="Tickets opened by severity",
        description=(
            "Quality tickets opened in the time range (the `tickets` measurement records "
            "openings; the ticket board shows their current state)."
        ),
        targets=(InfluxQLTarget(query, alias="$tag_severity"),),
        reduce_calc="sum",
        base_color="blue",
        width=12,
    )


def messages_per_kind() -> TimeSeriesPanel:
    """Telemetry messages ingested per interval, one series per device kind."""
    query = (
        f'SELECT count("seq") FROM {KIND_MEASUREMENTS} '
        f"WHERE $timeFilter AND {NO_KIND_TAG} AND {LOCATION} "
        "GROUP BY time($__interval) fill(0)"
    )
    return TimeSeriesPanel(
        title="Telemetry messages ingested",
        description="Telemetry samples stored per interval, by device kind. A drop means "
        "devices, the broker or ingest have stopped.",
        targets=(InfluxQLTarget(query, alias="$measurement"),),
        min_value=0,
        stacked=True,
        fill_opacity=30,
    )


def devices_reporting_over_time() -> TimeSeriesPanel:
    """Distinct devices per kind that sent telemetry in each interval."""
    query = (
        'SELECT count("messages") FROM ('
        f'SELECT count("seq") AS "messages" FROM {KIND_MEASUREMENTS} '
        f"WHERE $timeFilter AND {NO_KIND_TAG} AND {LOCATION} "
        'GROUP BY time($__interval), "site", "building", "device_id"'
        ") WHERE $timeFilter GROUP BY time($__interval) fill(0)"
    )
    return TimeSeriesPanel(
        title="Devices reporting over time",
        description="Devices that sent telemetry in each interval, by kind.",
        targets=(InfluxQLTarget(query, alias="$measurement"),),
        min_value=0,
        decimals=0,
    )


def tickets_opened_over_time() -> TimeSeriesPanel:
    """Ticket openings per interval by severity, to see bursts and their timing."""
    query = (
        'SELECT sum("opened") FROM "tickets" '
        f'WHERE $timeFilter AND {LOCATION} AND "kind" =~ /^$kind$/ '
        'GROUP BY time($__interval), "severity" fill(none)'
    )
    return TimeSeriesPanel(
        title="Tickets opened",
        description="Quality tickets opened per interval, by severity.",
        targets=(InfluxQLTarget(query, alias="$tag_severity"),),
        draw_style="bars",
        fill_opacity=80,
        stacked=True,
        min_value=0,
        decimals=0,
        width=8,
    )


def device_events_by_kind() -> TimeSeriesPanel:
    """Discrete device events (entrapment, door forced, fault codes...) per interval."""
    query = (
        'SELECT count("event") FROM "events" '
        f'WHERE $timeFilter AND {LOCATION} AND "kind" =~ /^$kind$/ '
        'GROUP BY time($__interval), "kind" fill(none)'
    )
    return TimeSeriesPanel(
        title="Device events",
        description="Events published on the devices' event channel, by kind; the "
        "'Device events' annotation shows each one.",
        targets=(InfluxQLTarget(query, alias="$tag_kind"),),
        draw_style="bars",
        fill_opacity=80,
        stacked=True,
        min_value=0,
        decimals=0,
        width=8,
    )


def devices_going_offline() -> TimeSeriesPanel:
    """Transitions to offline (status messages and last wills) per interval."""
    query = (
        'SELECT count("online") FROM "device_status" '
        f'WHERE $timeFilter AND "online" = false AND {LOCATION} AND "kind" =~ /^$kind$/ '
        'GROUP BY time($__interval), "kind" fill(none)'
    )
    return TimeSeriesPanel(
        title="Devices going offline",
        description="Offline status changes per interval, by kind: a broker's last-will "
        "message or the ingestor's liveness check.",
        targets=(InfluxQLTarget(query, alias="$tag_kind"),),
        draw_style="bars",
        fill_opacity=80,
        stacked=True,
        min_value=0,
        decimals=0,
        base_color="red",
        width=8,
    )


def pump_vibration(lines: ReferenceLines) -> TimeSeriesPanel:
    """Bearing wear shows first as rising vibration, long before the pump fails."""
    return per_device_metric(
        Kind.PUMP,
        "accelerometer1_rms_g",
        title="Pump vibration (accelerometer 1 RMS)",
        description="Mean vibration per pump. A slow upward trend is the bearing wear "
        "the predictive detector tickets before it becomes a breakdown.",
        thresholds=_warn_alarm(lines.pump_vibration_warn_g, lines.pump_vibration_alarm_g),
    )


def elevator_door_close_time(lines: ReferenceLines) -> TimeSeriesPanel:
    """Slowing doors are the commonest elevator defect and precede entrapments."""
    return per_device_metric(
        Kind.ELEVATOR,
        "door_close_time_s",
        title="Elevator door close time",
        description="Mean time for the doors to close fully, per elevator.",
        thresholds=_warn_alarm(lines.door_close_warn_s, lines.door_close_alarm_s),
    )


def lighting_current() -> TimeSeriesPanel:
    """A circuit drawing less current than usual while on has failed lamps.

    No reference line: a failure is a drop relative to the circuit's own load.
    """
    return per_device_metric(
        Kind.LIGHTING,
        "current_a",
        title="Lighting circuit current",
        description="Mean current per lighting circuit. A step down while the circuit "
        "is on means lamps have failed.",
    )


def access_held_open(lines: ReferenceLines) -> TimeSeriesPanel:
    """A door held open defeats access control; the maximum shows the worst case."""
    return per_device_metric(
        Kind.ACCESS,
        "held_open_s",
        title="Access door held-open time",
        description="Longest held-open time per door in each interval.",
        aggregate="max",
        thresholds=_warn_alarm(lines.held_open_warn_s, lines.held_open_alarm_s),
    )


def kpi_panels() -> tuple[Panel, ...]:
    """The quality department's headline: integrity against target, backlog, breaches."""
    return (
        integrity_stat(title="Equipment integrity by site", by=("site",)),
        integrity_stat(title="Elevator integrity by site", by=("site",), kind="elevator"),
        open_tickets_stat(),
        sla_breaches_stat(),
        chronic_equipment_stat(),
        integrity_trend(title="Equipment integrity by building", by=("site", "building")),
        integrity_trend(title="Elevator integrity by building", kind="elevator"),
        open_tickets_over_time(),
        sla_breaches_over_time(),
    )


def overview_panels(lines: ReferenceLines) -> tuple[Panel, ...]:
    """Panels in reading order: KPIs, ingest, tickets, then one signal per kind."""
    return (
        *kpi_panels(),
        devices_reporting_stat(),
        tickets_opened_by_severity_stat(),
        messages_per_kind(),
        devices_reporting_over_time(),
        tickets_opened_over_time(),
        device_events_by_kind(),
        devices_going_offline(),
        pump_vibration(lines),
        elevator_door_close_time(lines),
        lighting_current(),
        access_held_open(lines),
    )


def facility_overview(
    *,
    uid: str = "facmon-overview",
    title: str = "Facility overview",
    datasource: DataSourceRef = FACMON_INFLUXDB,
    lines: ReferenceLines | None = None,
    time_from: str = "now-6h",
    refresh: str = "30s",
) -> Dashboard:
    """The engineering staff's first screen, filterable by site, building and kind."""
    return Dashboard(
        uid=uid,
        title=title,
        description=(
            "Equipment integrity against its targets, the ticket backlog, ingest health and "
            "one key signal per device kind."
        ),
        tags=("facmon",),
        link_tag="facmon",
        datasource=datasource,
        variables=(site_variable(), building_variable(), kind_variable()),
        annotations=(
            device_events_annotation(),
            tickets_opened_annotation(),
            ticket_progress_annotation(),
        ),
        panels=overview_panels(lines or ReferenceLines()),
        time_from=time_from,
        refresh=refresh,
    )
