"""`facmon bench latency` runs end to end on real servers and reports well-formed figures.

Only the shape and plausibility are checked: latencies depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import pytest

from contract.payload import Sample
from contract.topics import DeviceRef
from tools.bench_latency import (
    FAULT_KEYS,
    FAULTS,
    FaultSpec,
    _fault_type,
    _first_firing,
    bench_latency,
    plan_trial,
)

FIGURES = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


@pytest.mark.parametrize("spec", [s for s in FAULTS if s.model_fault], ids=lambda s: s.key)
def test_the_trigger_is_the_first_message_that_opens_the_fault(spec: FaultSpec) -> None:
    """The lead-in alone opens nothing; the trigger, right after it, opens the ticket."""
    device = DeviceRef("s1", spec.key, spec.kinds[0], "dev-1")
    now_ms = int(time.time() * 1000)
    plan = plan_trial(spec, device, seed=3, now_ms=now_ms)
    steps = [*plan.lead, plan.final]
    assert _first_firing(device, steps, _fault_type(spec)) == len(plan.lead)
    assert plan.final.ts_ms == now_ms
    assert [s.seq for s in steps] == sorted({s.seq for s in steps})


def test_an_offline_trial_ends_with_a_sample_before_the_drop() -> None:
    spec = next(s for s in FAULTS if s.model_fault is None)
    plan = plan_trial(spec, DeviceRef("s1", "b", "pump", "dev-2"), seed=3, now_ms=10**12)
    assert isinstance(plan.final, Sample)
    assert plan.final.ts_ms == 10**12
    assert plan.lead_seq < plan.final.seq
    assert _first_firing(plan.device, [*plan.lead, plan.final], _fault_type(spec)) is None


def test_an_offline_grace_too_short_to_tell_a_will_from_silence_is_refused() -> None:
    args = argparse.Namespace(trials=1, runs=1, offline_after=0.5, faults=None, json=True)
    assert bench_latency(args) == 2


def test_bench_latency_reports_plausible_figures_for_every_fault() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "latency"]
    argv += ["--trials", "2", "--offline-after", "2", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert list(report["faults"]) == list(FAULT_KEYS)
    for key, fault in report["faults"].items():
        assert fault["trials"] == 2, key
        values = [fault[name] for name in FIGURES]
        assert all(math.isfinite(v) and v > 0 for v in values), (key, values)
        assert values == sorted(values), (key, values)
        assert isinstance(fault["p99_under_target"], bool)
        assert math.isfinite(fault["opened_p50_ms"])
    offline = report["faults"]["offline_will"]
    # A will counts only after the grace: the figures include it.
    assert offline["p50_ms"] >= 2_000
    after = offline["after_grace"]
    assert after["p50_ms"] == pytest.approx(offline["p50_ms"] - 2_000, abs=0.2)
    assert (report["trials"], report["runs"], report["target_ms"]) == (2, 1, 2_000)
    assert report["cpu_count"] >= 1 and report["python"].count(".") == 2
    assert "door_held_open 2/2:" in done.stderr


def test_without_a_will_grace_the_offline_row_has_nothing_to_net_out() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "latency", "--faults", "offline_will"]
    argv += ["--trials", "2", "--offline-after", "2", "--will-grace", "0", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["will_grace_s"] == 0
    offline = report["faults"]["offline_will"]
    assert offline["trials"] == 2 and "after_grace" not in offline
    assert all(math.isfinite(offline[name]) and offline[name] > 0 for name in FIGURES)
