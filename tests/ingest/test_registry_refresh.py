"""A device heard steadily is rewritten in the registry at most every
`registry_refresh_s`; new devices and online/offline changes go with the next batch,
and nothing changed is left unwritten for longer than that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.payload import encode_telemetry
from facmon.service import Stores
from facmon.settings import Settings
from ingest.pipeline import BatchPolicy, InboundMessage, IngestPipeline
from tests.conftest import pipeline_for

NOW_MS = 1_750_000_000_000
TOPIC = "facility/v1/north/b1/pump/pump-1/telemetry"
STATUS = "facility/v1/north/b1/pump/pump-1/status"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    opened = Stores.open(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield opened
    opened.close()


def sample(pipeline: IngestPipeline, seq: int) -> None:
    payload = encode_telemetry(NOW_MS + seq * 1000, seq, {"current_a": 1.0})
    pipeline.handle(InboundMessage(TOPIC, payload, NOW_MS + seq * 1000))


def written(pipeline: IngestPipeline) -> list[tuple[str, int | None, bool]]:
    batch = pipeline.take_batch()
    devices = [(d.device_id, d.last_seq, d.online) for d in batch.devices]
    pipeline.write_batch(batch)
    return devices


def test_steady_devices_are_rewritten_once_per_refresh_interval(stores: Stores) -> None:
    now = [100.0]
    pipeline = pipeline_for(
        stores, policy=BatchPolicy(registry_refresh_s=5.0), monotonic_s=lambda: now[0]
    )
    sample(pipeline, 1)
    assert written(pipeline) == [("pump-1", 1, True)]  # new: at once
    sample(pipeline, 2)
    assert written(pipeline) == []  # heard again 0 s later: held back
    assert not pipeline.flush_due() and pipeline.seconds_until_due() == pytest.approx(0.5)
    now[0] += 4.0
    assert pipeline.seconds_until_due() == pytest.approx(0.5)  # the batch delay comes first
    sample(pipeline, 3)
    now[0] += 0.5
    assert written(pipeline) == []  # 4.5 s after the last write
    assert pipeline.seconds_until_due() == pytest.approx(0.5)  # the held-back row's turn
    now[0] += 0.5
    assert pipeline.flush_due()  # due with no message pending: the quiet device still lands
    assert written(pipeline) == [("pump-1", 3, True)]
    device = stores.devices.get("north", "pump-1")
    assert device is not None and device.last_seq == 3
    assert not pipeline.flush_due()


def test_going_offline_and_stopping_are_written_at_once(stores: Stores) -> None:
    now = [100.0]
    pipeline = pipeline_for(
        stores, policy=BatchPolicy(registry_refresh_s=3_600.0), monotonic_s=lambda: now[0]
    )
    sample(pipeline, 1)
    assert written(pipeline) == [("pump-1", 1, True)]
    pipeline.handle(InboundMessage(STATUS, b"offline", NOW_MS + 2_000))
    assert written(pipeline) == [("pump-1", 1, False)]  # a change of liveness is not held
    pipeline.handle(InboundMessage(STATUS, b"online", NOW_MS + 3_000))
    sample(pipeline, 4)
    assert written(pipeline) == [("pump-1", 4, True)]
    sample(pipeline, 5)
    assert written(pipeline) == [] and pipeline.unsaved_devices == 1
    pipeline.flush()  # as the worker does when it stops: everything changed is written
    device = stores.devices.get("north", "pump-1")
    assert device is not None and device.last_seq == 5 and pipeline.unsaved_devices == 0
