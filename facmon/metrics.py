"""Prometheus text-format metrics without global state.

Each service instance owns its registry, so several ingestors in one test
process never share counters.

>>> registry = MetricsRegistry()
>>> registry.counter("facmon_demo_total", "Demo.").inc(kind="pump")
>>> "facmon_demo_total{kind=\\"pump\\"} 1" in registry.render()
True
"""

from __future__ import annotations

import threading
from collections.abc import Callable


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


class MetricsRegistry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._collectors: list[Callable[[], None]] = []

    def counter(self, name: str, help_text: str) -> Counter:
        metric = self._metrics.setdefault(name, Counter(name, help_text))
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str) -> Gauge:
        metric = self._metrics.setdefault(name, Gauge(name, help_text))
        assert isinstance(metric, Gauge)
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
        self.pending = registry.gauge(
            "facmon_ingest_pending_messages", "Messages received but not yet durable."
        )
        self.lag = registry.gauge(
            "facmon_ingest_lag_seconds", "Receive time minus device time of the last sample."
        )
        self.devices_online = registry.gauge("facmon_devices_online", "Devices heard recently.")
