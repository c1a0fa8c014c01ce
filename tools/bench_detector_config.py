"""What the detector configuration file costs: per sample, and per reload.

    .venv/bin/python -m tools.bench_detector_config [--devices 10000] [--runs 5]

Prints medians of `--runs`: the bank's time per sample with no file, with a file (and
nothing staged: the one check a sample pays), the check alone, and the time a reload
takes to retune every running detector of `--devices` lighting circuits.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from contract.payload import Sample
from contract.topics import DeviceRef
from detectors.config_file import parse_detector_config
from detectors.registry import DetectorBank

T0 = 1_800_000_000_000


def _per_call_ns(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - started) / calls


def _samples(devices: int, rounds: int) -> list[Sample]:
    refs = [DeviceRef("s", f"b{i % 20}", "lighting", f"c{i}") for i in range(devices)]
    return [
        Sample(ref, T0 + r * 60_000, r, {"on": True, "current_a": 4.0 + (i % 7) * 0.01})
        for r in range(rounds)
        for i, ref in enumerate(refs)
    ]


def _sample_ns(bank: DetectorBank, batch: list[Sample]) -> float:
    for sample in batch[: len(batch) // 4]:  # warm: every device's detectors exist
        bank.on_sample(sample)
    rest = batch[len(batch) // 4 :]
    started = time.perf_counter_ns()
    for sample in rest:
        bank.on_sample(sample)
    return (time.perf_counter_ns() - started) / len(rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    v1 = parse_detector_config("version: 1\nkinds: {lighting: {lighting_lamp_failure: {}}}\n", "v1")
    v2 = parse_detector_config(
        "version: 2\nkinds: {lighting: {lighting_lamp_failure: {min_ratio: 0.5, window: 7}}}\n",
        "v2",
    )
    batch = _samples(1000, 40)
    plain: list[float] = []
    with_file: list[float] = []
    check: list[float] = []
    reload_ms: list[float] = []
    for run in range(args.runs):
        # alternate which goes first, and start each from a collected heap
        for config in (None, v1) if run % 2 == 0 else (v1, None):
            gc.collect()
            (plain if config is None else with_file).append(
                _sample_ns(DetectorBank(config=config), batch)
            )
        bank = DetectorBank(config=v1)

        def staged_check(bank: DetectorBank = bank) -> None:
            if bank._staged is not None:
                bank._apply_staged()

        check.append(_per_call_ns(staged_check, 1_000_000) - _per_call_ns(lambda: None, 1_000_000))
        big = DetectorBank(config=v1)
        for i in range(args.devices):
            big.detectors_for(DeviceRef("s", f"b{i % 20}", "lighting", f"c{i}"))
        big.configure(v2)
        started = time.perf_counter()
        big.tick()  # applies the staged file on this (the feeding) thread
        reload_ms.append((time.perf_counter() - started) * 1000)
    print(f"per sample, no file:             {statistics.median(plain) / 1000:.2f} us")
    print(f"per sample, with a file:         {statistics.median(with_file) / 1000:.2f} us")
    print(f"the staged-reload check alone:   {statistics.median(check):.1f} ns")
    print(
        f"reload retuning {args.devices} circuits' lamp detectors: "
        f"{statistics.median(reload_ms):.0f} ms"
    )


if __name__ == "__main__":
    main()
