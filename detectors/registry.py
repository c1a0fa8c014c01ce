"""Which detectors watch which device kind, and the per-device bank that runs them.

The bank creates detector instances lazily, one set per device (a device is its site and
its id: `door-1` in two sites is two devices), and caps the number of devices it keeps so
that a flood of bogus device ids cannot exhaust memory (the oldest-seen device's state is
dropped first). Each device's detectors get the
parameters a `detectors.config_file.DetectorConfigFile` resolves for it; a new file given
to `configure` (from any thread) is applied at the bank's next call, on the thread that
feeds it, to the detectors it already runs, which keep what they learnt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, KeysView, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final, cast

from contract.finding import Finding
from contract.payload import Event, Sample, StatusChange
from contract.topics import DeviceRef
from detectors.access_brute_force import BruteForceDetector
from detectors.access_forced_open import DoorForcedDetector
from detectors.access_held_open import DoorHeldOpenDetector
from detectors.access_lock_slowing import LockSlowingDetector
from detectors.access_reader_offline import ReaderOfflineDetector
from detectors.base import Detector, DetectorConfig
from detectors.elevator_door import DoorSlowingDetector
from detectors.elevator_entrapment import EntrapmentDetector
from detectors.elevator_fault_code import FaultCodeDetector
from detectors.elevator_levelling import LevellingErrorDetector
from detectors.elevator_motor_current import MotorCurrentTrendDetector
from detectors.elevator_reversals import DoorReversalDetector
from detectors.elevator_vibration import CarVibrationTrendDetector
from detectors.generic_out_of_range import OutOfRangeDetector
from detectors.generic_stuck import StuckSensorDetector
from detectors.lighting_flicker import FlickerDetector
from detectors.lighting_illuminance import IlluminanceLowDetector
from detectors.lighting_lamp import LampFailureDetector
from detectors.lighting_left_on import LightsLeftOnDetector
from detectors.offline import OfflineConfig, OfflineDetector
from detectors.pump_bearing import BearingWearDetector
from detectors.pump_cavitation import CavitationDetector
from detectors.pump_dry_running import DryRunningDetector
from detectors.pump_leakage import LeakageDetector
from detectors.pump_multivariate import PumpMultivariateDetector

if TYPE_CHECKING:
    from detectors.config_file import DetectorConfigFile

log = logging.getLogger(__name__)

# Every kind also gets the generic sensor-health detectors (and the bank adds `offline`).
GENERIC_DETECTORS: tuple[type[Detector], ...] = (StuckSensorDetector, OutOfRangeDetector)

KIND_DETECTORS: dict[str, tuple[type[Detector], ...]] = {
    "elevator": (
        DoorSlowingDetector,
        DoorReversalDetector,
        LevellingErrorDetector,
        MotorCurrentTrendDetector,
        CarVibrationTrendDetector,
        EntrapmentDetector,
        FaultCodeDetector,
        *GENERIC_DETECTORS,
    ),
    "lighting": (
        LampFailureDetector,
        FlickerDetector,
        LightsLeftOnDetector,
        IlluminanceLowDetector,
        *GENERIC_DETECTORS,
    ),
    "pump": (
        BearingWearDetector,
        PumpMultivariateDetector,
        CavitationDetector,
        DryRunningDetector,
        LeakageDetector,
        *GENERIC_DETECTORS,
    ),
    "access": (
        DoorHeldOpenDetector,
        DoorForcedDetector,
        BruteForceDetector,
        LockSlowingDetector,
        ReaderOfflineDetector,
        *GENERIC_DETECTORS,
    ),
}


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def bank_defaults(offline_after_ms: int, will_grace_ms: int | None) -> dict[str, DetectorConfig]:
    """Defaults the service sets (from its settings) under those of the configuration file."""
    return {
        OfflineDetector.name: OfflineConfig(
            offline_after_ms=offline_after_ms, will_grace_ms=will_grace_ms
        )
    }


DeviceKey = tuple[str, str]
"""A device's identity in the bank: (site, device_id). The same id in two sites is two
devices; a tuple of the two strings is as cheap a key as the id alone."""


SampleJudge = Callable[[Sample], list[Finding]]
"""A detector's `update`: one sample in, its findings out."""

_NO_TICKERS: Final[tuple[Detector, ...]] = ()


def device_key(device: DeviceRef) -> DeviceKey:
    return (device.site, device.device_id)


class DetectorBank:
    def __init__(
        self,
        offline_after_ms: int = 120_000,
        clock_ms: Callable[[], int] = wall_clock_ms,
        max_devices: int = 200_000,
        will_grace_ms: int | None = None,
        config: DetectorConfigFile | None = None,
    ) -> None:
        self.offline_after_ms = offline_after_ms
        self.will_grace_ms = will_grace_ms
        # one frozen config for every device's offline detector
        self.defaults: Mapping[str, DetectorConfig] = bank_defaults(offline_after_ms, will_grace_ms)
        self._offline_config = cast(OfflineConfig, self.defaults[OfflineDetector.name])
        self.clock_ms = clock_ms
        self.max_devices = max_devices
        self._devices: OrderedDict[DeviceKey, list[Detector]] = OrderedDict()
        # Only detectors that override `tick`: calling the no-op of every detector of
        # every device once a second was a tenth of ingest's work at 10,000 devices.
        self._tickers: dict[DeviceKey, list[Detector]] = {}
        self.config: DetectorConfigFile | None = config
        # Resolved configurations by scope: most devices share their kind's.
        self._resolved: dict[tuple[str, ...], dict[str, DetectorConfig]] = {}
        self._staged: DetectorConfigFile | None = None
        self._stage_lock = threading.Lock()

    @property
    def config_version(self) -> str | None:
        """The version of the configuration file in force (None: the built-in defaults)."""
        return self.config.version if self.config is not None else None

    def configure(self, config: DetectorConfigFile) -> None:
        """Stage a new configuration file: safe from any thread; it takes effect at the
        bank's next sample, event, status or tick, on the thread that makes that call."""
        with self._stage_lock:
            self._staged = config

    def _apply_staged(self) -> None:
        with self._stage_lock:
            staged, self._staged = self._staged, None
        if staged is None:
            return
        started = time.perf_counter()
        self.config, self._resolved = staged, {}
        changed = 0
        for detectors in self._devices.values():
            configs = self._configs_for(detectors[0].device)
            for detector in detectors:
                new = configs.get(detector.name)
                if new is not None and new is not detector.config and new != detector.config:
                    detector.reconfigure(new)
                    changed += 1
        log.info(
            "detector configuration %s from %s in force: %d detectors of %d devices retuned "
            "in %.1f ms, their learnt state kept",
            staged.version,
            staged.source,
            changed,
            len(self._devices),
            (time.perf_counter() - started) * 1000,
        )

    def _configs_for(self, device: DeviceRef) -> dict[str, DetectorConfig]:
        assert self.config is not None
        scope = self.config.scope(device)
        found = self._resolved.get(scope)
        if found is None:
            found = self._resolved[scope] = self.config.resolve(device, self.defaults)
        return found

    def detectors_for(self, device: DeviceRef) -> list[Detector]:
        key = (device.site, device.device_id)
        found = self._devices.get(key)
        if found is not None:
            self._devices.move_to_end(key)
            return found
        classes = KIND_DETECTORS.get(device.kind, ())
        detectors: list[Detector]
        if self.config is None:
            detectors = [cls(device) for cls in classes]
            offline = self._offline_config
        else:
            configs = self._configs_for(device)
            detectors = [cls(device, configs[cls.name]) for cls in classes]
            offline = cast(OfflineConfig, configs[OfflineDetector.name])
        detectors.append(OfflineDetector(device, self.clock_ms, offline))
        self._devices[key] = detectors
        tickers = [d for d in detectors if type(d).tick is not Detector.tick]
        if tickers:
            self._tickers[key] = tickers
        if len(self._devices) > self.max_devices:
            dropped, _ = self._devices.popitem(last=False)
            self._tickers.pop(dropped, None)
        return detectors

    def detector(self, device: DeviceRef, fault_type: str) -> Detector | None:
        for candidate in self.detectors_for(device):
            if candidate.fault_type == fault_type:
                return candidate
        return None

    def tickers_of(self, key: DeviceKey) -> Sequence[Detector]:
        """The device's detectors that `tick` calls (none for a device not in the bank)."""
        return self._tickers.get(key, _NO_TICKERS)

    def ticker_keys(self) -> KeysView[DeviceKey]:
        """The devices that have detectors `tick` calls, in the order `tick` calls them."""
        return self._tickers.keys()

    def devices_by_use(self) -> list[DeviceKey]:
        """The devices in the bank, the one used least recently first."""
        return list(self._devices)

    def touch(self, keys: Iterable[DeviceKey]) -> None:
        """Mark these devices used, in this order, as judging a sample of each would: the
        device used least recently is the first dropped beyond `max_devices`."""
        devices = self._devices
        for key in keys:
            if key in devices:
                devices.move_to_end(key)

    def stamped(self, findings: list[Finding]) -> list[Finding]:
        """Findings of this bank's detectors, each naming the configuration version that
        produced it."""
        version = self.config_version
        if version is None or not findings:
            return findings
        return [replace(f, config_version=version) for f in findings]

    def on_sample(self, sample: Sample) -> list[Finding]:
        if self._staged is not None:
            self._apply_staged()
        # A plain loop: the nested comprehension made an iterator of every detector's
        # (nearly always empty) answer, nine times a sample.
        found: list[Finding] = []
        for detector in self.detectors_for(sample.device):
            raised = detector.update(sample)
            if raised:
                found += raised
        return self.stamped(found)

    def updates_for(self, device: DeviceRef) -> list[tuple[Detector, SampleJudge]]:
        """Each of the device's detectors with the call that judges a sample, in the order
        `on_sample` runs them, for a caller that hands each detector a run of the device's
        samples (the backtest); findings are to be `stamped`. It does not mark the device
        used: the caller does (`touch`)."""
        if self._staged is not None:
            self._apply_staged()
        return [(detector, detector.update) for detector in self.detectors_for(device)]

    def on_event(self, event: Event) -> list[Finding]:
        if self._staged is not None:
            self._apply_staged()
        found = [f for d in self.detectors_for(event.device) for f in d.on_event(event)]
        return self.stamped(found)

    def on_status(self, status: StatusChange) -> list[Finding]:
        if self._staged is not None:
            self._apply_staged()
        now = self.clock_ms()
        found = [f for d in self.detectors_for(status.device) for f in d.on_status(status, now)]
        return self.stamped(found)

    def tick(self) -> list[Finding]:
        if self._staged is not None:
            self._apply_staged()
        now = self.clock_ms()
        found = [
            f
            for ds in self._tickers.values()
            for d in ds
            if now >= d.tick_due_ms
            for f in d.tick(now)
        ]
        return self.stamped(found)

    def __len__(self) -> int:
        return len(self._devices)
