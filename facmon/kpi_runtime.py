"""The KPI scheduler and the service-metrics writer, as the service runs them.

One object for the service to start and stop, so the wiring is one call
each way and can be tested here, against the service's real stores.

    kpis = KpiRuntime(stores.engine, stores.series, stores.metrics.registry,
                      instance="facmon-ingest")
    kpis.start()
    ...
    kpis.stop()   # before the stores close
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from contract.clock import Clock
from observability.metrics import MetricsRegistry
from quality.kpi.job import KpiJob
from quality.kpi.scheduler import KpiScheduler
from quality.kpi.service_metrics import ServiceMetricsWriter
from quality.kpi.sources import signals_for
from storage.timeseries.base import SeriesStore


class KpiRuntime:
    """KPIs every `interval_s` and the service's own metrics every `metrics_interval_s`."""

    def __init__(
        self,
        engine: Engine,
        series: SeriesStore,
        registry: MetricsRegistry,
        *,
        instance: str,
        bucket: timedelta = timedelta(hours=1),
        interval_s: float = 60.0,
        settle: timedelta = timedelta(days=7),
        metrics_interval_s: float = 10.0,
        repeat_window: timedelta = timedelta(days=30),
        clock: Clock | None = None,
    ) -> None:
        self.signals = signals_for(series)
        self.job = KpiJob(
            engine,
            series,
            self.signals,
            lag=self.signals,
            bucket=bucket,
            repeat_window=repeat_window,
            clock=clock,
        )
        self.scheduler = KpiScheduler(self.job, interval_s=interval_s, settle=settle)
        self.metrics_writer = ServiceMetricsWriter(
            registry, series, instance=instance, interval_s=metrics_interval_s, clock=clock
        )

    def start(self) -> None:
        self.metrics_writer.start()
        self.scheduler.start()

    def stop(self) -> None:
        """Stop both threads (each finishes what it is writing), then release the reader."""
        self.scheduler.stop()
        self.metrics_writer.stop()
        self.signals.close()
