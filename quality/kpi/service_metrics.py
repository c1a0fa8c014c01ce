"""Write the service's own metrics to the series store, for the Service health dashboard.

Grafana reads InfluxDB, not the Prometheus endpoint, so every `interval_s`
this writes one `facmon_service` point (tag `instance`) with each `facmon_*`
metric of the registry, summed over its labels. Field names drop the
`facmon_` prefix and the `_total` suffix:

>>> fields = metric_fields('''
... # TYPE facmon_messages_ingested_total counter
... facmon_messages_ingested_total{channel="telemetry",kind="pump"} 40
... facmon_messages_ingested_total{channel="status",kind="pump"} 2
... facmon_ingest_lag_seconds 0.25
... ''')
>>> fields
{'messages_ingested': 42.0, 'ingest_lag_seconds': 0.25}

Counters stay cumulative (Grafana takes `non_negative_difference`), and
every value is a float, so a field never changes type in InfluxDB. It reads
the registry through `render()`, which also runs the collectors that
refresh gauges such as the pending-message count.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Final

from contract.clock import Clock, SystemClock, to_ms
from observability.metrics import MetricsRegistry
from quality.kpi.sources import SERVICE_MEASUREMENT
from storage.timeseries.base import FieldValue, Point, SeriesStore

log = logging.getLogger(__name__)

PREFIX: Final = "facmon_"


def field_name(metric: str) -> str:
    """`facmon_write_errors_total` -> `write_errors`."""
    return metric.removeprefix(PREFIX).removesuffix("_total")


def metric_fields(text: str) -> dict[str, float]:
    r"""Sum each `facmon_*` metric of a Prometheus text exposition over its labels.

    Histogram buckets are cumulative per bound, so their sum means nothing; a
    histogram is kept as its `_sum` and `_count`.

    >>> metric_fields('facmon_lag_seconds_bucket{le="1"} 3\nfacmon_lag_seconds_count 4')
    {'lag_seconds_count': 4.0}
    """
    fields: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith(PREFIX):
            continue
        name_and_labels, _, value = line.rpartition(" ")
        name = name_and_labels.split("{", 1)[0]
        if name.endswith("_bucket"):
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number):
            key = field_name(name)
            fields[key] = fields.get(key, 0.0) + number
    return fields


class ServiceMetricsWriter:
    """`start` writes a point now and then every `interval_s` until `stop`."""

    def __init__(
        self,
        registry: MetricsRegistry,
        series: SeriesStore,
        *,
        instance: str,
        interval_s: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.registry = registry
        self.series = series
        self.instance = instance
        self.interval_s = interval_s
        self.clock: Clock = clock or SystemClock()
        self.writes = 0
        """Points written so far (tests await it instead of sleeping)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def point(self) -> Point:
        fields: dict[str, FieldValue] = dict(metric_fields(self.registry.render()))
        return Point(
            SERVICE_MEASUREMENT, {"instance": self.instance}, fields, to_ms(self.clock.now())
        )

    def write_once(self) -> Point | None:
        """Write one point now; None (nothing written) while the registry has no metric."""
        point = self.point()
        if not point.fields:  # a line without fields is not valid line protocol
            return None
        self.series.write([point])
        self.writes += 1
        return point

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.write_once()
            except Exception as exc:  # the store may be down; the next point will do
                log.warning("could not write service metrics: %s", exc)
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the service metrics writer is already running")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="facmon-service-metrics", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
