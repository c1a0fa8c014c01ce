"""The committed dashboard JSON is exactly what the code builds, and every query is sound.

Grafana is not available here, so these checks stand in for "open the
dashboard and look": byte-identical generated files, well-formed panels,
time-bounded queries, and fields and tags that exist in the data model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.topics import TELEMETRY_SCHEMAS, Kind
from dashboards.build import (
    DASHBOARDS,
    GENERATED_DIR,
    all_queries,
    build_all,
    expand_variables,
    panel_queries,
    regex_value,
)
from dashboards.common import HELD_OPEN_LIMIT_S, metric
from dashboards.model import GRID_WIDTH, InfluxQLTarget, TimeSeriesPanel
from dashboards.overview import facility_overview
from observability.metrics import IngestMetrics, MetricsRegistry
from quality.kpi import GroupKpis, metric_fields

PROVISIONING = GENERATED_DIR.parent / "provisioning"

LOCATION_TAGS = frozenset({"site", "building", "device_id"})
# Every field the KPI job can write: a group with every part non-zero, plus the service scope.
_FULL_GROUP = GroupKpis(
    devices=1,
    observed_s=1,
    online_s=1,
    good_s=1,
    opened=1,
    failures=1,
    completion_base=1,
    rectified=1,
)
KPI_FIELDS = frozenset(_FULL_GROUP.fields()) | {
    "dead_letters",
    "ingest_lag_max_s",
    "ingest_lag_mean_s",
}
SERVICE_FIELDS = frozenset(metric_fields(IngestMetrics(MetricsRegistry()).registry.render()))
# (fields, tags) per measurement, as the ingestor, liveness and ticket code write them.
MEASUREMENTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    **{kind.value: (frozenset(TELEMETRY_SCHEMAS[kind]) | {"seq"}, LOCATION_TAGS) for kind in Kind},
    "events": (frozenset({"event", "seq"}), LOCATION_TAGS | {"kind"}),
    "device_status": (frozenset({"online"}), LOCATION_TAGS | {"kind"}),
    "tickets": (
        frozenset({"opened", "ticket_id"}),
        LOCATION_TAGS | {"kind", "fault_type", "severity"},
    ),
    "kpi": (KPI_FIELDS, frozenset({"scope", "site", "building", "kind"})),
    "ticket_events": (
        frozenset({"ticket_id", "from_state", "to_state", "text"}),
        LOCATION_TAGS | {"kind", "fault_type", "severity", "event"},
    ),
    "facmon_service": (SERVICE_FIELDS, frozenset({"instance"})),
}
ALL_TAGS = frozenset().union(*(tags for _, tags in MEASUREMENTS.values()))

# `"kind" = ''` deliberately names a tag telemetry lacks (see overview.NO_KIND_TAG).
_NO_KIND_TAG = "\"kind\" = ''"
_SELECT = re.compile(r'SELECT (?P<select>.+?) FROM (?P<source>"\w+"|/[^/]+/|\()(?P<rest>.*)')
_AGGREGATED = re.compile(r'\w+\("(\w+)"\)')
_ALIAS = re.compile(r'\bAS "(\w+)"')
_QUOTED = re.compile(r'"(\w+)"')


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_all(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="module")
def dashboards(built: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in built]


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard["panels"])


def test_committed_files_match_a_fresh_build(built: list[Path]) -> None:
    fresh = {path.name: path.read_bytes() for path in built}
    committed = {path.name: path.read_bytes() for path in GENERATED_DIR.glob("*.json")}
    assert sorted(committed) == sorted(fresh), (
        "dashboards/generated/ has missing or stale files: run `python -m dashboards.build` "
        "and delete files it no longer writes"
    )
    for name, content in fresh.items():
        assert committed[name] == content, (
            f"dashboards/generated/{name} is out of date: run `python -m dashboards.build`"
        )


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = [path.read_bytes() for path in build_all(tmp_path / "a")]
    second = [path.read_bytes() for path in build_all(tmp_path / "b")]
    assert first == second
    assert all(content.endswith(b"}\n") for content in first)


def test_every_dashboard_is_written_under_its_uid(built: list[Path]) -> None:
    uids = [make().uid for make in DASHBOARDS]
    assert sorted(f"{uid}.json" for uid in uids) == [path.name for path in built]
    assert len(set(uids)) == len(uids)


def test_every_panel_has_queries_and_unique_ids(dashboards: list[dict[str, Any]]) -> None:
    for dashboard in dashboards:
        panels = _panels(dashboard)
        assert panels, f"{dashboard['uid']} has no panels"
        ids = [panel["id"] for panel in panels]
        assert len(set(ids)) == len(ids), f"{dashboard['uid']} repeats a panel id: {ids}"
        titles = [panel["title"] for panel in panels]
        assert len(set(titles)) == len(titles), f"{dashboard['uid']} repeats a title"
        for panel in panels:
            targets = panel["targets"]
            assert targets, f"panel {panel['title']!r} has no target"
            ref_ids = [target["refId"] for target in targets]
            assert len(set(ref_ids)) == len(ref_ids), f"{panel['title']!r}: {ref_ids}"
            for target in targets:
                assert target["query"].strip(), f"panel {panel['title']!r} has an empty query"
                assert target["rawQuery"] is True
                assert target["resultFormat"] == "time_series"


def test_panels_and_variables_use_the_provisioned_datasource(
    dashboards: list[dict[str, Any]],
) -> None:
    provisioned = yaml.safe_load(
        (PROVISIONING / "datasources" / "influxdb.yaml").read_text(encoding="utf-8")
    )["datasources"][0]
    expected = {"type": provisioned["type"], "uid": provisioned["uid"]}
    assert expected == {"type": "influxdb", "uid": "facmon-influxdb"}
    for dashboard in dashboards:
        for panel in _panels(dashboard):
            assert panel["datasource"] == expected, panel["title"]
            assert all(target["datasource"] == expected for target in panel["targets"])
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"] == expected, variable["name"]


def test_every_query_is_time_bounded_or_a_show_query(dashboards: list[dict[str, Any]]) -> None:
    for dashboard in dashboards:
        queries = all_queries(dashboard)
        assert len(queries) > len(panel_queries(dashboard))  # annotations and variables too
        for origin, query in queries:
            assert "$timeFilter" in query or query.startswith("SHOW "), (
                f"{origin}: an unbounded query scans all history: {query}"
            )


def _check_select(origin: str, query: str, segment: re.Match[str], aliases: set[str]) -> None:
    source = segment["source"]
    if source == "(":
        fields, tags = frozenset(aliases), ALL_TAGS
    elif source.startswith("/"):
        # A measurement regex: only what every candidate measurement has is safe. `$kind`
        # lists telemetry measurements (and `"kind" = ''` keeps others out under All).
        pattern = "|".join(kind.value for kind in Kind) if "$kind" in source else source[1:-1]
        candidates = [name for name in MEASUREMENTS if re.fullmatch(pattern, name)]
        assert candidates, f"{origin}: {source} matches no measurement"
        fields = frozenset.intersection(*(MEASUREMENTS[name][0] for name in candidates))
        tags = frozenset.intersection(*(MEASUREMENTS[name][1] for name in candidates))
    else:
        name = source.strip('"')
        assert name in MEASUREMENTS, f"{origin}: unknown measurement {name}"
        fields, tags = MEASUREMENTS[name]
    select = _ALIAS.sub("", segment["select"])
    for field in _AGGREGATED.findall(select):
        assert field in fields, f"{origin}: {field!r} is not a field of {source}: {query}"
    for name in _QUOTED.findall(select):
        assert name in fields | tags, f"{origin}: {name!r} does not exist in {source}"
    rest = segment["rest"].split("SELECT ")[0].replace(_NO_KIND_TAG, "")
    for name in _QUOTED.findall(rest):
        assert name in fields | tags, f"{origin}: {name!r} does not exist in {source}: {query}"
    for group_by in re.findall(r"GROUP BY ((?:time\([^)]*\)|[^()])*)", rest):
        for name in _QUOTED.findall(group_by):
            assert name in tags, f"{origin}: GROUP BY {name!r}, not a tag of {source}"


def test_every_field_and_tag_referenced_exists(dashboards: list[dict[str, Any]]) -> None:
    checked = 0
    for dashboard in dashboards:
        for origin, query in all_queries(dashboard):
            if query.startswith("SHOW TAG VALUES"):
                key = re.search(r'WITH KEY = "(\w+)"', query)
                assert key is not None and key[1] in ALL_TAGS, f"{origin}: {query}"
                continue
            if query.startswith("SHOW MEASUREMENTS"):
                continue
            aliases = set(_ALIAS.findall(query))
            starts = [m.start() for m in re.finditer(r"SELECT ", query)]
            assert starts, f"{origin}: not a SELECT or SHOW query: {query}"
            for start in starts:
                segment = _SELECT.match(query, start)
                assert segment is not None, f"{origin}: unparsed query: {query}"
                _check_select(origin, query, segment, aliases)
                checked += 1
    assert checked >= 10


def test_telemetry_fields_come_from_the_contract(dashboards: list[dict[str, Any]]) -> None:
    referenced: set[tuple[str, str]] = set()
    for dashboard in dashboards:
        for _, query in panel_queries(dashboard):
            referenced.update(re.findall(r'\w+\("(\w+)"\) FROM "(\w+)"', query))
    known = {(name, kind.value) for kind in Kind for name in TELEMETRY_SCHEMAS[kind]}
    telemetry = {(field, m) for field, m in referenced if m in {k.value for k in Kind}}
    assert telemetry, "no per-kind telemetry panel found"
    assert telemetry <= known, telemetry - known


def test_panels_fit_the_grid_without_overlapping(dashboards: list[dict[str, Any]]) -> None:
    for dashboard in dashboards:
        boxes = [panel["gridPos"] for panel in _panels(dashboard)]
        cells: set[tuple[int, int]] = set()
        for box in boxes:
            assert box["x"] >= 0 and box["x"] + box["w"] <= GRID_WIDTH, box
            area = {
                (x, y)
                for x in range(box["x"], box["x"] + box["w"])
                for y in range(box["y"], box["y"] + box["h"])
            }
            assert not area & cells, f"{dashboard['uid']}: panel at {box} overlaps another"
            cells |= area


def test_overview_has_the_filter_variables() -> None:
    dashboard = facility_overview().to_json()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert list(variables) == ["site", "building", "kind"]
    for variable in variables.values():
        assert variable["multi"] and variable["includeAll"]
        assert variable["allValue"] == ".*"
    assert variables["site"]["query"] == 'SHOW TAG VALUES WITH KEY = "site"'
    assert "$site" in variables["building"]["query"]
    kinds = variables["kind"]["query"].split("=~ ")[1].strip("/")
    assert all(re.search(kinds, kind.value) for kind in Kind)
    assert not any(re.search(kinds, other) for other in ("events", "tickets", "device_status"))


def test_overview_reference_lines_are_drawn_and_parameterised() -> None:
    dashboard = facility_overview(uid="x", title="X").to_json()
    assert (dashboard["uid"], dashboard["title"]) == ("x", "X")
    vibration = next(p for p in dashboard["panels"] if p["title"].startswith("Pump vibration"))
    defaults = vibration["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] == "line"
    assert [step["value"] for step in defaults["thresholds"]["steps"]] == [None, 0.3, 0.45]
    assert defaults["unit"] == "accG"


def test_expand_variables_leaves_nothing_for_grafana(dashboards: list[dict[str, Any]]) -> None:
    for dashboard in dashboards:
        for origin, query in all_queries(dashboard):
            expanded = expand_variables(
                query, site=regex_value(["hq"]), kind=regex_value(["pump", "access"])
            )
            assert not re.search(r"\$\w|\$\{|\[\[", expanded), f"{origin}: {expanded}"


def test_expand_variables_substitutes_like_grafana() -> None:
    query = (
        'SELECT mean("current_a") FROM "lighting" WHERE $timeFilter AND "site" =~ /^$site$/ '
        'AND "building" =~ /^${building}$/ GROUP BY time($__interval), "device_id"'
    )
    assert expand_variables(
        query,
        site=regex_value(["hq"]),
        building=regex_value(["tower.a", "b"]),
        interval="1m",
        time_filter="time >= 0ms and time <= 1ms",
    ) == (
        'SELECT mean("current_a") FROM "lighting" WHERE time >= 0ms and time <= 1ms '
        'AND "site" =~ /^hq$/ AND "building" =~ /^(tower\\.a|b)$/ '
        'GROUP BY time(1m), "device_id"'
    )
    assert expand_variables('"device_id" =~ /^$device$/', device="p1") == '"device_id" =~ /^p1$/'
    with pytest.raises(ValueError, match="floor"):
        expand_variables('SELECT 1 FROM "x" WHERE "floor" =~ /^$floor$/')


def test_regex_value_escapes_regex_and_slashes() -> None:
    assert regex_value(["a/b+c"]) == "a\\/b\\+c"
    with pytest.raises(ValueError):
        regex_value([])


def test_model_refuses_panels_grafana_would_render_wrongly() -> None:
    target = InfluxQLTarget('SELECT 1 FROM "x" WHERE $timeFilter')
    with pytest.raises(ValueError, match="refId"):
        TimeSeriesPanel(title="t", targets=(target, target))
    with pytest.raises(ValueError, match="no query"):
        TimeSeriesPanel(title="t", targets=())
    with pytest.raises(ValueError, match="size"):
        TimeSeriesPanel(title="t", targets=(target,), width=25)


def test_metric_lookup_rejects_names_outside_the_contract() -> None:
    assert metric(Kind.PUMP, "accelerometer1_rms_g").unit == "g"
    with pytest.raises(ValueError, match="no metric"):
        metric(Kind.PUMP, "door_close_time_s")


def _by_uid(dashboards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {dashboard["uid"]: dashboard for dashboard in dashboards}


def _panel(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    return next(panel for panel in dashboard["panels"] if panel["title"] == title)


def _threshold_values(panel: dict[str, Any]) -> list[float | None]:
    return [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_the_shipped_dashboards(dashboards: list[dict[str, Any]]) -> None:
    assert sorted(_by_uid(dashboards)) == [
        "facmon-access",
        "facmon-elevator",
        "facmon-lighting",
        "facmon-overview",
        "facmon-pump",
        "facmon-quality",
        "facmon-service",
    ]
    for dashboard in dashboards:
        assert dashboard["links"][0]["tags"] == ["facmon"], dashboard["uid"]
        assert "facmon" in dashboard["tags"]


def test_every_variable_a_query_uses_is_defined(dashboards: list[dict[str, Any]]) -> None:
    builtin = {"timeFilter", "__interval"}
    for dashboard in dashboards:
        defined = {variable["name"] for variable in dashboard["templating"]["list"]}
        for origin, query in all_queries(dashboard):
            used = set(re.findall(r"\$(\w+)", query)) - builtin - {"col"}
            assert used <= defined, f"{dashboard['uid']} / {origin}: {used - defined} undefined"


def test_overview_shows_integrity_against_its_targets(dashboards: list[dict[str, Any]]) -> None:
    overview = _by_uid(dashboards)["facmon-overview"]
    titles = [panel["title"] for panel in overview["panels"]]
    assert titles[:5] == [
        "Equipment integrity by site",
        "Elevator integrity by site",
        "Open tickets by severity",
        "SLA breaches",
        "Chronic equipment",
    ]
    building = _panel(overview, "Equipment integrity by building")
    elevators = _panel(overview, "Elevator integrity by building")
    assert _threshold_values(building) == [None, 98.0]
    assert _threshold_values(elevators) == [None, 100.0]
    for panel in (building, elevators):
        assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
        assert panel["interval"] == "1h"
    assert "\"kind\" = 'elevator'" in elevators["targets"][0]["query"]
    annotations = [a["name"] for a in overview["annotations"]["list"][1:]]
    assert annotations == ["Device events", "Tickets opened", "Ticket progress"]


def test_kpi_panels_sum_the_finest_scope(dashboards: list[dict[str, Any]]) -> None:
    checked = 0
    for dashboard in dashboards:
        for origin, query in panel_queries(dashboard):
            if 'FROM "kpi"' not in query:
                continue
            checked += 1
            assert "\"scope\" = 'building_kind'" in query or "\"scope\" = 'service'" in query
            # Ratios divide sums, never average ratios of unequal groups.
            assert "_pct" not in query and 'mean("mttr_s")' not in query, origin
    assert checked >= 20


def test_kind_dashboards_draw_only_fixed_detector_limits(dashboards: list[dict[str, Any]]) -> None:
    by_uid = _by_uid(dashboards)
    held_open = _panel(by_uid["facmon-access"], "Door held open (held-open detector)")
    assert HELD_OPEN_LIMIT_S == 60.0
    assert _threshold_values(held_open) == [None, 60.0]
    assert held_open["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
    relative = {
        "facmon-lighting": "Circuit current (lamp failure detector)",
        "facmon-elevator": "Door close time (door slowing detector)",
        "facmon-pump": "Vibration, accelerometer 1 (bearing wear detector)",
    }
    for uid, title in relative.items():
        panel = _panel(by_uid[uid], title)
        assert _threshold_values(panel) == [None], title
        assert "relative to each device" in panel["description"], title
    assert "60%" in _panel(by_uid["facmon-lighting"], relative["facmon-lighting"])["description"]
    for kind in Kind:
        dashboard = by_uid[f"facmon-{kind.value}"]
        assert [v["name"] for v in dashboard["templating"]["list"]] == [
            "site",
            "building",
            "device",
        ]
        names = [a["name"] for a in dashboard["annotations"]["list"][1:]]
        assert names == ["Tickets opened", "Ticket progress", "Device events"]
        for annotation in dashboard["annotations"]["list"][1:]:
            assert f"\"kind\" = '{kind.value}'" in annotation["query"]
        liveness = _panel(dashboard, "Liveness")
        assert liveness["type"] == "state-timeline"


def test_quality_loop_has_every_kpi_and_the_findings_grid(dashboards: list[dict[str, Any]]) -> None:
    quality = _by_uid(dashboards)["facmon-quality"]
    titles = {panel["title"] for panel in quality["panels"]}
    assert {
        "Repair timeliness",
        "Rectification completion",
        "MTTR",
        "MTBF",
        "Repeat-fault rate",
        "Findings by building and kind",
    } <= titles
    grid = _panel(quality, "Findings by building and kind")
    assert grid["type"] == "status-history"
    assert 'GROUP BY time($__interval), "building", "kind"' in grid["targets"][0]["query"]
    assert "no floor" in grid["description"]


def test_service_health_reads_the_service_metrics(dashboards: list[dict[str, Any]]) -> None:
    service = _by_uid(dashboards)["facmon-service"]
    queries = " ".join(query for _, query in panel_queries(service))
    for field in ("messages_ingested", "ingest_lag_seconds", "dead_letters", "write_errors"):
        assert f'"{field}"' in queries, field
    assert '"ingest_pending_messages"' in queries and '"spool_points"' in queries
    assert {"messages_ingested", "ingest_pending_messages", "spool_points"} <= SERVICE_FIELDS
