"""Batches are group commits: an idle writer takes a batch at `min_delay_s`, and what
gathers while the writer is busy leaves as one batch the moment the write is done,
so lag follows the write time, not the longest batch delay."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from contract.payload import encode_telemetry
from detectors.registry import DetectorBank
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import BatchPolicy, InboundMessage, IngestPipeline
from ingest.worker import IngestWorker
from storage.timeseries import Point
from tests.conftest import pipeline_for, wait_until

NOW_MS = 1_750_000_000_000
TOPIC = "facility/v1/north/b1/pump/pump-{n}/telemetry"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    opened = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield opened
    opened.close()


def message(n: int, acked: list[int]) -> InboundMessage:
    payload = encode_telemetry(NOW_MS + n, n, {"current_a": 1.0})
    return InboundMessage(TOPIC.format(n=n), payload, NOW_MS + n, lambda: acked.append(n))


def test_an_idle_writer_takes_the_batch_at_the_min_delay(stores: Stores) -> None:
    now = [100.0]
    pipeline = pipeline_for(
        stores, policy=BatchPolicy(max_delay_s=0.5, min_delay_s=0.25), monotonic_s=lambda: now[0]
    )
    assert pipeline.seconds_until_due(writer_idle=True) == pytest.approx(0.25)
    pipeline.handle(message(1, []))
    now[0] += 0.125
    assert not pipeline.flush_due(writer_idle=True)
    assert pipeline.seconds_until_due(writer_idle=True) == pytest.approx(0.125)
    now[0] += 0.125
    assert pipeline.flush_due(writer_idle=True)
    assert not pipeline.flush_due(writer_idle=False)  # a busy writer: the batch keeps growing
    assert pipeline.seconds_until_due(writer_idle=False) == pytest.approx(0.25)
    now[0] += 0.25
    assert pipeline.flush_due(writer_idle=False)


def test_a_min_delay_over_the_max_delay_is_capped(stores: Stores) -> None:
    now = [100.0]
    pipeline = pipeline_for(
        stores, policy=BatchPolicy(max_delay_s=0.2, min_delay_s=5.0), monotonic_s=lambda: now[0]
    )
    pipeline.handle(message(1, []))
    now[0] += 0.2
    assert pipeline.flush_due(writer_idle=True)


class GatedSeries:
    """Wraps the real series store; a write can be held open to stand for a slow one."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.writing = threading.Event()
        self.writes: list[int] = []

    def write(self, points: Sequence[Point]) -> None:
        self.writing.set()
        assert self.gate.wait(20), "the test never released the write"
        self.inner.write(points)  # type: ignore[attr-defined]
        self.writes.append(len(points))
        self.writing.clear()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_what_gathers_during_a_write_leaves_as_one_batch_when_it_ends(stores: Stores) -> None:
    series = GatedSeries(stores.series)
    pipeline = IngestPipeline(
        series,  # type: ignore[arg-type]
        stores.tickets,
        stores.dead_letters,
        stores.devices,
        DetectorBank(),
        stores.metrics,
        # Only group commit can hand a batch over before a minute has passed.
        policy=BatchPolicy(max_delay_s=60.0, min_delay_s=0.05),
    )
    worker = IngestWorker(pipeline)
    acked: list[int] = []
    worker.start()
    try:
        series.gate.clear()
        worker.submit([message(1, acked)])
        assert series.writing.wait(10), "an idle writer should take the batch at min delay"
        for n in range(2, 12):  # arrive while the first write is held open
            worker.submit([message(n, acked)])
        wait_until(lambda: pipeline.pending == 10, what="the intake to take the messages")
        assert series.writes == [] and acked == []
        assert worker.batches.empty(), "a busy writer must not be handed a second batch yet"
        series.gate.set()
        wait_until(lambda: len(acked) == 11, timeout_s=10, what="both batches acknowledged")
        assert series.writes == [2, 20]  # two points per new device: sample, going online
        assert acked == list(range(1, 12))
    finally:
        series.gate.set()
        worker.stop()
