"""Payload encoding and validation for contract v1.

Validation is strict and explains itself: every rejection is a
`ContractError` whose text becomes the dead letter's reason.

>>> device = DeviceRef("hq", "b1", "lighting", "lamp-1")
>>> raw = encode_telemetry(1_700_000_000_000, 7, {"on": True, "current_a": 1.5})
>>> msg = decode_message(telemetry_topic(device), raw, now_ms=1_700_000_000_000)
>>> msg.sample.metrics["current_a"], msg.sample.seq
(1.5, 7)
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from contract.topics import (
    EVENT_TYPES,
    STATUS_VALUES,
    TELEMETRY_SCHEMAS,
    Channel,
    ContractError,
    DeviceRef,
    Kind,
    MetricSpec,
    parse_topic,
    telemetry_topic,
    validate_event_data_key,
)

MetricValue = float | int | bool
MAX_PAYLOAD_BYTES: Final = 16 * 1024
MAX_FUTURE_MS: Final = 5 * 60 * 1000
MAX_PAST_MS: Final = 7 * 24 * 3600 * 1000
_MAX_SEQ: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Sample:
    """One validated reading set of one device at one device timestamp."""

    device: DeviceRef
    ts_ms: int
    seq: int
    metrics: dict[str, MetricValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    device: DeviceRef
    ts_ms: int
    seq: int
    event: str
    data: dict[str, MetricValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusChange:
    device: DeviceRef
    online: bool


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    channel: Channel
    sample: Sample | None = None
    event: Event | None = None
    status: StatusChange | None = None


@dataclass(frozen=True, slots=True)
class TimeLimits:
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    max_future_ms: int = MAX_FUTURE_MS
    max_past_ms: int = MAX_PAST_MS


DEFAULT_LIMITS: Final = TimeLimits()


def encode_telemetry(ts_ms: int, seq: int, metrics: dict[str, MetricValue]) -> bytes:
    return json.dumps({"ts": ts_ms, "seq": seq, "metrics": metrics}, separators=(",", ":")).encode()


def encode_event(
    ts_ms: int, seq: int, event: str, data: dict[str, MetricValue] | None = None
) -> bytes:
    body: dict[str, Any] = {"ts": ts_ms, "seq": seq, "event": event}
    if data:
        body["data"] = data
    return json.dumps(body, separators=(",", ":")).encode()


def _reject_constant(name: str) -> float:
    raise ContractError(f"non-finite number {name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # in C; only a payload with a duplicate key takes the loop
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ContractError(f"duplicate JSON key {key[:40]!r}")
        seen.add(key)
    return result


# One decoder for every payload: `json.loads` with options builds a new one per call.
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def _load_json(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(f"payload is not UTF-8 (byte {exc.start})") from None
    try:
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    except RecursionError:
        raise ContractError("payload JSON is nested too deeply") from None
    except ContractError:
        raise
    except json.JSONDecodeError as exc:
        raise ContractError(f"malformed JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:  # e.g. integers beyond Python's digit limit
        raise ContractError(f"malformed JSON: {str(exc)[:120]}") from None


def parse_timestamp(value: Any) -> int:
    """Epoch milliseconds from an integer epoch-ms or an RFC 3339 string."""
    if isinstance(value, bool):
        raise ContractError("ts must be epoch milliseconds or an RFC 3339 string, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ContractError("ts is not finite")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            raise ContractError("ts string is too long for RFC 3339")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ContractError(f"ts {text!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise ContractError(f"ts {text!r} has no time zone offset (RFC 3339 needs one)")
        return int(parsed.timestamp() * 1000)
    raise ContractError(
        f"ts must be epoch milliseconds or an RFC 3339 string, got {type(value).__name__}"
    )


def _check_time(ts_ms: int, now_ms: int, limits: TimeLimits) -> None:
    if ts_ms > now_ms + limits.max_future_ms:
        ahead = (ts_ms - now_ms) / 1000
        raise ContractError(
            f"ts is {ahead:.0f} s in the future (limit {limits.max_future_ms / 1000:.0f} s): "
            "check the device clock"
        )
    if ts_ms < now_ms - limits.max_past_ms:
        behind = (now_ms - ts_ms) / 1000
        raise ContractError(
            f"ts is {behind:.0f} s in the past (limit {limits.max_past_ms / 1000:.0f} s)"
        )


def _check_value(name: str, value: Any, spec: MetricSpec) -> MetricValue:
    if spec.type is bool:
        if not isinstance(value, bool):
            raise ContractError(f"metric {name} must be a boolean, got {type(value).__name__}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContractError(f"metric {name} must be a number, got {type(value).__name__}")
    if spec.type is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ContractError(f"metric {name} must be an integer, got {value!r}")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ContractError(f"metric {name} is not finite")
    if spec.minimum is not None and value < spec.minimum:
        raise ContractError(
            f"metric {name}={value!r} {spec.unit} is below the valid range "
            f"[{spec.minimum}, {spec.maximum}]"
        )
    if spec.maximum is not None and value > spec.maximum:
        raise ContractError(
            f"metric {name}={value!r} {spec.unit} is above the valid range "
            f"[{spec.minimum}, {spec.maximum}]"
        )
    return value


def _check_seq(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(f"seq must be a non-negative integer, got {type(value).__name__}")
    if not 0 <= value <= _MAX_SEQ:
        raise ContractError("seq is outside 0 .. 2^63-1")
    return value


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ContractError(f"payload must be a JSON object, got {type(body).__name__}")
    return body


def _float_ranges(schema: dict[str, MetricSpec]) -> dict[str, tuple[float, float]]:
    return {
        name: (
            -math.inf if spec.minimum is None else spec.minimum,
            math.inf if spec.maximum is None else spec.maximum,
        )
        for name, spec in schema.items()
        if spec.type is float
    }


# Per kind: the float metrics' valid ranges, so that the common case (a finite float in
# range) is accepted without `_check_value`; anything else still goes through it.
_FLOAT_RANGES: Final = {
    kind.value: _float_ranges(schema) for kind, schema in TELEMETRY_SCHEMAS.items()
}
_SCHEMAS: Final = {kind.value: schema for kind, schema in TELEMETRY_SCHEMAS.items()}


def _decode_telemetry(device: DeviceRef, body: dict[str, Any], ts_ms: int, seq: int) -> Sample:
    metrics = body.get("metrics")
    if not isinstance(metrics, dict):
        raise ContractError("telemetry needs an object 'metrics'")
    return telemetry_sample(device, ts_ms, seq, metrics)


def finite_float_bounds(kind: str) -> dict[str, tuple[float, float]]:
    """Per float metric of `kind`, bounds such that `low <= x <= high` holds exactly for
    the finite readings the contract accepts (NaN and infinities fail it): one comparison
    decides the common case, for readers that convert many values (backtest CSVs)."""
    return {
        name: (max(low, -sys.float_info.max), min(high, sys.float_info.max))
        for name, (low, high) in _FLOAT_RANGES.get(kind, {}).items()
    }


def telemetry_sample(device: DeviceRef, ts_ms: int, seq: int, metrics: dict[str, Any]) -> Sample:
    """The `Sample` of one reading set, judged metric by metric as a live telemetry
    payload's `metrics` are (`ContractError` naming the first bad metric)."""
    if not metrics:
        raise ContractError("telemetry 'metrics' is empty")
    schema = _SCHEMAS.get(device.kind) or TELEMETRY_SCHEMAS[Kind(device.kind)]
    ranges = _FLOAT_RANGES.get(device.kind, {})
    checked: dict[str, MetricValue] = {}
    for name, value in metrics.items():
        bounds = ranges.get(name)
        if (
            bounds is not None
            and type(value) is float
            and bounds[0] <= value <= bounds[1]
            and math.isfinite(value)
        ):
            checked[name] = value
            continue
        spec = schema.get(name)
        if spec is None:
            raise ContractError(
                f"unknown metric {name[:40]!r} for kind {device.kind} (contract v1)"
            )
        checked[name] = _check_value(name, value, spec)
    return Sample(device, ts_ms, seq, checked)


def _is_event_value(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= _MAX_SEQ
    return isinstance(value, float) and math.isfinite(value)


def _decode_event(device: DeviceRef, body: dict[str, Any], ts_ms: int, seq: int) -> Event:
    name = body.get("event")
    allowed = EVENT_TYPES[Kind(device.kind)]
    if not isinstance(name, str) or name not in allowed:
        raise ContractError(
            f"event must be one of {', '.join(sorted(allowed))} for kind {device.kind}"
        )
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ContractError("event 'data' must be an object")
    for key, value in data.items():
        validate_event_data_key(key)
        if not _is_event_value(value):
            raise ContractError(
                f"event data {key!r} must be a finite number or boolean, got {type(value).__name__}"
            )
    return Event(device, ts_ms, seq, name, data)


def decode_message(
    topic: str, payload: bytes, now_ms: int, limits: TimeLimits | None = None
) -> DecodedMessage:
    """Validate one MQTT message against contract v1, or raise `ContractError`."""
    limits = limits or DEFAULT_LIMITS
    parts = parse_topic(topic)
    if len(payload) > limits.max_payload_bytes:
        raise ContractError(
            f"payload is {len(payload)} bytes, over the {limits.max_payload_bytes}-byte limit"
        )
    if parts.channel is Channel.STATUS:
        text = payload.decode("utf-8", errors="replace").strip().strip('"')
        if text not in STATUS_VALUES:
            raise ContractError("status payload must be 'online' or 'offline'")
        return DecodedMessage(parts.channel, status=StatusChange(parts.device, text == "online"))
    body = _require_object(_load_json(payload))
    if "ts" not in body:
        raise ContractError("missing required field 'ts'")
    if "seq" not in body:
        raise ContractError("missing required field 'seq'")
    ts_ms = parse_timestamp(body["ts"])
    _check_time(ts_ms, now_ms, limits)
    seq = _check_seq(body["seq"])
    if parts.channel is Channel.TELEMETRY:
        return DecodedMessage(
            parts.channel, sample=_decode_telemetry(parts.device, body, ts_ms, seq)
        )
    return DecodedMessage(parts.channel, event=_decode_event(parts.device, body, ts_ms, seq))


__all__ = [
    "DecodedMessage",
    "Event",
    "Sample",
    "StatusChange",
    "TimeLimits",
    "decode_message",
    "encode_event",
    "encode_telemetry",
    "telemetry_topic",
]
