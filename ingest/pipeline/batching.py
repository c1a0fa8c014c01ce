"""Batching: what one write makes durable, and when the gathered batch is due.

Group commit: an idle writer takes the batch once it is `min_delay_s` old, so at
light load a sample waits about that long; under load the batch grows while the
writer is busy and leaves the moment it is free, or at `max_lines`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.device_registry import DeviceState
from ingest.pipeline.messages import InboundMessage
from storage.dead_letters import RejectedMessage
from storage.timeseries import Point


@dataclass(slots=True)
class Batch:
    """What one flush makes durable, then acknowledges."""

    points: list[Point] = field(default_factory=list)
    rejected: list[RejectedMessage] = field(default_factory=list)
    devices: list[DeviceState] = field(default_factory=list)
    acks: list[Callable[[], None]] = field(default_factory=list)
    ingested: dict[tuple[str, str], int] = field(default_factory=dict)
    sample_ts_ms: list[int] = field(default_factory=list)  # for the durable-lag histogram
    # id(point) -> the message it came from, so a point the store refuses becomes
    # that message's dead letter.
    sources: dict[int, InboundMessage] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.acks)

    def count(self, kind: str, channel: str) -> None:
        key = (kind, channel)
        self.ingested[key] = self.ingested.get(key, 0) + 1


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_lines: int = 5_000
    max_delay_s: float = 0.5
    # Group commit: an idle writer takes the batch once it is this old, so that at
    # light load a sample waits about this long, not `max_delay_s`; under load, the
    # batch grows while the writer is busy and leaves the moment it is free.
    min_delay_s: float = 0.1
    # A device heard steadily is rewritten in the registry at most this often; a new
    # device, or one going online or offline, is written with the next batch. At
    # 10,000 devices a row per device per batch was a tenth of ingest's work.
    registry_refresh_s: float = 5.0


DEFAULT_POLICY = BatchPolicy()


class Batcher:
    """The batch being gathered; `open()` starts its clock, `take()` hands it over."""

    def __init__(self, policy: BatchPolicy, monotonic_s: Callable[[], float]) -> None:
        self.policy = policy
        self.monotonic_s = monotonic_s
        self.current = Batch()
        self._started: float | None = None
        self.lag_ms: int | None = None  # receive time minus device time, last sample

    def open(self) -> Batch:
        """The batch to add to; its delay counts from the first thing added."""
        if self._started is None:
            self._started = self.monotonic_s()
        return self.current

    @property
    def pending(self) -> int:
        return len(self.current.acks)

    def _delay_s(self, writer_idle: bool) -> float:
        policy = self.policy
        return min(policy.min_delay_s, policy.max_delay_s) if writer_idle else policy.max_delay_s

    def due(self, writer_idle: bool, registry_due: float | None) -> bool:
        """`writer_idle`: nothing is being written, so the batch may leave at `min_delay_s`.
        `registry_due`: when device rows are next due to be saved (monotonic), if ever."""
        now = self.monotonic_s()
        if registry_due is not None and now >= registry_due:
            return True
        batch = self.current
        if not batch.acks and not batch.points:
            return False
        if len(batch.points) >= self.policy.max_lines:
            return True
        started = self._started or now
        return now - started >= self._delay_s(writer_idle)

    def seconds_until_due(self, writer_idle: bool, registry_due: float | None) -> float:
        now = self.monotonic_s()
        registry = math.inf if registry_due is None else registry_due - now
        delay_s = self._delay_s(writer_idle)
        if self._started is None:
            return max(0.0, min(delay_s, registry))
        return max(0.0, min(delay_s - (now - self._started), registry))

    def take(self, devices: list[DeviceState]) -> Batch:
        """The gathered batch, with the device rows due; a new one begins."""
        batch = self.current
        batch.devices = devices
        self.current = Batch()
        self._started = None
        return batch
