"""How long saving and restoring detector state takes for a fleet, and where the time goes.

A simulated healthy fleet (the four kinds in turn) is fed through a `KeptBank` for
`--hours` of data time at one sample per `--every-s`, so that each detector holds what it
learns in that time. Then one save round is timed: the snapshot (intake-thread time)
and the upsert (writer-thread time), and a restore into a new bank from the saved rows.

    .venv/bin/python -m tools.bench_detector_state --devices 10000 --hours 2 --every-s 60
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

from contract.payload import Sample, decode_message
from contract.topics import topic_for
from facmon.gc_tuning import GC_THRESHOLDS
from facmon.schema import create_schema
from ingest.detector_state import KeptBank, StateKeeper
from ingest.pipeline.points import sample_point
from simulators.fleet import Fleet, generated_devices
from simulators.scenario import parse_scenario
from storage.detector_state import DetectorStateStore
from storage.sql import make_engine
from storage.timeseries.sqlite import SQLiteSeriesStore


def feed(
    bank: KeptBank, devices: int, hours: float, every_s: float, keep: set[str] | None = None
) -> tuple[int, float, list[Sample]]:
    """Feed the fleet's samples to the bank; return those of the `keep` devices too."""
    start_ms = int(time.time() * 1000) - int(hours * 3_600_000)
    scenario = parse_scenario(
        {"site": "bench", "start": "0s", "speed": 1, "rate_hz": 1 / every_s, "devices": []}
    )
    fleet = Fleet(scenario, seed=1, start_ms=start_ms, extra_devices=devices)
    fed = 0
    kept: list[Sample] = []
    started = time.perf_counter()
    end_ms = start_ms + int(hours * 3_600_000)
    step_ms = 600_000
    t_ms = start_ms
    while t_ms < end_ms:
        t_ms = min(t_ms + step_ms, end_ms)
        for message in fleet.advance_to(t_ms):
            try:
                decoded = decode_message(
                    topic_for(message.device, message.channel), message.payload, t_ms + 1
                )
            except ValueError:
                continue
            if decoded.sample is not None:
                bank.on_sample(decoded.sample)
                fed += 1
                if keep and decoded.sample.device.device_id in keep:
                    kept.append(decoded.sample)
            elif decoded.event is not None:
                bank.on_event(decoded.event)
    return fed, time.perf_counter() - started, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--every-s", type=float, default=60.0)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--replay-devices", type=int, default=200, help="devices rebuilt from history at the end"
    )
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # as the service runs (facmon.gc_tuning)
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'state.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    store = DetectorStateStore(engine)

    bank = KeptBank()
    replayed = {spec.device_id for spec in generated_devices(args.replay_devices)}
    fed, feed_s, history = feed(bank, args.devices, args.hours, args.every_s, replayed)
    print(f"fed {fed} samples to {len(bank)} devices in {feed_s:.1f} s", flush=True)

    offset = [0.0]  # the keeper's clock, moved on to the next save
    keeper = StateKeeper(
        bank, store, None, save_every_s=60, monotonic_s=lambda: time.monotonic() + offset[0]
    )
    keeper.start()
    offset[0] = 61.0
    ticks = 0
    round_started = time.perf_counter()
    longest_tick = 0.0
    intake_cpu_s = 0.0  # CPU time of this thread: the machine may be shared
    tick_cpu: list[float] = []
    while True:
        tick_started = time.perf_counter()
        cpu_started = time.thread_time()
        bank.tick()
        tick_cpu.append(time.thread_time() - cpu_started)
        longest_tick = max(longest_tick, time.perf_counter() - tick_started)
        ticks += 1
        if not keeper._round and not keeper._round_rows:
            break
    while keeper.last_save is None:
        time.sleep(0.01)
    figures = keeper.last_save
    keeper.stop()
    intake_cpu_s = sum(tick_cpu)
    tick_cpu.sort()
    print(
        f"save round: {figures.devices} devices, {figures.rows} rows; snapshot on the intake "
        f"thread: {intake_cpu_s:.2f} s CPU ({figures.snapshot_s:.2f} s wall) over {ticks} ticks, "
        f"median tick {tick_cpu[len(tick_cpu) // 2] * 1000:.1f} ms CPU, "
        f"longest {tick_cpu[-1] * 1000:.1f} ms CPU ({longest_tick * 1000:.1f} ms wall); "
        f"upsert on the writer thread: {figures.write_s:.2f} s wall, longest transaction "
        f"{figures.longest_transaction_s * 1000:.0f} ms "
        f"({time.perf_counter() - round_started:.1f} s wall for the round, ticks back to back)"
    )
    size = sum(len(row.state) for row in store.load())
    print(f"state bytes: {size / 1e6:.1f} MB ({size / max(figures.rows, 1):.0f} per row)")

    restored = KeptBank()
    cpu_started = time.process_time()
    report = StateKeeper(restored, store, None).restore()
    print(
        f"restore: {report.devices} devices, {report.restored} detectors restored, "
        f"{report.rebuilt} rebuilt, {report.skipped} skipped, in {report.seconds:.2f} s wall, "
        f"{time.process_time() - cpu_started:.2f} s CPU"
    )

    replay(history, replayed, args.hours)


def replay(history: list[Sample], devices: set[str], hours: float) -> None:
    """A first start with no saved state: the devices are rebuilt from their history."""
    folder = Path(tempfile.mkdtemp())
    series = SQLiteSeriesStore(folder / "series.sqlite")
    series.write([sample_point(sample) for sample in history])
    engine = make_engine(f"sqlite:///{folder / 'empty.sqlite'}")
    create_schema(engine)
    known = list({sample.device.device_id: sample.device for sample in history}.values())
    keeper = StateKeeper(KeptBank(), DetectorStateStore(engine), series, replay_hours=hours + 1)
    cpu_started = time.process_time()
    report = keeper.restore(known)
    cpu_s = time.process_time() - cpu_started
    print(
        f"replay: {len(devices)} devices rebuilt from {report.replayed_samples} samples "
        f"in {report.seconds:.2f} s wall, {cpu_s:.2f} s CPU "
        f"({report.replayed_samples / max(cpu_s, 1e-9):,.0f} samples per CPU second)"
    )


if __name__ == "__main__":
    main()
