"""The streaming detector interface and the findings detectors emit.

A detector instance watches one device. `update` takes one validated sample
and returns findings (usually none); `tick` lets time-based detectors (offline)
speak when no sample arrives. Scoring and deciding stay separate: `score(now_ms)`
returns the raw statistic (None while the detector cannot tell, e.g. in warm-up),
and `update` hands it to a decider from `detectors.decision` (warm-up, persistence,
hysteresis), as River's thresholders wrap an anomaly score.

A detector's parameters are one frozen `Config` with defaults, readable back as
`detector.config`, so that settings can later come from a file per site or device:

>>> from contract.topics import DeviceRef
>>> from detectors.access_held_open import DoorHeldOpenDetector
>>> door = DeviceRef("s", "b", "access", "d1")
>>> DoorHeldOpenDetector(door).config.limit_s
60.0
>>> config = DoorHeldOpenDetector.Config.model_validate({"limit_s": 30})
>>> DoorHeldOpenDetector(door, config).config.limit_s
30.0
"""

from __future__ import annotations

import math
import sys
from functools import partial
from typing import Any, ClassVar, Final, Self, cast

from pydantic import BaseModel, ConfigDict

from contract.finding import Finding, Severity
from contract.payload import Event, MetricValue, Sample, StatusChange
from contract.topics import DeviceRef
from detectors.retune import adopt, plan


class DetectorConfig(BaseModel):
    """A detector's parameters: frozen (shared safely by every device's instance) and
    strict (a misspelt parameter in a settings file is an error, not a silent default).
    Each detector subclasses it with its own fields and defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def defaults(cls) -> Self:
        """The default configuration, built once per class: being frozen, it is shared by
        every device's detector (a fleet creates detectors by the ten thousand)."""
        found = _DEFAULTS.get(cls)
        if found is None:
            found = _DEFAULTS[cls] = cls()
        return cast(Self, found)


_DEFAULTS: dict[type[DetectorConfig], DetectorConfig] = {}


class Detector:
    """Base class: one instance per device, bounded state, silent during warm-up."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]]
    fault_type: ClassVar[str]
    severity: ClassVar[Severity] = Severity.MAJOR
    Config: ClassVar[type[DetectorConfig]] = DetectorConfig

    _made_with: tuple[tuple[Any, ...], dict[str, Any]]
    # The earliest clock time at which `tick` can say anything: the bank skips the call
    # before it. A detector that overrides `tick` keeps it up to date (it may be early,
    # never late); 0 calls `tick` every time.
    tick_due_ms: int = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        self = super().__new__(cls)
        self._made_with = (args, kwargs)  # for `reconfigure`'s twins
        return self

    def __init__(self, device: DeviceRef, config: DetectorConfig | None = None) -> None:
        if config is None:
            config = self.Config.defaults()
        elif not isinstance(config, self.Config):
            raise TypeError(
                f"{type(self).__name__} takes a {self.Config.__name__}, "
                f"not a {type(config).__name__}"
            )
        self.device = device
        self.config = config

    def score(self, now_ms: int) -> float | None:
        """The statistic the decision judges, as of `now_ms` (time-based detectors use it;
        the others answer with what the last sample gave). None while the detector cannot
        tell (warm-up, nothing heard, a window not yet full)."""
        raise NotImplementedError

    def update(self, sample: Sample) -> list[Finding]:
        return []

    def on_event(self, event: Event) -> list[Finding]:
        return []

    def on_status(self, status: StatusChange, now_ms: int) -> list[Finding]:
        return []

    def tick(self, now_ms: int) -> list[Finding]:
        return []

    def reconfigure(self, config: DetectorConfig) -> None:
        """Take new parameters and keep what was learnt (a reloaded configuration file).
        Values a detector derives from its config in `__init__` are found by building a
        twin with each config (`detectors.retune`); override where that does not fit."""
        args, kwargs = self._made_with
        build = partial(self._twin, args, kwargs)
        before, after, names = plan(type(self), self.device.kind, self.config, config, build)
        adopt(self, before, after, names)
        if config != self.config:
            self.tick_due_ms = 0  # limits may have moved: the next tick recomputes
        self.config = config

    def _twin(self, args: tuple[Any, ...], kwargs: dict[str, Any], config: DetectorConfig) -> Self:
        """A fresh detector made like this one, with `config` instead."""
        at = [i for i, arg in enumerate(args) if isinstance(arg, DetectorConfig)]
        if at and "config" not in kwargs:
            args = (*args[: at[0]], config, *args[at[0] + 1 :])
        else:
            kwargs = {**kwargs, "config": config}
        return type(self)(*args, **kwargs)

    def relearn(self, now_ms: int) -> None:
        """Forget what was learnt as normal and learn it again from the next samples. The
        explicit re-learning rule: the service calls it once a repair is verified (a new
        bearing or driver has its own normal). Detectors that learn nothing ignore it."""

    def fault_active(self) -> bool | None:
        """Does the fault condition hold right now? None while the detector cannot tell
        (warm-up). Telemetry verification of a repair needs `False` for a whole window."""
        return None

    def finding(
        self,
        onset_ms: int,
        summary: str,
        evidence: dict[str, Any],
        severity: Severity | None = None,
        *,
        key: str | None = None,
        params: dict[str, float | int | str] | None = None,
    ) -> Finding:
        """A finding of this detector. `key` and `params` describe `summary` as a catalog
        message (`summaries.<key>` with those placeholders) for readers of other languages."""
        return Finding(
            device=self.device,
            fault_type=self.fault_type,
            severity=severity or self.severity,
            detector=self.name,
            detector_version=self.version,
            onset_ms=onset_ms,
            summary=summary,
            evidence=evidence,
            summary_key=key,
            summary_params=params or {},
        )


_LOWEST: Final = -sys.float_info.max  # finite floats only: NaN and infinities fail
_HIGHEST: Final = sys.float_info.max


def number(metrics: dict[str, MetricValue], name: str) -> float | None:
    """The metric as a finite float; None when it is missing, a boolean or not finite.

    The gateway rejects NaN and infinities, but detectors are also fed directly (replays,
    data sets): a non-finite reading must never be learnt or judged."""
    value = metrics.get(name)
    if type(value) is float:  # the common case first: every detector calls this per sample
        return value if _LOWEST <= value <= _HIGHEST else None
    if isinstance(value, bool) or not isinstance(value, float | int):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def flag(metrics: dict[str, MetricValue], name: str) -> bool | None:
    """The metric as a boolean; None when it is missing or not a boolean (1 is not True)."""
    value = metrics.get(name)
    return value if isinstance(value, bool) else None
