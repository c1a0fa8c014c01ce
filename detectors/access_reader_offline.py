"""Card reader offline: the door controller no longer hears its reader's heartbeat. A
cut or shorted reader cable (or a tampered reader), a dead reader, a failed RS-485 or
OSDP bus. Nobody can badge in: people are locked out, or the door gets propped open to
work around it.

Score: how long `reader_ok` has been false. Decision: false on every sample for at
least `min_s` seconds and `min_samples` samples (a missed heartbeat or a glitch is not
an outage); re-armed once true on `clear_samples` samples in a row. Nothing is learnt.
"""

from __future__ import annotations

from typing import ClassVar

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.base import Detector, DetectorConfig, flag
from detectors.decision import Sustained


class ReaderOfflineConfig(DetectorConfig):
    min_s: float = 60.0
    min_samples: int = 2
    clear_samples: int = 2


class ReaderOfflineDetector(Detector):
    name: ClassVar[str] = "access_reader_offline"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[str]] = frozenset({"access"})
    fault_type: ClassVar[str] = "reader_offline"
    severity: ClassVar[Severity] = Severity.MAJOR

    Config: ClassVar[type[ReaderOfflineConfig]] = ReaderOfflineConfig
    config: ReaderOfflineConfig

    def __init__(self, device: DeviceRef, config: ReaderOfflineConfig | None = None) -> None:
        super().__init__(device, config)
        c = self.config
        self.state = Sustained(int(c.min_s * 1000), 0, c.min_samples, c.clear_samples)
        self.last_ms: int | None = None

    def score(self, now_ms: int) -> float | None:
        """Seconds the reader has been silent at `now_ms` (0 while its heartbeat is heard;
        None before the first report)."""
        if self.last_ms is None:
            return None
        return self.state.held_ms(max(now_ms, self.last_ms)) / 1000

    def update(self, sample: Sample) -> list[Finding]:
        reader_ok = flag(sample.metrics, "reader_ok")
        if reader_ok is None:
            return []
        self.last_ms = sample.ts_ms
        if not self.state.observe(not reader_ok, sample.ts_ms):
            return []
        onset = self.state.first_ms or sample.ts_ms
        return [
            self.finding(
                onset,
                f"card reader silent for {(sample.ts_ms - onset) / 1000:.0f} s",
                {
                    "metric": "reader_ok",
                    "value": (sample.ts_ms - onset) / 1000,
                    "threshold": self.state.hold_ms / 1000,
                },
                key="reader_offline",
                params={"silent_s": (sample.ts_ms - onset) / 1000},
            )
        ]

    def fault_active(self) -> bool | None:
        if self.last_ms is None:
            return None
        return self.state.active
