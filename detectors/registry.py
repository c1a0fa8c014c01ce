"""Which detectors watch which device kind, and the per-device bank that runs them.

The bank creates detector instances lazily, one set per device, and caps the
number of devices it keeps so that a flood of bogus device ids cannot exhaust
memory (the oldest-seen device's state is dropped first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from contract.finding import Finding
from contract.payload import Event, Sample, StatusChange
from contract.topics import DeviceRef
from detectors.access_brute_force import BruteForceDetector
from detectors.access_forced_open import DoorForcedDetector
from detectors.access_held_open import DoorHeldOpenDetector
from detectors.access_lock_slowing import LockSlowingDetector
from detectors.access_reader_offline import ReaderOfflineDetector
from detectors.base import Detector
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


class DetectorBank:
    def __init__(
        self,
        offline_after_ms: int = 120_000,
        clock_ms: Callable[[], int] = wall_clock_ms,
        max_devices: int = 200_000,
        will_grace_ms: int | None = None,
    ) -> None:
        self.offline_after_ms = offline_after_ms
        self.will_grace_ms = will_grace_ms
        # one frozen config for every device's offline detector
        self._offline_config = OfflineConfig(
            offline_after_ms=offline_after_ms, will_grace_ms=will_grace_ms
        )
        self.clock_ms = clock_ms
        self.max_devices = max_devices
        self._devices: OrderedDict[str, list[Detector]] = OrderedDict()
        # Only detectors that override `tick`: calling the no-op of every detector of
        # every device once a second was a tenth of ingest's work at 10,000 devices.
        self._tickers: dict[str, list[Detector]] = {}

    def detectors_for(self, device: DeviceRef) -> list[Detector]:
        found = self._devices.get(device.device_id)
        if found is not None:
            self._devices.move_to_end(device.device_id)
            return found
        detectors: list[Detector] = [cls(device) for cls in KIND_DETECTORS.get(device.kind, ())]
        detectors.append(OfflineDetector(device, self.clock_ms, self._offline_config))
        self._devices[device.device_id] = detectors
        tickers = [d for d in detectors if type(d).tick is not Detector.tick]
        if tickers:
            self._tickers[device.device_id] = tickers
        if len(self._devices) > self.max_devices:
            dropped, _ = self._devices.popitem(last=False)
            self._tickers.pop(dropped, None)
        return detectors

    def detector(self, device: DeviceRef, fault_type: str) -> Detector | None:
        for candidate in self.detectors_for(device):
            if candidate.fault_type == fault_type:
                return candidate
        return None

    def on_sample(self, sample: Sample) -> list[Finding]:
        return [f for d in self.detectors_for(sample.device) for f in d.update(sample)]

    def on_event(self, event: Event) -> list[Finding]:
        return [f for d in self.detectors_for(event.device) for f in d.on_event(event)]

    def on_status(self, status: StatusChange) -> list[Finding]:
        now = self.clock_ms()
        return [f for d in self.detectors_for(status.device) for f in d.on_status(status, now)]

    def tick(self) -> list[Finding]:
        now = self.clock_ms()
        return [f for ds in self._tickers.values() for d in ds for f in d.tick(now)]

    def __len__(self) -> int:
        return len(self._devices)
