"""Scenario files: which devices exist, which faults strike when, which tickets must follow.

A scenario is YAML, so that a quality engineer can read what a test claims:

    name: demo
    site: demo
    start: -1h          # simulated start, relative to now (or RFC 3339)
    speed: 60           # simulated seconds per real second, until "now" is reached
    rate_hz: 0.5        # samples per simulated second per device
    devices:
      - {id: pump-01, kind: pump, building: plant}
    faults:
      - {device: pump-01, type: bearing_wear, at: 5m, params: {rate_g_per_h: 0.1}}
    expect:
      - {device: pump-01, fault_type: bearing_wear, severity: major, within: 1h}
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from detectors.base import Severity
from detectors.offline import OfflineDetector
from detectors.registry import KIND_DETECTORS
from gateway.contract import ContractError, Kind, validate_identifier
from simulators.models import GENERIC_FAULTS, MODELS

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_MAX_DURATION_S = 1e10  # about 300 years: anything longer is a typo, and overflows ms

_TOP_KEYS = (
    "name",
    "description",
    "site",
    "start",
    "speed",
    "rate_hz",
    "duration",
    "will_delay",
    "devices",
    "faults",
    "expect",
)
_DEVICE_KEYS = ("id", "kind", "building", "params")
_FAULT_KEYS = ("device", "type", "at", "for", "params")
_EXPECT_KEYS = ("device", "fault_type", "severity", "within")

_DEVICE_EXAMPLE = "{id: pump-01, kind: pump, building: plant}"
_FAULT_EXAMPLE = "{device: pump-01, type: bearing_wear, at: 5m}"
_EXPECT_EXAMPLE = "{device: pump-01, fault_type: bearing_wear, within: 1h}"
_START_EXAMPLE = "a duration like -1h or an RFC 3339 time like 2027-01-15T08:00:00Z"


class ScenarioError(ValueError):
    """The scenario file is wrong; the message names the file, the entry and the fix."""


def _show(value: Any) -> str:
    """The value as the message quotes it, cut short if huge."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def parse_duration_s(value: Any, what: str) -> float:
    """'90s', '5m', '2h', '1d' or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise ScenarioError(f"{what}: {_show(value)} is not a duration like 30s, 5m, 2h or 1d")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if math.isnan(seconds):
        raise ScenarioError(f"{what}: {_show(value)} is not a duration like 30s, 5m, 2h or 1d")
    if abs(seconds) > _MAX_DURATION_S:
        raise ScenarioError(
            f"{what}: {_show(value)} is out of range; use at most {_MAX_DURATION_S:g} s"
        )
    return seconds


def _at_least_zero_s(value: Any, what: str) -> float:
    seconds = parse_duration_s(value, what)
    if seconds < 0:
        raise ScenarioError(
            f"{what}: {_show(value)} is negative; use 0 (the start) or later, like 5m"
        )
    return seconds


def _positive_s(value: Any, what: str) -> float:
    seconds = parse_duration_s(value, what)
    if seconds <= 0:
        raise ScenarioError(f"{what}: {_show(value)} must be longer than zero, like 30s or 5m")
    return seconds


def _parse_start(value: Any, what: str) -> str | float:
    """A relative duration ('-1h', -3600) or an absolute RFC 3339 time with an offset.

    YAML turns an unquoted timestamp into a `datetime`; it is kept as its ISO text.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ScenarioError(f"{what}: {value} has no time zone; add Z or an offset like +01:00")
        return value.isoformat()
    if isinstance(value, date):
        raise ScenarioError(f"{what}: {value} is a date, not a time; write {_START_EXAMPLE}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_duration_s(value, what)
    if not isinstance(value, str):
        raise ScenarioError(f"{what}: {_show(value)} is not a start time; write {_START_EXAMPLE}")
    if _DURATION.match(value):
        parse_duration_s(value, what)
        return value
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(
            f"{what}: {_show(value)} is not a start time; write {_START_EXAMPLE}"
        ) from None
    if moment.tzinfo is None:
        raise ScenarioError(
            f"{what}: {_show(value)} has no time zone; add Z or an offset like +01:00"
        )
    return value


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device_id: str
    kind: str
    building: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FaultSpec:
    device_id: str
    type: str
    at_s: float
    duration_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def active_at(self, elapsed_s: float) -> bool:
        if elapsed_s < self.at_s:
            return False
        return self.duration_s is None or elapsed_s < self.at_s + self.duration_s


@dataclass(frozen=True, slots=True)
class ExpectedTicket:
    device_id: str
    fault_type: str
    severity: str
    within_s: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    site: str
    start: str | float
    speed: float
    rate_hz: float
    duration_s: float | None
    devices: tuple[DeviceSpec, ...]
    faults: tuple[FaultSpec, ...]
    expect: tuple[ExpectedTicket, ...]
    description: str = ""
    # MQTT v5 Will Delay Interval of every device: the broker sends no will for a
    # device back within it (a restart). 0: the will goes out when the link dies.
    will_delay_s: float = 0.0

    def start_ms(self, now_ms: int) -> int:
        """Simulated start time in epoch ms: relative ('-1h') or absolute (RFC 3339)."""
        start = _parse_start(self.start, "start")
        if isinstance(start, str) and not _DURATION.match(start):
            return int(
                datetime.fromisoformat(start.strip().replace("Z", "+00:00")).timestamp() * 1000
            )
        return now_ms + int(parse_duration_s(start, "start") * 1000)


# -- helpers ---------------------------------------------------------------------------


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _choices(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _did_you_mean(value: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(entry: dict[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in entry:
        if key not in allowed:
            raise ScenarioError(
                f"{where}: unknown key {_show(key)}{_did_you_mean(str(key), allowed)}; "
                f"use {', '.join(allowed)}"
            )


def _require(entry: dict[str, Any], key: str, where: str, example: str) -> Any:
    if key not in entry:
        raise ScenarioError(f"{where}: missing '{key}'; write it like {example}")
    return entry[key]


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{what}: {_show(value)} is not text; write it as a quoted string")
    return value


def _list(raw: Any, what: str, example: str, required: bool = False) -> list[Any]:
    if raw is None and not required:
        return []
    if not isinstance(raw, list):
        raise ScenarioError(f"{what} must be a list of entries like - {example}; got {_show(raw)}")
    return raw


def _mapping(raw: Any, what: str, example: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{what}: must be a mapping like {example}; got {_show(raw)}")
    return raw


def _real(value: Any) -> bool:
    """A finite int or float (not a boolean, not an int too large for a float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _positive_number(data: dict[str, Any], key: str, default: float, what: str) -> float:
    value = data.get(key, default)
    if not _real(value) or value <= 0:
        raise ScenarioError(
            f"{what}: {key} must be a positive number of {_UNITS[key]}; got {_show(value)}"
        )
    return float(value)


_UNITS = {
    "speed": "simulated seconds per real second, like 60",
    "rate_hz": "samples per simulated second, like 0.5",
}


def _params(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    params = _mapping(raw, where, "{name: value}")
    for name in params:
        _text(name, f"{where} key")
    return dict(params)


def _check_model_params(kind: str, params: dict[str, Any], where: str) -> None:
    """The device model's constructor (after the random generator) says what it takes."""
    signature = inspect.signature(MODELS[kind])
    accepted = {
        p.name: p
        for p in list(signature.parameters.values())[1:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for name, value in params.items():
        parameter = accepted.get(name)
        if parameter is None:
            if takes_any:
                continue
            choices = f"choose from {_choices(accepted)}" if accepted else "remove 'params'"
            raise ScenarioError(
                f"{where}: {_a(kind)} takes no parameter {_show(name)}"
                f"{_did_you_mean(name, accepted)}; {choices}"
            )
        default = parameter.default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ScenarioError(f"{where}.{name}: {_show(value)} is not true or false")
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ScenarioError(
                    f"{where}.{name}: {_show(value)} is not a whole number like {default}"
                )
        elif isinstance(default, float) and not _real(value):
            raise ScenarioError(f"{where}.{name}: {_show(value)} is not a number like {default:g}")
    missing = [n for n, p in accepted.items() if p.default is p.empty and n not in params]
    if missing:
        raise ScenarioError(f"{where}: {_a(kind)} needs the parameters {_choices(missing)}")
    try:  # values of the right type can still be out of the model's range (floors: 0)
        MODELS[kind](np.random.default_rng(0), **params)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ScenarioError(
            f"{where}: {_a(kind)} cannot be built with {_show(params)} ({exc}); check the values"
        ) from None


def _identifier(value: Any, where: str, name: str) -> str:
    """`where`: the entry (for the message); `name`: the key holding the identifier."""
    text = _text(value, f"{where}.{name}" if where.endswith("]") else f"{where}: {name}")
    if not text:
        raise ScenarioError(f"{where}: {name} is empty; write one like pump-01")
    try:
        return validate_identifier(text, name)
    except ContractError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


# -- sections ----------------------------------------------------------------------------


def _parse_devices(raw: Any, source: str) -> tuple[DeviceSpec, ...]:
    devices: list[DeviceSpec] = []
    for index, item in enumerate(_list(raw, f"{source}: 'devices'", _DEVICE_EXAMPLE, True)):
        where = f"{source}: devices[{index}]"
        entry = _mapping(item, where, f"{_DEVICE_EXAMPLE} (id, kind and building)")
        _check_keys(entry, _DEVICE_KEYS, where)
        device_id = _identifier(_require(entry, "id", where, _DEVICE_EXAMPLE), where, "id")
        kind = _text(_require(entry, "kind", where, _DEVICE_EXAMPLE), f"{where}.kind")
        if kind not in MODELS:
            raise ScenarioError(f"{where}: kind {_show(kind)} is not one of {', '.join(Kind)}")
        building = _identifier(entry.get("building", "main"), where, "building")
        params = _params(entry.get("params"), f"{where}.params")
        _check_model_params(kind, params, f"{where}.params")
        devices.append(DeviceSpec(device_id, kind, building, params))
    ids = [d.device_id for d in devices]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ScenarioError(f"{source}: duplicate device ids {duplicates}; give each its own id")
    return tuple(devices)


def _device_of(
    entry: dict[str, Any], devices: dict[str, DeviceSpec], where: str, example: str
) -> DeviceSpec:
    device_id = _text(_require(entry, "device", where, example), f"{where}.device")
    device = devices.get(device_id)
    if device is None:
        raise ScenarioError(
            f"{where}: device {_show(device_id)} is not in 'devices'"
            f"{_did_you_mean(device_id, devices)}; add it there or fix the id"
        )
    return device


def _parse_faults(raw: Any, devices: dict[str, DeviceSpec], source: str) -> tuple[FaultSpec, ...]:
    faults: list[FaultSpec] = []
    for index, item in enumerate(_list(raw, f"{source}: 'faults'", _FAULT_EXAMPLE)):
        where = f"{source}: faults[{index}]"
        entry = _mapping(item, where, f"{_FAULT_EXAMPLE} (device, type and at)")
        _check_keys(entry, _FAULT_KEYS, where)
        device = _device_of(entry, devices, where, _FAULT_EXAMPLE)
        fault_type = _text(_require(entry, "type", where, _FAULT_EXAMPLE), f"{where}.type")
        allowed = MODELS[device.kind].fault_types | GENERIC_FAULTS
        if fault_type not in allowed:
            raise ScenarioError(
                f"{where}: {_a(device.kind)} cannot have fault {_show(fault_type)}; "
                f"choose from {_choices(allowed)}"
            )
        duration = entry.get("for")
        params = _params(entry.get("params"), f"{where}.params")
        for name, value in params.items():
            # ActiveFault.param() reads every fault parameter as a number
            if not _real(value):
                raise ScenarioError(
                    f"{where}.params.{name}: {_show(value)} is not a number like 0.15"
                )
        faults.append(
            FaultSpec(
                device.device_id,
                fault_type,
                _at_least_zero_s(entry.get("at", 0), f"{where}.at"),
                None if duration is None else _positive_s(duration, f"{where}.for"),
                params,
            )
        )
    return tuple(faults)


def _reported_fault_types(kind: str) -> frozenset[str]:
    """What the detector bank can report for a device of this kind."""
    return frozenset(
        {cls.fault_type for cls in KIND_DETECTORS.get(kind, ())} | {OfflineDetector.fault_type}
    )


def _parse_expect(
    raw: Any, devices: dict[str, DeviceSpec], source: str
) -> tuple[ExpectedTicket, ...]:
    expected: list[ExpectedTicket] = []
    severities = [s.value for s in Severity]
    for index, item in enumerate(_list(raw, f"{source}: 'expect'", _EXPECT_EXAMPLE)):
        where = f"{source}: expect[{index}]"
        entry = _mapping(item, where, f"{_EXPECT_EXAMPLE} (device, fault_type and within)")
        _check_keys(entry, _EXPECT_KEYS, where)
        device = _device_of(entry, devices, where, _EXPECT_EXAMPLE)
        fault_type = _text(
            _require(entry, "fault_type", where, _EXPECT_EXAMPLE), f"{where}.fault_type"
        )
        reported = _reported_fault_types(device.kind)
        if fault_type not in reported:
            raise ScenarioError(
                f"{where}: no detector reports {_show(fault_type)} for {_a(device.kind)}"
                f"{_did_you_mean(fault_type, reported)}; choose from {_choices(reported)}"
            )
        severity = entry.get("severity", Severity.MAJOR.value)
        if severity not in severities:
            raise ScenarioError(
                f"{where}.severity: {_show(severity)} is not a severity; "
                f"choose from {', '.join(severities)}"
            )
        within = _positive_s(_require(entry, "within", where, _EXPECT_EXAMPLE), f"{where}.within")
        expected.append(ExpectedTicket(device.device_id, fault_type, str(severity), within))
    return tuple(expected)


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a scenario document; every mistake raises a ScenarioError naming the fix."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a YAML mapping with 'devices'")
    _check_keys(data, _TOP_KEYS, source)
    devices = _parse_devices(data.get("devices", []), source)
    by_id = {d.device_id: d for d in devices}
    site = _identifier(data.get("site", "demo"), source, "site")
    speed = _positive_number(data, "speed", 1.0, source)
    rate_hz = _positive_number(data, "rate_hz", 1.0, source)
    duration = data.get("duration")
    will_delay = data.get("will_delay")
    return Scenario(
        name=_text(data.get("name", Path(source).stem), f"{source}: name"),
        site=site,
        start=_parse_start(data.get("start", 0), f"{source}: start"),
        speed=speed,
        rate_hz=rate_hz,
        duration_s=None if duration is None else _positive_s(duration, f"{source}: duration"),
        devices=devices,
        faults=_parse_faults(data.get("faults"), by_id, source),
        expect=_parse_expect(data.get("expect"), by_id, source),
        description=_text(data.get("description", ""), f"{source}: description"),
        will_delay_s=0.0
        if will_delay is None
        else _positive_s(will_delay, f"{source}: will_delay"),
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, str(path))


BUILTIN_DIR = Path(__file__).parent / "scenarios"


def builtin_scenario(name: str) -> Path:
    return BUILTIN_DIR / f"{name}.yaml"
