"""The simulated fleet: deterministic under a seed, faults bend the signal the right
way, daily cycles exist, and every payload it produces passes the contract."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from contract.payload import decode_message
from contract.topics import Channel, topic_for
from simulators.fleet import Action, Fleet, OutMessage
from simulators.models import HOUR_MS, hour_of_day
from simulators.scenario import Scenario, builtin_scenario, load_scenario, parse_scenario

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
MIDNIGHT = T0 - 8 * HOUR_MS
MIN_MS = 60_000


def scenario(
    devices: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None, rate_hz: float = 0.5
) -> Scenario:
    return parse_scenario({"devices": devices, "faults": faults or [], "rate_hz": rate_hz})


def run(sc: Scenario, seed: int, duration_ms: int, start_ms: int = T0, **kw: Any) -> list:
    return Fleet(sc, seed=seed, start_ms=start_ms, **kw).advance_to(start_ms + duration_ms)


def key(m: OutMessage) -> tuple:
    return (m.device, m.channel, m.payload, m.ts_ms, m.action, m.retain)


def decoded_series(messages: list[OutMessage], device_id: str) -> list[tuple[int, dict]]:
    """(ts, metrics) of one device's telemetry, decoded through the contract."""
    out = []
    for m in messages:
        if m.device.device_id == device_id and m.channel is Channel.TELEMETRY:
            sample = decode_message(topic_for(m.device, m.channel), m.payload, m.ts_ms).sample
            assert sample is not None
            out.append((m.ts_ms, sample.metrics))
    return out


def per_device_payloads(messages: list[OutMessage]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = defaultdict(list)
    for m in messages:
        out[m.device.device_id].append(key(m))
    return dict(out)


DEMO = load_scenario(builtin_scenario("demo"))


# -- determinism ------------------------------------------------------------------


def test_same_seed_gives_identical_payload_bytes() -> None:
    first = [key(m) for m in run(DEMO, 7, 20 * MIN_MS)]
    second = [key(m) for m in run(DEMO, 7, 20 * MIN_MS)]
    assert len(first) > 12 * 500
    assert first == second


def test_different_seed_gives_different_payloads() -> None:
    a = [m.payload for m in run(DEMO, 7, 5 * MIN_MS) if m.channel is Channel.TELEMETRY]
    b = [m.payload for m in run(DEMO, 8, 5 * MIN_MS) if m.channel is Channel.TELEMETRY]
    assert len(a) == len(b)
    differing = sum(x != y for x, y in zip(a, b, strict=True))
    assert differing > 0.9 * len(a)


def test_output_does_not_depend_on_how_time_is_advanced() -> None:
    at_once = [key(m) for m in run(DEMO, 3, 30 * MIN_MS)]
    fleet = Fleet(DEMO, seed=3, start_ms=T0)
    stepped: list[tuple] = []
    rng = np.random.default_rng(0)
    t = T0
    while t < T0 + 30 * MIN_MS:
        t = min(T0 + 30 * MIN_MS, t + int(rng.integers(1, 20_000)))
        stepped += [key(m) for m in fleet.advance_to(t)]
    assert stepped == at_once


def test_messages_come_in_time_order_with_per_device_sequence_numbers() -> None:
    messages = run(DEMO, 5, 60 * MIN_MS)
    times = [m.ts_ms for m in messages]
    assert times == sorted(times)
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if m.channel in (Channel.TELEMETRY, Channel.EVENT):
            seqs[m.device.device_id].append(json.loads(m.payload)["seq"])
    assert len(seqs) == len(DEMO.devices)
    for device_id, seq in seqs.items():
        # telemetry and events share one per-device counter
        assert seq == list(range(1, len(seq) + 1)), device_id


def test_pump_start_and_stop_events_follow_the_running_state() -> None:
    sc = scenario([{"id": "p1", "kind": "pump"}], rate_hz=0.1)
    messages = run(sc, 6, 6 * HOUR_MS)
    running: bool | None = None
    events = 0
    for m in messages:
        decoded = decode_message(topic_for(m.device, m.channel), m.payload, now_ms=m.ts_ms)
        if decoded.sample is not None:
            running = bool(decoded.sample.metrics["running"])
        elif decoded.event is not None:
            events += 1
            # the event follows the sample (same timestamp) that changed the state
            assert decoded.event.event == ("start" if running else "stop")
    assert events >= 2 * 6 - 1  # a start and a stop every hour


def test_adding_devices_leaves_other_devices_signals_unchanged() -> None:
    base = scenario(
        [
            {"id": "pump-01", "kind": "pump"},
            {"id": "elevator-01", "kind": "elevator"},
        ]
    )
    bigger = scenario(
        [
            {"id": "lighting-07", "kind": "lighting"},
            {"id": "pump-01", "kind": "pump"},
            {"id": "access-09", "kind": "access"},
            {"id": "elevator-01", "kind": "elevator"},
        ]
    )
    small = per_device_payloads(run(base, 11, 30 * MIN_MS))
    large = per_device_payloads(run(bigger, 11, 30 * MIN_MS, extra_devices=6))
    assert len(large) == 4 + 6
    for device_id in ("pump-01", "elevator-01"):
        assert small[device_id] == large[device_id]


# -- faults bend the signal ---------------------------------------------------------


def _twin(
    kind: str, fault: dict[str, Any], hours: float, rate_hz: float, params: dict | None = None
) -> tuple[list[tuple[int, dict]], list[tuple[int, dict]]]:
    """The same device (same seed, same id) with and without the fault, decoded."""
    dev = {"id": "dut", "kind": kind, "params": params or {}}
    duration = int(hours * HOUR_MS)
    faulty = run(scenario([dev], [{"device": "dut", **fault}], rate_hz), 21, duration)
    healthy = run(scenario([dev], [], rate_hz), 21, duration)
    return decoded_series(faulty, "dut"), decoded_series(healthy, "dut")


def _mean(series: list[tuple[int, dict]], metric: str, start_h: float, end_h: float) -> float:
    values = [
        m[metric]
        for ts, m in series
        if T0 + start_h * HOUR_MS <= ts < T0 + end_h * HOUR_MS and m.get("running", True)
    ]
    assert values
    return float(np.mean(values))


def test_bearing_wear_raises_vibration_over_hours() -> None:
    rate = 0.02
    faulty, healthy = _twin(
        "pump", {"type": "bearing_wear", "at": 0, "params": {"rate_g_per_h": rate}}, 6, 0.05
    )
    hourly = [_mean(faulty, "accelerometer1_rms_g", h, h + 1) for h in range(6)]
    assert hourly == sorted(hourly)
    for h in range(6):
        rise = hourly[h] - _mean(healthy, "accelerometer1_rms_g", h, h + 1)
        assert rise == pytest.approx(rate * (h + 0.5), abs=0.004)
    # the second accelerometer follows, more weakly
    rise2 = _mean(faulty, "accelerometer2_rms_g", 5, 6) - _mean(
        healthy, "accelerometer2_rms_g", 5, 6
    )
    assert 0.5 * rate * 5.5 < rise2 < rate * 5.5


def test_lamp_failure_lowers_current_and_light() -> None:
    faulty, healthy = _twin(
        "lighting",
        {"type": "lamp_failure", "at": "1h", "params": {"remaining_fraction": 0.25}},
        2,
        0.1,
        params={"on_hour": 0, "off_hour": 24},
    )
    before = _mean(faulty, "current_a", 0, 1)
    assert before == pytest.approx(_mean(healthy, "current_a", 0, 1), rel=1e-9)
    assert _mean(faulty, "current_a", 1, 2) / before == pytest.approx(0.25, abs=0.01)
    assert _mean(faulty, "illuminance_lux", 1, 2) < _mean(healthy, "illuminance_lux", 1, 2) - 100
    assert all(m["on"] for _, m in faulty)


@pytest.mark.parametrize(
    ("params", "expected_rise_last_hour_s"),
    [({"rate_s_per_h": 1.0}, 2.5), ({"rate_s_per_h": 1.0, "max_s": 0.5}, 0.5)],
    ids=["rising", "capped"],
)
def test_door_slowing_raises_close_time(params: dict, expected_rise_last_hour_s: float) -> None:
    faulty, healthy = _twin("elevator", {"type": "door_slowing", "at": 0, "params": params}, 3, 0.1)
    rise = _mean(faulty, "door_close_time_s", 2, 3) - _mean(healthy, "door_close_time_s", 2, 3)
    assert rise == pytest.approx(expected_rise_last_hour_s, abs=0.05)
    first = _mean(faulty, "door_close_time_s", 0, 1) - _mean(healthy, "door_close_time_s", 0, 1)
    assert first < rise


def test_door_held_open_keeps_the_door_open_with_growing_held_time() -> None:
    faulty, _ = _twin("access", {"type": "door_held_open", "at": "10m", "for": "30m"}, 1, 0.5)
    start, end = T0 + 10 * MIN_MS, T0 + 40 * MIN_MS
    during = [(ts, m) for ts, m in faulty if start <= ts < end]
    assert len(during) == 30 * 60 // 2
    assert all(m["door_open"] is True for _, m in during)
    held = [m["held_open_s"] for _, m in during]
    assert held == sorted(held) and len(set(held)) == len(held)
    for ts, m in during:
        assert m["held_open_s"] == pytest.approx((ts - start) / 1000, abs=0.051)
    after = [m for ts, m in faulty if ts >= end + 60_000]
    assert after and max(m["held_open_s"] for m in after) <= 12.0


def test_offline_disconnects_goes_quiet_and_reconnects() -> None:
    sc = scenario(
        [{"id": "dut", "kind": "elevator"}, {"id": "other", "kind": "elevator"}],
        [{"device": "dut", "type": "offline", "at": "10m", "for": "20m"}],
    )
    messages = run(sc, 4, 60 * MIN_MS)
    mine = [m for m in messages if m.device.device_id == "dut"]
    start, end = T0 + 10 * MIN_MS, T0 + 30 * MIN_MS
    actions = [(m.action, m.channel) for m in mine if m.action is not Action.PUBLISH]
    assert actions == [
        (Action.CONNECT, Channel.STATUS),
        (Action.DISCONNECT, Channel.STATUS),
        (Action.CONNECT, Channel.STATUS),
    ]
    connect, disconnect, reconnect = (m for m in mine if m.action is not Action.PUBLISH)
    assert connect.ts_ms == T0 and connect.payload == b"online" and connect.retain
    assert disconnect.ts_ms == start
    assert reconnect.ts_ms == end and reconnect.payload == b"online" and reconnect.retain
    assert [m for m in mine if start <= m.ts_ms < end] == [disconnect]
    # telemetry resumes after the reconnect, and the other device never paused
    assert any(m.channel is Channel.TELEMETRY and m.ts_ms > end for m in mine)
    others = [m.ts_ms for m in messages if m.device.device_id == "other"]
    assert len([t for t in others if start <= t < end]) == 20 * 60 // 2


# -- daily cycles --------------------------------------------------------------------


def test_lighting_follows_its_on_off_schedule() -> None:
    sc = scenario([{"id": "l1", "kind": "lighting"}], rate_hz=1 / 60)
    series = decoded_series(run(sc, 2, 48 * HOUR_MS, start_ms=MIDNIGHT), "l1")
    by_hour: dict[int, list[bool]] = defaultdict(list)
    for ts, m in series:
        by_hour[int(hour_of_day(ts))].append(m["on"])
        assert (m["current_a"] > 0) == m["on"]
        assert m["power_w"] == 0 if not m["on"] else m["power_w"] > 500
    for hour, states in by_hour.items():
        expected = hour >= 18 or hour < 7
        assert all(s == expected for s in states), hour
    on_share = np.mean([m["on"] for _, m in series])
    assert on_share == pytest.approx(13 / 24, abs=0.01)


def test_elevator_trips_peak_in_the_morning_rush() -> None:
    sc = scenario([{"id": "e1", "kind": "elevator"}], rate_hz=0.1)
    series = decoded_series(run(sc, 9, 3 * 24 * HOUR_MS, start_ms=MIDNIGHT), "e1")

    def trips_per_day(start_h: float, end_h: float) -> float:
        total = sum(m["trips"] for ts, m in series if start_h <= hour_of_day(ts) < end_h)
        return total / 3

    rush, night = trips_per_day(8.0, 9.0), trips_per_day(2.5, 3.5)
    assert rush > 100
    assert rush > 5 * night


def test_pump_runs_longer_by_day_than_by_night() -> None:
    sc = scenario([{"id": "p1", "kind": "pump"}], rate_hz=1 / 30)
    series = decoded_series(run(sc, 6, 2 * 24 * HOUR_MS, start_ms=MIDNIGHT), "p1")
    day = [m["running"] for ts, m in series if 6 <= hour_of_day(ts) < 23]
    night = [m["running"] for ts, m in series if not 6 <= hour_of_day(ts) < 23]
    assert np.mean(day) == pytest.approx(0.75, abs=0.05)
    assert np.mean(night) == pytest.approx(0.33, abs=0.05)
    for _, m in series:
        assert (m["current_a"] > 1.0) == m["running"]


# -- every payload passes the contract -------------------------------------------------


def test_every_generated_payload_passes_the_contract() -> None:
    messages = run(DEMO, 13, 60 * MIN_MS, extra_devices=8)
    kinds: set[str] = set()
    events: set[str] = set()
    for m in messages:
        if m.action is Action.DISCONNECT:
            # nothing is published: the broker sends the device's last will
            assert m.channel is Channel.STATUS and m.payload == b""
            continue
        decoded = decode_message(topic_for(m.device, m.channel), m.payload, now_ms=m.ts_ms)
        assert decoded.channel is m.channel
        if m.channel is Channel.TELEMETRY:
            assert decoded.sample is not None
            assert decoded.sample.ts_ms == m.ts_ms
            assert decoded.sample.device == m.device
            kinds.add(m.device.kind)
        elif m.channel is Channel.EVENT:
            assert decoded.event is not None and decoded.event.ts_ms == m.ts_ms
            events.add(decoded.event.event)
        else:
            assert decoded.status is not None and decoded.status.online
    assert kinds == {"elevator", "lighting", "pump", "access"}
    assert events >= {"start", "stop"}
    assert {m.device.device_id for m in messages} >= {d.device_id for d in DEMO.devices}


def test_a_door_held_open_for_more_than_a_day_still_passes_the_contract() -> None:
    """held_open_s saturates at the contract's 86,400 s maximum; the door stays open."""
    sc = scenario(
        [{"id": "a1", "kind": "access"}], [{"device": "a1", "type": "door_held_open"}], 0.01
    )
    series = decoded_series(run(sc, 1, 25 * HOUR_MS), "a1")  # raises ContractError if not
    held = [m["held_open_s"] for _, m in series]
    assert all(m["door_open"] is True for _, m in series)
    assert held == sorted(held)
    assert max(held) == 86_400.0
    past_a_day = [m["held_open_s"] for ts, m in series if ts - T0 >= 24 * HOUR_MS]
    assert past_a_day and set(past_a_day) == {86_400.0}


# -- the fault injections of every detector ------------------------------------------------


def _events(messages: list[OutMessage], device_id: str) -> list[tuple[int, str]]:
    out = []
    for m in messages:
        if m.device.device_id == device_id and m.channel is Channel.EVENT:
            event = decode_message(topic_for(m.device, m.channel), m.payload, m.ts_ms).event
            assert event is not None
            out.append((m.ts_ms, event.event))
    return out


def _window(
    series: list[tuple[int, dict]], start_h: float, end_h: float, **where: object
) -> list[dict]:
    return [
        m
        for ts, m in series
        if T0 + start_h * HOUR_MS <= ts < T0 + end_h * HOUR_MS
        and all(m.get(k) == v for k, v in where.items())
    ]


def test_elevator_entrapment_stops_the_car_between_floors_and_raises_one_event() -> None:
    sc = scenario(
        [{"id": "e1", "kind": "elevator"}],
        [{"device": "e1", "type": "entrapment", "at": "10m", "for": "10m"}],
    )
    messages = run(sc, 3, 30 * MIN_MS)
    series = decoded_series(messages, "e1")
    during = _window(series, 10 / 60, 20 / 60)
    assert during and all(
        m["speed_ms"] == 0 and m["doors_closed"] and m["trips"] == 0 for m in during
    )
    assert all(abs(m["position_floor"] - round(m["position_floor"])) > 0.4 for m in during)
    after = _window(series, 21 / 60, 0.5)
    assert all(m["position_floor"] == round(m["position_floor"]) for m in after)
    assert [(ts - T0, name) for ts, name in _events(messages, "e1")] == [
        (10 * MIN_MS, "entrapment")
    ]


def test_elevator_fault_code_parks_the_car_and_shows_the_code() -> None:
    sc = scenario(
        [{"id": "e1", "kind": "elevator"}],
        [{"device": "e1", "type": "fault_code", "at": "10m", "for": "5m", "params": {"code": 42}}],
    )
    messages = run(sc, 3, 30 * MIN_MS)
    during = _window(decoded_series(messages, "e1"), 10 / 60, 15 / 60)
    assert during and all(m["fault_code"] == 42 and m["trips"] == 0 for m in during)
    assert [name for _, name in _events(messages, "e1")] == ["fault_code"]


@pytest.mark.parametrize(
    ("fault", "metric", "running_only", "low", "high"),
    [
        (
            {"type": "levelling_error", "params": {"offset_mm": -15}},
            "levelling_error_mm",
            False,
            -18,
            -12,
        ),
        (
            {"type": "motor_current_rising", "params": {"rate_a_per_h": 8}},
            "motor_current_a",
            True,
            6,
            10,
        ),
        ({"type": "car_vibration_rising"}, "car_vibration_rms_ms2", True, 0.03, 0.07),
    ],
    ids=["levelling", "motor-current", "vibration"],
)
def test_elevator_wear_faults_move_their_signal(
    fault: dict, metric: str, running_only: bool, low: float, high: float
) -> None:
    faulty, healthy = _twin("elevator", {**fault, "at": 0}, 1.5, 0.2)

    def mean(series: list[tuple[int, dict]]) -> float:
        values = [
            m[metric]
            for ts, m in series
            if ts >= T0 + HOUR_MS and (m["speed_ms"] > 0 or not running_only)
        ]
        return float(np.mean(values))

    assert low < mean(faulty) - mean(healthy) < high


def test_door_reversals_follow_the_trips() -> None:
    faulty, healthy = _twin(
        "elevator", {"type": "door_reversals", "at": 0, "params": {"extra_per_trip": 0.5}}, 3, 0.1
    )

    def per_trip(series: list[tuple[int, dict]]) -> float:
        trips = sum(m["trips"] for _, m in series)
        assert trips > 200
        assert all(m["door_reversals"] == 0 for _, m in series if m["trips"] == 0)
        return sum(m["door_reversals"] for _, m in series) / trips

    assert 0.02 < per_trip(healthy) < 0.06
    assert 0.45 < per_trip(faulty) < 0.65


def test_lighting_faults_bend_current_and_light_the_physical_way() -> None:
    params = {"on_hour": 0, "off_hour": 24, "daylight_lux": 0.0}
    flicker, healthy = _twin("lighting", {"type": "flicker", "at": 0}, 0.5, 0.5, params)
    cv = [
        np.std([m["current_a"] for _, m in s]) / np.mean([m["current_a"] for _, m in s])
        for s in (flicker, healthy)
    ]
    assert cv[0] > 0.08 > 0.02 > cv[1]
    dim, _ = _twin("lighting", {"type": "illuminance_low", "at": 0}, 0.5, 0.5, params)
    assert np.mean([m["current_a"] for _, m in dim]) == pytest.approx(
        np.mean([m["current_a"] for _, m in healthy]), rel=0.01
    )  # same power, less light
    assert np.mean([m["illuminance_lux"] for _, m in dim]) == pytest.approx(56.0, rel=0.05)
    left_on, off = _twin("lighting", {"type": "lights_left_on", "at": 0}, 2, 0.05)
    assert not any(m["on"] for _, m in off)  # 08:00-10:00 is off on the default schedule
    assert all(m["on"] and m["current_a"] > 3 for _, m in left_on)


def test_pump_faults_move_the_operating_point_the_physical_way() -> None:
    def running_mean(series: list[tuple[int, dict]], metric: str) -> float:
        return float(np.mean([m[metric] for _, m in series if m["running"]]))

    def running_sd(series: list[tuple[int, dict]], metric: str) -> float:
        return float(np.std([m[metric] for _, m in series if m["running"]]))

    _, healthy = _twin("pump", {"type": "leakage", "at": 0}, 1, 0.2)
    leak, _ = _twin("pump", {"type": "leakage", "at": 0}, 1, 0.2)
    assert running_mean(leak, "flow_rate_lpm") > 1.15 * running_mean(healthy, "flow_rate_lpm")
    assert running_mean(leak, "pressure_bar") < 0.8 * running_mean(healthy, "pressure_bar")
    cav, _ = _twin("pump", {"type": "cavitation", "at": 0}, 1, 0.2)
    assert running_mean(cav, "accelerometer2_rms_g") > 1.3 * running_mean(
        healthy, "accelerometer2_rms_g"
    )
    assert running_mean(cav, "accelerometer1_rms_g") < 1.03 * running_mean(
        healthy, "accelerometer1_rms_g"
    )  # the motor bearing barely feels it
    assert running_sd(cav, "pressure_bar") > 2.5 * running_sd(healthy, "pressure_bar")
    dry, _ = _twin("pump", {"type": "dry_running", "at": 0}, 1, 0.2)
    assert running_mean(dry, "flow_rate_lpm") < 0.5
    assert running_mean(dry, "current_a") == pytest.approx(0.55 * 2.05, rel=0.05)


def test_dry_run_event_once_per_episode_while_running() -> None:
    sc = scenario([{"id": "p1", "kind": "pump"}], [{"device": "p1", "type": "dry_running"}], 0.1)
    names = [name for _, name in _events(run(sc, 6, 3 * HOUR_MS), "p1")]
    assert names.count("dry_run") == 1
    assert names.count("start") >= 2  # the duty cycle goes on, still dry


def test_access_faults() -> None:
    forced, _ = _twin(
        "access", {"type": "door_forced", "at": "10m", "params": {"open_s": 40}}, 0.5, 0.5
    )
    during = _window(forced, 10 / 60, 10 / 60 + 40 / 3600)
    assert during and all(m["door_open"] and m["valid_credentials"] == 0 for m in during)
    assert during[-1]["held_open_s"] == pytest.approx(38.0, abs=2.1)
    brute, _ = _twin("access", {"type": "credential_brute_force", "at": 0}, 0.5, 0.5)
    assert sum(m["invalid_credentials"] for _, m in brute) == pytest.approx(120, rel=0.25)
    slow, _ = _twin("access", {"type": "lock_slowing", "at": 0}, 1, 0.5)
    assert _window(slow, 0.9, 1)[0]["lock_actuation_ms"] > 190
    offline, _ = _twin("access", {"type": "reader_offline", "at": 0}, 0.5, 0.5)
    assert all(
        not m["reader_ok"] and m["valid_credentials"] == 0 and not m["door_open"]
        for _, m in offline
    )


def test_a_propped_door_was_opened_with_a_badge() -> None:
    faulty, _ = _twin("access", {"type": "door_held_open", "at": "10m"}, 0.5, 0.5)
    first = _window(faulty, 10 / 60, 10 / 60 + 1 / 3600)
    assert first[0]["door_open"] and first[0]["valid_credentials"] >= 1


@pytest.mark.parametrize("kind", ["elevator", "lighting", "pump", "access"])
def test_sensor_faults_freeze_or_shift_the_kinds_sensor(kind: str) -> None:
    from simulators.models import MODELS

    metric = MODELS[kind].sensor_metric
    stuck, _ = _twin(kind, {"type": "stuck_sensor", "at": "10m"}, 0.5, 0.5)
    assert len({m[metric] for m in _window(stuck, 10 / 60, 0.5)}) == 1
    assert len({m[metric] for m in _window(stuck, 0, 9 / 60)}) > 50
    shifted, healthy = _twin(kind, {"type": "out_of_range", "at": 0}, 0.2, 0.5)
    offset = MODELS[kind].range_offset
    diff = np.mean([m[metric] for _, m in shifted]) - np.mean([m[metric] for _, m in healthy])
    assert diff == pytest.approx(offset, abs=abs(offset) * 0.1)


# -- every simulator fault is caught by its detector, end to end ----------------------------

# (kind, device params, fault, rate_hz, duration, expected severity, other fault types the
# bank may rightly report for the same device)
_E2E: list[tuple[str, dict, dict, float, str, str, frozenset[str]]] = [
    ("elevator", {}, {"type": "door_reversals", "at": "90m"}, 0.1, "5h", "major", frozenset()),
    ("elevator", {}, {"type": "levelling_error", "at": "10m"}, 0.1, "1h", "major", frozenset()),
    ("elevator", {}, {"type": "motor_current_rising", "at": "2h"}, 0.1, "6h", "major", frozenset()),
    ("elevator", {}, {"type": "car_vibration_rising", "at": "2h"}, 0.1, "5h", "major", frozenset()),
    (
        "elevator",
        {},
        {"type": "entrapment", "at": "10m", "for": "10m"},
        0.5,
        "30m",
        "critical",
        frozenset(),
    ),
    (
        "elevator",
        {},
        {"type": "entrapment", "at": "10m", "for": "10m", "params": {"report_event": 0}},
        0.5,
        "30m",
        "critical",
        frozenset(),
    ),
    (
        "elevator",
        {},
        {"type": "fault_code", "at": "10m", "for": "10m"},
        0.5,
        "30m",
        "major",
        frozenset(),
    ),
    (
        "elevator",
        {},
        {"type": "fault_code", "at": "10m", "for": "10m", "params": {"report_event": 0}},
        0.5,
        "30m",
        "major",
        frozenset(),
    ),
    ("elevator", {}, {"type": "stuck_sensor", "at": "10m"}, 0.5, "40m", "major", frozenset()),
    ("elevator", {}, {"type": "out_of_range", "at": "10m"}, 0.5, "20m", "major", frozenset()),
    (
        "lighting",
        {"on_hour": 0, "off_hour": 24},
        {"type": "flicker", "at": "10m"},
        0.5,
        "30m",
        "minor",
        frozenset(),
    ),
    ("lighting", {}, {"type": "lights_left_on", "at": "25h"}, 1 / 60, "27h", "minor", frozenset()),
    (
        "lighting",
        {"on_hour": 0, "off_hour": 24, "daylight_lux": 0.0},
        {"type": "illuminance_low", "at": "10m"},
        0.5,
        "30m",
        "major",
        frozenset(),
    ),
    (
        "lighting",
        {"on_hour": 0, "off_hour": 24},
        {"type": "stuck_sensor", "at": "10m"},
        0.5,
        "40m",
        "major",
        frozenset(),
    ),
    (
        "lighting",
        {"on_hour": 0, "off_hour": 24},
        {"type": "out_of_range", "at": "10m"},
        0.5,
        "20m",
        "major",
        frozenset(),
    ),
    (
        "pump",
        {},
        {"type": "cavitation", "at": "30m"},
        0.2,
        "90m",
        "major",
        frozenset({"pump_anomaly"}),
    ),
    (
        "pump",
        {},
        {"type": "dry_running", "at": "30m"},
        0.2,
        "90m",
        "critical",
        frozenset({"pump_anomaly"}),
    ),
    (
        "pump",
        {},
        {"type": "dry_running", "at": "30m", "params": {"report_event": 0}},
        0.2,
        "90m",
        "critical",
        frozenset({"pump_anomaly"}),
    ),
    (
        "pump",
        {},
        {"type": "leakage", "at": "30m"},
        0.2,
        "90m",
        "major",
        frozenset({"pump_anomaly"}),
    ),
    ("pump", {}, {"type": "stuck_sensor", "at": "30m"}, 0.2, "90m", "major", frozenset()),
    (
        "pump",
        {},
        {"type": "out_of_range", "at": "30m"},
        0.2,
        "90m",
        "major",
        frozenset({"pump_anomaly"}),
    ),
    ("access", {}, {"type": "door_forced", "at": "10m"}, 0.5, "20m", "critical", frozenset()),
    (
        "access",
        {},
        {"type": "door_forced", "at": "10m", "params": {"report_event": 0}},
        0.5,
        "20m",
        "critical",
        frozenset(),
    ),
    (
        "access",
        {},
        {"type": "credential_brute_force", "at": "10m", "for": "10m"},
        0.5,
        "30m",
        "major",
        frozenset(),
    ),
    ("access", {}, {"type": "lock_slowing", "at": "10m"}, 0.5, "90m", "major", frozenset()),
    (
        "access",
        {},
        {"type": "reader_offline", "at": "10m", "for": "10m"},
        0.5,
        "30m",
        "major",
        frozenset(),
    ),
    ("access", {}, {"type": "stuck_sensor", "at": "1h"}, 0.1, "3h", "major", frozenset()),
    ("access", {}, {"type": "out_of_range", "at": "10m"}, 0.5, "20m", "major", frozenset()),
]


def _bank_findings(sc: Scenario, seed: int, duration_ms: int) -> list[tuple[int, Any]]:
    from contract.topics import status_topic
    from detectors.registry import DetectorBank

    clock = {"now": T0}
    bank = DetectorBank(clock_ms=lambda: clock["now"])
    found: list[tuple[int, Any]] = []
    fleet = Fleet(sc, seed=seed, start_ms=T0)
    t = T0
    while t < T0 + duration_ms:
        t += 10_000
        for m in fleet.advance_to(t):
            clock["now"] = m.ts_ms
            if m.action is Action.DISCONNECT:
                decoded = decode_message(status_topic(m.device), b"offline", m.ts_ms)
            else:
                decoded = decode_message(topic_for(m.device, m.channel), m.payload, m.ts_ms)
            if decoded.sample is not None:
                found += [(m.ts_ms, f) for f in bank.on_sample(decoded.sample)]
            elif decoded.event is not None:
                found += [(m.ts_ms, f) for f in bank.on_event(decoded.event)]
            elif decoded.status is not None:
                found += [(m.ts_ms, f) for f in bank.on_status(decoded.status)]
        clock["now"] = t
        found += [(t, f) for f in bank.tick()]
    return found


@pytest.mark.parametrize(
    ("kind", "params", "fault", "rate_hz", "duration", "severity", "also"),
    _E2E,
    ids=[
        f"{e[0]}-{e[2]['type']}"
        + ("-telemetry" if "report_event" in e[2].get("params", {}) else "")
        for e in _E2E
    ],
)
def test_every_simulator_fault_is_caught_by_its_detector(
    kind: str,
    params: dict,
    fault: dict,
    rate_hz: float,
    duration: str,
    severity: str,
    also: frozenset[str],
) -> None:
    """Fleet -> contract -> DetectorBank: the injected fault opens a finding of its own
    type, with its severity, after the fault began; nothing unrelated fires."""
    from simulators.scenario import parse_duration_s

    sc = parse_scenario(
        {
            "devices": [{"id": "dut", "kind": kind, "params": params}],
            "faults": [{"device": "dut", **fault}],
            "expect": [{"device": "dut", "fault_type": fault["type"], "within": duration}],
            "rate_hz": rate_hz,
        }
    )
    found = _bank_findings(sc, 17, int(parse_duration_s(duration, "duration") * 1000))
    start_ms = T0 + int(sc.faults[0].at_s * 1000)
    mine = [(t, f) for t, f in found if f.fault_type == fault["type"]]
    assert mine, [f.summary for _, f in found]
    at_ms, first = mine[0]
    assert first.severity.value == severity
    assert at_ms >= start_ms and first.onset_ms >= start_ms - 60_000
    assert {f.fault_type for _, f in found} <= {fault["type"], *also}
