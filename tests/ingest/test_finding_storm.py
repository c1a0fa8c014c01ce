"""A storm of findings by silence (every device offline at once) waits in a backlog that
is recorded a chunk per transaction between messages, so ingestion goes on meanwhile;
by the end every device has its ticket and its ticket point."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.payload import encode_telemetry
from detectors.registry import DetectorBank
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import InboundMessage, IngestPipeline
from ingest.pipeline.findings import BACKLOG_CHUNK

NOW_MS = 1_750_000_000_000
DEVICES = 2 * BACKLOG_CHUNK + 50


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    opened = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield opened
    opened.close()


def telemetry(device: str, ts_ms: int, ack: list[str] | None = None) -> InboundMessage:
    topic = f"facility/v1/north/b1/pump/{device}/telemetry"
    payload = encode_telemetry(ts_ms, 1, {"current_a": 1.0})
    if ack is None:
        return InboundMessage(topic, payload, ts_ms)
    return InboundMessage(topic, payload, ts_ms, lambda: ack.append(device))


def test_silence_findings_are_recorded_in_chunks_while_messages_go_on(stores: Stores) -> None:
    clock = [NOW_MS]
    pipeline = IngestPipeline(
        stores.series,
        stores.tickets,
        stores.dead_letters,
        stores.devices,
        DetectorBank(offline_after_ms=10_000, clock_ms=lambda: clock[0]),
        stores.metrics,
        wall_clock_ms=lambda: clock[0],
    )
    for n in range(DEVICES):  # two samples: the reporting interval is known
        pipeline.handle(telemetry(f"pump-{n}", NOW_MS - 1_000))
        pipeline.handle(telemetry(f"pump-{n}", NOW_MS))
    pipeline.flush()

    clock[0] += 60_000  # every device silent for a minute
    pipeline.tick()
    assert pipeline.findings_waiting == DEVICES - BACKLOG_CHUNK  # one chunk with the tick
    assert stores.tickets.count() == BACKLOG_CHUNK

    acked: list[str] = []
    pipeline.handle(telemetry("witness", clock[0], acked))  # taken at once, not after the storm
    assert pipeline.pending == 1 and pipeline.findings_waiting == DEVICES - BACKLOG_CHUNK
    pipeline.record_findings()
    assert pipeline.findings_waiting == DEVICES - 2 * BACKLOG_CHUNK
    assert stores.tickets.count() == 2 * BACKLOG_CHUNK

    pipeline.flush()  # records what still waits, then writes and acknowledges
    assert acked == ["witness"] and pipeline.findings_waiting == 0
    assert stores.tickets.count() == DEVICES
    assert stores.series.count("tickets") == DEVICES  # a point for every ticket opened
    assert stores.metrics.findings.total() == DEVICES
