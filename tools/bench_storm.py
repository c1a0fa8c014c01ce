"""`facmon bench storm`: every device of a fleet goes offline at once (a site-wide power
cut) on real servers: the lag the finding storm adds to ingestion, and the time until
the last ticket exists.

Real Mosquitto and InfluxDB on free loopback ports, one `facmon ingest` worker (as
`facmon run` starts it) over a SQL database (a SQLite file by default, or
`--database-url`), and the soak bench's load generators (`tools.bench_soak`): the
fleet publishes one sample per device per period, then stops at once, so the
`offline` detector fires for every device `--offline-after` seconds later. A few
witness devices keep publishing through the storm: their samples carry the lag.

Lag is what the worker observes when a sample is durable and acknowledged (the
histogram `facmon_ingest_durable_lag_seconds`, read from its metrics port): over the
second half of the steady load ("before"), and from the outage until every ticket
exists and every sample published by then is durable ("storm"). The ticket time counts
from the outage (the fleet's last scheduled sample) to the moment the database holds
an `offline` ticket for every device of the fleet; `--offline-after` of it is the
detector waiting out the silence, the rest is recording. Medians over `--runs`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench import READY_TIMEOUT_S, BenchError
from tools.bench_soak import (
    ACKED,
    AUTOSAVE,
    GENERATOR_NICE,
    INGESTED_METRIC,
    LAG_MAX_METRIC,
    LAG_METRIC,
    PENDING_METRIC,
    STRIDE,
    LoggedWorkers,
    _publisher_process,
    _tail,
    bench_workers,
    plan_devices,
)

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from observability.histogram import HistogramSnapshot
    from tools.servers import InfluxServer, MosquittoServer

DEFAULT_DATABASE = "sqlite"
POLL_S = 0.1
WORKER_READY_TIMEOUT_S = 90.0


def add_storm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--devices", type=int, default=10_000, help="devices that go offline at once"
    )
    parser.add_argument(
        "--witnesses",
        type=int,
        default=500,
        help="devices that keep publishing through the storm, whose lag is measured",
    )
    parser.add_argument("--rate", type=float, default=1.0, help="samples per second per device")
    parser.add_argument(
        "--warmup", type=float, default=30.0, help="seconds of steady load before the outage"
    )
    parser.add_argument(
        "--offline-after",
        type=float,
        default=10.0,
        help="FACMON_OFFLINE_AFTER_S for the worker: silence before a device counts as offline",
    )
    parser.add_argument(
        "--ticket-timeout",
        type=float,
        default=300.0,
        help="seconds after the outage to wait for the last ticket",
    )
    parser.add_argument(
        "--sites",
        type=int,
        default=8,
        help="sites the fleet spreads over (the witnesses get a quarter as many of their own)",
    )
    parser.add_argument("--publishers", type=int, default=2, help="fleet load-generator processes")
    parser.add_argument(
        "--database-url",
        help="FACMON_DATABASE_URL for the worker, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test (default: a SQLite file)",
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _progress(text: str) -> None:
    print(f"[storm] {text}", file=sys.stderr, flush=True)


@dataclass
class Scrape:
    """One read of the worker's metrics."""

    lag: HistogramSnapshot | None
    lag_max_s: float
    pending: float
    ingested: float


def scrape(port: int) -> Scrape:
    import httpx

    from observability.exposition import parse_histogram, parse_samples

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10.0).text
    return Scrape(
        parse_histogram(text, LAG_METRIC),
        max((value for _, value in parse_samples(text, LAG_MAX_METRIC)), default=0.0),
        sum(value for _, value in parse_samples(text, PENDING_METRIC)),
        sum(value for _, value in parse_samples(text, INGESTED_METRIC)),
    )


def _quantiles(hist: HistogramSnapshot | None) -> dict[str, float | None]:
    if hist is None or hist.count == 0:
        return {"p50": None, "p99": None}
    return {name: hist.quantile(q) for name, q in (("p50", 0.5), ("p99", 0.99))}


@dataclass
class StormRun:
    lag_before_s: dict[str, float | None]
    lag_storm_s: dict[str, float | None]
    lag_max_before_s: float
    lag_max_storm_s: float | None  # None: not above the maximum before the storm
    lag_samples_before: int
    lag_samples_storm: int
    pending_peak: float
    tickets: int
    witnesses_offline: int  # false offline tickets of devices that never stopped
    ticket_s: float | None  # outage to the last ticket; None: not all within the timeout
    wall_s: float


class TicketCounter:
    """`offline` tickets of this run's sites, counted in the worker's database."""

    def __init__(self, url: str, site_prefix: str) -> None:
        from sqlalchemy import text

        from storage.sql import make_engine

        self.engine = make_engine(url)
        self.query = text(
            "SELECT count(*) FROM tickets WHERE fault_type = 'offline' AND site LIKE :prefix"
        )
        self.prefix = f"{site_prefix}%"

    def count(self) -> int:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            with self.engine.connect() as connection:
                return int(connection.execute(self.query, {"prefix": self.prefix}).scalar_one())
        except (OperationalError, ProgrammingError):
            return 0  # the worker has not created the schema yet

    def close(self) -> None:
        self.engine.dispose()


def storm_run(
    args: argparse.Namespace, mosquitto: MosquittoServer, influx: InfluxServer, workdir: Path
) -> StormRun:
    """One outage: steady load, every fleet device silent at once, tickets counted."""
    import multiprocessing
    from multiprocessing.queues import Queue

    began = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    # The fleet and the witnesses on sites of their own, so that tickets of either are
    # counted apart; device ids unique across both (the witnesses number on).
    fleet_sites = [f"storm-{tag}-f{n:02d}" for n in range(args.sites)]
    witness_sites = [f"storm-{tag}-w{n:02d}" for n in range(max(1, args.sites // 4))]
    fleet = plan_devices(args.devices, fleet_sites, args.rate)
    witnesses = plan_devices(args.devices + args.witnesses, witness_sites, args.rate)[
        args.devices :
    ]
    data_dir = workdir / f"data-{tag}"
    logs = workdir / f"logs-{tag}"
    logs.mkdir(parents=True)
    database_url = args.database_url or f"sqlite:///{data_dir / 'storm.sqlite'}"
    specs, env = bench_workers(
        1,
        fleet_sites + witness_sites,
        f"facmon-storm-{tag}",
        mosquitto,
        influx,
        f"storm_{tag}",
        data_dir,
    )
    metrics_port = int(specs[0].env["FACMON_METRICS_PORT"])
    env |= {
        "FACMON_DATABASE_URL": database_url,
        "FACMON_OFFLINE_AFTER_S": str(args.offline_after),
    }
    workers = LoggedWorkers(specs, env, logs)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    start = context.Array("d", 1, lock=False)
    loads = [(fleet[p :: args.publishers], args.warmup) for p in range(args.publishers)]
    # The witnesses publish until the run ends (it stops them).
    loads.append((witnesses, args.warmup + args.ticket_timeout + 60.0))
    counters = context.Array("d", len(loads) * STRIDE, lock=False)
    results: Queue[tuple[str, str, float | str]] = context.Queue()
    publishers: list[SpawnProcess] = [
        context.Process(
            target=_publisher_process,
            args=(
                mosquitto.port,
                f"facmon-storm-pub-{tag}-{p}",
                share,
                args.rate,
                duration,
                start,
                go,
                counters,
                p,
                results,
                GENERATOR_NICE,
            ),
            daemon=True,
        )
        for p, (share, duration) in enumerate(loads)
        if share
    ]
    counter: TicketCounter | None = None
    try:
        workers.start()
        _wait_for_worker(workers, metrics_port, data_dir)
        counter = TicketCounter(database_url, f"storm-{tag}-f")
        for process in publishers:
            process.start()
        for _ in publishers:
            state, who, detail = results.get(timeout=READY_TIMEOUT_S * 2)
            if state != "ready":
                raise BenchError(f"load generator {who} failed: {detail}")
        t0 = time.time() + 1.0
        start[0] = t0
        go.set()
        outage = t0 + args.warmup
        _progress(
            f"{args.devices:,} devices and {args.witnesses:,} witnesses publishing for "
            f"{args.warmup:g} s, then the {args.devices:,} go silent"
        )
        _sleep_until(t0 + args.warmup / 2)
        half = scrape(metrics_port)
        _sleep_until(outage)
        before = scrape(metrics_port)
        tickets, last_ticket, pending_peak = 0, None, before.pending
        next_scrape = time.time()
        while time.time() < outage + args.ticket_timeout:
            tickets = counter.count()
            if time.time() >= next_scrape:
                pending_peak = max(pending_peak, scrape(metrics_port).pending)
                next_scrape = time.time() + 0.5
            if tickets >= args.devices:
                last_ticket = time.time()
                break
            time.sleep(POLL_S)
        ticket_s = None if last_ticket is None else last_ticket - outage
        _progress(
            f"{tickets:,} offline tickets "
            + (f"{ticket_s:.1f} s after the outage" if ticket_s is not None else "at the timeout")
        )
        # Every sample published until now is durable before the storm's lag is read.
        published = sum(counters[p * STRIDE + ACKED] for p in range(len(loads)))
        settle_until = time.time() + 120.0
        after = scrape(metrics_port)
        while after.ingested < published and time.time() < settle_until:
            time.sleep(0.2)
            after = scrape(metrics_port)
            pending_peak = max(pending_peak, after.pending)
        # A witness stuck behind the storm looks silent: its offline ticket is a false one.
        false_offline = TicketCounter(database_url, f"storm-{tag}-w")
        witnesses_offline = false_offline.count()
        false_offline.close()
    finally:
        go.set()
        for process in publishers:
            if process.is_alive():
                process.kill()
            process.join(10)
        workers.stop()
        if counter is not None:
            counter.close()
    steady = None if before.lag is None or half.lag is None else before.lag - half.lag
    storm = None if after.lag is None or before.lag is None else after.lag - before.lag
    return StormRun(
        lag_before_s=_quantiles(steady),
        lag_storm_s=_quantiles(storm),
        lag_max_before_s=before.lag_max_s,
        lag_max_storm_s=after.lag_max_s if after.lag_max_s > before.lag_max_s else None,
        lag_samples_before=0 if steady is None else steady.count,
        lag_samples_storm=0 if storm is None else storm.count,
        pending_peak=pending_peak,
        tickets=tickets,
        witnesses_offline=witnesses_offline,
        ticket_s=ticket_s,
        wall_s=time.perf_counter() - began,
    )


def _sleep_until(when: float) -> None:
    while (left := when - time.time()) > 0:
        time.sleep(min(left, 0.5))


def _wait_for_worker(workers: LoggedWorkers, port: int, data_dir: Path) -> None:
    """The worker answers on its metrics port and holds its subscriptions."""
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
    spec = workers.specs[0]
    state = data_dir / f"subscriptions-{spec.client_id}.json"
    while True:
        try:
            scrape(port)
            if state.exists():
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            raise BenchError(
                f"ingest worker {spec.client_id} did not come up within "
                f"{WORKER_READY_TIMEOUT_S:.0f} s; its log ends with:\n"
                + _tail(workers.log_path(spec))
            )
        time.sleep(0.2)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 4) if known else None


def summarize(args: argparse.Namespace, runs: list[StormRun]) -> dict[str, Any]:
    def added(q: str) -> list[float | None]:
        return [
            None
            if r.lag_storm_s[q] is None or r.lag_before_s[q] is None
            else r.lag_storm_s[q] - r.lag_before_s[q]  # type: ignore[operator]
            for r in runs
        ]

    median = {
        "lag_before_p50_s": _median([r.lag_before_s["p50"] for r in runs]),
        "lag_before_p99_s": _median([r.lag_before_s["p99"] for r in runs]),
        "lag_storm_p50_s": _median([r.lag_storm_s["p50"] for r in runs]),
        "lag_storm_p99_s": _median([r.lag_storm_s["p99"] for r in runs]),
        "lag_added_p50_s": _median(added("p50")),
        "lag_added_p99_s": _median(added("p99")),
        "lag_max_before_s": _median([r.lag_max_before_s for r in runs]),
        "lag_max_storm_s": _median([r.lag_max_storm_s for r in runs]),
        "pending_peak": _median([r.pending_peak for r in runs]),
        "ticket_s": _median([r.ticket_s for r in runs]),
    }
    return {
        "devices": args.devices,
        "witnesses": args.witnesses,
        "rate_hz": args.rate,
        "warmup_s": args.warmup,
        "offline_after_s": args.offline_after,
        "database": (args.database_url or DEFAULT_DATABASE).split(":", 1)[0],
        "runs": [asdict(r) for r in runs],
        "all_tickets": all(r.tickets >= args.devices for r in runs),
        "median": median,
        "cpu_count": os.cpu_count(),
    }


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def print_report(report: dict[str, Any]) -> None:
    m = report["median"]
    runs = report["runs"]
    print(
        f"facmon bench storm: {report['devices']:,} devices offline at once, "
        f"{report['witnesses']:,} witnesses, {report['rate_hz']:g} Hz, "
        f"offline after {report['offline_after_s']:g} s, database {report['database']}, "
        f"{len(runs)} runs ({report['cpu_count']} CPUs)"
    )
    print(f"{'':34}{'median':>10}     per run")

    def row(label: str, value: float | None, values: list[float | None]) -> None:
        per_run = "  ".join(f"{'n/a' if v is None else f'{v:.3f}':>8}" for v in values)
        print(f"{label:34}{_s(value):>10}   {per_run}")

    row("lag p50 before", m["lag_before_p50_s"], [r["lag_before_s"]["p50"] for r in runs])
    row("lag p99 before", m["lag_before_p99_s"], [r["lag_before_s"]["p99"] for r in runs])
    row("lag p50 during the storm", m["lag_storm_p50_s"], [r["lag_storm_s"]["p50"] for r in runs])
    row("lag p99 during the storm", m["lag_storm_p99_s"], [r["lag_storm_s"]["p99"] for r in runs])
    row("lag max before", m["lag_max_before_s"], [r["lag_max_before_s"] for r in runs])
    row("lag max during the storm", m["lag_max_storm_s"], [r["lag_max_storm_s"] for r in runs])
    row("outage to the last ticket", m["ticket_s"], [r["ticket_s"] for r in runs])
    print(
        f"lag added by the storm: p50 {_s(m['lag_added_p50_s'])}, p99 {_s(m['lag_added_p99_s'])}"
        f"; messages waiting at the peak {m['pending_peak']:,.0f}"
    )
    print("(lag max n/a: not above the maximum before the storm)")
    print(
        "witnesses ticketed offline (false: they never stopped)  "
        + "  ".join(str(r["witnesses_offline"]) for r in runs)
    )
    print(f"every device ticketed   {'yes' if report['all_tickets'] else 'NO'}")


def bench_storm(args: argparse.Namespace) -> int:
    from tools.servers import InfluxServer, MosquittoServer

    if args.devices < 1 or args.witnesses < 1 or args.runs < 1 or args.publishers < 1:
        print("--devices, --witnesses, --runs and --publishers must be at least 1", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="facmon-storm-"))
    mosquitto = MosquittoServer(workdir / "mosquitto", extra_config=AUTOSAVE)
    influx = InfluxServer(workdir / "influx")
    runs: list[StormRun] = []
    try:
        for server in (mosquitto, influx):
            server.workdir.mkdir()
        _progress("starting Mosquitto and InfluxDB on free ports")
        mosquitto.start()
        influx.start()
        for n in range(args.runs):
            _progress(f"run {n + 1}/{args.runs}")
            runs.append(storm_run(args, mosquitto, influx, workdir))
    except BenchError as exc:
        print(f"facmon bench storm: {exc}", file=sys.stderr)
        return 1
    finally:
        influx.cleanup()
        mosquitto.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    report = summarize(args, runs)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0
