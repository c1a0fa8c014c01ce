"""`facmon bench backtest`: samples per second of `facmon backtest` on a large CSV.

The CSV is generated once (and reused) from the simulators' healthy device models: every
kind, many devices, one sample per device every `--cadence-s` of data time, rows sorted by
time as the format requires. Each run replays it from a fresh in-memory ticket database
and detector bank, as `facmon backtest --input` does, and the median is printed with the
time of each phase: reading and decoding the CSV, the detectors, the ticks, the tickets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from contract.finding import Finding
from contract.payload import MetricValue, Sample
from contract.topics import DeviceRef
from detectors.base import Detector
from detectors.registry import DetectorBank, DeviceKey, SampleJudge
from facmon.cli.backtest import replay_database, replay_options
from facmon.gc_tuning import collecting_less
from facmon.settings import Settings
from ingest.backtest.csv_source import IDENTITY_COLUMNS, read_csv
from ingest.backtest.report import rfc3339_ms
from ingest.backtest.runner import DataClock, Replay
from simulators.models import AccessModel, DeviceModel, ElevatorModel, LightingModel, PumpModel

MODELS: dict[str, type[DeviceModel]] = {
    "elevator": ElevatorModel,
    "lighting": LightingModel,
    "pump": PumpModel,
    "access": AccessModel,
}
START_MS = 1_798_804_800_000  # 2027-01-01T12:00:00Z: a day's lighting switch-on is in it


def csv_cell(value: MetricValue | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def generate_rows(rows: int, devices: int, cadence_s: float, seed: int) -> Iterator[list[str]]:
    """`rows` data rows of `devices` healthy devices (kinds in turn), sorted by time."""
    rng = np.random.default_rng(seed)
    kinds = list(MODELS)
    fleet = [(kinds[i % len(kinds)], i) for i in range(devices)]
    fleet_ids = [(kind, f"bt-{kind[:3]}-{i:05d}", i) for kind, i in fleet]
    models = [MODELS[kind](rng) for kind, _ in fleet]
    columns = _metric_columns()
    step_ms = int(cadence_s * 1000)
    made = 0
    t_ms = START_MS
    while made < rows:
        ts = rfc3339_ms(t_ms) or ""
        for (kind, device_id, index), model in zip(fleet_ids, models, strict=True):
            if made >= rows:
                break
            # Devices report at staggered offsets within the cadence, as real ones do.
            metrics = model.sample(t_ms + index, cadence_s, [])
            yield [
                ts,
                "bench",
                f"b{index % 8}",
                kind,
                device_id,
                *(csv_cell(metrics.get(name)) for name in columns),
            ]
            made += 1
        t_ms += step_ms


def _metric_columns() -> list[str]:
    from ingest.backtest.csv_source import METRIC_COLUMNS

    return list(METRIC_COLUMNS)


def write_csv(path: Path, rows: int, devices: int, cadence_s: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join([*IDENTITY_COLUMNS, *_metric_columns()]) + "\n")
        for row in generate_rows(rows, devices, cadence_s, seed):
            out.write(",".join(row) + "\n")
    partial.replace(path)


def _read_only(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as stream:
        count = sum(1 for _ in read_csv(stream))
    return time.perf_counter() - started, count


class _DetectorFreeBank(DetectorBank):
    """The bank with every device's detectors looked up and none run: what the reader,
    the runner and the bank's loop cost alone (`--floor`)."""

    def on_sample(self, sample: Sample) -> list[Finding]:
        self.detectors_for(sample.device)
        return []

    def updates_for(self, device: DeviceRef) -> list[tuple[Detector, SampleJudge]]:
        self.detectors_for(device)
        return []

    def tick(self) -> list[Finding]:
        return []

    def tickers_of(self, key: DeviceKey) -> Sequence[Detector]:
        return ()


def _floor_bank(clock: DataClock) -> DetectorBank:
    return _DetectorFreeBank(clock_ms=clock.now_ms)


def _nothing(detector: Detector, sample: Sample) -> list[Finding]:
    return []


class _CallsOnlyBank(_DetectorFreeBank):
    """The bank's loop with each detector called and doing nothing: the floor plus the
    cost of dispatching a sample to every detector of its device (`--floor`)."""

    def on_sample(self, sample: Sample) -> list[Finding]:
        found: list[Finding] = []
        for detector in self.detectors_for(sample.device):
            raised = _nothing(detector, sample)
            if raised:
                found += raised
        return found

    def updates_for(self, device: DeviceRef) -> list[tuple[Detector, SampleJudge]]:
        return [(d, partial(_nothing, d)) for d in self.detectors_for(device)]


def _calls_only_bank(clock: DataClock) -> DetectorBank:
    return _CallsOnlyBank(clock_ms=clock.now_ms)


def _timed_replay(
    path: Path, bank_factory: Callable[[DataClock], DetectorBank] | None = None
) -> tuple[Replay, float, float]:
    """The CSV replayed from a fresh database: the replay, its wall and CPU seconds."""
    replay = Replay(replay_database(), replay_options(Settings()), bank_factory)
    started = time.perf_counter()
    cpu_started = time.process_time()
    with path.open(newline="", encoding="utf-8") as stream, collecting_less():
        replay.feed(read_csv(stream))  # with the collector set as `facmon backtest` sets it
    return replay, time.perf_counter() - started, time.process_time() - cpu_started


def _one_run(path: Path, floor: bool = False) -> dict[str, Any]:
    read_s, _ = _read_only(path)
    floor_per_s = calls_per_s = None
    if floor:
        bare, bare_s, _ = _timed_replay(path, _floor_bank)
        floor_per_s = bare.stats.samples / bare_s
        called, called_s, _ = _timed_replay(path, _calls_only_bank)
        calls_per_s = called.stats.samples / called_s
    replay, total_s, cpu_s = _timed_replay(path)
    stats = replay.stats
    ticks_s = max(stats.tick_s - stats.tick_ticket_s, 0.0)
    return {
        "samples": stats.samples,
        "bad_rows": len(replay.bad_rows),
        "findings": len(replay.findings),
        "tickets": replay.tickets.count(),
        "seconds": total_s,
        "cpu_seconds": cpu_s,
        "samples_per_s": stats.samples / total_s,
        "samples_per_cpu_s": stats.samples / cpu_s,
        "floor_samples_per_s": floor_per_s,
        "calls_only_samples_per_s": calls_per_s,
        "phases_s": {
            "read_and_decode": read_s,
            "detectors": max(total_s - read_s - ticks_s - stats.ticket_s, 0.0),
            "ticks": ticks_s,
            "tickets": stats.ticket_s,
        },
    }


def bench_backtest(args: argparse.Namespace) -> int:
    path = (
        Path(args.csv)
        if args.csv
        else Path(
            f".data/bench/backtest-{args.rows}-{args.devices}-{args.cadence_s:g}s-{args.seed}.csv"
        )
    )
    if not path.exists():
        print(f"generating {path} ({args.rows:,} rows, {args.devices} devices)", file=sys.stderr)
        write_csv(path, args.rows, args.devices, args.cadence_s, args.seed)
    runs = [_one_run(path, args.floor) for _ in range(max(args.runs, 1))]
    median = statistics.median(r["samples_per_s"] for r in runs)
    median_cpu = statistics.median(r["samples_per_cpu_s"] for r in runs)
    phases = {
        name: statistics.median(r["phases_s"][name] for r in runs) for name in runs[0]["phases_s"]
    }
    result = {
        "csv": str(path),
        "runs": len(runs),
        "samples": runs[0]["samples"],
        "bad_rows": runs[0]["bad_rows"],
        "findings": runs[0]["findings"],
        "tickets": runs[0]["tickets"],
        "median_samples_per_s": round(median),
        "per_run_samples_per_s": [round(r["samples_per_s"]) for r in runs],
        "median_samples_per_cpu_s": round(median_cpu),
        "load_average": round(os.getloadavg()[0], 2),
        "median_phases_s": {k: round(v, 3) for k, v in phases.items()},
    }
    if args.floor:
        floors = [r["floor_samples_per_s"] for r in runs]
        result["median_floor_samples_per_s"] = round(statistics.median(floors))
        result["per_run_floor_samples_per_s"] = [round(v) for v in floors]
        calls = [r["calls_only_samples_per_s"] for r in runs]
        result["median_calls_only_samples_per_s"] = round(statistics.median(calls))
        result["per_run_calls_only_samples_per_s"] = [round(v) for v in calls]
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"backtest of {path}: {result['samples']:,} samples, {len(runs)} run(s)")
    print(
        f"  median {result['median_samples_per_s']:,} samples/s "
        f"(runs: {', '.join(f'{v:,}' for v in result['per_run_samples_per_s'])}); "
        f"{result['median_samples_per_cpu_s']:,} per CPU second; "
        f"load average {result['load_average']}"
    )
    print(
        "  phases (median s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["median_phases_s"].items())
    )
    if args.floor:
        floor_runs = ", ".join(f"{v:,}" for v in result["per_run_floor_samples_per_s"])
        print(
            f"  without detectors (the floor): median {result['median_floor_samples_per_s']:,} "
            f"samples/s (runs: {floor_runs})"
        )
        calls_runs = ", ".join(f"{v:,}" for v in result["per_run_calls_only_samples_per_s"])
        print(
            "  every detector called, doing nothing: median "
            f"{result['median_calls_only_samples_per_s']:,} samples/s (runs: {calls_runs})"
        )
    print(
        f"  {result['findings']} finding(s), {result['tickets']} ticket(s), "
        f"{result['bad_rows']} bad row(s)"
    )
    return 0


def add_bench_backtest_command(bench_sub: Any) -> None:
    """Add `bench backtest` under `facmon bench`."""
    parser = bench_sub.add_parser(
        "backtest", help="samples/s of facmon backtest on a generated CSV (median of runs)"
    )
    parser.add_argument("--csv", help="replay this CSV instead of a generated one")
    parser.add_argument("--rows", type=int, default=200_000, help="rows to generate (200,000)")
    parser.add_argument("--devices", type=int, default=200, help="devices, all kinds (200)")
    parser.add_argument(
        "--cadence-s", type=float, default=10.0, help="seconds between a device's samples (10)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the median is printed")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also replay each run without running detectors (the reader's, runner's and "
        "bank's cost alone), and with every detector called and doing nothing (the "
        "dispatch's cost besides)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=lambda args: bench_backtest(args))
