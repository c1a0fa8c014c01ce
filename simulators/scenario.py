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

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from gateway.contract import ContractError, Kind, validate_identifier
from simulators.models import GENERIC_FAULTS, MODELS

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ScenarioError(ValueError):
    """The scenario file is wrong; the message names the file, the entry and the fix."""


def parse_duration_s(value: Any, what: str) -> float:
    """'90s', '5m', '2h', '1d' or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ScenarioError(f"{what}: {value!r} is not a duration like 30s, 5m, 2h or 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


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

    def start_ms(self, now_ms: int) -> int:
        """Simulated start time in epoch ms: relative ('-1h') or absolute (RFC 3339)."""
        if isinstance(self.start, str) and not _DURATION.match(self.start):
            return int(datetime.fromisoformat(self.start.replace("Z", "+00:00")).timestamp() * 1000)
        return now_ms + int(parse_duration_s(self.start, "start") * 1000)


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise ScenarioError(f"{where}: missing '{key}'")
    return entry[key]


def _parse_devices(raw: Any, source: str) -> tuple[DeviceSpec, ...]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{source}: 'devices' must be a list")
    devices: list[DeviceSpec] = []
    for index, entry in enumerate(raw):
        where = f"{source}: devices[{index}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: must be a mapping with id, kind and building")
        device_id = str(_require(entry, "id", where))
        kind = str(_require(entry, "kind", where))
        if kind not in MODELS:
            raise ScenarioError(f"{where}: kind {kind!r} is not one of {', '.join(Kind)}")
        building = str(entry.get("building", "main"))
        try:
            validate_identifier(device_id, "id")
            validate_identifier(building, "building")
        except ContractError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        devices.append(DeviceSpec(device_id, kind, building, dict(entry.get("params", {}))))
    ids = [d.device_id for d in devices]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ScenarioError(f"{source}: duplicate device ids {duplicates}")
    return tuple(devices)


def _parse_faults(raw: Any, devices: dict[str, DeviceSpec], source: str) -> tuple[FaultSpec, ...]:
    faults: list[FaultSpec] = []
    for index, entry in enumerate(raw or []):
        where = f"{source}: faults[{index}]"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{where}: must be a mapping with device, type and at")
        device_id = str(_require(entry, "device", where))
        device = devices.get(device_id)
        if device is None:
            raise ScenarioError(f"{where}: device {device_id!r} is not in 'devices'")
        fault_type = str(_require(entry, "type", where))
        allowed = MODELS[device.kind].fault_types | GENERIC_FAULTS
        if fault_type not in allowed:
            raise ScenarioError(
                f"{where}: a {device.kind} cannot have fault {fault_type!r}; "
                f"choose from {', '.join(sorted(allowed))}"
            )
        duration = entry.get("for")
        faults.append(
            FaultSpec(
                device_id,
                fault_type,
                parse_duration_s(entry.get("at", 0), f"{where}.at"),
                None if duration is None else parse_duration_s(duration, f"{where}.for"),
                dict(entry.get("params", {})),
            )
        )
    return tuple(faults)


def _parse_expect(
    raw: Any, devices: dict[str, DeviceSpec], source: str
) -> tuple[ExpectedTicket, ...]:
    expected: list[ExpectedTicket] = []
    for index, entry in enumerate(raw or []):
        where = f"{source}: expect[{index}]"
        device_id = str(_require(entry, "device", where))
        if device_id not in devices:
            raise ScenarioError(f"{where}: device {device_id!r} is not in 'devices'")
        expected.append(
            ExpectedTicket(
                device_id,
                str(_require(entry, "fault_type", where)),
                str(entry.get("severity", "major")),
                parse_duration_s(_require(entry, "within", where), f"{where}.within"),
            )
        )
    return tuple(expected)


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a YAML mapping")
    devices = _parse_devices(data.get("devices", []), source)
    by_id = {d.device_id: d for d in devices}
    site = str(data.get("site", "demo"))
    try:
        validate_identifier(site, "site")
    except ContractError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    speed = float(data.get("speed", 1.0))
    rate_hz = float(data.get("rate_hz", 1.0))
    if speed <= 0 or rate_hz <= 0:
        raise ScenarioError(f"{source}: speed and rate_hz must be positive")
    duration = data.get("duration")
    return Scenario(
        name=str(data.get("name", Path(source).stem)),
        site=site,
        start=data.get("start", 0),
        speed=speed,
        rate_hz=rate_hz,
        duration_s=None if duration is None else parse_duration_s(duration, "duration"),
        devices=devices,
        faults=_parse_faults(data.get("faults"), by_id, source),
        expect=_parse_expect(data.get("expect"), by_id, source),
        description=str(data.get("description", "")),
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, str(path))


BUILTIN_DIR = Path(__file__).parent / "scenarios"


def builtin_scenario(name: str) -> Path:
    return BUILTIN_DIR / f"{name}.yaml"
