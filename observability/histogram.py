"""Bucketed histograms that take a whole batch at once, and their snapshots.

>>> lag = Histogram("facmon_demo_seconds", "Demo.", (0.1, 1.0))
>>> lag.observe_many([0.05, 0.5, 0.7, 3.0])
>>> snapshot = lag.snapshot()
>>> snapshot.counts, snapshot.count, snapshot.quantile(0.5)
((1, 2, 1), 4, 0.55)
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

# A batch write is usually tens of milliseconds; past a second it shows in the lag.
WRITE_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip

# A spool drain after an outage: seconds for a short one, minutes for a long one.
SPOOL_DRAIN_BUCKETS_S: tuple[float, ...] = (
    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
)  # fmt: skip

# Fine around the 1 s ingest-lag target, coarse out to a minute.
LAG_BUCKETS_S: tuple[float, ...] = (
    0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
)  # fmt: skip

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class HistogramSnapshot:
    """Bucket counts at one moment: `counts[i]` observations in (bounds[i-1], bounds[i]],
    the last one above the highest bound. Subtract two to get an interval."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def _check(self, other: HistogramSnapshot) -> None:
        if other.bounds != self.bounds:
            raise ValueError("histograms with different buckets cannot be combined")

    def __add__(self, other: HistogramSnapshot) -> HistogramSnapshot:
        self._check(other)
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return HistogramSnapshot(self.bounds, counts, self.sum + other.sum)

    def __sub__(self, other: HistogramSnapshot) -> HistogramSnapshot:
        self._check(other)
        counts = tuple(a - b for a, b in zip(self.counts, other.counts, strict=True))
        return HistogramSnapshot(self.bounds, counts, self.sum - other.sum)

    @classmethod
    def empty(cls, bounds: Sequence[float]) -> HistogramSnapshot:
        return cls(tuple(bounds), (0,) * (len(bounds) + 1), 0.0)

    def quantile(self, q: float) -> float | None:
        """As Prometheus' histogram_quantile: linear within the bucket holding rank q·count
        (from 0 for the first bucket); the highest bound if it lies above it. None if empty."""
        total = self.count
        if total <= 0:
            return None
        rank = min(max(q, 0.0), 1.0) * total
        below = 0
        for i, bucket in enumerate(self.counts):
            if bucket > 0 and below + bucket >= rank:
                if i == len(self.bounds):
                    return self.bounds[-1]
                lower = self.bounds[i - 1] if i else 0.0
                return lower + (self.bounds[i] - lower) * (rank - below) / bucket
            below += bucket
        return self.bounds[-1]

    def share_at_most(self, bound: float) -> float | None:
        """Share of observations <= `bound`, exact when `bound` is a bucket bound."""
        total = self.count
        if total <= 0:
            return None
        return sum(self.counts[: bisect.bisect_right(self.bounds, bound)]) / total


class Histogram:
    """A prometheus_client collector of its own, the one place the library's types do not fit.

    `prometheus_client.Histogram` observes one value per call (a Python bucket search and
    a lock each time) and cannot hand its bucket counts back. Ingest observes the durable
    lag of every sample of a batch, thousands at once: here that is one numpy
    `searchsorted`/`bincount` pass, and `snapshot()` gives the counts to the soak bench
    and the tests. What it exports is a standard `HistogramMetricFamily`, so the
    exposition is the library's.
    """

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        bounds = tuple(float(b) for b in buckets)
        if not bounds or any(not math.isfinite(b) for b in bounds):
            raise ValueError(f"{name}: buckets must be finite numbers (+Inf is implied)")
        if any(b >= c for b, c in itertools.pairwise(bounds)):
            raise ValueError(f"{name}: buckets must increase strictly")
        self.name = name
        self.help_text = help_text
        self.bounds = bounds
        self._edges = np.asarray(bounds)
        self._le = [floatToGoString(b) for b in (*bounds, math.inf)]
        self._labelnames: tuple[str, ...] | None = None
        self._counts: dict[LabelKey, np.ndarray] = {}
        self._sums: dict[LabelKey, float] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        self.observe_many((value,), **labels)

    def observe_many(self, values: Iterable[float] | np.ndarray, **labels: str) -> None:
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values), float)
        array = array[~np.isnan(array)]
        if not array.size:
            return
        # `le` buckets: a value equal to a bound belongs to that bound's bucket.
        index = np.searchsorted(self._edges, array, side="left")
        added = np.bincount(index, minlength=len(self.bounds) + 1)
        key = tuple(sorted(labels.items()))
        names = tuple(name for name, _ in key)
        with self._lock:
            if self._labelnames is None:
                self._labelnames = names
            elif names != self._labelnames:
                raise ValueError(f"{self.name}: labels {names} differ from {self._labelnames}")
            counts = self._counts.get(key)
            self._counts[key] = added if counts is None else counts + added
            self._sums[key] = self._sums.get(key, 0.0) + float(array.sum())

    def snapshot(self, **labels: str) -> HistogramSnapshot:
        key = tuple(sorted(labels.items()))
        with self._lock:
            counts = self._counts.get(key)
            total = self._sums.get(key, 0.0)
        if counts is None:
            return HistogramSnapshot.empty(self.bounds)
        return HistogramSnapshot(self.bounds, tuple(int(c) for c in counts), total)

    def total(self) -> float:
        """Observations over every label set."""
        with self._lock:
            return float(sum(int(c.sum()) for c in self._counts.values()))

    def describe(self) -> list[Metric]:
        """The names it exports, so that the registry refuses a second metric of that name."""
        return [HistogramMetricFamily(self.name, self.help_text)]

    def collect(self) -> list[Metric]:
        """Cumulative buckets per label set; zeros without labels while nothing is observed."""
        with self._lock:
            names = self._labelnames or ()
            series = [(key, counts.copy(), self._sums[key]) for key, counts in self._counts.items()]
        family = HistogramMetricFamily(self.name, self.help_text, labels=names)
        if not series:
            series = [((), np.zeros(len(self._le), dtype=np.int64), 0.0)]
        for key, counts, total in sorted(series, key=lambda item: item[0]):
            cumulative = np.cumsum(counts)
            family.add_metric(
                [value for _, value in key],
                buckets=[(le, float(c)) for le, c in zip(self._le, cumulative, strict=True)],
                sum_value=total,
            )
        return [family]
