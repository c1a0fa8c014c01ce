"""Each evidence field a detector (or the ticket store, a manual report, a maintenance plan,
telemetry verification) writes, with the kind of value it holds, so that a page shows
`gone_ms: 120000` as "Silent for 2 min" and `last_heard_ms` as a time with its zone.

The label of key `k` is the catalog's `evidence.field.k`; units are catalog keys
`evidence.unit.<unit>`. `tests/quality/test_evidence_labels.py` runs every detector and
fails on a key without a kind here or a label in the catalog.

>>> [(f.key, f.kind, f.unit) for f in describe({"metric": "held_open_s", "value": 64.0},
...  "access_door_held_open", "s")]
[('metric', 'metric', None), ('value', 'measured', 's')]
>>> describe({"gone_ms": 120000}, "offline", None)[0].kind
'duration_ms'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

FieldKind = Literal[
    "metric",  # a metric's name: labelled by evidence.metric.<name>
    "measured",  # in the unit the detector judged (usually the metric's)
    "per_hour",  # the judged unit per hour
    "per_hour_range",  # [low, high] per hour
    "time_ms",  # epoch milliseconds
    "time_iso",  # an RFC 3339 text
    "date",  # a calendar date
    "duration_ms",
    "duration_s",
    "duration_h",
    "hours_range",  # [low, high or null] hours
    "quantity",  # a number in the fixed unit `FIXED_UNITS[key]`
    "number",  # a plain number (a count, an identifier)
    "flag",
    "text",
    "fault_type",
    "list",
    "mapping",  # nested fields, described with the same table
    "window",  # the stored samples: charted, summarised as a count
]

FIELD_KINDS: Final[dict[str, FieldKind]] = {
    # what every detector's finding carries (the ticket store adds the last three)
    "metric": "metric",
    "value": "measured",
    "baseline": "measured",
    "threshold": "measured",
    "detector": "text",
    "version": "text",
    "config_version": "text",
    "source": "text",
    "window": "window",
    # predictive trends (detectors.trend, pump_bearing)
    "slope_per_h": "per_hour",
    "slope_95": "per_hour_range",
    "hours_to_limit": "duration_h",
    "hours_to_limit_95": "hours_range",
    "level_age_h": "duration_h",
    "escalation": "flag",
    "ratio": "measured",
    "baseline_shifts": "list",
    "at_ms": "time_ms",
    "from": "measured",
    "to": "measured",
    "after_gap": "flag",
    # elevators
    "trips": "number",
    "reversals": "number",
    "off_landing_floor": "quantity",
    "stopped_s": "duration_s",
    "threshold_s": "duration_s",
    "codes": "list",
    "event": "text",
    "data": "mapping",
    # lighting
    "expected": "measured",
    "reason": "text",
    "current_a": "quantity",
    "illuminance_lux": "quantity",
    "hour_utc": "number",
    "learnt_lit_share": "list",
    # pumps
    "spread": "measured",
    "score": "measured",
    "deviations": "mapping",
    "vibration_ratio": "quantity",
    "pressure_drop_sigmas": "quantity",
    "pressure_spread_ratio": "quantity",
    "flow_ratio": "quantity",
    "baseline_vibration_g": "quantity",
    "baseline_pressure_bar": "quantity",
    "baseline_pressure_spread": "quantity",
    "baseline_current_a": "quantity",
    "current_threshold_a": "quantity",
    "flow_lpm": "quantity",
    "baseline_flow_lpm": "quantity",
    "pressure_bar": "quantity",
    "baseline_k": "number",
    # access
    "opened_ms": "time_ms",
    "last_valid_credential_ms": "time_ms",
    "grace_s": "duration_s",
    "window_s": "duration_s",
    "first_refusal_ms": "time_ms",
    # generic
    "low": "measured",
    "high": "measured",
    "run_samples": "number",
    "run_s": "duration_s",
    # offline
    "cause": "text",
    "gone_ms": "duration_ms",
    "last_heard_ms": "time_ms",
    "will_received_ms": "time_ms",
    "offline_after_ms": "duration_ms",
    "silence_limit_ms": "duration_ms",
    "will_grace_ms": "duration_ms",
    # an incident seen by several detectors (quality.tickets.store)
    "joined": "mapping",
    "fault_type": "fault_type",
    "onset_ms": "time_ms",
    "summary": "text",
    "evidence": "mapping",
    # manual and inspection findings (quality.inspections)
    "reported_by": "text",
    "description": "text",
    "photos": "list",
    "location": "mapping",
    "observed_at": "time_iso",
    "site": "text",
    "building": "text",
    "device_id": "text",
    "floor": "text",
    "place": "text",
    "inspection": "mapping",
    "round_id": "number",
    "route_id": "number",
    "route_name": "text",
    "stop": "number",
    "stop_label": "text",
    "item": "number",
    "question": "text",
    "kind": "text",
    "answer": "text",
    "unit": "text",
    "allowed": "list",
    # planned maintenance work orders (quality.maintenance)
    "plan_id": "number",
    "plan": "text",
    "due_date": "date",
    "checklist": "list",
    "contractor": "text",
    # verification (telemetry or by hand)
    "method": "text",
    "window_start_ms": "time_ms",
    "window_end_ms": "time_ms",
    "normal_samples": "number",
    "by": "text",
    "note": "text",
}

FIXED_UNITS: Final[dict[str, str]] = {
    "off_landing_floor": "floor",
    "current_a": "A",
    "illuminance_lux": "lx",
    "vibration_ratio": "ratio",
    "pressure_drop_sigmas": "sigma",
    "pressure_spread_ratio": "ratio",
    "flow_ratio": "ratio",
    "baseline_vibration_g": "g",
    "baseline_pressure_bar": "bar",
    "baseline_pressure_spread": "bar",
    "baseline_current_a": "A",
    "current_threshold_a": "A",
    "flow_lpm": "l/min",
    "baseline_flow_lpm": "l/min",
    "pressure_bar": "bar",
}

# Where a detector judges a statistic other than the metric's reading, the unit of its
# `value`, `baseline`, `threshold`, `ratio` or `score` (the rest are in the metric's unit).
JUDGED_UNITS: Final[dict[str, dict[str, str]]] = {
    "elevator_door_reversals": {
        "value": "per_trip",
        "baseline": "per_trip",
        "threshold": "per_trip",
    },
    "lighting_flicker": {"value": "ratio", "baseline": "ratio", "threshold": "ratio"},
    "lighting_lamp_failure": {"ratio": "ratio", "threshold": "ratio"},
    "pump_leakage": {"value": "ratio", "threshold": "ratio"},
    "pump_multivariate": {"score": "sigma", "threshold": "sigma"},
    "pump_cavitation": {"score": "score", "threshold": "score"},
    "pump_bearing_wear": {"ratio": "ratio"},
    "generic_stuck_sensor": {"threshold": "samples"},
    "access_credential_brute_force": {"value": "count", "threshold": "count"},
}
# A boolean metric is judged by how long it held: its value and threshold are seconds.
_BOOLEAN_JUDGED: Final = {"value": "s", "threshold": "s"}


@dataclass(frozen=True, slots=True)
class EvidenceField:
    """One field as a page shows it: the catalog label is `evidence.field.<key>`."""

    key: str
    kind: FieldKind
    value: Any
    unit: str | None = None
    children: list[EvidenceField] = field(default_factory=list)


def judged_unit(detector: str, key: str, metric_unit: str | None) -> str | None:
    """The unit of a `measured` field of `detector`'s evidence."""
    special = JUDGED_UNITS.get(detector, {})
    if key in special:
        return special[key]
    if metric_unit == "bool":
        return _BOOLEAN_JUDGED.get(key)
    if key in {"ratio", "score"}:
        return "ratio"
    return metric_unit


def describe(
    evidence: Mapping[str, Any], detector: str, metric_unit: str | None
) -> list[EvidenceField]:
    """The fields in the order the detector wrote them, each with its kind and unit; a key
    not in `FIELD_KINDS` shows as text (nothing is hidden from the reader)."""
    fields: list[EvidenceField] = []
    for key, value in evidence.items():
        kind = FIELD_KINDS.get(key, "text")
        unit: str | None = None
        children: list[EvidenceField] = []
        if kind in {"measured", "per_hour", "per_hour_range"}:
            unit = judged_unit(detector, key, metric_unit)
        elif kind == "quantity":
            unit = FIXED_UNITS.get(key)
        if kind == "mapping" and isinstance(value, Mapping):
            if key == "joined":
                children = [
                    EvidenceField(
                        name,
                        "mapping",
                        None,
                        None,
                        describe(entry, name, None) if isinstance(entry, Mapping) else [],
                    )
                    for name, entry in value.items()
                ]
            elif key == "evidence":
                children = describe(value, detector, metric_unit)
            elif key in {"deviations", "data"}:
                # keys are metric names or a device's own event data: shown as they are
                children = [EvidenceField(str(k), "text", v) for k, v in value.items()]
            else:
                children = describe(value, detector, metric_unit)
            value = None
        elif kind == "window" and isinstance(value, list):
            value = len(value)
        fields.append(EvidenceField(key, kind, value, unit, children))
    return fields


def evidence_keys(evidence: Mapping[str, Any]) -> Iterator[str]:
    """Every key a page labels, nested ones included (not the metric names of
    `deviations` nor a device's own event `data`, which show as they are)."""
    for key, value in evidence.items():
        yield key
        if key in {"deviations", "data"}:
            continue
        if key == "joined" and isinstance(value, Mapping):
            for entry in value.values():
                if isinstance(entry, Mapping):
                    yield from evidence_keys(entry)
        elif isinstance(value, Mapping):
            yield from evidence_keys(value)
        elif key == "baseline_shifts" and isinstance(value, list):
            for shift in value:
                if isinstance(shift, Mapping):
                    yield from evidence_keys(shift)
