"""One dashboard per device kind: the live signals its detectors watch, liveness, and KPIs.

Each detector's signal comes first, with the detector's rule in the panel
description. A threshold line is drawn only where the detector's limit is a
fixed value (an access door held open past 60 s); the other limits are
relative to each device's own learnt baseline, so a line at any one value
would mislead, and the description says so. Ticket openings and their
progress (dispatch, rectification, verification, closing) are annotations.

>>> [d.uid for d in kind_dashboards()]
['facmon-elevator', 'facmon-lighting', 'facmon-pump', 'facmon-access']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from contract.topics import Kind
from dashboards.common import (
    DEVICE_ALIAS,
    DEVICE_FILTER,
    HELD_OPEN_LIMIT_S,
    LOCATION,
    PER_DEVICE,
    building_variable,
    detector_default,
    device_events_annotation,
    device_variable,
    kind_filter,
    metric,
    per_device_metric,
    site_variable,
    ticket_progress_annotation,
    tickets_opened_annotation,
)
from dashboards.kpi_panels import (
    KPI_INTERVAL,
    integrity_stat,
    integrity_trend,
    open_tickets_over_time,
    open_tickets_stat,
)
from dashboards.model import (
    FACMON_INFLUXDB,
    Dashboard,
    DataSourceRef,
    InfluxQLTarget,
    Panel,
    StateTimelinePanel,
    StatPanel,
    Threshold,
    ValueText,
)
from detectors.elevator_door import DoorSlowingDetector
from detectors.lighting_lamp import LampFailureDetector
from detectors.pump_bearing import BearingWearDetector

TITLES: Final = {
    Kind.ELEVATOR: "Elevators",
    Kind.LIGHTING: "Lighting",
    Kind.PUMP: "Water pumps",
    Kind.ACCESS: "Access control",
}


WHERE: Final = f"$timeFilter AND {LOCATION} AND {DEVICE_FILTER}"
"""Time, site, building and device filter (telemetry measurements have no kind tag)."""


def signal(
    kind: Kind,
    name: str,
    title: str,
    description: str,
    *,
    aggregate: str = "mean",
    thresholds: tuple[Threshold, ...] = (),
    draw_style: Literal["line", "bars", "points"] = "line",
) -> Panel:
    """A per-device panel of one contract metric, filtered by the device variable."""
    return per_device_metric(
        kind,
        name,
        title=title,
        description=description,
        aggregate=aggregate,
        thresholds=thresholds,
        device=True,
        draw_style=draw_style,
    )


def state_timeline(
    kind: Kind, name: str, title: str, description: str, on: str, off: str
) -> StateTimelinePanel:
    """A boolean metric per device as coloured bands (InfluxQL keeps booleans as they are)."""
    metric(kind, name)  # it must exist in the contract
    query = (
        f'SELECT last("{name}") FROM "{kind.value}" WHERE {WHERE} '
        f"GROUP BY time($__interval), {PER_DEVICE} fill(previous)"
    )
    return StateTimelinePanel(
        title=title,
        description=description,
        targets=(InfluxQLTarget(query, alias=DEVICE_ALIAS),),
        mappings=(ValueText("true", on, "green"), ValueText("false", off, "text")),
        width=12,
    )


def liveness_timeline(kind: Kind) -> StateTimelinePanel:
    query = (
        f'SELECT last("online") FROM "device_status" WHERE {WHERE} '
        f"AND {kind_filter(kind)} GROUP BY time($__interval), {PER_DEVICE} fill(previous)"
    )
    return StateTimelinePanel(
        title="Liveness",
        description=(
            "Online and offline per device, from status messages, last wills and the "
            "ingestor's silence check. Offline time counts against integrity."
        ),
        targets=(InfluxQLTarget(query, alias=DEVICE_ALIAS),),
        mappings=(ValueText("true", "online", "green"), ValueText("false", "offline", "red")),
        width=12,
    )


def tickets_by_fault_stat(kind: Kind) -> StatPanel:
    query = (
        f'SELECT sum("opened") FROM "tickets" WHERE {WHERE} AND {kind_filter(kind)} '
        'GROUP BY "fault_type"'
    )
    return StatPanel(
        title="Tickets opened by fault",
        description="Tickets the detectors opened in the time range, by fault type.",
        targets=(InfluxQLTarget(query, alias="$tag_fault_type"),),
        reduce_calc="sum",
        base_color="blue",
        decimals=0,
        width=8,
    )


def _relative(rule: str) -> str:
    return (
        f"{rule} The limit is relative to each device's own learnt baseline, so no fixed "
        "threshold line is drawn: a line at one value would be wrong for every other device."
    )


def elevator_signals() -> tuple[Panel, ...]:
    margin_s = detector_default(DoorSlowingDetector, "min_margin")
    rel = detector_default(DoorSlowingDetector, "rel_margin")
    persist = detector_default(DoorSlowingDetector, "persist")
    kind = Kind.ELEVATOR
    return (
        signal(
            kind,
            "door_close_time_s",
            "Door close time (door slowing detector)",
            _relative(
                "door_slowing: the rolling median of the close time against the elevator's "
                f"warm-up baseline; fires above baseline + max({margin_s:g} s, {rel:.0%}) for "
                f"{persist:g} samples in a row."
            ),
        ),
        signal(kind, "door_open_time_s", "Door open time", "Time for the doors to open fully."),
        signal(
            kind,
            "door_reversals",
            "Door reversals",
            "Reversals (doors reopening on an obstruction) per interval.",
            aggregate="sum",
            draw_style="bars",
        ),
        signal(
            kind,
            "levelling_error_mm",
            "Levelling error",
            "Car floor minus landing floor at stops: a trip hazard when it grows.",
        ),
        signal(kind, "motor_current_a", "Motor current", "Mean drive motor current."),
        signal(kind, "car_vibration_rms_ms2", "Car vibration", "Mean car vibration (RMS)."),
        signal(kind, "trips", "Trips", "Trips per interval.", aggregate="sum", draw_style="bars"),
        signal(
            kind,
            "fault_code",
            "Controller fault code",
            "Highest controller fault code per interval; 0 means no fault.",
            aggregate="max",
        ),
    )


def lighting_signals() -> tuple[Panel, ...]:
    ratio = detector_default(LampFailureDetector, "min_ratio")
    persist = detector_default(LampFailureDetector, "persist")
    kind = Kind.LIGHTING
    return (
        signal(
            kind,
            "current_a",
            "Circuit current (lamp failure detector)",
            _relative(
                "lamp_failure: the rolling median of the on-state current against the "
                f"circuit's learnt draw; fires below {ratio:.0%} of it for {persist:g} "
                "on-samples in a row."
            ),
        ),
        state_timeline(
            kind,
            "on",
            "Switched on",
            "Circuit state: the lamp detector scores only while on.",
            "on",
            "off",
        ),
        signal(kind, "power_w", "Power", "Mean active power per circuit."),
        signal(kind, "voltage_v", "Voltage", "Mean supply voltage per circuit."),
        signal(kind, "illuminance_lux", "Illuminance", "Mean illuminance at the sensor."),
    )


def pump_signals() -> tuple[Panel, ...]:
    factor = detector_default(BearingWearDetector, "limit_factor")
    horizon_h = detector_default(BearingWearDetector, "horizon_h")
    kind = Kind.PUMP
    return (
        signal(
            kind,
            "accelerometer1_rms_g",
            "Vibration, accelerometer 1 (bearing wear detector)",
            _relative(
                "bearing_wear (predictive): per-minute medians of vibration while running, "
                f"a Theil-Sen trend, and the projected crossing of {factor:g} x the pump's "
                f"warm-up baseline; fires when that is within {horizon_h / 24:g} days or "
                "already passed."
            ),
        ),
        signal(kind, "accelerometer2_rms_g", "Vibration, accelerometer 2", "Second bearing (RMS)."),
        state_timeline(
            kind,
            "running",
            "Running",
            "Motor state: the bearing detector uses running samples.",
            "running",
            "stopped",
        ),
        signal(kind, "current_a", "Motor current", "Mean motor current."),
        signal(kind, "pressure_bar", "Outlet pressure", "Mean outlet pressure."),
        signal(kind, "flow_rate_lpm", "Flow rate", "Mean flow rate."),
        signal(kind, "motor_temperature_c", "Motor temperature", "Mean motor temperature."),
    )


def access_signals() -> tuple[Panel, ...]:
    kind = Kind.ACCESS
    return (
        signal(
            kind,
            "held_open_s",
            "Door held open (held-open detector)",
            f"door_held_open: fires when a door reports being open longer than "
            f"{HELD_OPEN_LIMIT_S:g} s (the red line) on two samples in a row, once per "
            "opening. Longest held-open time per door and interval.",
            aggregate="max",
            thresholds=(Threshold(HELD_OPEN_LIMIT_S, "red"),),
        ),
        state_timeline(
            kind, "door_open", "Door state", "Door leaf open or closed.", "open", "closed"
        ),
        signal(
            kind,
            "valid_credentials",
            "Badges accepted",
            "Accepted credentials per interval.",
            aggregate="sum",
            draw_style="bars",
        ),
        signal(
            kind,
            "invalid_credentials",
            "Badges refused",
            "Refused credentials per interval: a burst may be an attack or a broken reader.",
            aggregate="sum",
            draw_style="bars",
        ),
        signal(kind, "lock_actuation_ms", "Lock actuation time", "Mean lock actuation time."),
    )


SIGNALS: Final[dict[Kind, Callable[[], tuple[Panel, ...]]]] = {
    Kind.ELEVATOR: elevator_signals,
    Kind.LIGHTING: lighting_signals,
    Kind.PUMP: pump_signals,
    Kind.ACCESS: access_signals,
}


def kind_panels(kind: Kind) -> tuple[Panel, ...]:
    """KPIs of this kind, its detectors' signals, then liveness and the backlog over time."""
    integrity_title = f"{TITLES[kind]} integrity by building"
    return (
        integrity_stat(title=integrity_title, by=("building",), kind=kind.value, width=8),
        open_tickets_stat(kind=kind.value, width=8),
        tickets_by_fault_stat(kind),
        *SIGNALS[kind](),
        liveness_timeline(kind),
        integrity_trend(title=f"{TITLES[kind]} integrity trend", kind=kind.value),
        open_tickets_over_time(kind=kind.value),
    )


def kind_dashboard(kind: Kind, *, datasource: DataSourceRef = FACMON_INFLUXDB) -> Dashboard:
    return Dashboard(
        uid=f"facmon-{kind.value}",
        title=f"{TITLES[kind]}",
        description=(
            f"{TITLES[kind]}: the signals the detectors watch, liveness, and the quality KPIs "
            f"of this kind (KPIs are hourly, at least {KPI_INTERVAL} per point, and do not "
            "filter by device)."
        ),
        tags=("facmon", kind.value),
        link_tag="facmon",
        datasource=datasource,
        variables=(site_variable(), building_variable(), device_variable(kind)),
        annotations=(
            tickets_opened_annotation(kind, device=True),
            ticket_progress_annotation(kind, device=True),
            device_events_annotation(kind, device=True),
        ),
        panels=kind_panels(kind),
    )


def kind_dashboards() -> tuple[Dashboard, ...]:
    return tuple(kind_dashboard(kind) for kind in SIGNALS)
