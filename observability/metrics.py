"""The service's Prometheus metrics, on prometheus_client, with a registry per service.

Each service instance owns a `CollectorRegistry` (never the library's global one), so
several ingestors in one test process never share counters.

>>> registry = MetricsRegistry()
>>> registry.counter("facmon_demo_total", "Demo.").inc(kind="pump")
>>> 'facmon_demo_total{kind="pump"} 1.0' in registry.render()
True

Histograms count observations per bucket, so that a scraper can compute
quantiles over any interval from two scrapes:

>>> lag = registry.histogram("facmon_demo_seconds", "Demo.", (0.1, 1.0))
>>> lag.observe_many([0.05, 0.5, 0.7, 3.0])
>>> snapshot = parse_histogram(registry.render(), "facmon_demo_seconds")
>>> snapshot.counts, snapshot.count, snapshot.quantile(0.5)
((1, 2, 1), 4, 0.55)

Importing this module turns off prometheus_client's `_created` series for the
process: they were never exported, and the service-health writer would store each
as a field.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import numpy as np
import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from observability.exposition import parse_histogram, parse_samples, serve_metrics
from observability.histogram import (
    LAG_BUCKETS_S,
    SPOOL_DRAIN_BUCKETS_S,
    WRITE_BUCKETS_S,
    Histogram,
    HistogramSnapshot,
)
from storage.write_health import WriteHealth

__all__ = [
    "LAG_BUCKETS_S",
    "SPOOL_DRAIN_BUCKETS_S",
    "WRITE_BUCKETS_S",
    "Counter",
    "Gauge",
    "Histogram",
    "HistogramSnapshot",
    "IngestMetrics",
    "MetricsRegistry",
    "parse_histogram",
    "parse_samples",
    "serve_metrics",
]

prometheus_client.disable_created_metrics()

_Prom = TypeVar("_Prom", prometheus_client.Counter, prometheus_client.Gauge)


class _Labelled(Generic[_Prom]):
    """A prometheus_client counter or gauge whose label names may come from its first use.

    Until a labelled sample exists it exports one unlabelled 0, as the service always
    has, so a fresh service already shows every metric (and the service-health point
    every field); the first labelled call swaps in the labelled metric. Children are
    cached per label set, so a call costs one dict lookup before the library's `inc`.
    """

    _kind: type[_Prom]

    def __init__(
        self,
        registry: CollectorRegistry,
        name: str,
        help_text: str,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.help_text = help_text
        self._registry = registry
        self._declared = None if labels is None else tuple(labels)
        self._plain: _Prom = self._kind(name, help_text, registry=registry)
        self._labelled: _Prom | None = None
        self._children: dict[tuple[tuple[str, str], ...], _Prom] = {}
        self._lock = threading.Lock()

    def _child(self, labels: dict[str, str]) -> _Prom:
        child = self._children.get(tuple(labels.items()))
        return self._new_child(labels) if child is None else child

    def _new_child(self, labels: dict[str, str]) -> _Prom:
        with self._lock:
            if not labels:
                if self._labelled is not None or self._declared:
                    raise ValueError(f"{self.name}: labels are required")
                child = self._plain
            else:
                child = (self._labelled or self._take_labels(labels)).labels(**labels)
            self._children[tuple(labels.items())] = child
            return child

    def _take_labels(self, labels: dict[str, str]) -> _Prom:
        names = sorted(labels) if self._declared is None else self._declared
        if () in self._children or not names:
            raise ValueError(f"{self.name}: used without labels, cannot take {sorted(labels)}")
        labelled = self._kind(self.name, self.help_text, labelnames=names, registry=None)
        self._registry.unregister(self._plain)
        self._registry.register(labelled)
        self._labelled = labelled
        return labelled

    def _samples(self) -> Iterable[tuple[dict[str, str], float]]:
        metric = self._labelled or self._plain
        for family in metric.collect():
            for sample in family.samples:
                if sample.name == self.name:
                    yield sample.labels, sample.value

    def value(self, **labels: str) -> float:
        return next((value for found, value in self._samples() if found == labels), 0.0)

    def total(self) -> float:
        return sum(value for _, value in self._samples())


class Counter(_Labelled[prometheus_client.Counter]):
    _kind = prometheus_client.Counter

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._child(labels).inc(amount)


class Gauge(_Labelled[prometheus_client.Gauge]):
    _kind = prometheus_client.Gauge

    def set(self, value: float, **labels: str) -> None:
        self._child(labels).set(value)


class _RefreshingRegistry(CollectorRegistry):
    """A CollectorRegistry that runs the refresh callbacks first on every collection, so
    a scrape, a render and the service-health point all see current queue depths."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshers: list[Callable[[], None]] = []

    def collect(self) -> Iterable[Metric]:
        for refresh in list(self.refreshers):
            refresh()
        yield from super().collect()


class MetricsRegistry:
    """One service's metrics: `prometheus` is its CollectorRegistry, for any exporter."""

    def __init__(self) -> None:
        self.prometheus: CollectorRegistry = _RefreshingRegistry()
        self._metrics: dict[str, Counter | Gauge | Histogram] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_text: str, labels: Sequence[str] | None = None) -> Counter:
        """`labels`: the label names, or None to take them from the first labelled call."""
        if not name.endswith("_total"):
            raise ValueError(f"{name}: a counter's name ends in _total")
        metric = self._get(name, lambda: Counter(self.prometheus, name, help_text, labels))
        if not isinstance(metric, Counter):
            raise TypeError(f"{name} is already a {type(metric).__name__}")
        return metric

    def gauge(self, name: str, help_text: str, labels: Sequence[str] | None = None) -> Gauge:
        metric = self._get(name, lambda: Gauge(self.prometheus, name, help_text, labels))
        if not isinstance(metric, Gauge):
            raise TypeError(f"{name} is already a {type(metric).__name__}")
        return metric

    def histogram(
        self, name: str, help_text: str, buckets: Sequence[float] = LAG_BUCKETS_S
    ) -> Histogram:
        def make() -> Histogram:
            histogram = Histogram(name, help_text, buckets)
            self.prometheus.register(histogram)
            return histogram

        metric = self._get(name, make)
        if not isinstance(metric, Histogram):
            raise TypeError(f"{name} is already a {type(metric).__name__}")
        return metric

    def _get(
        self, name: str, make: Callable[[], Counter | Gauge | Histogram]
    ) -> Counter | Gauge | Histogram:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = self._metrics[name] = make()
            return metric

    def on_collect(self, callback: Callable[[], None]) -> None:
        """Refresh gauges (queue depths, ...) just before each collection."""
        assert isinstance(self.prometheus, _RefreshingRegistry)
        self.prometheus.refreshers.append(callback)

    def collect(self) -> Iterable[Metric]:
        """The registry's metric families, so that a MetricsRegistry is a collector too."""
        return self.prometheus.collect()

    def render(self) -> str:
        """The Prometheus text format (0.0.4), as prometheus_client writes it."""
        return generate_latest(self.prometheus).decode()


class IngestMetrics:
    """The service's own metric names, in one place."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry
        self.ingested = registry.counter(
            "facmon_messages_ingested_total",
            "Valid messages stored, by kind and channel.",
            ("channel", "kind"),
        )
        self.dead_letters = registry.counter(
            "facmon_dead_letters_total",
            "Messages rejected as dead letters, by reason class.",
            ("reason",),
        )
        self.tickets_opened = registry.counter(
            "facmon_tickets_opened_total",
            "Tickets opened, by kind and fault type.",
            ("fault_type", "kind"),
        )
        self.tickets_reopened = registry.counter(
            "facmon_tickets_reopened_total",
            "Tickets reopened because the fault returned.",
            ("kind",),
        )
        self.sla_breaches = registry.counter(
            "facmon_sla_breaches_total",
            "SLA deadlines breached, by stage (dispatch, acknowledge, rectify, recheck).",
            ("stage",),
        )
        self.findings = registry.counter(
            "facmon_findings_total", "Detector findings, by detector.", ("detector",)
        )
        self.write_errors = registry.counter(
            "facmon_write_errors_total", "Failed time-series batch writes.", ()
        )
        self.batches = registry.counter("facmon_batches_written_total", "Batches written.", ())
        self.spooled = registry.counter(
            "facmon_spooled_points_total",
            "Points kept on local disk while the store was down.",
            (),
        )
        self.spool_points = registry.gauge(
            "facmon_spool_points", "Points waiting in the spool.", ()
        )
        self.spool_bytes = registry.gauge("facmon_spool_bytes", "Bytes waiting in the spool.", ())
        self.spool_replayed = registry.counter(
            "facmon_spool_replayed_points_total", "Spooled points written to the store.", ()
        )
        self.spool_drain_seconds = registry.histogram(
            "facmon_spool_drain_seconds",
            "Time from the store taking back the first spooled chunk to an empty spool.",
            SPOOL_DRAIN_BUCKETS_S,
        )
        self.pending = registry.gauge(
            "facmon_ingest_pending_messages", "Messages received but not yet durable.", ()
        )
        self.lag = registry.gauge(
            "facmon_ingest_lag_seconds",
            "Receive time minus device time of the last sample.",
            (),
        )
        self.devices_online = registry.gauge("facmon_devices_online", "Devices heard recently.", ())
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
            (),
        )
        self._durable_lag_peak = 0.0
        # Read by /healthz in this process; worker processes show it as the gauge.
        self.write_health = WriteHealth()
        failing = registry.gauge(
            "facmon_ingest_write_failing_seconds",
            "How long time-series writes have been failing (0 while they work).",
            (),
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
        if peak > self._durable_lag_peak:
            self._durable_lag_peak = peak
            self.durable_lag_max.set(peak)
