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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import yaml
from pydantic import ValidationError

from contract.yaml_lines import load_with_lines
from detectors.offline import OfflineDetector
from detectors.registry import KIND_DETECTORS
from simulators.durations import parse_duration_s, start_ms
from simulators.models import GENERIC_FAULTS, MODELS
from simulators.nuisance import bendable_metrics
from simulators.nuisance_params import Nuisance
from simulators.scenario_document import (
    Device,
    Expectation,
    Fault,
    ScenarioDocument,
    scenario_json_schema,
)
from simulators.scenario_errors import (
    LineOf,
    ScenarioError,
    a,
    choices,
    did_you_mean,
    from_validation_error,
    located,
    show,
)

__all__ = [
    "BUILTIN_DIR",
    "DeviceSpec",
    "ExpectedTicket",
    "FaultSpec",
    "Scenario",
    "ScenarioError",
    "builtin_scenario",
    "load_scenario",
    "parse_duration_s",
    "parse_scenario",
    "scenario_json_schema",
]


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device_id: str
    kind: str
    building: str
    params: dict[str, Any] = field(default_factory=dict)
    nuisance: Nuisance | None = None


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
        return start_ms(self.start, now_ms)


# -- from the document to the scenario ---------------------------------------------------


_EXAMPLES = {"devices": Device.example, "faults": Fault.example, "expect": Expectation.example}


def _example(path: tuple[str | int, ...]) -> str:
    if path and path[-1] == "params":
        return "{name: value}"
    return _EXAMPLES.get(str(path[0]), "{devices: [...]}") if path else "{devices: [...]}"


def _fault_types(kind: str) -> frozenset[str]:
    return MODELS[kind].fault_types | GENERIC_FAULTS


def _reported_fault_types(kind: str) -> frozenset[str]:
    """What the detector bank can report for a device of this kind."""
    return frozenset(
        {cls.fault_type for cls in KIND_DETECTORS.get(kind, ())} | {OfflineDetector.fault_type}
    )


def _fault_hint(data: Any) -> Callable[[int, Any], str]:
    """Words for a fault type no device kind has: the choices of its device's kind."""

    def hint(index: int, fault_type: Any) -> str:
        devices = data.get("devices") if isinstance(data, Mapping) else None
        kinds = {
            d.get("id"): d.get("kind")
            for d in (devices if isinstance(devices, list) else [])
            if isinstance(d, Mapping) and isinstance(d.get("id"), str)
        }
        fault = data["faults"][index]
        device_id = fault.get("device") if isinstance(fault, Mapping) else None
        kind = kinds.get(device_id) if isinstance(device_id, str) else None
        every = frozenset().union(*(_fault_types(k) for k in MODELS))
        allowed = _fault_types(kind) if kind in MODELS else every
        who = f"{a(kind)} cannot have fault" if kind in MODELS else "there is no fault type"
        return (
            f"{who} {show(fault_type)}{did_you_mean(str(fault_type), allowed)}; "
            f"choose from {choices(allowed)}"
        )

    return hint


class _Checker:
    """References between entries, which the schema alone cannot see."""

    def __init__(self, source: str, line_of: LineOf | None) -> None:
        self.source, self.line_of = source, line_of

    def fail(self, path: tuple[str | int, ...], problem: str, line_at: Any = None) -> NoReturn:
        line_of = self.line_of
        if line_of and line_at is not None:
            raise ScenarioError(located(self.source, path, problem, lambda _: line_of(line_at)))
        raise ScenarioError(located(self.source, path, problem, line_of))

    def devices(self, doc: ScenarioDocument) -> tuple[DeviceSpec, ...]:
        devices = []
        for index, entry in enumerate(doc.devices):
            params = entry.params.model_dump(exclude_unset=True) if entry.params else {}
            try:  # the schema's ranges should make this a formality
                MODELS[entry.kind](np.random.default_rng(0), **params)
            except (TypeError, ValueError, ArithmeticError) as exc:
                self.fail(
                    ("devices", index, "params"),
                    f"{a(entry.kind)} cannot be built with {show(params)} ({exc}); "
                    "check the values",
                )
            if entry.nuisance is not None:
                self.nuisance(entry.nuisance, entry.kind, ("devices", index, "nuisance"))
            devices.append(DeviceSpec(entry.id, entry.kind, entry.building, params, entry.nuisance))
        ids = [d.device_id for d in devices]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            second = next(i for i, d in enumerate(ids) if d in duplicates and ids.index(d) < i)
            self.fail(
                (),
                f"duplicate device ids {duplicates}; give each its own id",
                ("devices", second, "id"),
            )
        return tuple(devices)

    def nuisance(self, nuisance: Nuisance, kind: str, path: tuple[str | int, ...]) -> None:
        """Readings a pattern names must be real-valued readings of the device's kind."""
        allowed = bendable_metrics(kind)
        named: list[tuple[tuple[str | int, ...], list[str] | None]] = [
            ((*path, "level_shifts", i, "metrics"), s.metrics)
            for i, s in enumerate(nuisance.level_shifts)
        ]
        for key in ("noise", "coupling", "drift"):
            pattern = getattr(nuisance, key)
            if pattern is not None:
                named.append(((*path, key, "metrics"), pattern.metrics))
        for where, metrics in named:
            for position, metric in enumerate(metrics or ()):
                if metric not in allowed:
                    self.fail(
                        (*where, position),
                        f"{a(kind)} has no reading {show(metric)} a nuisance can bend"
                        f"{did_you_mean(metric, allowed)}; choose from {choices(allowed)}",
                    )

    def device(self, device_id: str, devices: dict[str, DeviceSpec], path: Any) -> DeviceSpec:
        device = devices.get(device_id)
        if device is None:
            self.fail(
                path,
                f"device {show(device_id)} is not in 'devices'"
                f"{did_you_mean(device_id, devices)}; add it there or fix the id",
                (*path, "device"),
            )
        return device

    def faults(
        self, doc: ScenarioDocument, devices: dict[str, DeviceSpec]
    ) -> tuple[FaultSpec, ...]:
        faults = []
        for index, entry in enumerate(doc.faults or ()):
            device = self.device(entry.device, devices, ("faults", index))
            allowed = _fault_types(device.kind)
            if entry.type not in allowed:
                self.fail(
                    ("faults", index),
                    f"{a(device.kind)} cannot have fault {show(entry.type)}; "
                    f"choose from {choices(allowed)}",
                    ("faults", index, "type"),
                )
            params = (
                entry.params.model_dump(exclude_unset=True, exclude_none=True)
                if entry.params
                else {}
            )
            faults.append(FaultSpec(device.device_id, entry.type, entry.at, entry.for_, params))
        return tuple(faults)

    def expect(
        self, doc: ScenarioDocument, devices: dict[str, DeviceSpec]
    ) -> tuple[ExpectedTicket, ...]:
        expected = []
        for index, entry in enumerate(doc.expect or ()):
            device = self.device(entry.device, devices, ("expect", index))
            reported = _reported_fault_types(device.kind)
            if entry.fault_type not in reported:
                self.fail(
                    ("expect", index),
                    f"no detector reports {show(entry.fault_type)} for {a(device.kind)}"
                    f"{did_you_mean(entry.fault_type, reported)}; choose from {choices(reported)}",
                    ("expect", index, "fault_type"),
                )
            expected.append(
                ExpectedTicket(device.device_id, entry.fault_type, entry.severity, entry.within)
            )
        return tuple(expected)


def _parse(data: Any, source: str, line_of: LineOf | None) -> Scenario:
    try:
        doc = ScenarioDocument.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(
            exc, ScenarioDocument, source, _example, _fault_hint(data), line_of
        ) from None
    check = _Checker(source, line_of)
    devices = check.devices(doc)
    by_id = {d.device_id: d for d in devices}
    return Scenario(
        name=Path(source).stem if doc.name is None else doc.name,
        site=doc.site,
        start=doc.start,
        speed=doc.speed,
        rate_hz=doc.rate_hz,
        duration_s=doc.duration,
        devices=devices,
        faults=check.faults(doc, by_id),
        expect=check.expect(doc, by_id),
        description=doc.description,
        will_delay_s=doc.will_delay or 0.0,
    )


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a scenario document; every mistake raises a ScenarioError naming the fix."""
    return _parse(data, source, None)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; messages also give the line of each mistake."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    try:
        data, line_of = load_with_lines(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return _parse(data, str(path), line_of)


BUILTIN_DIR = Path(__file__).parent / "scenarios"


def builtin_scenario(name: str) -> Path:
    return BUILTIN_DIR / f"{name}.yaml"
