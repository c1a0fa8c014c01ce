"""`facmon bench ingest` runs end to end on real servers and reports consistent figures.

Only the shape and the bookkeeping are checked: speeds depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ingest.sharding import assign_units
from tools.bench import Fleet, lay_out, make_fleet, parse_workers


def _bench(options: str) -> tuple[dict[str, Any], str]:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "ingest", *options.split(), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report, done.stderr


def _check_config(report: dict[str, Any], config: dict[str, Any]) -> None:
    assert config["ingest_msgs_per_s"] > 0 and config["ratio"] > 0
    for rate, ratio, raw in zip(
        config["ingest_runs"], config["ratio_runs"], report["raw_runs"], strict=True
    ):
        assert ratio == pytest.approx(rate / raw, rel=1e-2)
    assert config["count_ok"] is True
    assert config["resolution_s"] >= report["poll_s"]
    assert config["cores_busy"]["ingest"] > 0


def test_bench_ingest_compares_one_process_with_two_workers_on_c_publishers() -> None:
    report, stderr = _bench("--messages 2000 --devices 16 --workers 1,2 --runs 1")
    assert (report["messages"], report["devices"], report["runs"]) == (2000, 16, 1)
    assert report["load"] == "c" and report["publishers"] == 16
    assert report["raw_msgs_per_s"] > 0 and report["count_ok"] is True
    assert [c["workers"] for c in report["configs"]] == [1, 2]
    for config in report["configs"]:
        _check_config(report, config)
    (run,) = report["per_run"]
    assert [(x["workers"], x["stored"], x["missing"], x["extra"]) for x in run["ingest"]] == [
        (1, 2000, 0, 0),
        (2, 2000, 0, 0),
    ]
    assert "run 1/1: ingest, 1 process" in stderr and "run 1/1: ingest, 2 workers" in stderr


def test_bench_ingest_with_python_publishers() -> None:
    report, stderr = _bench("--messages 1000 --devices 8 --load python --publishers 2 --runs 2")
    assert report["load"] == "python" and report["publishers"] == 2
    assert report["runs"] == 2 and len(report["raw_runs"]) == 2
    (config,) = report["configs"]
    assert config["workers"] == 1
    _check_config(report, config)
    assert [x["stored"] for run in report["per_run"] for x in run["ingest"]] == [1000] * 2
    assert "run 2/2: ingest, 1 process" in stderr


def test_bad_worker_lists_are_refused() -> None:
    assert parse_workers("2,1,2") == [2, 1]
    for text in ("", "0", "1,x"):
        with pytest.raises(ValueError):
            parse_workers(text)
    argv = [sys.executable, "-m", "facmon.cli", "bench", "ingest", "--workers", "4"]
    done = subprocess.run([*argv, "--devices", "3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--devices" in done.stderr


def test_each_worker_gets_whole_sites_and_an_even_share_of_every_kind() -> None:
    fleet: Fleet = make_fleet(count=400, devices=100, now_ms=1_700_000_000_000)
    assert fleet.expected() == {device_id: 4 for device_id in fleet.ids}
    sites, topics = lay_out(fleet, 2, "b1")
    shares = assign_units(sites, 2)
    assert len(sites) == 8 and all(len(share) == 4 for share in shares)
    owner = {site: w for w, share in enumerate(shares) for site in share}
    per_worker: dict[tuple[int, str], int] = {}
    for topic, kind in zip(topics, fleet.kinds, strict=True):
        site = topic.split("/")[2]
        key = (owner[site], kind)
        per_worker[key] = per_worker.get(key, 0) + 1
    for kind in set(fleet.kinds):
        assert abs(per_worker[(0, kind)] - per_worker[(1, kind)]) <= 1
    assert sum(n for (w, _), n in per_worker.items() if w == 0) == 50
    # Every device's last message lies in the tail the completion poll counts.
    last_ts = [json.loads(p)["ts"] for p in fleet.payloads[-fleet.devices :]]
    assert min(last_ts) == fleet.tail_ts_ms
