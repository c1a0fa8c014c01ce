"""Scenario files: the built-in demo loads, bad documents fail with a message that
names the entry and the fix, durations parse."""

from __future__ import annotations

import copy
import inspect
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import pytest
import yaml

import simulators
from contract.payload import decode_message
from contract.topics import topic_for
from facmon.cli import main as cli_main
from simulators.fleet import Fleet
from simulators.models import GENERIC_FAULTS, MODELS, ElevatorModel, LightingModel
from simulators.scenario import (
    BUILTIN_DIR,
    ScenarioError,
    builtin_scenario,
    load_scenario,
    parse_duration_s,
    parse_scenario,
    scenario_json_schema,
)
from simulators.scenario_params import DEVICE_PARAMS, FAULT_PARAMS

PUMP = {"id": "p1", "kind": "pump"}


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"devices": [PUMP]}
    base.update(overrides)
    return base


# -- the built-in scenarios -------------------------------------------------------------


def test_demo_scenario_loads_and_is_consistent() -> None:
    sc = load_scenario(builtin_scenario("demo"))
    assert sc.name == "demo" and sc.site == "demo"
    assert sc.rate_hz == 0.5 and sc.speed == 60
    assert sc.start_ms(1_800_000_000_000) == 1_800_000_000_000 - 3_600_000
    assert len(sc.devices) == 13
    assert {d.kind for d in sc.devices} == set(MODELS)
    by_id = {d.device_id: d for d in sc.devices}
    assert len(sc.faults) == 5 and len(sc.expect) == 6
    faults = {(f.device_id, f.type) for f in sc.faults}
    faulty_devices = {f.device_id for f in sc.faults}
    # a consequence of a fault: the failed lamps leave the garage too dark
    consequences = {("lighting-01", "illuminance_low")}
    for expected in sc.expect:
        # every expected ticket answers a fault the scenario injects on that device
        assert expected.device_id in faulty_devices
        key = (expected.device_id, expected.fault_type)
        assert key in faults or key in consequences
        assert expected.severity in {"critical", "major", "minor"}
        assert expected.within_s > 0
    for fault in sc.faults:
        assert fault.type in MODELS[by_id[fault.device_id].kind].fault_types | GENERIC_FAULTS
    lighting = by_id["lighting-01"]
    assert lighting.params == {"on_hour": 0, "off_hour": 24, "daylight_lux": 0}
    offline = next(f for f in sc.faults if f.type == "offline")
    assert (offline.at_s, offline.duration_s) == (600.0, 2400.0)


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_builtin_scenario_loads_and_builds_a_fleet(path: Path) -> None:
    sc = load_scenario(path)
    fleet = Fleet(sc, seed=1, start_ms=1_800_000_000_000)
    assert fleet.advance_to(1_800_000_000_000 + 10_000)


def test_the_documented_scenario_example_is_valid() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "simulators.md"
    blocks = re.findall(r"```yaml\n(.*?)```", guide.read_text(encoding="utf-8"), re.DOTALL)
    examples = [b for b in blocks if "devices:" in b and "expect:" in b]
    assert examples, "docs/simulators.md shows a scenario example"
    for example in examples:
        sc = parse_scenario(yaml.safe_load(example), source="docs/simulators.md")
        assert sc.devices and sc.faults and sc.expect


def test_fault_activity_window() -> None:
    sc = parse_scenario(
        doc(faults=[{"device": "p1", "type": "bearing_wear", "at": "5m", "for": "10m"}])
    )
    [fault] = sc.faults
    assert [fault.active_at(t) for t in (0, 299.9, 300, 899.9, 900)] == [
        False,
        False,
        True,
        True,
        False,
    ]
    open_ended = parse_scenario(doc(faults=[{"device": "p1", "type": "bearing_wear"}]))
    assert open_ended.faults[0].active_at(10 * 86_400)


def test_defaults() -> None:
    sc = parse_scenario(doc(), source="plant.yaml")
    assert sc.name == "plant"
    assert sc.site == "demo"
    assert sc.devices[0].building == "main"
    assert (sc.speed, sc.rate_hz, sc.duration_s) == (1.0, 1.0, None)
    expect = parse_scenario(
        doc(expect=[{"device": "p1", "fault_type": "bearing_wear", "within": "1h"}])
    ).expect[0]
    assert (expect.severity, expect.within_s) == ("major", 3600.0)


# -- bad documents ----------------------------------------------------------------------

LAMP = {"id": "l1", "kind": "lighting"}
ELEVATOR = {"id": "e1", "kind": "elevator"}
OFFLINE = {"device": "p1", "type": "offline"}
EXPECT = {"device": "p1", "fault_type": "offline", "within": "1h"}

# (id, document, fragments the message must contain: the entry, the bad value, the fix)
BAD_DOCUMENTS: list[tuple[str, Any, list[str]]] = [
    ("not a mapping", ["devices"], ["bad.yaml", "must be a YAML mapping"]),
    ("devices not a list", {"devices": {"id": "p1"}}, ["'devices' must be a list", "{id: "]),
    ("devices null", {"devices": None}, ["'devices' must be a list"]),
    ("device not a mapping", {"devices": ["p1"]}, ["devices[0]", "must be a mapping like"]),
    ("device without id", {"devices": [{"kind": "pump"}]}, ["devices[0]", "missing 'id'"]),
    ("device without kind", {"devices": [{"id": "p1"}]}, ["devices[0]", "missing 'kind'"]),
    ("device id empty", {"devices": [{"id": "", "kind": "pump"}]}, ["devices[0]", "id is empty"]),
    (
        "unknown kind",
        {"devices": [PUMP, {"id": "x1", "kind": "escalator"}]},
        ["devices[1]", "'escalator'", "elevator, lighting, pump, access"],
    ),
    (
        "duplicate ids",
        {"devices": [PUMP, {"id": "e1", "kind": "elevator"}, {"id": "p1", "kind": "lighting"}]},
        ["duplicate device ids ['p1']", "give each its own id"],
    ),
    (
        "bad device identifier",
        {"devices": [{"id": "pump/1", "kind": "pump"}]},
        ["devices[0]", "pump/1", "not a valid identifier", "use 1-64 characters"],
    ),
    (
        "device id not text",
        {"devices": [{"id": 101, "kind": "pump"}]},
        ["devices[0].id", "101", "quoted string"],
    ),
    (
        "bad building identifier",
        {"devices": [{"id": "p1", "kind": "pump", "building": "tower a"}]},
        ["devices[0]", "building", "not a valid identifier"],
    ),
    ("bad site identifier", doc(site="hq#1"), ["site", "not a valid identifier"]),
    (
        "unknown top-level key",
        doc(fautls=[OFFLINE]),
        ["unknown key 'fautls'", "did you mean 'faults'", "use name, description, site"],
    ),
    (
        "unknown device key",
        {"devices": [{**PUMP, "parameters": {}}]},
        ["devices[0]", "unknown key 'parameters'", "did you mean 'params'"],
    ),
    (
        "unknown fault key",
        doc(faults=[{**OFFLINE, "duration": "1m"}]),
        ["faults[0]", "unknown key 'duration'", "use device, type, at, for, params"],
    ),
    (
        "unknown expectation key",
        doc(expect=[{**EXPECT, "severtiy": "minor"}]),
        ["expect[0]", "unknown key 'severtiy'", "did you mean 'severity'"],
    ),
    # device parameters: checked against the model's constructor
    (
        "device params not a mapping",
        doc(devices=[{**PUMP, "params": 5}]),
        ["devices[0].params", "must be a mapping like {name: value}", "got 5"],
    ),
    (
        "param the model does not take",
        doc(devices=[{"id": "a1", "kind": "access", "params": {"nominal_current_a": 3}}]),
        ["devices[0].params", "takes no parameter 'nominal_current_a'", "remove 'params'"],
    ),
    (
        "a lighting param on a pump",
        doc(devices=[{**PUMP, "params": {"nominal_current_a": 3}}]),
        ["devices[0].params", "a pump takes no parameter 'nominal_current_a'", "day_share"],
    ),
    (
        "model param misspelt",
        {"devices": [{**LAMP, "params": {"on_hours": 6}}]},
        [
            "devices[0].params",
            "a lighting takes no parameter 'on_hours'",
            "did you mean 'on_hour'",
            "nominal_current_a, off_hour, on_hour",
        ],
    ),
    (
        "model param not a number",
        {"devices": [{**LAMP, "params": {"on_hour": "6pm"}}]},
        ["devices[0].params.on_hour", "'6pm'", "not a number like 18"],
    ),
    (
        "model param a boolean",
        {"devices": [{**LAMP, "params": {"nominal_current_a": True}}]},
        ["devices[0].params.nominal_current_a", "True", "not a number like 4"],
    ),
    (
        "model param not finite",
        {"devices": [{**LAMP, "params": {"nominal_current_a": float("nan")}}]},
        ["devices[0].params.nominal_current_a", "nan", "not a number"],
    ),
    (
        "model param not a whole number",
        {"devices": [{**ELEVATOR, "params": {"floors": 2.5}}]},
        ["devices[0].params.floors", "2.5", "not a whole number like 20"],
    ),
    (
        "model param out of the model's range",
        {"devices": [{**ELEVATOR, "params": {"floors": 0}}]},
        ["devices[0].params.floors", "0 is out of range", "use 1 to 200"],
    ),
    # faults
    (
        "faults not a list",
        doc(faults=5),
        ["'faults' must be a list of entries like - {device: "],
    ),
    ("faults a mapping", doc(faults={"device": "p1"}), ["'faults' must be a list"]),
    (
        "fault on unknown device",
        doc(faults=[{"device": "ghost", "type": "offline"}]),
        ["faults[0]", "device 'ghost' is not in 'devices'", "add it there or fix the id"],
    ),
    (
        "fault device misspelt",
        {
            "devices": [{"id": "pump-01", "kind": "pump"}],
            "faults": [{"device": "pump-1", "type": "offline"}],
        },
        ["faults[0]", "device 'pump-1' is not in 'devices'", "did you mean 'pump-01'"],
    ),
    (
        "fault not supported by kind",
        doc(faults=[{"device": "p1", "type": "lamp_failure"}]),
        ["faults[0]", "a pump cannot have fault 'lamp_failure'", "choose from bearing_wear, "],
    ),
    (
        "fault without type",
        doc(faults=[{"device": "p1", "at": "5m"}]),
        ["faults[0]", "missing 'type'", "like {device: "],
    ),
    ("fault not a mapping", doc(faults=["p1 offline"]), ["faults[0]", "must be a mapping"]),
    (
        "fault params not a mapping",
        doc(faults=[{**OFFLINE, "params": [1]}]),
        ["faults[0].params", "must be a mapping like {name: value}"],
    ),
    (
        "fault param not a number",
        doc(faults=[{"device": "p1", "type": "bearing_wear", "params": {"rate_g_per_h": "fast"}}]),
        ["faults[0].params.rate_g_per_h", "'fast'", "not a number like 0.02"],
    ),
    (
        "bad fault start",
        doc(faults=[{**OFFLINE, "at": "5 minutes"}]),
        ["faults[0].at", "'5 minutes'", "30s, 5m, 2h or 1d"],
    ),
    (
        "negative fault start",
        doc(faults=[{**OFFLINE, "at": "-5m"}]),
        ["faults[0].at", "'-5m'", "negative", "use 0 (the start) or later"],
    ),
    (
        "fault start out of range",
        doc(faults=[{**OFFLINE, "at": 1e300}]),
        ["faults[0].at", "out of range"],
    ),
    (
        "bad fault duration",
        doc(faults=[{**OFFLINE, "for": "forever"}]),
        ["faults[0].for", "'forever'"],
    ),
    (
        "negative fault duration",
        doc(faults=[{**OFFLINE, "for": "-5m"}]),
        ["faults[0].for", "'-5m'", "must be longer than zero"],
    ),
    (
        "zero fault duration",
        doc(faults=[{**OFFLINE, "for": 0}]),
        ["faults[0].for", "must be longer than zero"],
    ),
    (
        "fault duration not finite",
        doc(faults=[{**OFFLINE, "for": float("inf")}]),
        ["faults[0].for", "inf", "out of range"],
    ),
    # expectations
    ("expect not a list", doc(expect="p1 offline"), ["'expect' must be a list"]),
    ("expectation not a mapping", doc(expect=[5]), ["expect[0]", "must be a mapping like"]),
    (
        "expectation on unknown device",
        doc(expect=[{"device": "ghost", "fault_type": "offline", "within": "1m"}]),
        ["expect[0]", "device 'ghost' is not in 'devices'"],
    ),
    (
        "expectation without within",
        doc(expect=[{"device": "p1", "fault_type": "offline"}]),
        ["expect[0]", "missing 'within'"],
    ),
    (
        "expectation without fault_type",
        doc(expect=[{"device": "p1", "within": "1h"}]),
        ["expect[0]", "missing 'fault_type'"],
    ),
    (
        "bad expectation within",
        doc(expect=[{**EXPECT, "within": "soon"}]),
        ["expect[0].within", "'soon'"],
    ),
    (
        "negative within",
        doc(expect=[{**EXPECT, "within": "-1h"}]),
        ["expect[0].within", "'-1h'", "must be longer than zero"],
    ),
    (
        "expected fault type misspelt",
        doc(expect=[{**EXPECT, "fault_type": "bearing_waer"}]),
        [
            "expect[0]",
            "no detector reports 'bearing_waer' for a pump",
            "did you mean 'bearing_wear'",
            "choose from bearing_wear, ",
        ],
    ),
    (
        "expected fault type of another kind",
        doc(expect=[{**EXPECT, "fault_type": "lamp_failure"}]),
        ["expect[0]", "no detector reports 'lamp_failure' for a pump"],
    ),
    (
        "unknown severity",
        doc(expect=[{**EXPECT, "severity": "huge"}]),
        ["expect[0].severity", "'huge'", "choose from critical, major, minor"],
    ),
    (
        "severity in capitals",
        doc(expect=[{**EXPECT, "severity": "MAJOR"}]),
        ["expect[0].severity", "'MAJOR'"],
    ),
    # scenario-wide numbers and times
    ("bad scenario duration", doc(duration="1 week"), ["duration", "'1 week'"]),
    ("zero scenario duration", doc(duration=0), ["duration", "must be longer than zero"]),
    (
        "zero speed",
        doc(speed=0),
        ["speed must be a positive number of simulated seconds per real second, like 60"],
    ),
    (
        "negative rate",
        doc(rate_hz=-1),
        ["rate_hz must be a positive number of samples per simulated second", "got -1"],
    ),
    ("rate not a number", doc(rate_hz="fast"), ["rate_hz must be a positive number", "'fast'"]),
    ("speed a boolean", doc(speed=True), ["speed must be a positive number", "True"]),
    ("speed not finite", doc(speed=float("inf")), ["speed must be a positive number", "inf"]),
    (
        "start neither a duration nor RFC 3339",
        doc(start="yesterday"),
        ["start", "'yesterday'", "a duration like -1h", "RFC 3339 time like 2027-01-15T08:00:00Z"],
    ),
    (
        "start without a time zone",
        doc(start="2027-01-15T08:00:00"),
        ["start", "no time zone", "add Z or an offset"],
    ),
    (
        "start a YAML timestamp without a time zone",
        doc(start=datetime(2027, 1, 15, 8)),
        ["start", "no time zone", "add Z or an offset"],
    ),
    ("start a YAML date", doc(start=date(2027, 1, 15)), ["start", "a date, not a time"]),
    ("start not finite", doc(start=float("nan")), ["start", "nan", "not a duration"]),
    ("start out of range", doc(start=-1e306), ["start", "out of range"]),
    ("start a list", doc(start=["-1h"]), ["start", "not a start time"]),
    ("name not text", doc(name=["demo"]), ["name", "quoted string"]),
]


@pytest.mark.parametrize(
    ("data", "fragments"), [pytest.param(d, f, id=i) for i, d, f in BAD_DOCUMENTS]
)
def test_bad_scenario_raises_a_helpful_error(data: Any, fragments: list[str]) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data, source="bad.yaml")
    message = str(error.value)
    assert message.startswith("bad.yaml: "), message
    for fragment in fragments:
        assert fragment in message, message


# -- good documents in their less common forms ------------------------------------------

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    ("start", "expected_ms"),
    [
        ("-1h", T0 - 3_600_000),
        (0, T0),
        (90, T0 + 90_000),
        (-2.5, T0 - 2_500),
        ("2027-01-15T08:00:00Z", T0),
        ("2027-01-15T09:30:00+01:30", T0),
        ("2027-01-15 08:00:00.250+00:00", T0 + 250),
        (datetime(2027, 1, 15, 8, tzinfo=UTC), T0),
    ],
    ids=repr,
)
def test_start_forms(start: Any, expected_ms: int) -> None:
    sc = parse_scenario(doc(start=start))
    assert sc.start_ms(T0) == expected_ms


def test_unquoted_yaml_timestamp_is_an_absolute_start(tmp_path: Path) -> None:
    path = tmp_path / "abs.yaml"
    path.write_text(
        "start: 2027-01-15T08:00:00Z\ndevices:\n  - {id: p1, kind: pump}\n", encoding="utf-8"
    )
    sc = load_scenario(path)
    assert sc.start_ms(0) == T0
    assert sc.start_ms(T0 + 123) == T0  # absolute: does not follow "now"


def test_model_params_of_the_right_type_are_accepted_and_used() -> None:
    sc = parse_scenario(
        {
            "devices": [
                {**LAMP, "params": {"nominal_current_a": 2, "on_hour": 6, "off_hour": 18.5}},
                {**ELEVATOR, "params": {"floors": 3}},
            ]
        }
    )
    assert sc.devices[0].params == {"nominal_current_a": 2, "on_hour": 6, "off_hour": 18.5}
    fleet = Fleet(sc, seed=1, start_ms=T0)
    lamp_model, elevator_model = (d.model for d in fleet.devices)
    assert isinstance(lamp_model, LightingModel) and lamp_model.on_hour == 6
    assert isinstance(elevator_model, ElevatorModel) and elevator_model.floors == 3


def test_null_sections_are_empty() -> None:
    sc = parse_scenario(doc(faults=None, expect=None))
    assert sc.faults == () and sc.expect == ()


def test_every_severity_and_every_reported_fault_type_is_accepted() -> None:
    devices = [{"id": f"d-{kind}", "kind": kind} for kind in MODELS]
    expect = [
        {"device": f"d-{kind}", "fault_type": fault_type, "severity": severity, "within": 60}
        for kind in MODELS
        for fault_type in (*MODELS[kind].fault_types, "offline")
        for severity in ("critical", "major", "minor")
    ]
    sc = parse_scenario({"devices": devices, "expect": expect})
    assert len(sc.expect) == len(expect)


# -- any document: a ScenarioError or a scenario that runs --------------------------------

_HOSTILE: list[Any] = [
    None,
    True,
    0,
    -1,
    2.5,
    float("nan"),
    float("-inf"),
    1e308,
    "",
    "x",
    "5m",
    "-1h",
    "0",
    "2027-01-15T08:00:00Z",
    "pump-01",
    "offline",
    "major",
    [],
    [1],
    {},
    {"rate_g_per_h": 1},
    {"on_hour": "x"},
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


def _mutate(data: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """The demo document with one or two values replaced (by a hostile value or by another
    value of the same type from the document), deleted or added."""
    data = copy.deepcopy(data)
    for _ in range(int(rng.integers(1, 3))):
        paths = _paths(data)
        path = paths[int(rng.integers(len(paths)))]
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        old = parent[path[-1]]
        same_type = [v for v in _leaves(data) if type(v) is type(old) and v != old]
        action = rng.random()
        if action < 0.1 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.15 and isinstance(parent, dict):
            parent[str(rng.choice(["params", "for", "at", "severity", "bogus"]))] = "1m"
        elif action < 0.6 and same_type:
            parent[path[-1]] = same_type[int(rng.integers(len(same_type)))]
        else:
            parent[path[-1]] = copy.deepcopy(_HOSTILE[int(rng.integers(len(_HOSTILE)))])
    return data


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in _leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in _leaves(value)]
    return [node]


def test_any_document_either_fails_with_a_scenario_error_or_runs() -> None:
    """Seeded fuzzing of the demo: never a bare TypeError/ValueError, never a late failure."""
    base = yaml.safe_load(builtin_scenario("demo").read_text(encoding="utf-8"))
    rng = np.random.default_rng(20270115)
    outcomes = {"rejected": 0, "accepted": 0}
    for _ in range(400):
        data = _mutate(base, rng)
        try:
            sc = parse_scenario(data, source="fuzz.yaml")
        except ScenarioError as exc:
            assert str(exc).startswith("fuzz.yaml: "), (str(exc), data)
            outcomes["rejected"] += 1
            continue
        outcomes["accepted"] += 1
        start = sc.start_ms(T0)
        # one sample per device every 10 simulated minutes: every fault has begun by 1 h
        fleet = Fleet(sc, seed=1, start_ms=start, rate_hz=1 / 600)
        assert fleet.advance_to(start + 3_600_000) or not sc.devices
    # not vacuous: both branches are exercised many times
    assert outcomes["accepted"] >= 25 and outcomes["rejected"] >= 100, outcomes


# -- parameters: every name and range is declared -------------------------------------------


def test_misspelt_fault_parameter_is_rejected() -> None:
    fault = {"device": "p1", "type": "bearing_wear", "params": {"rate_g_per_hour": 0.15}}
    with pytest.raises(ScenarioError) as error:
        parse_scenario(doc(faults=[fault]), source="bad.yaml")
    assert str(error.value) == (
        "bad.yaml: faults[0].params: a bearing_wear fault takes no parameter "
        "'rate_g_per_hour' (did you mean 'rate_g_per_h'?); choose from rate_g_per_h"
    )


@pytest.mark.parametrize(
    ("fault", "fragments"),
    [
        (
            {"type": "lamp_failure", "params": {"remaining_fraction": 1.5}},
            ["faults[0].params.remaining_fraction: 1.5 is out of range; use 0 to 1"],
        ),
        (
            {"type": "bearing_wear", "params": {"rate_g_per_h": -0.1}},
            ["faults[0].params.rate_g_per_h: -0.1 is out of range; use 0 to 10"],
        ),
        (
            {"type": "fault_code", "params": {"code": 70_000}},
            ["faults[0].params.code: 70000 is out of range; use 0 to 65535"],
        ),
        (
            {"type": "fault_code", "params": {"code": 42.5}},
            ["faults[0].params.code: 42.5 is not a whole number like 1003"],
        ),
        (
            {"type": "offline", "params": {"duration": 5}},
            ["faults[0].params: an offline fault takes no parameter 'duration'; remove 'params'"],
        ),
        (
            {"type": "bogus_wear"},
            ["faults[0]: a pump cannot have fault 'bogus_wear'", "did you mean 'bearing_wear'"],
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_fault_parameters_are_checked_per_fault_type(
    fault: dict[str, Any], fragments: list[str]
) -> None:
    device = {"device": "p1"} if fault["type"] not in ("lamp_failure", "fault_code") else {}
    kind = {"lamp_failure": LAMP, "fault_code": ELEVATOR}.get(fault["type"], PUMP)
    entry = {"device": kind["id"], **device, **fault}
    with pytest.raises(ScenarioError) as error:
        parse_scenario({"devices": [kind], "faults": [entry]}, source="bad.yaml")
    for fragment in fragments:
        assert f"bad.yaml: {fragment}" in str(error.value) or fragment in str(error.value)
    assert str(error.value).startswith("bad.yaml: faults[0]")


def test_fault_parameters_given_are_passed_on_and_defaults_stay_with_the_model() -> None:
    fault = {"device": "l1", "type": "lamp_failure", "params": {"remaining_fraction": 0}}
    offset = {"device": "l1", "type": "out_of_range"}
    sc = parse_scenario({"devices": [LAMP], "faults": [fault, offset]})
    assert sc.faults[0].params == {"remaining_fraction": 0.0}
    assert sc.faults[1].params == {}  # the model's own per-kind offset applies


def test_device_params_cannot_make_the_fleet_break_the_contract() -> None:
    params = {"nominal_current_a": 1e6, "on_hour": 0, "off_hour": 24}
    with pytest.raises(ScenarioError, match=r"nominal_current_a: 1000000\.0 is out of range"):
        parse_scenario({"devices": [{**LAMP, "params": params}]}, source="bad.yaml")
    # the largest values allowed still publish inside the contract
    widest = {"nominal_current_a": 100.0, "on_hour": 0, "off_hour": 24, "daylight_lux": 1e5}
    sc = parse_scenario(
        {"devices": [{**LAMP, "params": widest}, {**ELEVATOR, "params": {"floors": 200}}]}
    )
    fleet = Fleet(sc, seed=1, start_ms=T0, rate_hz=1 / 60)
    messages = fleet.advance_to(T0 + 86_400_000)  # a whole day: noon daylight, every hour
    assert len(messages) > 100
    for m in messages:
        decode_message(topic_for(m.device, m.channel), m.payload, now_ms=m.ts_ms)


def _model_param_reads() -> dict[str, set[str]]:
    """fault type -> the parameter names each model in simulators/models.py reads for it."""
    reads: dict[str, set[str]] = {}
    for model in MODELS.values():
        source = inspect.getsource(model)
        variable_type = dict(re.findall(r"(\w+) = _find\(faults, \"(\w+)\"\)", source))
        for variable, name in re.findall(r"(\w+)\.param\(\"(\w+)\"", source):
            if variable in variable_type:
                reads.setdefault(variable_type[variable], set()).add(name)
        for variable in re.findall(r"self\._announce\((\w+), ", source):
            if variable in variable_type:
                reads.setdefault(variable_type[variable], set()).add("report_event")
    return reads


def test_declared_fault_parameters_are_what_the_models_read() -> None:
    reads = _model_param_reads()
    assert reads["bearing_wear"] == {"rate_g_per_h"}  # the scan finds what it should
    every_type = set().union(*(m.fault_types for m in MODELS.values())) | GENERIC_FAULTS
    assert set(FAULT_PARAMS) == every_type
    for fault_type, params in FAULT_PARAMS.items():
        expected = reads.get(fault_type, set()) | (
            {"offset"} if fault_type == "out_of_range" else set()
        )
        assert set(params.model_fields) == expected, fault_type


def test_declared_fault_defaults_are_the_models_defaults() -> None:
    """The schema tells authors the default a model uses when a parameter is left out."""
    checked = 0
    for model in MODELS.values():
        source = inspect.getsource(model)
        variable_type = dict(re.findall(r"(\w+) = _find\(faults, \"(\w+)\"\)", source))
        for variable, name, default in re.findall(r"(\w+)\.param\(\"(\w+)\", (-?[\d.]+)\)", source):
            if variable in variable_type:
                field = FAULT_PARAMS[variable_type[variable]].model_fields[name]
                assert field.default == float(default), (variable_type[variable], name)
                checked += 1
    assert checked >= 25


def test_declared_device_parameters_are_the_model_constructors() -> None:
    assert set(DEVICE_PARAMS) == set(MODELS)
    for kind, model in MODELS.items():
        arguments = list(inspect.signature(model).parameters.values())[1:]
        declared = DEVICE_PARAMS[kind].model_fields
        assert {p.name: p.default for p in arguments} == {
            name: field.default for name, field in declared.items()
        }, kind


# -- messages name the line ------------------------------------------------------------------


def test_file_messages_give_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lines.yaml"
    path.write_text(
        "name: lines\n"
        "devices:\n"
        "  - {id: p1, kind: pump}\n"
        "  - id: l1\n"
        "    kind: lighting\n"
        "    params:\n"
        "      on_hours: 6\n"
        "faults:\n"
        "  - {device: p1, type: bearing_wear, params: {rate_g_per_h: 50}}\n"
        "  - {device: p11, type: offline}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(error.value).splitlines() == [
        f"{path}: devices[1].params: a lighting takes no parameter 'on_hours' "
        "(did you mean 'on_hour'?); choose from daylight_lux, nominal_current_a, off_hour, "
        "on_hour (line 7)",
        f"{path}: faults[0].params.rate_g_per_h: 50 is out of range; use 0 to 10 (line 9)",
    ]
    path.write_text(path.read_text().replace("on_hours", "on_hour").replace(": 50}", ": 1}"))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(error.value) == (
        f"{path}: faults[1]: device 'p11' is not in 'devices' (did you mean 'p1'?); "
        "add it there or fix the id (line 10)"
    )


def test_missing_keys_and_duplicates_point_at_their_entry(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("devices:\n  - {id: p1, kind: pump}\n  - {id: p1, kind: pump}\n")
    with pytest.raises(ScenarioError, match=r"duplicate device ids \['p1'\].*\(line 3\)$"):
        load_scenario(path)
    path.write_text("devices:\n  - {id: p1, kind: pump}\nexpect:\n  - {device: p1}\n")
    with pytest.raises(ScenarioError, match=r"expect\[0\]: missing 'fault_type'.*\(line 4\)"):
        load_scenario(path)


# -- the published JSON Schema ---------------------------------------------------------------

SCHEMA_FILE = Path(simulators.__file__).parent / "scenario.schema.json"


class _YamlAsEditorsSee(yaml.SafeLoader):
    """Timestamps stay text, as in YAML 1.2 and the JSON an editor validates."""


_YamlAsEditorsSee.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def test_the_published_schema_is_the_generated_one() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == scenario_json_schema(), (
        "regenerate: .venv/bin/facmon simulate --schema > simulators/scenario.schema.json"
    )


def test_the_schema_accepts_every_builtin_scenario_and_refuses_a_misspelt_parameter() -> None:
    validator = jsonschema_rs.validator_for(scenario_json_schema())
    paths = sorted(BUILTIN_DIR.rglob("*.yaml"))
    assert len(paths) > 20
    for path in paths:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlAsEditorsSee)
        assert validator.is_valid(data), (path, [str(e) for e in validator.iter_errors(data)])
    fault = {"device": "p1", "type": "bearing_wear", "params": {"rate_g_per_hour": 0.1}}
    assert not validator.is_valid(doc(faults=[fault]))
    assert validator.is_valid(doc(faults=[{**fault, "params": {"rate_g_per_h": 0.1}}]))
    assert not validator.is_valid(doc(devices=[{**LAMP, "params": {"on_hour": 25}}]))


def test_simulate_schema_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["simulate", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == scenario_json_schema()


def test_load_scenario_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("devices: [{id: p1, kind: pump\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: not valid YAML"):
        load_scenario(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("devices:\n  - {id: p1, kind: tram}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"wrong\.yaml: devices\[0\]: kind 'tram'"):
        load_scenario(wrong)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: café\ndevices: []\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"latin1\.yaml: not UTF-8 text .*save it as UTF-8"):
        load_scenario(latin1)
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path)  # a directory


# -- durations --------------------------------------------------------------------------

DURATIONS = [
    ("90s", 90.0),
    ("5m", 300.0),
    ("2h", 7200.0),
    ("1d", 86_400.0),
    ("250ms", 0.25),
    (" 1.5h ", 5400.0),
    ("1.5 h", 5400.0),
    ("30", 30.0),
    ("0", 0.0),
    ("-1h", -3600.0),
    (45, 45.0),
    (2.5, 2.5),
]


@pytest.mark.parametrize(("value", "seconds"), DURATIONS, ids=[repr(v) for v, _ in DURATIONS])
def test_parse_duration(value: Any, seconds: float) -> None:
    assert parse_duration_s(value, "x") == seconds


BAD_DURATIONS = [
    "5 minutes",
    "h",
    "",
    "1x",
    "1h30m",
    "1e3s",
    "five",
    True,
    None,
    [1],
    b"5m",
    float("nan"),
]


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_parse_duration_rejects(value: Any) -> None:
    with pytest.raises(ScenarioError, match=r"^faults\[2\]\.at: .* is not a duration like"):
        parse_duration_s(value, "faults[2].at")


@pytest.mark.parametrize(
    "value",
    [1e11, -1e11, "99999999999s", 1e308, float("inf"), float("-inf"), 10**400],
    ids=lambda v: repr(v)[:20],
)
def test_parse_duration_rejects_absurd_magnitudes(value: Any) -> None:
    with pytest.raises(ScenarioError, match=r"^faults\[2\]\.at: .* is out of range; use at most"):
        parse_duration_s(value, "faults[2].at")
