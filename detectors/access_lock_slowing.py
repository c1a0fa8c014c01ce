"""Lock actuation slowing: the electric strike, magnetic lock or motor lock takes longer
and longer to release or throw. A weakening solenoid, a failing power supply, a bolt
rubbing in a misaligned strike plate or a door pulled by wind or stack pressure. Left
alone, the lock fails to release (people locked out or in) or fails to latch (the door
is left unsecured).

The logic is `detectors.slowing` (score: rolling median of `lock_actuation_ms` minus the
learnt baseline; hysteresis on `baseline + max(min_margin, rel_margin x baseline)`);
this module names the metric and the defaults, in milliseconds. Readings outside the
plausible 5 ms .. 10 s are left to `out_of_range` (a bridged position switch or a broken
timer, not a slow lock).
"""

from __future__ import annotations

from typing import ClassVar

from contract.finding import Severity
from detectors.slowing import SlowingConfig, SlowingDetector


class LockSlowingConfig(SlowingConfig):
    """Margins in milliseconds."""

    min_margin: float = 50.0
    rel_margin: float = 0.5


class LockSlowingDetector(SlowingDetector):
    name: ClassVar[str] = "access_lock_slowing"
    version: ClassVar[str] = "2"
    kinds: ClassVar[frozenset[str]] = frozenset({"access"})
    fault_type: ClassVar[str] = "lock_slowing"
    severity: ClassVar[Severity] = Severity.MAJOR
    metric: ClassVar[str] = "lock_actuation_ms"
    label: ClassVar[str] = "lock actuation"
    unit: ClassVar[str] = "ms"
    summary_digits: ClassVar[int] = 0
    evidence_digits: ClassVar[int] = 1
    window_digits: ClassVar[int | None] = 1
    skip_implausible: ClassVar[bool] = True
    Config: ClassVar[type[LockSlowingConfig]] = LockSlowingConfig
