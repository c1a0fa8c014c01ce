"""The service's own metrics land in InfluxDB as `facmon_service` points."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract.clock import ManualClock, to_ms
from observability.metrics import IngestMetrics, MetricsRegistry
from quality.kpi import ServiceMetricsWriter, metric_fields
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tools.servers import InfluxServer


def test_metric_fields_sum_labels_and_skip_other_lines() -> None:
    text = "\n".join(
        [
            "# HELP facmon_dead_letters_total Messages rejected.",
            "# TYPE facmon_dead_letters_total counter",
            'facmon_dead_letters_total{reason="json"} 2',
            'facmon_dead_letters_total{reason="size, \\"big\\""} 3',
            "process_cpu_seconds_total 9",
            "facmon_ingest_lag_seconds NaN",
            "facmon_devices_online 12",
        ]
    )
    assert metric_fields(text) == {"dead_letters": 5.0, "devices_online": 12.0}


@pytest.fixture
def store(influx: InfluxServer) -> InfluxStore:
    return InfluxStore(influx.url, unique("svc").replace("-", "_"))


def test_writer_stores_every_ingest_metric_as_a_float_field(store: InfluxStore) -> None:
    metrics = IngestMetrics(MetricsRegistry())
    metrics.ingested.inc(40, kind="pump", channel="telemetry")
    metrics.ingested.inc(2, kind="pump", channel="status")
    metrics.dead_letters.inc(reason="json")
    metrics.lag.set(0.25)
    clock = ManualClock(datetime(2026, 1, 1, 10, tzinfo=UTC))
    writer = ServiceMetricsWriter(metrics.registry, store, instance="ingest-a", clock=clock)
    writer.write_once()
    metrics.ingested.inc(8, kind="pump", channel="telemetry")
    clock.advance(seconds=10)
    writer.write_once()
    (series,) = store.query('SELECT * FROM "facmon_service" GROUP BY "instance"')
    assert series["tags"] == {"instance": "ingest-a"}
    rows = [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    assert [row["time"] for row in rows] == [to_ms(clock.now()) - 10_000, to_ms(clock.now())]
    assert [row["messages_ingested"] for row in rows] == [42, 50]
    assert rows[0]["dead_letters"] == 1 and rows[0]["ingest_lag_seconds"] == 0.25
    # Every IngestMetrics metric becomes a field, zero-valued ones too.
    for name in ("write_errors", "batches_written", "ingest_pending_messages", "devices_online"):
        assert rows[0][name] == 0, name
    (difference,) = store.query(
        'SELECT non_negative_difference("messages_ingested") FROM "facmon_service"'
    )
    assert difference["values"][0][1] == 8
    store.close()


def test_writer_thread_writes_until_stopped(store: InfluxStore) -> None:
    metrics = IngestMetrics(MetricsRegistry())
    writer = ServiceMetricsWriter(metrics.registry, store, instance="t", interval_s=0.02)
    writer.start()
    try:
        wait_until(lambda: writer.writes >= 3, what="three service metric points")
    finally:
        writer.stop()
    (series,) = store.query('SELECT count("messages_ingested") FROM "facmon_service"')
    assert series["values"][0][1] == writer.writes >= 3


def test_writer_skips_a_registry_without_metrics(store: InfluxStore) -> None:
    writer = ServiceMetricsWriter(MetricsRegistry(), store, instance="t")
    assert writer.write_once() is None and writer.writes == 0
    with pytest.raises(ValueError):
        ServiceMetricsWriter(MetricsRegistry(), store, instance="t", interval_s=0)
    store.close()
