"""What a ticket's evidence chart shows, worked out from the evidence alone
(`quality.evidence.chart.plan_chart`): lines in the metric's unit per detector, the span
around the onset, the verification window, the projected crossing."""

from __future__ import annotations

from typing import Any

from quality.evidence.chart import MARGIN_MS, MIN_HALF_SPAN_MS, plan_chart

ONSET = 10_000_000_000
NOW = ONSET + 86_400_000


def plan(kind: str, detector: str, evidence: dict[str, Any], **kw: Any) -> Any:
    return plan_chart(
        kind=kind,
        detector=detector,
        fault_type="x",
        evidence=evidence,
        onset_ms=ONSET,
        now_ms=kw.pop("now_ms", NOW),
        **kw,
    )


def lines(chart: Any) -> set[tuple[str, str, float]]:
    return {(line.role, line.metric, line.value) for line in chart.lines}


def test_lines_follow_what_each_detector_judges() -> None:
    lamp = plan(
        "lighting",
        "lighting_lamp_failure",
        {"metric": "current_a", "value": 0.8, "expected": 4.0, "ratio": 0.2, "threshold": 0.6},
    )
    assert lines(lamp) == {("baseline", "current_a", 4.0), ("threshold", "current_a", 2.4)}
    levelling = plan(
        "elevator", "elevator_levelling_error", {"metric": "levelling_error_mm", "threshold": 10.0}
    )
    assert {line.value for line in levelling.lines} == {10.0, -10.0}
    ranged = plan(
        "access",
        "generic_out_of_range",
        {"metric": "lock_actuation_ms", "value": 1.0, "low": 5.0, "high": 10_000.0},
    )
    assert {line.value for line in ranged.lines} == {5.0, 10_000.0}
    # a score's threshold is not in the metric's unit: no line for it
    flicker = plan(
        "lighting",
        "lighting_flicker",
        {"metric": "current_a", "value": 0.13, "baseline": 0.01, "threshold": 0.1},
    )
    assert flicker.metrics == ["current_a"] and flicker.lines == []


def test_a_second_metric_joins_when_the_detector_judged_it() -> None:
    dry = plan(
        "pump",
        "pump_dry_running",
        {
            "metric": "flow_rate_lpm",
            "value": 0.2,
            "baseline": 32.0,
            "threshold": 6.4,
            "current_a": 1.1,
            "baseline_current_a": 2.0,
            "current_threshold_a": 1.7,
        },
    )
    assert dry.metrics == ["flow_rate_lpm", "current_a"]
    assert ("threshold", "current_a", 1.7) in lines(dry)
    joined = plan(
        "pump",
        "pump_multivariate",
        {
            "metric": "accelerometer1_rms_g",
            "baseline": 0.2,
            "threshold": 2.5,
            "joined": {
                "pump_cavitation": {
                    "evidence": {"metric": "pressure_bar", "baseline_pressure_bar": 0.28}
                }
            },
        },
    )
    assert joined.metrics == ["accelerometer1_rms_g", "pressure_bar"]
    assert lines(joined) == {
        ("baseline", "accelerometer1_rms_g", 0.2),
        ("baseline", "pressure_bar", 0.28),
    }


def test_the_span_is_the_time_around_the_onset() -> None:
    held = plan("access", "access_door_held_open", {"metric": "held_open_s", "value": 64.0})
    assert (held.start_ms, held.end_ms) == (ONSET - MIN_HALF_SPAN_MS, ONSET + MIN_HALF_SPAN_MS)
    offline = plan("pump", "offline", {"cause": "silence", "gone_ms": 3_600_000})
    assert offline.metrics == ["current_a"]  # offline names no metric: the kind's main one
    assert offline.start_ms == ONSET - 7_200_000
    chosen = plan("access", "x", {"metric": "held_open_s"}, before_ms=1000, after_ms=2000)
    assert (chosen.start_ms, chosen.end_ms) == (ONSET - 1000, ONSET + 2000)
    # never past now; a place an inspector reported has no telemetry
    recent = plan("access", "x", {"metric": "held_open_s"}, now_ms=ONSET + 60_000)
    assert recent.end_ms == ONSET + 60_000
    assert plan("place", "manual:ann", {"source": "manual"}).metrics == []
    window = [[ONSET - 3 * 3_600_000, 1.0], [ONSET + 3_600_000, 2.0]]
    trend = plan(
        "elevator", "elevator_motor_current_trend", {"metric": "motor_current_a", "window": window}
    )
    assert trend.start_ms == ONSET - 3 * 3_600_000 - MARGIN_MS
    assert trend.stored_window == [(ONSET - 3 * 3_600_000, 1.0), (ONSET + 3_600_000, 2.0)]


def test_the_verification_window_waits_then_shows_what_telemetry_saw() -> None:
    rectified = ONSET + 3_600_000
    waiting = plan(
        "access",
        "x",
        {"metric": "held_open_s"},
        state="rectified",
        rectified_ms=rectified,
        verification_window_ms=600_000,
    )
    assert waiting.verification is not None
    assert (waiting.verification.start_ms, waiting.verification.end_ms) == (
        rectified,
        rectified + 600_000,
    )
    assert waiting.verification.status == "waiting"
    assert waiting.end_ms == rectified + 600_000 + MARGIN_MS  # the chart runs on to it
    passed = plan(
        "access",
        "x",
        {"metric": "held_open_s"},
        state="verified",
        verification={"method": "telemetry", "window_start_ms": 5, "window_end_ms": 9},
    )
    assert passed.verification is not None and passed.verification.status == "passed"
    by_hand = plan("access", "x", {}, state="verified", verification={"method": "manual"})
    assert by_hand.verification is None


def test_the_projected_crossing_and_its_band() -> None:
    window = [[ONSET - 1_200_000, 1.0], [ONSET - 600_000, 1.1], [ONSET, 1.2]]
    evidence = {
        "metric": "motor_current_a",
        "value": 1.1,
        "threshold": 1.5,
        "slope_per_h": 0.3,
        "slope_95": [0.2, 0.6],
        "window": window,
    }
    chart = plan("elevator", "elevator_motor_current_trend", evidence)
    projection = chart.projection
    assert projection is not None
    assert (projection.from_ms, projection.from_value) == (ONSET, 1.2)
    assert projection.crossing_ms == ONSET + 3_600_000  # 0.3 left at 0.3 per hour
    assert projection.earliest_ms == ONSET + 1_800_000
    assert projection.latest_ms == ONSET + 5_400_000
    # a lower bound that does not rise leaves the band open-ended
    flat = plan("elevator", "elevator_motor_current_trend", {**evidence, "slope_95": [-0.1, 0.6]})
    assert flat.projection is not None and flat.projection.latest_ms is None
    # a latest bucket already past the limit: from the level, at the middle bucket's time
    past = plan("elevator", "elevator_motor_current_trend", {**evidence, "threshold": 1.15})
    assert past.projection is not None
    assert (past.projection.from_ms, past.projection.from_value) == (ONSET - 600_000, 1.1)
    crossed = plan("elevator", "elevator_motor_current_trend", {**evidence, "value": 1.6})
    assert crossed.projection is None
