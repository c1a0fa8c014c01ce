"""Scenario files: the built-in demo loads, bad documents fail with a message that
names the entry and the fix, durations parse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulators.fleet import Fleet
from simulators.models import GENERIC_FAULTS, MODELS
from simulators.scenario import (
    BUILTIN_DIR,
    ScenarioError,
    builtin_scenario,
    load_scenario,
    parse_duration_s,
    parse_scenario,
)

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
    assert len(sc.devices) == 12
    assert {d.kind for d in sc.devices} == set(MODELS)
    by_id = {d.device_id: d for d in sc.devices}
    assert len(sc.faults) == 5 and len(sc.expect) == 5
    faults = {(f.device_id, f.type) for f in sc.faults}
    for expected in sc.expect:
        # every expected ticket answers a fault the scenario injects
        assert (expected.device_id, expected.fault_type) in faults
        assert expected.severity in {"critical", "major", "minor"}
        assert expected.within_s > 0
    for fault in sc.faults:
        assert fault.type in MODELS[by_id[fault.device_id].kind].fault_types | GENERIC_FAULTS
    lighting = by_id["lighting-01"]
    assert lighting.params == {"on_hour": 0, "off_hour": 24}
    offline = next(f for f in sc.faults if f.type == "offline")
    assert (offline.at_s, offline.duration_s) == (600.0, 2400.0)


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_builtin_scenario_loads_and_builds_a_fleet(path: Path) -> None:
    sc = load_scenario(path)
    fleet = Fleet(sc, seed=1, start_ms=1_800_000_000_000)
    assert fleet.advance_to(1_800_000_000_000 + 10_000)


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

BAD_DOCUMENTS: list[tuple[str, Any, list[str]]] = [
    ("not a mapping", ["devices"], ["bad.yaml", "must be a YAML mapping"]),
    ("devices not a list", {"devices": {"id": "p1"}}, ["'devices' must be a list"]),
    ("device not a mapping", {"devices": ["p1"]}, ["devices[0]", "must be a mapping"]),
    ("device without id", {"devices": [{"kind": "pump"}]}, ["devices[0]", "missing 'id'"]),
    ("device without kind", {"devices": [{"id": "p1"}]}, ["devices[0]", "missing 'kind'"]),
    (
        "unknown kind",
        {"devices": [PUMP, {"id": "x1", "kind": "escalator"}]},
        ["devices[1]", "'escalator'", "elevator, lighting, pump, access"],
    ),
    (
        "duplicate ids",
        {"devices": [PUMP, {"id": "e1", "kind": "elevator"}, {"id": "p1", "kind": "lighting"}]},
        ["duplicate device ids ['p1']"],
    ),
    (
        "bad device identifier",
        {"devices": [{"id": "pump/1", "kind": "pump"}]},
        ["devices[0]", "pump/1", "not a valid identifier"],
    ),
    (
        "bad building identifier",
        {"devices": [{"id": "p1", "kind": "pump", "building": "tower a"}]},
        ["devices[0]", "building", "not a valid identifier"],
    ),
    ("bad site identifier", doc(site="hq#1"), ["site", "not a valid identifier"]),
    (
        "fault on unknown device",
        doc(faults=[{"device": "ghost", "type": "offline"}]),
        ["faults[0]", "device 'ghost' is not in 'devices'"],
    ),
    (
        "fault not supported by kind",
        doc(faults=[{"device": "p1", "type": "lamp_failure"}]),
        ["faults[0]", "a pump cannot have fault 'lamp_failure'", "bearing_wear, offline"],
    ),
    (
        "fault without type",
        doc(faults=[{"device": "p1", "at": "5m"}]),
        ["faults[0]", "missing 'type'"],
    ),
    (
        "fault not a mapping",
        doc(faults=["p1 offline"]),
        ["faults[0]", "must be a mapping"],
    ),
    (
        "bad fault start",
        doc(faults=[{"device": "p1", "type": "offline", "at": "5 minutes"}]),
        ["faults[0].at", "'5 minutes'", "30s, 5m, 2h or 1d"],
    ),
    (
        "bad fault duration",
        doc(faults=[{"device": "p1", "type": "offline", "for": "forever"}]),
        ["faults[0].for", "'forever'"],
    ),
    ("bad scenario duration", doc(duration="1 week"), ["duration", "'1 week'"]),
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
        "bad expectation within",
        doc(expect=[{"device": "p1", "fault_type": "offline", "within": "soon"}]),
        ["expect[0].within", "'soon'"],
    ),
    ("zero speed", doc(speed=0), ["speed and rate_hz must be positive"]),
    ("negative rate", doc(rate_hz=-1), ["speed and rate_hz must be positive"]),
]


@pytest.mark.parametrize(
    ("data", "fragments"), [pytest.param(d, f, id=i) for i, d, f in BAD_DOCUMENTS]
)
def test_bad_scenario_raises_a_helpful_error(data: Any, fragments: list[str]) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data, source="bad.yaml")
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message
    if isinstance(data, dict):
        assert message.startswith("bad.yaml") or "site" in message or "duration" in message


def _gap(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(
        strict=True, reason=f"validation gap in simulators/scenario.py: {reason}"
    )


# Documents that are wrong but are accepted, or fail with a bare TypeError/ValueError
# (no file, no entry, no fix), or only fail later when the fleet is built.
VALIDATION_GAPS = [
    pytest.param(
        doc(devices=[{**PUMP, "params": 5}]),
        id="device params not a mapping",
        marks=_gap("dict(params) raises TypeError"),
    ),
    pytest.param(
        doc(devices=[{**PUMP, "params": {"nominal_current_a": 3}}]),
        id="param the model does not take",
        marks=_gap("accepted; Fleet() then raises TypeError"),
    ),
    pytest.param(
        doc(faults=[{"device": "p1", "type": "offline", "params": [1]}]),
        id="fault params not a mapping",
        marks=_gap("dict(params) raises TypeError"),
    ),
    pytest.param(doc(faults=5), id="faults not a list", marks=_gap("TypeError")),
    pytest.param(doc(expect=[5]), id="expectation not a mapping", marks=_gap("TypeError")),
    pytest.param(
        doc(faults=[{"device": "p1", "type": "offline", "for": "-5m"}]),
        id="negative fault duration",
        marks=_gap("accepted: the fault never happens"),
    ),
    pytest.param(
        doc(expect=[{"device": "p1", "fault_type": "offline", "within": "-1h"}]),
        id="negative within",
        marks=_gap("accepted"),
    ),
    pytest.param(
        doc(expect=[{"device": "p1", "fault_type": "bearing_waer", "within": "1h"}]),
        id="expected fault type misspelt",
        marks=_gap("accepted: the expectation can never be met"),
    ),
    pytest.param(
        doc(expect=[{"device": "p1", "fault_type": "offline", "severity": "huge", "within": 60}]),
        id="unknown severity",
        marks=_gap("accepted"),
    ),
    pytest.param(doc(rate_hz="fast"), id="rate not a number", marks=_gap("bare ValueError")),
    pytest.param(
        doc(start="yesterday"),
        id="start neither a duration nor RFC 3339",
        marks=_gap("accepted; start_ms() then raises a bare ValueError"),
    ),
]


@pytest.mark.parametrize("data", VALIDATION_GAPS)
def test_scenario_validation_gaps(data: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        sc = parse_scenario(data, source="bad.yaml")
        Fleet(sc, seed=1, start_ms=0).advance_to(1_000)
        sc.start_ms(1_800_000_000_000)


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


BAD_DURATIONS = ["5 minutes", "h", "", "1x", "1h30m", "1e3s", "five", True, None, [1]]


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_parse_duration_rejects(value: Any) -> None:
    with pytest.raises(ScenarioError, match=r"^faults\[2\]\.at: .* is not a duration like"):
        parse_duration_s(value, "faults[2].at")
