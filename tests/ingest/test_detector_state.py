"""Detector state across a restart, in process: saved and restored, caught up from the series
store, rebuilt where nothing was saved; what does not fit is rebuilt, not restored."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from contract.payload import decode_message
from contract.topics import DeviceRef
from detectors.pump_bearing import BearingWearDetector
from facmon.schema import create_schema
from ingest import detector_state
from ingest.detector_state import (
    KeptBank,
    StateKeeper,
    device_history,
    layout_of,
    owned_by,
    restore_into,
    snapshot,
)
from ingest.pipeline.points import sample_point
from storage.detector_state import DetectorStateStore, StateRow
from storage.sql import make_engine
from storage.timeseries import StoreUnavailable
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.faults.slow_wear import (
    WEAR_AT_S,
    Message,
    first_ticket_ms,
    messages,
    pumps,
    start_ms,
)

SITE = "state-site"
START_MS = start_ms(int(time.time() * 1000))
# A restart 15 minutes into the wear: the baseline is learnt, no ticket is open yet.
CUT_MS = START_MS + (WEAR_AT_S + 900) * 1000
# The service comes back two minutes after the crash. The keeper's clock is pinned there,
# so its replay window does not depend on when in a long test run this module executes.
RESTART_MS = CUT_MS + 120_000


@pytest.fixture(scope="module")
def stream() -> list[Message]:
    return messages(SITE, START_MS)


@pytest.fixture(scope="module")
def reference(stream: list[Message]) -> dict[str, int]:
    """When the uninterrupted bank fires, per device and fault type."""
    return first_ticket_ms(stream)


@pytest.fixture
def store(tmp_path: Path) -> DetectorStateStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
    create_schema(engine)
    return DetectorStateStore(engine)


def before(stream: list[Message], ts_ms: int) -> list[Message]:
    return [m for m in stream if m.ts_ms <= ts_ms]


def after(stream: list[Message], ts_ms: int) -> list[Message]:
    return [m for m in stream if m.ts_ms > ts_ms]


def hours_since_start() -> float:
    return (RESTART_MS - START_MS) / 3_600_000 + 1


def telemetry(batch: list[Message]) -> int:
    return sum(1 for m in batch if m.topic.endswith("/telemetry"))


def series_with(path: Path, batch: list[Message]) -> SQLiteSeriesStore:
    series = SQLiteSeriesStore(path)
    samples = [decode_message(m.topic, m.payload, m.ts_ms + 1).sample for m in batch]
    series.write([sample_point(s) for s in samples if s is not None])
    return series


def keeper(bank: KeptBank, store: DetectorStateStore, **options: object) -> StateKeeper:
    options.setdefault("wall_clock_ms", lambda: RESTART_MS)
    return StateKeeper(bank, store, **options)  # type: ignore[arg-type]


def test_the_scenario_needs_the_state(stream: list[Message], reference: dict[str, int]) -> None:
    """A bank that starts afresh at the restart fires late or not at all: the tests below
    would fail without the saved state."""
    worn = pumps(SITE)[0]
    assert reference[f"{worn}/bearing_wear"] > CUT_MS
    assert all(ts > CUT_MS for ts in reference.values()), "a ticket opened before the cut"
    assert first_ticket_ms(after(stream, CUT_MS)) != reference


def test_saved_at_a_clean_stop_and_restored(
    stream: list[Message], reference: dict[str, int], store: DetectorStateStore
) -> None:
    first = KeptBank()
    assert first_ticket_ms(before(stream, CUT_MS), first) == {}
    keeper(first, store, series=None).stop()
    assert not any(row.detector == "offline" for row in store.load())

    second = KeptBank()
    report = keeper(second, store, series=None).restore()
    assert report.devices == 2 and report.rebuilt == 0 and report.skipped == 0
    assert first_ticket_ms(after(stream, CUT_MS), second) == reference


def test_samples_after_the_last_save_are_replayed_and_redeliveries_skipped(
    stream: list[Message], reference: dict[str, int], store: DetectorStateStore, tmp_path: Path
) -> None:
    saved_ms = CUT_MS - 1_200_000  # the last save was 20 minutes before the crash
    first = KeptBank()
    first_ticket_ms(before(stream, saved_ms), first)
    keeper(first, store, series=None).stop()
    first_ticket_ms([m for m in stream if saved_ms < m.ts_ms <= CUT_MS], first)  # then killed
    series = series_with(tmp_path / "series.sqlite", before(stream, CUT_MS))

    second = KeptBank()
    report = keeper(second, store, series=series).restore()
    assert report.replayed_samples == telemetry([m for m in stream if saved_ms < m.ts_ms <= CUT_MS])
    # The broker redelivers the last minute, which replay has already fed.
    redelivered = [m for m in stream if m.ts_ms > CUT_MS - 60_000]
    assert first_ticket_ms(redelivered, second) == reference


def test_nothing_saved_rebuilds_from_history(
    stream: list[Message], reference: dict[str, int], store: DetectorStateStore, tmp_path: Path
) -> None:
    series = series_with(tmp_path / "series.sqlite", before(stream, CUT_MS))
    worn, healthy = pumps(SITE)
    known = [DeviceRef(SITE, "plant", "pump", worn), DeviceRef(SITE, "plant", "pump", healthy)]
    bank = KeptBank()
    report = keeper(bank, store, series=series, replay_hours=hours_since_start()).restore(known)
    assert report.restored == 0 and report.rebuilt > 0
    assert report.replayed_samples == telemetry(before(stream, CUT_MS))
    assert first_ticket_ms(after(stream, CUT_MS), bank) == reference


def test_a_rebuild_replays_at_most_the_newest_samples_of_each_device(
    stream: list[Message], store: DetectorStateStore, tmp_path: Path
) -> None:
    series = series_with(tmp_path / "series.sqlite", before(stream, CUT_MS))
    known = [DeviceRef(SITE, "plant", "pump", pump) for pump in pumps(SITE)]
    bank = KeptBank()
    options = {"series": series, "replay_hours": hours_since_start(), "replay_max_samples": 50}
    report = keeper(bank, store, **options).restore(known)
    assert report.replayed_samples == 50 * len(known)
    newest = max(m.ts_ms for m in before(stream, CUT_MS) if m.topic.endswith("/telemetry"))
    assert all(bank.replayed_to[(device.site, device.device_id)] == newest for device in known)


def test_changed_or_corrupt_rows_are_rebuilt_with_one_warning(
    stream: list[Message], store: DetectorStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    bank = KeptBank()
    first_ticket_ms(before(stream, CUT_MS), bank)
    keeper(bank, store, series=None).stop()
    rows = list(store.load())
    per_device = len(rows) // 2
    tampered = []
    for index, row in enumerate(rows):
        if index == 0:
            row = replace(row, state=b"not a pickle")
        elif index == 1:
            row = replace(row, version="0")  # saved by an older version
        elif index == 2:
            row = replace(row, layout="another-layout")
        tampered.append(row)
    store.save(tampered)

    caplog.set_level(logging.WARNING, logger="ingest.detector_state")
    report = keeper(KeptBank(), store, series=None).restore()
    assert (report.restored, report.rebuilt, report.skipped) == (2 * per_device - 3, 3, 1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not unpickle" in warnings[0].getMessage()


def test_a_save_round_spreads_over_ticks_and_is_written_once(
    stream: list[Message], store: DetectorStateStore
) -> None:
    bank = KeptBank()
    first_ticket_ms(before(stream, CUT_MS), bank)
    now = [0.0]
    writes: list[int] = []
    save = store.save

    def counted(rows: Sequence[StateRow]) -> None:
        writes.append(len(rows))
        save(rows)

    store.save = counted  # type: ignore[method-assign]
    kept = keeper(
        bank, store, series=None, save_every_s=60, tick_budget_s=0.0, monotonic_s=lambda: now[0]
    )
    kept.start()
    now[0] = 61.0
    bank.tick()  # one device: the budget is spent at once
    assert writes == [] and bank.changed == set()
    bank.tick()
    kept.stop()
    assert len(writes) == 1 and writes[0] == store.count()
    assert kept.last_save is not None and kept.last_save.devices == 2


def test_a_failed_write_is_retried_with_the_next_save(
    stream: list[Message], store: DetectorStateStore
) -> None:
    bank = KeptBank()
    first_ticket_ms(before(stream, CUT_MS), bank)
    save = store.save
    failures = [RuntimeError("database down")]

    def flaky(rows: Sequence[StateRow]) -> None:
        if failures:
            raise failures.pop()
        save(rows)

    store.save = flaky  # type: ignore[method-assign]
    kept = keeper(bank, store, series=None)
    kept._write(kept._rows_for((SITE, pumps(SITE)[0])), 1, 0.0)
    assert store.count() == 0
    kept._write([], 0, 0.0)
    assert store.count() > 0 and not kept._unsaved


def test_history_of_one_device_oldest_first(stream: list[Message], tmp_path: Path) -> None:
    series = series_with(tmp_path / "series.sqlite", stream[:40])
    worn = pumps(SITE)[0]
    history = device_history(series, DeviceRef(SITE, "plant", "pump", worn), START_MS + 50_000)
    expected = [
        m.ts_ms
        for m in stream[:40]
        if m.device_id == worn and m.topic.endswith("/telemetry") and m.ts_ms > START_MS + 50_000
    ]
    assert [s.ts_ms for s in history] == expected
    assert all("accelerometer1_rms_g" in s.metrics and "seq" not in s.metrics for s in history)


def test_a_worker_restores_only_its_own_units() -> None:
    owns = owned_by(["north", "south/tower-a"])
    assert owns(DeviceRef("north", "any", "pump", "p1"))
    assert owns(DeviceRef("south", "tower-a", "pump", "p2"))
    assert not owns(DeviceRef("south", "tower-b", "pump", "p3"))
    assert owned_by([])(DeviceRef("east", "b", "pump", "p4"))


def test_state_learnt_with_other_parameters_is_retuned_not_rebuilt(stream: list[Message]) -> None:
    """A restart with a changed configuration file equals a reload while running."""
    worn = pumps(SITE)[0]
    bank = KeptBank()
    first_ticket_ms(before(stream, CUT_MS), bank)
    detectors = bank.kept((SITE, worn))
    assert detectors is not None
    running = next(d for d in detectors if isinstance(d, BearingWearDetector))
    blob, layout = snapshot(running), layout_of(running)
    config = BearingWearDetector.Config.model_validate({"hold_s": 900.0, "limit_factor": 1.4})

    restarted = BearingWearDetector(running.device, config)
    restore_into(restarted, blob, layout)
    running.reconfigure(config)
    assert restarted.config is config and restarted.baseline == running.baseline is not None

    def fired(detector: BearingWearDetector) -> list[int]:
        samples = [decode_message(m.topic, m.payload, m.ts_ms + 1).sample for m in stream]
        return [
            s.ts_ms
            for s in samples
            if s is not None and s.device.device_id == worn and s.ts_ms > CUT_MS
            for _ in detector.update(s)
        ]

    assert fired(restarted) == fired(running) != []


def test_only_recent_samples_below_the_replayed_time_are_skipped(stream: list[Message]) -> None:
    """Redeliveries are seconds old; a device whose clock was set back is judged again."""
    worn = pumps(SITE)[0]
    samples = [decode_message(m.topic, m.payload, m.ts_ms + 1).sample for m in stream]
    mine = [s for s in samples if s is not None and s.device.device_id == worn]
    bank = KeptBank()
    mark = mine[-1].ts_ms
    bank.replayed_to[(SITE, worn)] = mark
    bank.on_sample(mine[-2])  # a redelivery: skipped, the mark stays
    assert bank.replayed_to == {(SITE, worn): mark} and (SITE, worn) not in bank.changed
    bank.on_sample(mine[0])  # hours back: a clock set back, judged
    assert bank.replayed_to == {} and (SITE, worn) in bank.changed


def test_a_save_is_written_in_short_transactions_and_a_failure_keeps_the_rest(
    stream: list[Message], store: DetectorStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector_state, "SAVE_CHUNK_ROWS", 3)
    bank = KeptBank()
    first_ticket_ms(before(stream, CUT_MS), bank)
    save = store.save
    sizes: list[int] = []

    def second_fails(rows: Sequence[StateRow]) -> None:
        sizes.append(len(rows))
        if len(sizes) == 2:
            raise RuntimeError("database down")
        save(rows)

    store.save = second_fails  # type: ignore[method-assign]
    kept = keeper(bank, store, series=None)
    rows = [row for device in pumps(SITE) for row in kept._rows_for((SITE, device))]
    kept._write(rows, 2, 0.0)
    assert sizes == [3, 3] and store.count() == 3 and len(kept._unsaved) == len(rows) - 3
    kept._write([], 0, 0.0)
    assert store.count() == len(rows) and not kept._unsaved
    assert max(sizes) == 3


def test_a_failing_series_store_stops_the_replay_at_once(
    stream: list[Message], store: DetectorStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    """With InfluxDB down, a fleet's start must not wait for every device's query."""

    class Down:
        asked = 0

        def recent(
            self, measurement: str, device_id: str, limit: int, site: str | None = None
        ) -> list[object]:
            Down.asked += 1
            raise StoreUnavailable("InfluxDB is down")

    known = [DeviceRef(SITE, "plant", "pump", f"pump-{n}") for n in range(100)]
    caplog.set_level(logging.WARNING, logger="ingest.detector_state")
    report = keeper(KeptBank(), store, series=Down()).restore(known)
    assert report.history_error is not None and "down" in report.history_error
    assert Down.asked <= detector_state.REPLAY_FETCH_THREADS
    assert len([r for r in caplog.records if "replay stopped" in r.getMessage()]) == 1
