"""Detector parameters per kind, site, building and device, from one YAML file.

The file overrides any field of a detector's `Config`, named by the detector's `name`;
the most specific entry wins, parameter by parameter (device > building > site > kind >
the built-in defaults):

    version: 3                      # optional; else a hash of the content
    kinds:     {pump: {pump_bearing_wear: {limit_factor: 1.8}}}
    sites:     {ims: {pump: {pump_bearing_wear: {persist: 5}}}}
    buildings: {ims/test2: {pump: {pump_bearing_wear: {persist: 4}}}}
    devices:   {ims/t2-b1: {pump_bearing_wear: {limit_factor: 2.0}}}

Everything is checked at load, each problem naming the file, the path, the line and the
allowed names or range; a file with any problem is refused whole.

>>> from contract.topics import DeviceRef
>>> text = "kinds: {pump: {pump_bearing_wear: {limit_factor: 1.8}}}\\n"
>>> file = parse_detector_config(text, "example.yaml")
>>> file.resolve(DeviceRef("s", "b", "pump", "p1"))["pump_bearing_wear"].limit_factor
1.8
>>> parse_detector_config("kinds: {pump: {pump_bearing_wear: {limit: 2}}}\\n", "x.yaml")
Traceback (most recent call last):
...
detectors.config_file.DetectorConfigError: x.yaml: kinds.pump.pump_bearing_wear.limit: ...
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from contract.topics import DeviceRef, Kind
from contract.yaml_lines import load_with_lines
from detectors.base import Detector, DetectorConfig
from detectors.offline import OfflineDetector
from detectors.registry import KIND_DETECTORS

log = logging.getLogger(__name__)

Source = Literal["default", "kind", "site", "building", "device"]
# detector name -> parameter -> value, as written in the file (validated)
Overrides = dict[str, dict[str, Any]]
YamlPath = tuple[str | int, ...]
SECTIONS = ("version", "kinds", "sites", "buildings", "devices")


class DetectorConfigError(ValueError):
    """The detector configuration file is wrong; the message lists every problem."""


def detectors_of(kind: str) -> tuple[type[Detector], ...]:
    """The detector classes a device of `kind` runs (the bank adds `offline` to every kind)."""
    return (*KIND_DETECTORS.get(kind, ()), OfflineDetector)


def _catalogue() -> dict[str, type[Detector]]:
    return {cls.name: cls for kind in KIND_DETECTORS for cls in detectors_of(kind)}


@dataclass(frozen=True)
class Parameter:
    """One effective parameter and the layer it came from."""

    value: Any
    source: Source


@dataclass(frozen=True)
class DetectorConfigFile:
    """A loaded, validated file. `EMPTY` (no file) resolves every device to the defaults."""

    source: str | None = None
    version: str | None = None
    kinds: dict[str, Overrides] = field(default_factory=dict)
    sites: dict[str, dict[str, Overrides]] = field(default_factory=dict)
    buildings: dict[str, dict[str, Overrides]] = field(default_factory=dict)
    devices: dict[str, Overrides] = field(default_factory=dict)

    def layers(self, device: DeviceRef) -> list[tuple[Source, Overrides]]:
        """The entries that apply to `device`, least specific first."""
        found: list[tuple[Source, Overrides | None]] = [
            ("kind", self.kinds.get(device.kind)),
            ("site", self.sites.get(device.site, {}).get(device.kind)),
            (
                "building",
                self.buildings.get(f"{device.site}/{device.building}", {}).get(device.kind),
            ),
            ("device", self.devices.get(f"{device.site}/{device.device_id}")),
        ]
        return [(source, layer) for source, layer in found if layer]

    def scope(self, device: DeviceRef) -> tuple[str, ...]:
        """Devices with the same scope resolve alike: a cache key for the bank."""
        building = f"{device.site}/{device.building}"
        own = f"{device.site}/{device.device_id}"
        return (
            device.kind,
            device.site if device.site in self.sites else "",
            building if building in self.buildings else "",
            own if own in self.devices else "",
        )

    def explain(
        self, device: DeviceRef, base: Mapping[str, DetectorConfig] | None = None
    ) -> dict[str, dict[str, Parameter]]:
        """Every detector of the device, each parameter's effective value and its origin.
        `base` replaces the built-in defaults of some detectors (the service's offline
        settings)."""
        result: dict[str, dict[str, Parameter]] = {}
        layers = self.layers(device)
        for cls in detectors_of(device.kind):
            start = (base or {}).get(cls.name) or cls.Config.defaults()
            config, origins = self._merge(cls, start, layers, device)
            result[cls.name] = {
                name: Parameter(value, origins.get(name, "default"))
                for name, value in config.model_dump().items()
            }
        return result

    def resolve(
        self, device: DeviceRef, base: Mapping[str, DetectorConfig] | None = None
    ) -> dict[str, DetectorConfig]:
        """The effective `Config` of every detector the device runs."""
        layers = self.layers(device)
        configs: dict[str, DetectorConfig] = {}
        for cls in detectors_of(device.kind):
            start = (base or {}).get(cls.name) or cls.Config.defaults()
            configs[cls.name] = self._merge(cls, start, layers, device)[0] if layers else start
        return configs

    def _merge(
        self,
        cls: type[Detector],
        start: DetectorConfig,
        layers: Sequence[tuple[Source, Overrides]],
        device: DeviceRef,
    ) -> tuple[DetectorConfig, dict[str, Source]]:
        """Apply each layer's parameters for `cls` in turn. Each layer was checked alone at
        load; one that does not fit with the layers below it (a cross-field rule) is
        skipped with an error in the log, so the device keeps a valid configuration."""
        config, origins = start, {}
        for source, layer in layers:
            params = layer.get(cls.name)
            if not params:
                continue
            try:
                config = _validate(cls, {**config.model_dump(), **params})
            except ValidationError as exc:
                log.error(
                    "%s: the %s entry for %s of %s does not fit the entries below it (%s); "
                    "it is ignored for this device",
                    self.source,
                    source,
                    cls.name,
                    device.device_id,
                    exc.errors(include_url=False)[0]["msg"],
                )
                continue
            origins.update(dict.fromkeys(params, source))
        return config, origins


EMPTY = DetectorConfigFile()


def _validate(cls: type[Detector], params: Mapping[str, Any]) -> DetectorConfig:
    """Strict as JSON is: 2 is a fine float and a list a fine tuple, but "2" is no number."""
    return cls.Config.model_validate_json(json.dumps(params, default=str), strict=True)


def load_detector_config(path: str | Path) -> DetectorConfigFile:
    """Read and check the file at `path` (`FACMON_DETECTORS_CONFIG`, `backtest --config`)."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise DetectorConfigError(
            f"{path}: cannot read the detector configuration: {exc.strerror or exc}"
        ) from None
    return parse_detector_config(text, str(path))


def content_version(text: bytes | str) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:12]


def parse_detector_config(text: bytes | str, source: str) -> DetectorConfigFile:
    """Check a whole document; raises DetectorConfigError listing every problem."""
    try:
        data, line_of = load_with_lines(text.decode() if isinstance(text, bytes) else text)
    except UnicodeDecodeError as exc:
        raise DetectorConfigError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DetectorConfigError(f"{source}: not valid YAML: {problem}{where}") from None
    checker = _Checker(source, line_of)
    result = checker.document(data, content_version(text))
    if checker.problems:
        ordered = sorted(dict.fromkeys(checker.problems))  # in document order
        raise DetectorConfigError("\n".join(text for _, text in ordered))
    return result


# -- checking ----------------------------------------------------------------------------------


def _dotted(path: YamlPath) -> str:
    return ".".join(str(step) for step in path)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _did_you_mean(value: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _bounds(info: FieldInfo) -> str:
    words = []
    for limit in info.metadata:
        for cls, word, attr in (
            (annotated_types.Ge, "at least", "ge"),
            (annotated_types.Gt, "more than", "gt"),
            (annotated_types.Le, "at most", "le"),
            (annotated_types.Lt, "less than", "lt"),
        ):
            if isinstance(limit, cls):
                words.append(f"{word} {getattr(limit, attr)}")
    return " and ".join(words)


def _describe(info: FieldInfo) -> str:
    """What a parameter takes: its type, its range when it has one, its default."""
    kind = getattr(info.annotation, "__name__", None) or str(info.annotation)
    bounds = _bounds(info)
    default = info.get_default(call_default_factory=True)
    return f"{kind}{', ' + bounds if bounds else ''}, default {default!r}"


class _Checker:
    def __init__(self, source: str, line_of: Any) -> None:
        self.source = source
        self.line_of = line_of
        self.problems: list[tuple[int, str]] = []
        self.catalogue = _catalogue()

    def problem(self, path: YamlPath, text: str) -> None:
        line = self.line_of(path)
        where = f"{self.source}: {_dotted(path)}: " if path else f"{self.source}: "
        text = f"{where}{text}" + (f" (line {line})" if line else "")
        self.problems.append((line or 0, text))

    def mapping(self, value: Any, path: YamlPath, like: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping like {like}; got {_show(value)}")
            return {}
        return {str(key): item for key, item in value.items()}

    def document(self, data: Any, hashed: str) -> DetectorConfigFile:
        root = self.mapping(data, (), "'kinds: {pump: {pump_bearing_wear: {limit_factor: 1.8}}}'")
        for key in root:
            if key not in SECTIONS:
                self.problem(
                    (key,),
                    f"unknown section {key!r}{_did_you_mean(key, SECTIONS)}; "
                    f"use {', '.join(SECTIONS)}",
                )
        version = root.get("version")
        if version is not None and (
            isinstance(version, bool)
            or not isinstance(version, int | str)
            or not str(version).strip()
            or len(str(version)) > 64
        ):
            self.problem(("version",), f"must be a number or a short text; got {_show(version)}")
        kinds = {
            kind: self.detectors(entry, ("kinds", kind), kind)
            for kind, entry in self.mapping(
                root.get("kinds"), ("kinds",), "'{pump: {...}}'"
            ).items()
            if self.kind(kind, ("kinds", kind))
        }
        sites = {
            site: self.by_kind(entry, ("sites", site))
            for site, entry in self.mapping(
                root.get("sites"), ("sites",), "'{ims: {pump: {...}}}'"
            ).items()
            if self.unit(site, ("sites", site), parts=1)
        }
        buildings = {
            unit: self.by_kind(entry, ("buildings", unit))
            for unit, entry in self.mapping(
                root.get("buildings"), ("buildings",), "'{ims/test2: {pump: {...}}}'"
            ).items()
            if self.unit(unit, ("buildings", unit), parts=2)
        }
        devices = {
            unit: self.detectors(entry, ("devices", unit), None)
            for unit, entry in self.mapping(
                root.get("devices"), ("devices",), "'{ims/t2-b1: {pump_bearing_wear: {...}}}'"
            ).items()
            if self.unit(unit, ("devices", unit), parts=2)
        }
        return DetectorConfigFile(
            source=self.source,
            version=hashed if version is None else str(version),
            kinds=kinds,
            sites=sites,
            buildings=buildings,
            devices=devices,
        )

    def kind(self, kind: str, path: YamlPath) -> bool:
        names = [k.value for k in Kind]
        if kind in names:
            return True
        self.problem(
            path, f"unknown kind {kind!r}{_did_you_mean(kind, names)}; use {', '.join(names)}"
        )
        return False

    def unit(self, unit: str, path: YamlPath, parts: int) -> bool:
        pieces = unit.split("/")
        if len(pieces) == parts and all(p.strip() for p in pieces):
            return True
        shape = {1: "a site name, without '/'", 2: "'site/name', one '/'"}[parts]
        self.problem(path, f"{unit!r} must be {shape}")
        return False

    def by_kind(self, value: Any, path: YamlPath) -> dict[str, Overrides]:
        entry = self.mapping(value, path, "'{pump: {pump_bearing_wear: {...}}}'")
        return {
            kind: self.detectors(item, (*path, kind), kind)
            for kind, item in entry.items()
            if self.kind(kind, (*path, kind))
        }

    def detectors(self, value: Any, path: YamlPath, kind: str | None) -> Overrides:
        """`{detector: {parameter: value}}`; for a kind, only that kind's detectors."""
        entry = self.mapping(value, path, "'{pump_bearing_wear: {limit_factor: 1.8}}'")
        allowed = (
            {cls.name: cls for cls in detectors_of(kind)} if kind is not None else self.catalogue
        )
        result: Overrides = {}
        for name, params in entry.items():
            cls = allowed.get(name)
            if cls is None:
                owner = self.catalogue.get(name)
                if owner is not None and kind is not None:
                    self.problem(
                        (*path, name),
                        f"{name} does not watch {kind} devices; detectors for {kind}: "
                        f"{', '.join(sorted(allowed))}",
                    )
                else:
                    self.problem(
                        (*path, name),
                        f"unknown detector {name!r}{_did_you_mean(name, allowed)}; "
                        f"use {', '.join(sorted(allowed))}",
                    )
                continue
            checked = self.parameters(cls, params, (*path, name))
            if checked:
                result[name] = checked
        return result

    def parameters(self, cls: type[Detector], value: Any, path: YamlPath) -> dict[str, Any]:
        fields = cls.Config.model_fields
        params = self.mapping(value, path, f"'{{{next(iter(fields), 'parameter')}: ...}}'")
        ok = True
        for name in params:
            if name not in fields:
                ok = False
                self.problem(
                    (*path, name),
                    f"unknown parameter {name!r}{_did_you_mean(name, fields)}; {cls.name} "
                    f"takes {', '.join(fields)}",
                )
        if not ok:
            return {}
        try:
            _validate(cls, params)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                name = str(error["loc"][0]) if error["loc"] else ""
                info = fields.get(name)
                if info is None:  # a rule across fields
                    self.problem(path, error["msg"])
                    continue
                self.problem(
                    (*path, name),
                    f"{error['msg'][:1].lower()}{error['msg'][1:]}; got "
                    f"{_show(params.get(name))}; {name} is {_describe(info)}",
                )
            return {}
        return params
