"""Generic offline detector: a device that said goodbye unexpectedly or fell silent.

Catches power loss, network loss and crashed firmware.

- A last will (`offline` on the status channel) opens a finding once
  `will_grace_ms` (by default `offline_after_ms`) has passed without the device
  coming back: a restart is not
  an outage. Where devices delay their will themselves (MQTT v5 Will Delay
  Interval: the broker sends none for a device back in time), the service's
  grace can be 0 and the ticket opens with the will.
- Silence longer than `offline_after_ms` opens a finding; a device heard again
  within that time (a restart) opens nothing.
- A device that reports less often than that is not offline between its reports: the
  silence limit is at least `silence_factor` x its learnt reporting interval
  (`detectors.cadence`; `expected_interval_s` when configured), so a sensor sampled
  every 10 minutes is offline after 30 minutes of silence, not after every sample. A
  silence the cadence takes for a gap is not learnt as the rhythm (an outage does not
  stretch the limit); three of one size in a row are a new rhythm (a gateway that
  reports less often from now on).
- Until the interval is known (before the second sample), the limit is at least
  `first_grace_s` (30 minutes: three intervals of the sparsest supported cadence, one
  sample every 10 minutes), so a sparse device without a configured interval gets no
  ticket between its first two samples; set `expected_interval_s` to judge its first
  silence sooner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Event, Sample, StatusChange
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig
from detectors.cadence import Cadence

_NEVER = 2**63 - 1


class OfflineConfig(DetectorConfig):
    offline_after_ms: int = 120_000  # silence this long is an outage
    will_grace_ms: int | None = None  # after a last will; None: `offline_after_ms`
    silence_factor: float = 3.0  # silence is an outage past this many reporting intervals
    expected_interval_s: float | None = None  # None: learnt from the samples
    first_grace_s: float = 1800.0  # the least silence limit until the interval is known


class OfflineDetector(Detector):
    name: ClassVar[str] = "offline"
    version: ClassVar[str] = "4"
    kinds: ClassVar[frozenset[str]] = frozenset({"elevator", "lighting", "pump", "access"})
    fault_type: ClassVar[str] = "offline"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[OfflineConfig]] = OfflineConfig
    config: OfflineConfig

    def __init__(
        self,
        device: DeviceRef,
        wall_clock_ms: Callable[[], int],
        config: OfflineConfig | None = None,
    ) -> None:
        super().__init__(device, config)
        c = self.config
        self.wall_clock_ms = wall_clock_ms
        self.offline_after_ms = c.offline_after_ms
        self.will_grace_ms = c.offline_after_ms if c.will_grace_ms is None else c.will_grace_ms
        self.last_heard_ms: int | None = None
        self.will_received_ms: int | None = None
        self.reported = False
        # an outage (a gap) is not learnt as the rhythm; a lasting slow-down is
        self.cadence = Cadence(c.expected_interval_s)

    def silence_limit_ms(self) -> int:
        """Silence longer than this is an outage: the configured limit, or more for a
        device that reports less often."""
        expected = self.cadence.expected_ms
        if expected is None:
            return max(self.offline_after_ms, int(self.config.first_grace_s * 1000))
        return max(self.offline_after_ms, int(self.config.silence_factor * expected))

    def _heard(self) -> None:
        heard = self.last_heard_ms = self.wall_clock_ms()
        self.will_received_ms = None
        self.reported = False
        # nothing to say before the shortest silence limit; `tick` moves it on from there
        self.tick_due_ms = heard + self.offline_after_ms

    def update(self, sample: Sample) -> list[Finding]:
        self.cadence.observe(sample.ts_ms)
        self._heard()
        return []

    def on_event(self, event: Event) -> list[Finding]:
        self._heard()
        return []

    def on_status(self, status: StatusChange, now_ms: int) -> list[Finding]:
        if status.online:
            self._heard()
            return []
        if self.will_received_ms is None:
            self.will_received_ms = now_ms
        self.tick_due_ms = 0
        return self.tick(now_ms)  # no grace: the ticket opens with the will

    def _gone(self, now_ms: int) -> tuple[int, int, str] | None:
        if self.will_received_ms is not None:
            return now_ms - self.will_received_ms, self.will_received_ms, "last will received"
        if self.last_heard_ms is not None:
            return now_ms - self.last_heard_ms, self.last_heard_ms, "silence"
        return None

    def score(self, now_ms: int) -> float | None:
        """Milliseconds the device has been gone at `now_ms` (None before it is heard)."""
        gone = self._gone(now_ms)
        return float(gone[0]) if gone else None

    def tick(self, now_ms: int) -> list[Finding]:
        gone = self._gone(now_ms)
        if self.reported or gone is None:
            self.tick_due_ms = _NEVER  # until heard again (or a last will)
            return []
        gone_ms, onset_ms, cause = gone
        will = self.will_received_ms is not None
        grace_ms = self.will_grace_ms if will else self.silence_limit_ms()
        if gone_ms < grace_ms:
            self.tick_due_ms = onset_ms + grace_ms
            return []
        self.reported = True
        self.tick_due_ms = _NEVER
        return [
            self.finding(
                onset_ms,
                f"{self.device.kind} {self.device.device_id} offline for "
                f"{gone_ms / 1000:.0f} s ({cause})",
                {
                    "cause": cause,
                    "gone_ms": gone_ms,
                    "last_heard_ms": self.last_heard_ms,
                    "will_received_ms": self.will_received_ms,
                    "offline_after_ms": self.offline_after_ms,
                    "silence_limit_ms": self.silence_limit_ms(),
                    "will_grace_ms": self.will_grace_ms,
                },
                key="offline.will" if will else "offline.silence",
                params={
                    "kind": self.device.kind,
                    "device_id": self.device.device_id,
                    "gone_s": gone_ms / 1000,
                },
            )
        ]

    def fault_active(self) -> bool | None:
        if self.last_heard_ms is None and self.will_received_ms is None:
            return None
        return self.reported or self.will_received_ms is not None
