"""The replay judges a block of samples one device at a time (for the processor's caches);
it must raise, time and record exactly what judging every sample in the file's order
raises: the same findings at the same data times, in the same order, the same tickets.

The data: simulated devices of every kind with faults injected part-way, recording gaps
that open `offline` (silent devices must still be ticked while others report), devices
sharing timestamps and devices reporting at offsets, and blocks small enough that
devices, gaps and faults straddle block boundaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facmon.cli.backtest import replay_database, replay_options
from facmon.settings import Settings
from ingest.backtest import runner
from ingest.backtest.csv_source import IDENTITY_COLUMNS, METRIC_COLUMNS, read_csv
from ingest.backtest.report import rfc3339_ms
from ingest.backtest.runner import Replay
from simulators.models import (
    AccessModel,
    ActiveFault,
    DeviceModel,
    ElevatorModel,
    LightingModel,
    PumpModel,
)
from tests.ingest.backtest.synthetic import START_MS
from tools.bench_backtest import csv_cell

MODELS: list[type[DeviceModel]] = [ElevatorModel, LightingModel, PumpModel, AccessModel]
ROUNDS = 900  # at 10 s: two and a half hours of data
STEP_MS = 10_000


def _write_fleet_csv(path: Path, devices: int, seed: int, late: int = 0) -> Path:
    """Rows of `devices` devices, sorted by time: each device gets one of its kind's
    faults from a seeded round on, every third device a recording gap of 4-20 minutes,
    and odd devices report a few milliseconds after the round's time. The last `late`
    devices start reporting half-way."""
    rng = np.random.default_rng(seed)
    fleet = []
    for index in range(devices):
        model = MODELS[index % len(MODELS)](rng)
        faults = sorted(model.fault_types)
        fault = faults[int(rng.integers(len(faults)))]
        fault_from = int(rng.integers(ROUNDS // 4, ROUNDS * 3 // 4))
        gap = None
        if index % 3 == 0:
            gap_from = int(rng.integers(ROUNDS // 5, ROUNDS * 4 // 5))
            gap = (gap_from, gap_from + int(rng.integers(24, 120)))
        fleet.append((model, f"dev-{index:03d}", fault, fault_from, gap, index % 2 * index))
    rows: list[tuple[int, int, str]] = []
    for round_ in range(ROUNDS):
        for order, (model, device_id, fault, fault_from, gap, offset_ms) in enumerate(fleet):
            t_ms = START_MS + round_ * STEP_MS + offset_ms
            active = []
            if round_ >= fault_from:
                active = [ActiveFault(fault, (round_ - fault_from) * STEP_MS / 1000)]
            metrics = model.sample(t_ms, STEP_MS / 1000, active)
            if gap is not None and gap[0] <= round_ < gap[1]:
                continue
            if order >= devices - late and round_ < ROUNDS // 2:
                continue
            cells = [csv_cell(metrics.get(name)) for name in METRIC_COLUMNS]
            row = ",".join([rfc3339_ms(t_ms) or "", "s1", "b1", model.kind, device_id, *cells])
            rows.append((t_ms, order, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    header = ",".join([*IDENTITY_COLUMNS, *METRIC_COLUMNS])
    path.write_text(header + "\n" + "".join(row + "\n" for _, _, row in rows))
    return path


def _replay(path: Path, in_file_order: bool) -> Replay:
    options = replay_options(Settings())
    replay = Replay(replay_database(), options)
    if in_file_order:
        replay.judge_in_file_order()
    with path.open(newline="", encoding="utf-8") as stream:
        replay.feed(read_csv(stream))
    return replay


def _outcome(replay: Replay) -> dict[str, Any]:
    findings = [
        (
            r.time_ms,
            r.finding.device.device_id,
            r.finding.detector,
            r.finding.onset_ms,
            r.finding.summary,
            repr(r.finding.evidence),
            r.ticket_id,
            r.opened,
        )
        for r in replay.findings
    ]
    tickets = [
        (row["ticket"].id, row["ticket"].device_id, row["ticket"].fault_type, row["detectors"])
        for row in replay.ticket_rows()
    ]
    stats = replay.stats
    return {
        "findings": findings,
        "tickets": tickets,
        "samples": stats.samples,
        "devices": sorted(stats.devices),
        "ticks": stats.ticks,
        "last_ms": stats.last_ms,
        "clock_ms": replay.clock.ms,
        "least_recent_first": replay.bank.devices_by_use(),
    }


@pytest.mark.parametrize("block_rows", [7, 256, runner.BLOCK_ROWS, None])
def test_judging_by_device_raises_what_the_file_order_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_rows: int | None
) -> None:
    path = _write_fleet_csv(tmp_path / "fleet.csv", devices=24, seed=7)
    expected = _outcome(_replay(path, in_file_order=True))
    if block_rows is not None:  # None: the size the replay chooses
        monkeypatch.setattr(runner, "BLOCK_ROWS", block_rows)
        monkeypatch.setattr(runner, "MAX_BLOCK_ROWS", block_rows)
    assert _outcome(_replay(path, in_file_order=False)) == expected
    # The data is worth comparing on: faults of several kinds, offline on the gaps.
    kinds = {finding[2] for finding in expected["findings"]}
    assert "offline" in kinds and len(kinds) >= 5, kinds


def test_beyond_max_devices_the_same_devices_are_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `max_devices` the bank forgets the device used least recently. Blocks judged
    by device leave the bank's order of use as the file's order would, and once devices
    are to be forgotten the replay judges in the file's order: the same devices go."""
    path = _write_fleet_csv(tmp_path / "fleet.csv", devices=12, seed=3, late=3)
    monkeypatch.setattr(runner, "BLOCK_ROWS", 23)
    monkeypatch.setattr(runner, "MAX_BLOCK_ROWS", 23)
    outcomes = []
    for in_file_order in (True, False):
        replay = Replay(replay_database(), replay_options(Settings()))
        replay.bank.max_devices = 10
        if in_file_order:
            replay.judge_in_file_order()
        with path.open(newline="", encoding="utf-8") as stream:
            replay.feed(read_csv(stream))
        outcomes.append(_outcome(replay))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]["least_recent_first"]) == 10
