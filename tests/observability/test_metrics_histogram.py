"""The lag histogram: bucket math, Prometheus rendering, reading it back, and where ingest
observes it (once per sample, when its batch is durable)."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from contract.payload import encode_telemetry
from facmon.embedded_broker import free_port
from facmon.service import Stores
from facmon.settings import Settings
from facmon.workers import plan_workers
from ingest.pipeline import InboundMessage, IngestPipeline
from observability.metrics import (
    LAG_BUCKETS_S,
    Histogram,
    HistogramSnapshot,
    IngestMetrics,
    MetricsRegistry,
    parse_histogram,
    serve_metrics,
)
from storage.timeseries import Point, StoreUnavailable
from tests.conftest import pipeline_for

NOW_MS = 1_750_000_000_000
TOPIC = "facility/v1/north/b1/pump/pump-1/telemetry"


def _render(histogram: Histogram) -> list[str]:
    registry = CollectorRegistry()
    registry.register(histogram)
    return generate_latest(registry).decode().splitlines()


def _lines(histogram: Histogram) -> dict[str, str]:
    return dict(line.rsplit(" ", 1) for line in _render(histogram) if not line.startswith("#"))


def test_a_value_on_a_bound_counts_in_that_bucket_and_larger_ones_above() -> None:
    histogram = Histogram("facmon_t_seconds", "Test.", (0.1, 1.0, 10.0))
    histogram.observe_many([0.0, 0.1, 0.1000001, 1.0, 10.0, 10.5, math.nan])
    histogram.observe(-1.0)
    snapshot = histogram.snapshot()
    assert snapshot.counts == (3, 2, 1, 1)  # NaN dropped, -1 in the first bucket
    assert snapshot.count == 7
    assert snapshot.sum == pytest.approx(0.1 + 0.1000001 + 1.0 + 10.0 + 10.5 - 1.0)


def test_render_is_cumulative_with_inf_sum_and_count() -> None:
    histogram = Histogram("facmon_t_seconds", "Test lag.", (0.5, 1.0))
    histogram.observe_many([0.2, 0.7, 0.9, 4.0])
    rendered = _render(histogram)
    assert rendered[:2] == [
        "# HELP facmon_t_seconds Test lag.",
        "# TYPE facmon_t_seconds histogram",
    ]
    assert _lines(histogram) == {
        'facmon_t_seconds_bucket{le="0.5"}': "1.0",
        'facmon_t_seconds_bucket{le="1.0"}': "3.0",
        'facmon_t_seconds_bucket{le="+Inf"}': "4.0",
        "facmon_t_seconds_count": "4.0",
        "facmon_t_seconds_sum": "5.8",
    }


def test_an_empty_histogram_renders_zeros_and_labels_render_apart() -> None:
    histogram = Histogram("facmon_t_seconds", "Test.", (1.0,))
    assert _lines(histogram)['facmon_t_seconds_bucket{le="+Inf"}'] == "0.0"
    histogram.observe(0.5, worker="a")
    histogram.observe(2.0, worker="b")
    lines = _lines(histogram)
    assert lines['facmon_t_seconds_bucket{le="1.0",worker="a"}'] == "1.0"
    assert lines['facmon_t_seconds_bucket{le="1.0",worker="b"}'] == "0.0"
    assert lines['facmon_t_seconds_count{worker="b"}'] == "1.0"
    assert histogram.total() == 2


@pytest.mark.parametrize("buckets", [(), (1.0, 1.0), (2.0, 1.0), (1.0, math.inf)])
def test_buckets_must_be_finite_and_increasing(buckets: Sequence[float]) -> None:
    with pytest.raises(ValueError, match="buckets"):
        Histogram("facmon_t_seconds", "Test.", buckets)


def test_lag_buckets_are_fine_from_10_ms_to_60_s_with_a_bound_at_the_1_s_target() -> None:
    assert LAG_BUCKETS_S[0] == 0.01 and LAG_BUCKETS_S[-1] == 60.0
    assert 1.0 in LAG_BUCKETS_S
    assert list(LAG_BUCKETS_S) == sorted(set(LAG_BUCKETS_S))
    assert len(LAG_BUCKETS_S) >= 25


def test_parse_reads_back_what_render_wrote() -> None:
    registry = MetricsRegistry()
    histogram = registry.histogram("facmon_t_seconds", "Test.")
    histogram.observe_many([0.004, 0.25, 0.99, 1.0, 1.01, 75.0])
    registry.counter("facmon_t_seconds_other_total", "Not a bucket.").inc()
    parsed = parse_histogram(registry.render(), "facmon_t_seconds")
    assert parsed == histogram.snapshot()
    assert parse_histogram(registry.render(), "facmon_absent_seconds") is None


def test_quantiles_interpolate_within_a_bucket_as_prometheus_does() -> None:
    snapshot = HistogramSnapshot((1.0, 2.0, 4.0), (10, 10, 0, 0), 0.0)
    assert snapshot.quantile(0.5) == pytest.approx(1.0)
    assert snapshot.quantile(0.25) == pytest.approx(0.5)  # from 0 within the first bucket
    assert snapshot.quantile(0.75) == pytest.approx(1.5)
    assert snapshot.share_at_most(1.0) == 0.5
    assert snapshot.share_at_most(4.0) == 1.0
    beyond = HistogramSnapshot((1.0, 2.0), (1, 0, 99), 0.0)
    assert beyond.quantile(0.99) == 2.0  # above the highest bound: that bound
    assert HistogramSnapshot.empty((1.0,)).quantile(0.5) is None


def test_interval_figures_come_from_the_difference_of_two_snapshots() -> None:
    histogram = Histogram("facmon_t_seconds", "Test.", (0.5, 1.0, 2.0))
    histogram.observe_many([0.1] * 100)
    first = histogram.snapshot()
    histogram.observe_many([1.5] * 10)
    interval = histogram.snapshot() - first
    assert interval.counts == (0, 0, 10, 0) and interval.count == 10
    assert interval.sum == pytest.approx(15.0)
    assert interval.quantile(0.99) == pytest.approx(1.99)
    merged = first + interval
    assert merged == histogram.snapshot()
    with pytest.raises(ValueError, match="different buckets"):
        _ = first + HistogramSnapshot.empty((1.0,))


def test_observe_durable_takes_a_batch_clamps_clock_skew_and_keeps_the_maximum() -> None:
    metrics = IngestMetrics(MetricsRegistry())
    metrics.observe_durable(10_000, [9_000, 9_500, 10_250])
    metrics.observe_durable(20_000, [])
    snapshot = metrics.durable_lag.snapshot()
    assert snapshot.count == 3
    assert snapshot.sum == pytest.approx(1.5)
    assert metrics.durable_lag_max.value() == 1.0
    metrics.observe_durable(20_000, [19_900])
    assert metrics.durable_lag_max.value() == 1.0
    text = metrics.registry.render()
    assert 'facmon_ingest_durable_lag_seconds_bucket{le="1.0"} 4.0' in text
    assert "facmon_ingest_durable_lag_seconds_count 4.0" in text


# -- where ingest observes it -------------------------------------------------------------


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    opened = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield opened
    opened.close()


def _pipeline(stores: Stores, clock_ms: list[int]) -> IngestPipeline:
    return pipeline_for(
        stores,
        wall_clock_ms=lambda: clock_ms[0],
    )


def test_ingest_observes_each_sample_once_when_its_batch_is_durable(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = stores.series.write
    failures = [StoreUnavailable("down for the test")]

    def flaky_write(points: Sequence[Point]) -> None:
        if failures:
            raise failures.pop()
        write(points)

    monkeypatch.setattr(stores.series, "write", flaky_write)
    clock = [NOW_MS]
    pipeline = _pipeline(stores, clock)
    acked: list[int] = []
    for seq, age_ms in ((1, 2_500), (2, 400)):
        payload = encode_telemetry(NOW_MS - age_ms, seq, {"current_a": 1.0})
        pipeline.handle(InboundMessage(TOPIC, payload, NOW_MS, partial(acked.append, seq)))
    pipeline.handle(InboundMessage(TOPIC, b"not json", NOW_MS, partial(acked.append, 0)))
    pipeline.handle(InboundMessage(TOPIC.replace("telemetry", "status"), b"online", NOW_MS))
    batch = pipeline.take_batch()
    with pytest.raises(StoreUnavailable):
        pipeline.write_batch(batch)
    histogram = stores.metrics.durable_lag
    assert histogram.snapshot().count == 0 and acked == []  # not durable: not observed

    clock[0] = NOW_MS + 500  # durable half a second later
    pipeline.write_batch(batch)
    assert sorted(acked) == [0, 1, 2]
    snapshot = histogram.snapshot()
    assert snapshot.count == 2  # the samples only, not the dead letter or the status
    assert snapshot.sum == pytest.approx(3.0 + 0.9)
    assert stores.metrics.durable_lag_max.value() == 3.0
    assert "facmon_ingest_durable_lag_seconds_count 2.0" in stores.metrics.registry.render()


# -- the worker metrics endpoint ----------------------------------------------------------


def test_serve_metrics_answers_at_metrics_only() -> None:
    registry = MetricsRegistry()
    registry.histogram("facmon_t_seconds", "Test.").observe(0.3)
    port = free_port()
    server = serve_metrics(registry, "127.0.0.1", port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'facmon_t_seconds_bucket{le="0.3"} 1.0' in response.text
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_metrics_port_says_which_setting_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="FACMON_METRICS_PORT"):
            serve_metrics(MetricsRegistry(), "127.0.0.1", port)


def test_worker_i_gets_metrics_port_base_plus_i_and_none_when_off() -> None:
    common = {"ingest_workers": 3, "ingest_sites": "a,b,c", "_env_file": None}
    plan = plan_workers(Settings(metrics_port=9300, **common), "mqtt://broker:1883")  # type: ignore[arg-type]
    assert [spec.env["FACMON_METRICS_PORT"] for spec in plan] == ["9300", "9301", "9302"]
    off = plan_workers(Settings(**common), "mqtt://broker:1883")  # type: ignore[arg-type]
    assert all("FACMON_METRICS_PORT" not in spec.env for spec in off)


def test_each_durable_batch_observes_its_write_time(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [50.0]
    write = stores.series.write
    outcomes: list[StoreUnavailable | None] = [StoreUnavailable("down for the test"), None]

    def slow_write(points: Sequence[Point]) -> None:
        now[0] += 0.3  # the store takes 0.3 s, whether it fails or not
        failure = outcomes.pop(0)
        if failure is not None:
            raise failure
        write(points)

    monkeypatch.setattr(stores.series, "write", slow_write)
    pipeline = pipeline_for(stores, wall_clock_ms=lambda: NOW_MS, monotonic_s=lambda: now[0])
    payload = encode_telemetry(NOW_MS - 100, 1, {"current_a": 1.0})
    pipeline.handle(InboundMessage(TOPIC, payload, NOW_MS))
    batch = pipeline.take_batch()
    with pytest.raises(StoreUnavailable):
        pipeline.write_batch(batch)
    assert stores.metrics.write_seconds.snapshot().count == 0  # not durable: not observed
    pipeline.write_batch(batch)
    snapshot = stores.metrics.write_seconds.snapshot()
    assert (snapshot.count, snapshot.sum) == (1, pytest.approx(0.3))
    assert 'facmon_ingest_batch_write_seconds_bucket{le="0.3"} 1.0' in (
        stores.metrics.registry.render()
    )
