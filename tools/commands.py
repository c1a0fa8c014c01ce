"""`facmon bench …` and `facmon evaluate …`, registered as `facmon.commands` entry points so
that the product's command line finds them in a development install without importing them."""

from __future__ import annotations

import argparse
from typing import Any

from tools.bench_backtest import add_bench_backtest_command
from tools.bench_board import add_bench_board_command
from tools.bench_latency import add_latency_command
from tools.bench_ledger import add_bench_ledger_command
from tools.bench_soak import add_soak_arguments
from tools.bench_storm import add_storm_arguments
from tools.bench_tickets import add_bench_tickets_command
from tools.evaluate_real import add_evaluate_real_command


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from tools.bench import bench_ingest

    return bench_ingest(args)


def cmd_bench_soak(args: argparse.Namespace) -> int:
    from tools.bench_soak import bench_soak

    return bench_soak(args)


def cmd_bench_storm(args: argparse.Namespace) -> int:
    from tools.bench_storm import bench_storm

    return bench_storm(args)


def cmd_evaluate_skab(args: argparse.Namespace) -> int:
    from tools.evaluate_skab import cmd_evaluate_skab as run

    return run(args)


def cmd_evaluate_scenarios(args: argparse.Namespace) -> int:
    from tools.evaluate_scenarios import cmd_evaluate_scenarios as run

    return run(args)


def add_bench_commands(sub: Any) -> None:
    """Add `bench ingest|soak|latency|backtest`."""
    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    ingest = bench_sub.add_parser("ingest", help="ingest throughput vs raw broker delivery")
    ingest.add_argument(
        "--messages", type=int, default=100_000, help="samples published per run (default 100,000)"
    )
    ingest.add_argument(
        "--devices", type=int, default=100, help="simulated devices publishing (default 100)"
    )
    ingest.add_argument(
        "--workers", default="1", help="ingest processes, or a list such as 1,2 to compare"
    )
    ingest.add_argument(
        "--load", choices=["c", "python"], default="c", help="mosquitto_pub per device, or paho"
    )
    ingest.add_argument("--publishers", type=int, default=2, help="paho processes (--load python)")
    ingest.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(func=cmd_bench_ingest)
    soak = bench_sub.add_parser(
        "soak", help="sustained device load on N ingest workers: lag percentiles and memory"
    )
    add_soak_arguments(soak)
    soak.set_defaults(func=cmd_bench_soak)
    storm = bench_sub.add_parser(
        "storm",
        help="every device offline at once: lag the finding storm adds, time to the last ticket",
    )
    add_storm_arguments(storm)
    storm.set_defaults(func=cmd_bench_storm)
    add_latency_command(bench_sub)
    add_bench_backtest_command(bench_sub)
    add_bench_tickets_command(bench_sub)
    add_bench_ledger_command(bench_sub)
    add_bench_board_command(bench_sub)


def add_evaluate_commands(sub: Any) -> None:
    """Add `evaluate skab|scenarios|real`."""
    evaluate = sub.add_parser("evaluate", help="judge detectors on data")
    eval_sub = evaluate.add_subparsers(dest="evaluate_command", required=True)
    skab = eval_sub.add_parser(
        "skab", help="the pump detector on SKAB under its protocol (F1, FAR, MAR, NAB, delay)"
    )
    skab.add_argument("--data", required=True, help="a folder laid out like SKAB's data/")
    skab.add_argument("--json", action="store_true", help="print one JSON object")
    skab.add_argument("--predictions", help="write per-file prediction CSVs under this folder")
    skab.add_argument(
        "--no-calibration",
        action="store_true",
        help="no drift allowance from the fault-free files: each file's first rows alone",
    )
    skab.set_defaults(func=cmd_evaluate_skab)
    scenarios = eval_sub.add_parser(
        "scenarios",
        help="every detector on the scenario library: recall, detection delay, "
        "false tickets per 1,000 device-days",
    )
    scenarios.add_argument("--json", action="store_true", help="print one JSON object")
    scenarios.add_argument(
        "--dir", help="folder of scenario files (default: simulators/scenarios/library)"
    )
    scenarios.add_argument(
        "--seed", type=int, default=1, help="first seed; runs use seed, seed+1, ..."
    )
    scenarios.add_argument(
        "--quick",
        action="store_true",
        help="one seed per file, fault-free runs cut to a day (device-day target not checked)",
    )
    scenarios.set_defaults(func=cmd_evaluate_scenarios)
    add_evaluate_real_command(eval_sub)
