"""Whether ingest's time-series writes are failing, and for how long.

The first failed write starts the clock and the next successful one stops it, so a
blip retried within a batch or two never shows, while a store that refuses every
write (down, full, wrong credentials, a bug in the write path) turns `/healthz`
degraded with the reason once it has lasted `degraded_after_s`.

>>> now = [0.0]
>>> health = WriteHealth(degraded_after_s=1.5, clock=lambda: now[0])
>>> health.failed("InfluxDB write failed: connection refused")
>>> now[0] = 2.0
>>> health.problem()
'time-series writes failing for 2.0 s: InfluxDB write failed: connection refused'
>>> health.succeeded()
>>> health.problem() is None
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from storage.timeseries.base import Point, PointsRefused, Row, SeriesStore, StoreUnavailable


class WriteHealth:
    def __init__(
        self, degraded_after_s: float = 1.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.degraded_after_s = degraded_after_s
        self._clock = clock
        self._failing_since: float | None = None
        self._error = ""

    def failed(self, error: str) -> None:
        if self._failing_since is None:
            self._failing_since = self._clock()
        self._error = error

    def succeeded(self) -> None:
        self._failing_since = None
        self._error = ""

    def failing_for_s(self) -> float:
        since = self._failing_since
        return 0.0 if since is None else self._clock() - since

    def problem(self) -> str | None:
        """The reason to report degraded, or None while writes work (or failed only briefly)."""
        failing_for_s = self.failing_for_s()
        if failing_for_s < self.degraded_after_s or self._failing_since is None:
            return None
        return f"time-series writes failing for {failing_for_s:.1f} s: {self._error[:300]}"


class HealthTrackedStore:
    """A series store whose every write reports to a `WriteHealth`: any exception but a
    refusal of single points (the store works; the points go to dead letters) is a
    failure. Wrapping the store, not its callers, covers batch writes and spool replay
    alike."""

    def __init__(self, store: SeriesStore, health: WriteHealth) -> None:
        self.store = store
        self.health = health

    def write(self, points: Sequence[Point]) -> None:
        try:
            self.store.write(points)
        except PointsRefused:  # the rest of the points was stored
            self.health.succeeded()
            raise
        except StoreUnavailable as exc:
            self.health.failed(str(exc))
            raise
        except Exception as exc:
            self.health.failed(f"{type(exc).__name__}: {exc}")
            raise
        self.health.succeeded()

    def recent(
        self, measurement: str, device_id: str, limit: int, site: str | None = None
    ) -> list[Row]:
        return self.store.recent(measurement, device_id, limit, site)

    def count(self, measurement: str, device_id: str | None = None) -> int:
        return self.store.count(measurement, device_id)

    def ping(self) -> bool:
        return self.store.ping()

    def close(self) -> None:
        self.store.close()
