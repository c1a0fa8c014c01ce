"""What a ticket's evidence chart shows, worked out from the ticket alone: which metrics to
read, over which span around the onset, the threshold and baseline lines in the metric's
unit, the verification window, and for a predictive finding the projected crossing of
the limit with its 95 % band (from the Theil-Sen slope and interval the detector stored).

The span is the time around the onset, never "the latest samples": at least
`MIN_HALF_SPAN` either side, widened to the detector's stored window and to the
durations its evidence names (how long a device was silent, a door held open ...), and
on to the end of the verification window; never past now.

>>> plan = plan_chart(
...     kind="access", detector="access_door_held_open", fault_type="door_held_open",
...     evidence={"metric": "held_open_s", "value": 64.0, "threshold": 60.0},
...     onset_ms=10_000_000, now_ms=20_000_000)
>>> plan.metrics, [(line.role, line.value) for line in plan.lines]
(['held_open_s'], [('threshold', 60.0)])
>>> plan.start_ms, plan.end_ms
(9100000, 10900000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from contract.topics import TELEMETRY_SCHEMAS, Kind

MIN_HALF_SPAN_MS: Final = 15 * 60_000
MAX_HALF_SPAN_MS: Final = 14 * 86_400_000
MARGIN_MS: Final = 5 * 60_000
MAX_METRICS: Final = 3

# The metric charted when the evidence names none (offline, manual and planned work):
# the gap in it, or the device's behaviour around the report, is what a reader looks for.
PRIMARY_METRIC: Final[dict[str, str]] = {
    "elevator": "door_close_time_s",
    "lighting": "current_a",
    "pump": "current_a",
    "access": "held_open_s",
}

# Detectors whose `threshold` and `baseline` are in the metric's own unit.
_IN_METRIC_UNITS: Final = frozenset(
    {
        "elevator_door_slowing",
        "elevator_motor_current_trend",
        "elevator_car_vibration_trend",
        "lighting_illuminance_low",
        "pump_bearing_wear",
        "access_lock_slowing",
        "access_door_held_open",
        "pump_dry_running",
    }
)
_DURATION_KEYS: Final = {
    "gone_ms": 0.001,
    "silence_limit_ms": 0.001,
    "stopped_s": 1.0,
    "threshold_s": 1.0,
    "window_s": 1.0,
    "run_s": 1.0,
}

LineRole = Literal["threshold", "baseline"]


@dataclass(frozen=True, slots=True)
class Line:
    role: LineRole
    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class Projection:
    """Where the trend meets the limit: from (`from_ms`, `from_value`) along the fitted
    slope to `threshold` at `crossing_ms`; the band is the crossing under the slope's 95 %
    bounds (`latest_ms` None when the lower bound does not rise)."""

    metric: str
    from_ms: int
    from_value: float
    threshold: float
    crossing_ms: int
    earliest_ms: int
    latest_ms: int | None


@dataclass(frozen=True, slots=True)
class VerificationSpan:
    start_ms: int
    end_ms: int
    status: Literal["passed", "waiting"]


@dataclass(frozen=True, slots=True)
class ChartPlan:
    metrics: list[str]
    start_ms: int
    end_ms: int
    onset_ms: int
    lines: list[Line] = field(default_factory=list)
    stored_window: list[tuple[int, float]] = field(default_factory=list)
    verification: VerificationSpan | None = None
    projection: Projection | None = None
    rectified_ms: int | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _schema(kind: str) -> Mapping[str, Any]:
    try:
        return TELEMETRY_SCHEMAS[Kind(kind)]
    except ValueError:
        return {}


def _lines(detector: str, evidence: Mapping[str, Any], metric: str) -> list[Line]:
    threshold, baseline = _number(evidence.get("threshold")), _number(evidence.get("baseline"))
    found: list[Line] = []
    if detector in _IN_METRIC_UNITS:
        if threshold is not None:
            found.append(Line("threshold", metric, threshold))
        if baseline is not None:
            found.append(Line("baseline", metric, baseline))
        if detector == "pump_dry_running":
            roles: tuple[tuple[LineRole, str], ...] = (
                ("threshold", "current_threshold_a"),
                ("baseline", "baseline_current_a"),
            )
            for role, key in roles:
                value = _number(evidence.get(key))
                if value is not None:
                    found.append(Line(role, "current_a", value))
    elif detector == "elevator_levelling_error" and threshold is not None:
        found += [Line("threshold", metric, threshold), Line("threshold", metric, -threshold)]
    elif detector == "generic_out_of_range":
        for key in ("low", "high"):
            value = _number(evidence.get(key))
            if value is not None:
                found.append(Line("threshold", metric, value))
    elif detector == "lighting_lamp_failure":
        expected = _number(evidence.get("expected"))
        if expected is not None:
            found.append(Line("baseline", metric, expected))
            if threshold is not None:
                found.append(Line("threshold", metric, round(expected * threshold, 6)))
    elif detector == "pump_multivariate" and baseline is not None:
        found.append(Line("baseline", metric, baseline))
    elif detector == "pump_leakage":
        for metric_name, key in (
            ("flow_rate_lpm", "baseline_flow_lpm"),
            ("pressure_bar", "baseline_pressure_bar"),
        ):
            value = _number(evidence.get(key))
            if value is not None:
                found.append(Line("baseline", metric_name, value))
    elif detector == "pump_cavitation":
        value = _number(evidence.get("baseline_pressure_bar"))
        if value is not None:
            found.append(Line("baseline", "pressure_bar", value))
    return found


def _stored_pairs(evidence: Mapping[str, Any]) -> list[tuple[int, float]]:
    """The stored window when it holds [time, value] pairs (the trend detectors' bucket
    medians); a window of bare values has no times to place it by."""
    pairs: list[tuple[int, float]] = []
    for entry in evidence.get("window") or []:
        if isinstance(entry, list | tuple) and len(entry) == 2:
            at, value = _number(entry[0]), _number(entry[1])
            if at is not None and value is not None:
                pairs.append((int(at), value))
    return pairs


def _projection(
    evidence: Mapping[str, Any], metric: str, pairs: list[tuple[int, float]], onset_ms: int
) -> Projection | None:
    slope = _number(evidence.get("slope_per_h"))
    level = _number(evidence.get("value"))
    limit = _number(evidence.get("threshold"))
    bounds = evidence.get("slope_95")
    if slope is None or level is None or limit is None or slope <= 0 or level >= limit:
        return None
    low = high = slope
    if isinstance(bounds, list | tuple) and len(bounds) == 2:
        low, high = _number(bounds[0]) or 0.0, _number(bounds[1]) or slope
    # From the detector's latest stored bucket, which sits on the charted data; a latest
    # bucket already past the limit leaves the level (the median of the last three
    # buckets), at the middle one's time.
    from_ms, from_value = pairs[-1] if pairs else (onset_ms, level)
    if from_value >= limit:
        recent = sorted(at for at, _ in pairs[-3:])
        from_ms, from_value = recent[len(recent) // 2], level
    rise = limit - from_value

    def after(rate: float) -> int:
        return from_ms + round(rise / rate * 3_600_000)

    return Projection(
        metric=metric,
        from_ms=from_ms,
        from_value=from_value,
        threshold=limit,
        crossing_ms=after(slope),
        earliest_ms=after(max(high, slope)),
        latest_ms=after(low) if low > 0 else None,
    )


def _half_span(evidence: Mapping[str, Any], kind_schema: Mapping[str, Any]) -> int:
    """At least the minimum, twice the longest duration the evidence names."""
    longest = 0.0
    for key, scale in _DURATION_KEYS.items():
        value = _number(evidence.get(key))
        if value is not None:
            longest = max(longest, value * scale)
    metric = evidence.get("metric")
    spec = kind_schema.get(metric) if isinstance(metric, str) else None
    if spec is not None and spec.unit == "bool":  # judged by how long it held, in seconds
        longest = max(longest, _number(evidence.get("value")) or 0.0)
    return max(MIN_HALF_SPAN_MS, round(2 * longest * 1000))


def _verification(
    verification: Mapping[str, Any] | None,
    rectified_ms: int | None,
    state: str,
    window_ms: int,
) -> VerificationSpan | None:
    if verification and verification.get("method") == "telemetry":
        start = _number(verification.get("window_start_ms"))
        end = _number(verification.get("window_end_ms"))
        if start is not None and end is not None:
            return VerificationSpan(int(start), int(end), "passed")
    if state == "rectified" and rectified_ms is not None:
        return VerificationSpan(rectified_ms, rectified_ms + window_ms, "waiting")
    return None


def plan_chart(
    *,
    kind: str,
    detector: str,
    fault_type: str,
    evidence: Mapping[str, Any],
    onset_ms: int,
    now_ms: int,
    state: str = "open",
    rectified_ms: int | None = None,
    verification: Mapping[str, Any] | None = None,
    verification_window_ms: int = 0,
    before_ms: int | None = None,
    after_ms: int | None = None,
) -> ChartPlan:
    """The chart of one ticket (see the module's docstring); `before_ms` and `after_ms`
    override the span either side of the onset."""
    del fault_type  # the detector's name says how to read its evidence
    schema = _schema(kind)
    metrics: list[str] = []
    lines: list[Line] = []

    def add(name: str, source: str, found: Mapping[str, Any]) -> None:
        for metric in (name, *(line.metric for line in _lines(source, found, name))):
            if metric in schema and metric not in metrics and len(metrics) < MAX_METRICS:
                metrics.append(metric)
        lines.extend(_lines(source, found, name))

    named = evidence.get("metric")
    if isinstance(named, str):
        add(named, detector, evidence)
    joined = evidence.get("joined")
    if isinstance(joined, Mapping):
        for name, entry in sorted(joined.items()):
            inner = entry.get("evidence") if isinstance(entry, Mapping) else None
            if isinstance(inner, Mapping) and isinstance(inner.get("metric"), str):
                add(inner["metric"], name, inner)
    if not metrics and kind in PRIMARY_METRIC:
        metrics.append(PRIMARY_METRIC[kind])
    lines = [line for line in lines if line.metric in metrics]

    pairs = _stored_pairs(evidence)
    half = _half_span(evidence, schema)
    before = before_ms if before_ms is not None else half
    after = after_ms if after_ms is not None else half
    if pairs and before_ms is None:
        before = min(max(before, onset_ms - pairs[0][0] + MARGIN_MS), MAX_HALF_SPAN_MS)
    if pairs and after_ms is None:
        after = min(max(after, pairs[-1][0] - onset_ms + MARGIN_MS), MAX_HALF_SPAN_MS)
    span = _verification(verification, rectified_ms, state, verification_window_ms)
    projection = _projection(evidence, metrics[0], pairs, onset_ms) if metrics else None
    start, end = onset_ms - before, onset_ms + after
    if after_ms is None:
        for moment in (span.end_ms if span else None, rectified_ms):
            if moment is not None:
                end = max(end, min(moment + MARGIN_MS, onset_ms + MAX_HALF_SPAN_MS))
    end = max(min(end, now_ms), start + 1)
    return ChartPlan(
        metrics=metrics,
        start_ms=start,
        end_ms=end,
        onset_ms=onset_ms,
        lines=lines,
        stored_window=pairs,
        verification=span,
        projection=projection,
        rectified_ms=rectified_ms,
    )
