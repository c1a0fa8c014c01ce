"""Prometheus text-format metrics without global state.

Each service instance owns its registry, so several ingestors in one test
process never share counters.

>>> registry = MetricsRegistry()
>>> registry.counter("facmon_demo_total", "Demo.").inc(kind="pump")
>>> "facmon_demo_total{kind=\\"pump\\"} 1" in registry.render()
True

Histograms count observations per bucket, so that a scraper can compute
quantiles over any interval from two scrapes:

>>> lag = registry.histogram("facmon_demo_seconds", "Demo.", (0.1, 1.0))
>>> lag.observe_many([0.05, 0.5, 0.7, 3.0])
>>> snapshot = parse_histogram(registry.render(), "facmon_demo_seconds")
>>> snapshot.counts, snapshot.count, snapshot.quantile(0.5)
((1, 2, 1), 4, 0.55)
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from storage.write_health import WriteHealth


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return "{" + body + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help_text = help_text
        self._values: dict[tuple[tuple[str, str], ...], float] = {}
        self._lock = threading.Lock()

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0.0)

    def total(self) -> float:
        return sum(self._values.values())

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} {self.kind}"]
        with self._lock:
            items = sorted(self._values.items())
        if not items:
            items = [((), 0.0)]
        lines += [f"{self.name}{_labels(dict(key))} {_number(value)}" for key, value in items]
        return lines


class Counter(_Metric):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(_Metric):
    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[tuple(sorted(labels.items()))] = value


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


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


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
    """Observations counted into fixed buckets; `observe_many` takes a whole batch at once."""

    kind = "histogram"

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
        self._counts: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
        self._sums: dict[tuple[tuple[str, str], ...], float] = {}
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
        with self._lock:
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

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} {self.kind}"]
        with self._lock:
            keys = sorted(self._counts) or [()]
        for key in keys:
            labels = dict(key)
            snapshot = self.snapshot(**labels)
            cumulative = 0
            for bound, bucket in zip((*self.bounds, math.inf), snapshot.counts, strict=True):
                cumulative += bucket
                lines.append(
                    f"{self.name}_bucket{_labels({**labels, 'le': _le(bound)})} {cumulative}"
                )
            lines.append(f"{self.name}_sum{_labels(labels)} {_number(snapshot.sum)}")
            lines.append(f"{self.name}_count{_labels(labels)} {cumulative}")
        return lines


def _parse_labels(text: str) -> dict[str, str]:
    """`a="x",le="0.5"` -> {"a": "x", "le": "0.5"} (our own label values have no commas)."""
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def parse_samples(text: str, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """The (labels, value) lines of metric `name` in Prometheus text.

    >>> list(parse_samples('facmon_x_total{kind="pump"} 3\\nfacmon_y 1', "facmon_x_total"))
    [({'kind': 'pump'}, 3.0)]
    """
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric == name:
            yield _parse_labels(label_text.rstrip("}")), float(value)


def parse_histogram(text: str, name: str, **labels: str) -> HistogramSnapshot | None:
    """Read one histogram back from Prometheus text (another process's /metrics);
    None if `text` does not have it."""
    cumulative: dict[float, float] = {}
    for found, value in parse_samples(text, f"{name}_bucket"):
        le = found.pop("le", None)
        if found == labels and le is not None:
            cumulative[float(le)] = value
    if not cumulative:
        return None
    total = next((v for found, v in parse_samples(text, f"{name}_sum") if found == labels), 0.0)
    counts, before = [], 0.0
    for bound in sorted(cumulative):
        counts.append(round(cumulative[bound] - before))
        before = cumulative[bound]
    finite = tuple(b for b in sorted(cumulative) if math.isfinite(b))
    if len(finite) == len(cumulative):  # no +Inf line: nothing above the highest bound
        counts.append(0)
    return HistogramSnapshot(finite, tuple(counts), total)


class MetricsRegistry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric | Histogram] = {}
        self._collectors: list[Callable[[], None]] = []

    def counter(self, name: str, help_text: str) -> Counter:
        metric = self._metrics.setdefault(name, Counter(name, help_text))
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str) -> Gauge:
        metric = self._metrics.setdefault(name, Gauge(name, help_text))
        assert isinstance(metric, Gauge)
        return metric

    def histogram(
        self, name: str, help_text: str, buckets: Sequence[float] = LAG_BUCKETS_S
    ) -> Histogram:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = Histogram(name, help_text, buckets)
        assert isinstance(metric, Histogram)
        return metric

    def on_collect(self, callback: Callable[[], None]) -> None:
        """Refresh gauges (queue depths, ...) just before rendering."""
        self._collectors.append(callback)

    def render(self) -> str:
        for callback in self._collectors:
            callback()
        lines: list[str] = []
        for name in sorted(self._metrics):
            lines += self._metrics[name].render()
        return "\n".join(lines) + "\n"


class IngestMetrics:
    """The service's own metric names, in one place."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry
        self.ingested = registry.counter(
            "facmon_messages_ingested_total", "Valid messages stored, by kind and channel."
        )
        self.dead_letters = registry.counter(
            "facmon_dead_letters_total", "Messages rejected as dead letters, by reason class."
        )
        self.tickets_opened = registry.counter(
            "facmon_tickets_opened_total", "Tickets opened, by kind and fault type."
        )
        self.tickets_reopened = registry.counter(
            "facmon_tickets_reopened_total", "Tickets reopened because the fault returned."
        )
        self.sla_breaches = registry.counter(
            "facmon_sla_breaches_total", "SLA deadlines breached, by stage (dispatch, rectify)."
        )
        self.findings = registry.counter("facmon_findings_total", "Detector findings, by detector.")
        self.write_errors = registry.counter(
            "facmon_write_errors_total", "Failed time-series batch writes."
        )
        self.batches = registry.counter("facmon_batches_written_total", "Batches written.")
        self.spooled = registry.counter(
            "facmon_spooled_points_total", "Points kept on local disk while the store was down."
        )
        self.spool_points = registry.gauge("facmon_spool_points", "Points waiting in the spool.")
        self.spool_bytes = registry.gauge("facmon_spool_bytes", "Bytes waiting in the spool.")
        self.spool_replayed = registry.counter(
            "facmon_spool_replayed_points_total", "Spooled points written to the store."
        )
        self.spool_drain_seconds = registry.histogram(
            "facmon_spool_drain_seconds",
            "Time from the store taking back the first spooled chunk to an empty spool.",
            SPOOL_DRAIN_BUCKETS_S,
        )
        self.pending = registry.gauge(
            "facmon_ingest_pending_messages", "Messages received but not yet durable."
        )
        self.lag = registry.gauge(
            "facmon_ingest_lag_seconds", "Receive time minus device time of the last sample."
        )
        self.devices_online = registry.gauge("facmon_devices_online", "Devices heard recently.")
        self.durable_lag = registry.histogram(
            "facmon_ingest_durable_lag_seconds",
            "Wall time a sample became durable (acknowledged) minus its device time.",
            LAG_BUCKETS_S,
        )
        self.write_seconds = registry.histogram(
            "facmon_ingest_batch_write_seconds",
            "Time to make one batch durable: the time-series write (or spool), dead letters "
            "and device registry, before its acknowledgements.",
            WRITE_BUCKETS_S,
        )
        self.durable_lag_max = registry.gauge(
            "facmon_ingest_durable_lag_max_seconds",
            "Largest durable lag since this process started (the histogram has no maximum).",
        )
        # Read by /healthz in this process; worker processes show it as the gauge.
        self.write_health = WriteHealth()
        failing = registry.gauge(
            "facmon_ingest_write_failing_seconds",
            "How long time-series writes have been failing (0 while they work).",
        )
        registry.on_collect(lambda: failing.set(self.write_health.failing_for_s()))

    def observe_durable(self, durable_ms: int, sample_ts_ms: Sequence[int]) -> None:
        """One call per batch: the lags of all its samples in one numpy pass.

        A device clock ahead of ours would give a negative lag; it counts as 0.
        """
        if not sample_ts_ms:
            return
        lags = np.maximum(durable_ms - np.asarray(sample_ts_ms, dtype=np.int64), 0) / 1000.0
        self.durable_lag.observe_many(lags)
        peak = float(lags.max())
        if peak > self.durable_lag_max.value():
            self.durable_lag_max.set(peak)


class _MetricsHandler(BaseHTTPRequestHandler):
    registry: MetricsRegistry

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "only /metrics here")
            return
        body = self.registry.render().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None  # a scrape every few seconds is not news


def serve_metrics(registry: MetricsRegistry, host: str, port: int) -> ThreadingHTTPServer:
    """Serve `registry` at http://host:port/metrics from a daemon thread.

    Ingest worker processes have no API; this lets Prometheus (or the soak bench)
    read their histograms. `shutdown()` on the returned server stops it.
    """
    handler = type("MetricsHandler", (_MetricsHandler,), {"registry": registry})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise OSError(
            f"cannot serve metrics on {host}:{port} ({exc}): choose a free FACMON_METRICS_PORT"
        ) from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="facmon-metrics", daemon=True).start()
    return server
