"""The simulated fleet: deterministic under a seed, faults bend the signal the right
way, daily cycles exist, and every payload it produces passes the contract."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from gateway.contract import Channel, topic_for
from gateway.payload import decode_message
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
