"""A small typed model of the Grafana dashboard JSON that facmon ships.

`grafana-foundation-sdk` has no InfluxQL query builder, and the few panel
kinds used here do not need it: plain frozen dataclasses that render to the
JSON Grafana stores keep the generated files readable, diffable and
deterministic. Only what the dashboards use is modelled; shared panel
defaults live here so that every panel looks and behaves the same.

>>> target = InfluxQLTarget('SELECT mean("current_a") FROM "lighting" WHERE $timeFilter')
>>> target.to_json(FACMON_INFLUXDB)["rawQuery"]
True
>>> panel = TimeSeriesPanel(title="Lighting current", targets=(target,), unit="amp")
>>> panel.to_json(panel_id=1, grid_pos=GridPos(0, 0, 12, 8), datasource=FACMON_INFLUXDB)["type"]
'timeseries'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

JSON = dict[str, Any]

GRID_WIDTH: Final = 24
"""Grafana's dashboard grid is 24 columns wide."""

SCHEMA_VERSION: Final = 39
"""Dashboard JSON schema version the generated files claim (Grafana 10.3 - 11)."""


@dataclass(frozen=True, slots=True)
class DataSourceRef:
    """A datasource by uid, so dashboards survive a datasource being renamed."""

    type: str
    uid: str

    def to_json(self) -> JSON:
        return {"type": self.type, "uid": self.uid}


FACMON_INFLUXDB: Final = DataSourceRef(type="influxdb", uid="facmon-influxdb")
"""The datasource that `provisioning/datasources/influxdb.yaml` creates."""


@dataclass(frozen=True, slots=True)
class InfluxQLTarget:
    """One raw InfluxQL query of a panel.

    Raw mode (rather than Grafana's query builder) keeps the query text in the
    JSON exactly as written, so tests can read and execute it.
    `alias` uses Grafana's InfluxQL alias patterns (`$tag_device_id`,
    `$measurement`).
    """

    query: str
    ref_id: str = "A"
    alias: str = ""
    result_format: Literal["time_series", "table"] = "time_series"

    def to_json(self, datasource: DataSourceRef) -> JSON:
        target: JSON = {
            "datasource": datasource.to_json(),
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias:
            target["alias"] = self.alias
        return target


@dataclass(frozen=True, slots=True)
class Threshold:
    """A value from which a panel shows `color`; drawn as a line on time series."""

    value: float
    color: str


@dataclass(frozen=True, slots=True)
class ValueText:
    """Show a raw value (e.g. `true`) as text in a colour: online/offline, on/off."""

    value: str
    text: str
    color: str


@dataclass(frozen=True, slots=True)
class GridPos:
    x: int
    y: int
    w: int
    h: int

    def to_json(self) -> JSON:
        return {"h": self.h, "w": self.w, "x": self.x, "y": self.y}


@dataclass(frozen=True, kw_only=True)
class Panel:
    """What every panel shares: title, queries, unit, thresholds and size.

    Position and id are not stored: the dashboard lays panels out in order,
    so adding a panel never means renumbering the others by hand.
    """

    panel_type: ClassVar[str] = ""

    title: str
    targets: tuple[InfluxQLTarget, ...]
    description: str = ""
    unit: str = "short"
    decimals: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    thresholds: tuple[Threshold, ...] = ()
    mappings: tuple[ValueText, ...] = ()
    min_interval: str = ""
    """Grafana's "Min interval": `$__interval` never goes below it (KPIs are hourly)."""
    base_color: str = "green"
    width: int = 12
    height: int = 8

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError(f"panel {self.title!r} has no query")
        ref_ids = [target.ref_id for target in self.targets]
        if len(set(ref_ids)) != len(ref_ids):
            raise ValueError(f"panel {self.title!r} repeats a refId: {ref_ids}")
        if not 1 <= self.width <= GRID_WIDTH or self.height < 1:
            raise ValueError(f"panel {self.title!r} has an invalid size")

    def to_json(self, *, panel_id: int, grid_pos: GridPos, datasource: DataSourceRef) -> JSON:
        panel: JSON = {
            "datasource": datasource.to_json(),
            "description": self.description,
            "fieldConfig": {"defaults": self._field_defaults(), "overrides": []},
            "gridPos": grid_pos.to_json(),
            "id": panel_id,
            "options": self._options(),
            "targets": [target.to_json(datasource) for target in self.targets],
            "title": self.title,
            "type": self.panel_type,
        }
        if self.min_interval:
            panel["interval"] = self.min_interval
        return panel

    def _thresholds_json(self) -> JSON:
        steps: list[JSON] = [{"color": self.base_color, "value": None}]
        steps += [
            {"color": t.color, "value": t.value}
            for t in sorted(self.thresholds, key=lambda t: t.value)
        ]
        return {"mode": "absolute", "steps": steps}

    def _field_defaults(self) -> JSON:
        defaults: JSON = {
            "color": {"mode": "palette-classic"},
            "thresholds": self._thresholds_json(),
            "unit": self.unit,
        }
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.min_value is not None:
            defaults["min"] = self.min_value
        if self.max_value is not None:
            defaults["max"] = self.max_value
        if self.mappings:
            defaults["mappings"] = [
                {
                    "options": {
                        m.value: {"color": m.color, "index": index, "text": m.text}
                        for index, m in enumerate(self.mappings)
                    },
                    "type": "value",
                }
            ]
        return defaults

    def _options(self) -> JSON:
        return {}


@dataclass(frozen=True, kw_only=True)
class TimeSeriesPanel(Panel):
    """A time series; thresholds are drawn as reference lines."""

    panel_type: ClassVar[str] = "timeseries"

    draw_style: Literal["line", "bars", "points"] = "line"
    fill_opacity: int = 10
    stacked: bool = False
    legend_calcs: tuple[str, ...] = ()

    def _field_defaults(self) -> JSON:
        defaults = super()._field_defaults()
        defaults["custom"] = {
            "drawStyle": self.draw_style,
            "fillOpacity": self.fill_opacity,
            "lineWidth": 1,
            "pointSize": 4,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if self.stacked else "none"},
            "thresholdsStyle": {"mode": "line" if self.thresholds else "off"},
        }
        return defaults

    def _options(self) -> JSON:
        return {
            "legend": {
                "calcs": list(self.legend_calcs),
                "displayMode": "table" if self.legend_calcs else "list",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }


@dataclass(frozen=True, kw_only=True)
class StatPanel(Panel):
    """A big number per series, reduced over the time range by `reduce_calc`."""

    panel_type: ClassVar[str] = "stat"

    reduce_calc: str = "lastNotNull"
    color_mode: Literal["value", "background", "none"] = "value"
    graph_mode: Literal["area", "none"] = "none"
    width: int = 12
    height: int = 5

    def _options(self) -> JSON:
        return {
            "colorMode": self.color_mode,
            "graphMode": self.graph_mode,
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": [self.reduce_calc], "fields": "", "values": False},
            "textMode": "value_and_name",
        }


@dataclass(frozen=True, kw_only=True)
class StateTimelinePanel(Panel):
    """One band per series showing its state over time (online/offline, on/off).

    InfluxQL returns booleans as they are; `mappings` name and colour them.
    """

    panel_type: ClassVar[str] = "state-timeline"

    def _field_defaults(self) -> JSON:
        defaults = super()._field_defaults()
        defaults["color"] = {"mode": "thresholds"}
        defaults["custom"] = {"fillOpacity": 80, "lineWidth": 0}
        return defaults

    def _options(self) -> JSON:
        return {
            "alignValue": "left",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            "mergeValues": True,
            "rowHeight": 0.9,
            "showValue": "never",
            "tooltip": {"mode": "single", "sort": "none"},
        }


@dataclass(frozen=True, kw_only=True)
class StatusHistoryPanel(Panel):
    """A grid: one row per series, one cell per interval, coloured by value (a heatmap of
    counts by category, which Grafana's heatmap panel cannot key by tag)."""

    panel_type: ClassVar[str] = "status-history"

    def _field_defaults(self) -> JSON:
        defaults = super()._field_defaults()
        defaults["color"] = {"mode": "thresholds"}
        defaults["custom"] = {"fillOpacity": 80, "lineWidth": 1}
        return defaults

    def _options(self) -> JSON:
        return {
            "colWidth": 0.9,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            "rowHeight": 0.9,
            "showValue": "auto",
            "tooltip": {"mode": "single", "sort": "none"},
        }


@dataclass(frozen=True, slots=True)
class QueryVariable:
    """A template variable filled by an InfluxQL query (`SHOW TAG VALUES ...`).

    With `all_value=".*"`, selecting All turns `/^$site$/` into `/^.*$/`
    instead of a long alternation of every value.
    """

    name: str
    query: str
    label: str = ""
    multi: bool = True
    include_all: bool = True
    all_value: str = ".*"
    refresh: Literal[1, 2] = 1
    """1: on dashboard load; 2: on time range change."""

    def to_json(self, datasource: DataSourceRef) -> JSON:
        current: JSON = (
            {"selected": True, "text": ["All"], "value": ["$__all"]} if self.include_all else {}
        )
        return {
            "allValue": self.all_value if self.include_all else None,
            "current": current,
            "datasource": datasource.to_json(),
            "definition": self.query,
            "hide": 0,
            "includeAll": self.include_all,
            "label": self.label or self.name,
            "multi": self.multi,
            "name": self.name,
            "options": [],
            "query": self.query,
            "refresh": self.refresh,
            "regex": "",
            "skipUrlSync": False,
            "sort": 1,
            "type": "query",
        }


@dataclass(frozen=True, slots=True)
class InfluxQLAnnotation:
    """Marks on every time series from an InfluxQL query (events, tickets).

    Written in the InfluxDB datasource's annotation format (`query`,
    `textColumn`, `tagsColumn`), which Grafana still loads and migrates.
    """

    name: str
    query: str
    text_column: str
    tags_column: str = ""
    icon_color: str = "red"
    enabled: bool = True

    def to_json(self, datasource: DataSourceRef) -> JSON:
        return {
            "datasource": datasource.to_json(),
            "enable": self.enabled,
            "hide": False,
            "iconColor": self.icon_color,
            "name": self.name,
            "query": self.query,
            "tagsColumn": self.tags_column,
            "textColumn": self.text_column,
        }


_BUILT_IN_ANNOTATION: Final[JSON] = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


def layout(panels: Sequence[Panel]) -> list[GridPos]:
    """Place panels left to right, wrapping rows at the grid width.

    A row is as tall as its tallest panel, so panels never overlap.
    """
    positions: list[GridPos] = []
    x = y = row_height = 0
    for panel in panels:
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        positions.append(GridPos(x=x, y=y, w=panel.width, h=panel.height))
        x += panel.width
        row_height = max(row_height, panel.height)
    return positions


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    """A whole dashboard; `to_json` gives the model Grafana provisions from a file."""

    uid: str
    title: str
    panels: tuple[Panel, ...]
    variables: tuple[QueryVariable, ...] = ()
    annotations: tuple[InfluxQLAnnotation, ...] = ()
    datasource: DataSourceRef = FACMON_INFLUXDB
    description: str = ""
    tags: tuple[str, ...] = ()
    refresh: str = "30s"
    time_from: str = "now-6h"
    time_to: str = "now"
    timezone: str = "browser"
    link_tag: str = ""
    """Link to every dashboard with this tag (a menu of the facmon dashboards)."""

    def _links(self) -> list[JSON]:
        if not self.link_tag:
            return []
        return [
            {
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "tags": [self.link_tag],
                "title": "Dashboards",
                "type": "dashboards",
            }
        ]

    def to_json(self) -> JSON:
        panels = [
            panel.to_json(panel_id=index, grid_pos=pos, datasource=self.datasource)
            for index, (panel, pos) in enumerate(
                zip(self.panels, layout(self.panels), strict=True), start=1
            )
        ]
        return {
            "annotations": {
                "list": [
                    _BUILT_IN_ANNOTATION,
                    *(a.to_json(self.datasource) for a in self.annotations),
                ]
            },
            "description": self.description,
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "links": self._links(),
            "liveNow": False,
            "panels": panels,
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "tags": list(self.tags),
            "templating": {"list": [v.to_json(self.datasource) for v in self.variables]},
            "time": {"from": self.time_from, "to": self.time_to},
            "timepicker": {},
            "timezone": self.timezone,
            "title": self.title,
            "uid": self.uid,
            "version": 1,
        }
