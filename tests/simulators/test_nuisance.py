"""Nuisance patterns: each is in the generated signal with its parameters, is deterministic
per seed, and a misspelt option is an error naming its path and the allowed names.

The nuisance has random streams of its own, so a device with nuisance and the same device
without it share the model's noise sample for sample: their ratio is the nuisance alone.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from pathlib import Path
from typing import Any, cast

import jsonschema_rs
import numpy as np
import pytest

from contract.topics import DeviceRef
from detectors.offline import OfflineConfig
from simulators.fleet import Action, Fleet, OutMessage
from simulators.nuisance import warmup_level
from simulators.nuisance_params import DIM_STEPS, WARMUP_START, Warmup
from simulators.scenario import BUILTIN_DIR, Scenario, ScenarioError, load_scenario, parse_scenario
from simulators.scenario_document import scenario_json_schema
from tools.evaluate_scenarios import configured_intervals, match, replay

MIDNIGHT = 1_799_971_200_000  # 2027-01-15T00:00:00Z
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def fleet_run(
    devices: list[dict[str, Any]], duration_ms: int, rate_hz: float = 1 / 60, seed: int = 1
) -> list[OutMessage]:
    sc = parse_scenario({"devices": devices, "rate_hz": rate_hz})
    return Fleet(sc, seed=seed, start_ms=MIDNIGHT).advance_to(MIDNIGHT + duration_ms - 1)


def series(messages: list[OutMessage], device_id: str) -> dict[int, dict[str, Any]]:
    """ts -> metrics of one device's telemetry."""
    return {
        m.ts_ms: json.loads(m.payload)["metrics"]
        for m in messages
        if m.device.device_id == device_id and m.channel.value == "telemetry"
    }


def with_and_without(
    device: dict[str, Any], nuisance: dict[str, Any], duration_ms: int, rate_hz: float = 1 / 60
) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """The same device (same id, same seed) with the nuisance and without it."""
    bent = series(fleet_run([{**device, "nuisance": nuisance}], duration_ms, rate_hz), device["id"])
    clean = series(fleet_run([device], duration_ms, rate_hz), device["id"])
    return bent, clean


def ratios(
    bent: dict[int, dict[str, Any]], clean: dict[int, dict[str, Any]], metric: str
) -> dict[int, float]:
    return {t: bent[t][metric] / clean[t][metric] for t in clean if clean[t][metric] > 0.01}


STREET = {
    "id": "sl1",
    "kind": "lighting",
    "params": {"on_hour": 17.5, "off_hour": 6.5, "nominal_current_a": 30.8},
}
PUMP = {"id": "p1", "kind": "pump"}


# -- recording gaps and cadence ---------------------------------------------------------------


def test_a_gap_of_the_configured_length_has_no_samples_and_no_goodbye() -> None:
    messages = fleet_run(
        [{**PUMP, "nuisance": {"gaps": [{"at": "2h", "for": "148h"}]}}], 8 * DAY_MS
    )
    begin, end = MIDNIGHT + 2 * HOUR_MS, MIDNIGHT + 150 * HOUR_MS
    inside = [m for m in messages if begin <= m.ts_ms < end]
    assert inside == []
    times = sorted(series(messages, "p1"))
    assert max(t for t in times if t < begin) == begin - 60_000  # up to the gap
    assert min(t for t in times if t >= begin) == end  # and straight after it
    assert not any(m.action is Action.DISCONNECT for m in messages)  # a silent logger


def test_cadence_is_honoured_and_a_change_takes_effect_on_time() -> None:
    cadence = [{"every": "10m"}, {"at": "25h", "every": "20s"}, {"at": "26h", "every": "1m"}]
    times = sorted(
        series(fleet_run([{**PUMP, "nuisance": {"cadence": cadence}}], 27 * HOUR_MS), "p1")
    )
    steps = np.diff(times)
    first, second = MIDNIGHT + 25 * HOUR_MS, MIDNIGHT + 26 * HOUR_MS
    assert set(steps[np.array(times[1:]) <= first]) == {600_000}
    assert first in times and second in times  # a change is not late by the old cadence
    assert set(steps[(np.array(times[1:]) > first) & (np.array(times[1:]) <= second)]) == {20_000}
    assert set(steps[np.array(times[1:]) > second]) == {60_000}


# -- lighting: warm-up and dimming -------------------------------------------------------------


def test_warmup_rises_monotonically_from_its_start_fraction_to_full_over_its_duration() -> None:
    bent, clean = with_and_without(STREET, {"warmup": {}}, DAY_MS, rate_hz=0.1)
    switch_on = MIDNIGHT + round(17.5 * HOUR_MS)
    ramp = [
        bent[t]["current_a"] / clean[t]["current_a"]
        for t in sorted(clean)
        if switch_on <= t < switch_on + 600_000
    ]
    assert len(ramp) == 60
    assert ramp[0] == pytest.approx(WARMUP_START, rel=1e-3)
    assert all(b > a for a, b in itertools.pairwise(ramp))
    assert ramp[-1] == pytest.approx(warmup_level(590, Warmup()), rel=1e-3)
    assert 0.985 < ramp[-1] < 0.99 + 1e-3  # 99 % at its duration
    settled = [
        bent[t]["current_a"] / clean[t]["current_a"]
        for t in sorted(clean)
        if switch_on + 600_000 <= t < switch_on + HOUR_MS
    ]
    assert settled == pytest.approx([1.0] * len(settled), abs=1e-3)
    # the real lamps: about 53 % at the second minute, 92 % at the fifth
    warm = Warmup()
    assert warmup_level(60, warm) == pytest.approx(0.53, abs=0.08)
    assert warmup_level(300, warm) == pytest.approx(0.92, abs=0.05)


def test_dimming_follows_its_steps_through_the_night() -> None:
    bent, clean = with_and_without(STREET, {"dimming": {}}, 2 * DAY_MS)
    level = {
        round(((t - MIDNIGHT) / HOUR_MS) % 48, 3): bent[t]["current_a"] / clean[t]["current_a"]
        for t in clean
        if clean[t]["current_a"] > 0
    }
    expected = dict(DIM_STEPS)
    assert level[18.5] == pytest.approx(1.0, abs=1e-3)  # full power before the first step
    assert level[20.5] == pytest.approx(expected[19.0], abs=1e-3)
    assert level[23.0] == pytest.approx(expected[21.0], abs=1e-3)
    assert level[24.5] == pytest.approx(expected[0.0], abs=1e-3)
    assert level[30.0] == pytest.approx(expected[1.0], abs=1e-3)
    # power follows the current it is computed from
    t = MIDNIGHT + 30 * HOUR_MS
    assert bent[t]["power_w"] == pytest.approx(
        bent[t]["current_a"] * bent[t]["voltage_v"] * 0.95, abs=0.05
    )


# -- level shifts, noise, coupling, drift ------------------------------------------------------


@pytest.mark.parametrize("ratio", [1.2, 0.85])
def test_a_level_shift_changes_the_median_by_its_ratio(ratio: float) -> None:
    shift = {"level_shifts": [{"at": "2d", "ratio": ratio}]}
    bent = series(fleet_run([{**PUMP, "nuisance": shift}], 4 * DAY_MS), "p1")

    def running_median(first_ms: int, last_ms: int) -> float:
        return statistics.median(
            m["accelerometer1_rms_g"]
            for t, m in bent.items()
            if m["running"] and first_ms <= t < last_ms
        )

    before = running_median(MIDNIGHT, MIDNIGHT + 2 * DAY_MS)
    after = running_median(MIDNIGHT + 2 * DAY_MS, MIDNIGHT + 4 * DAY_MS)
    assert after / before == pytest.approx(ratio, rel=0.01)
    assert before == pytest.approx(0.216, rel=0.01)  # the IMS-scaled healthy level


def test_noise_regimes_switch_between_quiet_and_noisy_with_their_levels() -> None:
    noise = {"noisy_sd": 0.05, "quiet_for": "1h", "noisy_for": "1h"}
    bent, clean = with_and_without(PUMP, {"noise": noise}, 7 * DAY_MS)
    r = ratios(bent, clean, "accelerometer1_rms_g")
    noisy = [v - 1 for v in r.values() if v != 1.0]  # quiet_sd 0: quiet samples are untouched
    assert 0.35 < len(noisy) / len(r) < 0.65
    assert statistics.pstdev(noisy) == pytest.approx(0.05, rel=0.1)
    # the regimes last: a noisy sample is mostly followed by another
    flags = [r[t] != 1.0 for t in sorted(r)]
    stay = sum(a == b for a, b in itertools.pairwise(flags)) / (len(flags) - 1)
    assert stay > 0.9


def test_coupling_correlates_neighbours_by_their_share_and_no_one_else() -> None:
    def wobble(device_id: str, group: str) -> list[float]:
        device = {"id": device_id, "kind": "pump"}
        coupling = {"coupling": {"group": group, "share": 0.6, "sd": 0.05}}
        bent, clean = with_and_without(device, coupling, 7 * DAY_MS)
        r = ratios(bent, clean, "accelerometer1_rms_g")
        return [r.get(t, math.nan) for t in sorted(clean)]

    a, b, c = wobble("pa", "shaft-1"), wobble("pb", "shaft-1"), wobble("pc", "shaft-2")
    both = ~np.isnan(np.array(a)) & ~np.isnan(np.array(b)) & ~np.isnan(np.array(c))
    x, y, z = (np.array(s)[both] for s in (a, b, c))
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(0.6, abs=0.12)
    assert abs(np.corrcoef(x, z)[0, 1]) < 0.15
    assert np.std(x) == pytest.approx(0.05, rel=0.2)


def test_drift_swings_daily_with_its_amplitude_and_peak_hour() -> None:
    bent, clean = with_and_without(PUMP, {"drift": {"daily": 0.02, "peak_hour": 14}}, 2 * DAY_MS)
    r = {t: bent[t]["voltage_v"] / clean[t]["voltage_v"] for t in clean}
    peak = max(r, key=lambda t: r[t])
    low = min(r, key=lambda t: r[t])
    assert ((peak - MIDNIGHT) / HOUR_MS) % 24 == pytest.approx(14, abs=0.1)
    assert ((low - MIDNIGHT) / HOUR_MS) % 24 == pytest.approx(2, abs=0.1)
    assert r[peak] == pytest.approx(1.02, abs=2e-4) and r[low] == pytest.approx(0.98, abs=2e-4)


# -- determinism, validation, schema ----------------------------------------------------------

EVERYTHING = {
    **STREET,
    "nuisance": {
        "warmup": {},
        "dimming": {},
        "drift": {"weekly": 0.01},
        "noise": {},
        "coupling": {"group": "cabinet"},
        "level_shifts": [{"at": "1d", "ratio": 0.9}],
        "gaps": [{"at": "30h", "for": "3h"}],
        "cadence": [{"at": "40h", "every": "30s"}],
    },
}


def test_nuisance_is_deterministic_per_seed() -> None:
    def payloads(seed: int) -> list[bytes]:
        return [m.payload for m in fleet_run([EVERYTHING], 2 * DAY_MS, seed=seed)]

    assert payloads(3) == payloads(3)
    assert payloads(3) != payloads(4)


def test_the_device_model_noise_is_the_same_with_and_without_nuisance() -> None:
    bent, clean = with_and_without(PUMP, {"drift": {"metrics": ["voltage_v"]}}, DAY_MS)
    assert [m["current_a"] for m in bent.values()] == [m["current_a"] for m in clean.values()]


def nuisance_doc(kind: str, nuisance: Any) -> dict[str, Any]:
    return {"devices": [{"id": "d1", "kind": kind, "nuisance": nuisance}]}


@pytest.mark.parametrize(
    ("kind", "nuisance", "fragments"),
    [
        (
            "pump",
            {"gap": [{"at": "1h", "for": "1h"}]},
            [
                "devices[0].nuisance: unknown key 'gap' (did you mean 'gaps'?)",
                "use gaps, level_shifts, noise, coupling, drift, cadence",
            ],
        ),
        (
            "pump",
            {"warmup": {}},  # lamps only
            ["devices[0].nuisance: unknown key 'warmup'", "use gaps, level_shifts"],
        ),
        (
            "lighting",
            {"warmup": {"duraton": "5m"}},
            [
                "devices[0].nuisance.warmup: unknown key 'duraton' (did you mean 'duration'?)",
                "use duration, start_fraction",
            ],
        ),
        (
            "lighting",
            {"dimming": {"steps": [{"hour": 25, "level": 0.5}]}},
            ["devices[0].nuisance.dimming.steps[0].hour: 25 is out of range"],
        ),
        (
            "pump",
            {"gaps": [{"at": "1h"}]},
            ["devices[0].nuisance.gaps[0]: missing 'for'"],
        ),
        (
            "pump",
            {"level_shifts": [{"at": "1h", "metrics": ["accelerometer_rms_g"]}]},
            [
                "devices[0].nuisance.level_shifts[0].metrics[0]: a pump has no reading "
                "'accelerometer_rms_g' a nuisance can bend (did you mean",
                "choose from accelerometer1_rms_g, accelerometer2_rms_g, current_a, flow_rate_lpm, "
                "fluid_temperature_c, motor_temperature_c, pressure_bar, voltage_v",
            ],
        ),
        (
            "lighting",
            {"drift": {"metrics": ["power_w"]}},  # computed from current and voltage
            ["devices[0].nuisance.drift.metrics[0]: a lighting has no reading 'power_w'"],
        ),
        (
            "access",
            {"coupling": {"share": 0.5}},
            ["devices[0].nuisance.coupling: missing 'group'"],
        ),
    ],
)
def test_misspelt_or_wrong_nuisance_options_name_the_path_and_the_allowed_names(
    kind: str, nuisance: Any, fragments: list[str]
) -> None:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(nuisance_doc(kind, nuisance))
    for fragment in fragments:
        assert fragment in str(error.value)


def test_a_misspelt_option_in_a_file_gives_its_line(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text(
        "devices:\n  - id: p1\n    kind: pump\n    nuisance:\n      nosie: {}\n", encoding="utf-8"
    )
    with pytest.raises(
        ScenarioError,
        match=r"nuisance: unknown key 'nosie' \(did you mean "
        r"'noise'\?\).*\(line 5\)",
    ):
        load_scenario(path)


def test_the_published_schema_knows_the_nuisance_options() -> None:
    validator = jsonschema_rs.validator_for(scenario_json_schema())
    assert validator.is_valid({"devices": [EVERYTHING]})
    assert not validator.is_valid(nuisance_doc("pump", {"gap": []}))
    assert not validator.is_valid(nuisance_doc("pump", {"warmup": {}}))
    assert validator.is_valid(nuisance_doc("lighting", {"warmup": {}}))


# -- the library and the evaluation ---------------------------------------------------------


def test_the_library_covers_every_nuisance_pattern_on_every_kind() -> None:
    seen: dict[str, set[str]] = {}
    for path in sorted((BUILTIN_DIR / "library").glob("nuisance-*.yaml")):
        sc = load_scenario(path)
        assert not sc.faults, f"{path}: a nuisance scenario is fault-free"
        for device in sc.devices:
            if device.nuisance is not None:
                given = device.nuisance.model_dump(exclude_defaults=True)
                seen.setdefault(device.kind, set()).update(k for k, v in given.items() if v)
    pending = sorted((BUILTIN_DIR / "nuisance-pending").glob("*.yaml"))
    for path in pending:  # waiting for a detector to stop alarming on them
        for device in load_scenario(path).devices:
            assert device.nuisance is not None
            given = device.nuisance.model_dump(exclude_defaults=True)
            seen.setdefault(device.kind, set()).update(k for k, v in given.items() if v)
    common = {"gaps", "level_shifts", "noise", "coupling", "drift", "cadence"}
    assert seen["lighting"] >= {"warmup", "dimming", "gaps", "drift", "coupling"}
    for kind in ("pump", "elevator", "access"):
        assert seen.get(kind, set()) >= common - {"cadence"}, kind


def _gap_scenario() -> Scenario:
    return parse_scenario(
        {
            "name": "gap",
            "start": "2027-01-11T00:00:00Z",
            "rate_hz": 1 / 60,
            "duration": "6h",
            "devices": [
                {"id": "g1", "kind": "access", "nuisance": {"gaps": [{"at": "2h", "for": "1h"}]}}
            ],
        }
    )


def test_the_evaluation_expects_offline_during_a_recording_gap_and_nothing_else() -> None:
    sc = _gap_scenario()
    result = replay(sc, seed=1, glitch_rate=0.0)
    offline = [t for t in result.tickets if t.fault_type == "offline"]
    assert len(offline) == 1
    gap_start = result.start_ms + 2 * HOUR_MS
    assert gap_start <= offline[0].opened_ms <= gap_start + HOUR_MS
    _, false = match(sc, result.start_ms, result.tickets)
    assert false == []
    # the same ticket outside the gap is a false one
    moved = [t.__class__(**{**_fields(t), "opened_ms": gap_start - 60_000}) for t in offline]
    assert match(sc, result.start_ms, moved)[1] == moved


def _fields(ticket: Any) -> dict[str, Any]:
    return {name: getattr(ticket, name) for name in ticket.__slots__}


def test_a_cadence_given_from_the_start_is_the_devices_configured_interval() -> None:
    sc = parse_scenario(
        {
            "name": "sparse",
            "site": "lib",
            "start": "2027-01-11T00:00:00Z",
            "rate_hz": 1 / 60,
            "duration": "6h",
            "devices": [
                {"id": "s1", "kind": "access", "nuisance": {"cadence": [{"every": "10m"}]}},
                {
                    "id": "s2",
                    "kind": "access",
                    "nuisance": {"cadence": [{"at": "1h", "every": "5m"}]},
                },
                {"id": "s3", "kind": "access"},
            ],
        }
    )
    config = configured_intervals(sc)
    assert config is not None
    intervals = {
        d: cast(
            OfflineConfig, config.resolve(DeviceRef("lib", "main", "access", d))["offline"]
        ).expected_interval_s
        for d in ("s1", "s2", "s3")
    }
    assert intervals == {"s1": 600.0, "s2": None, "s3": None}  # a later change is learnt
    result = replay(sc, seed=1, glitch_rate=0.0)
    assert not [t for t in result.tickets if t.device_id == "s1"]
