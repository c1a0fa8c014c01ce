"""`facmon bench tickets`: list-query latency of the ticket API over a million tickets.

1. A fresh PostgreSQL schema gets the product's schema (every migration, so every index).
2. `--tickets` tickets (default 1,000,000) are loaded with COPY: 50 sites of up to 8
   buildings, 40,000 devices of the four kinds, three years of tickets, most closed out,
   the recent ones still in the loop, severities mostly minor, assignees and contractors,
   summaries as detectors write them. The indexes are dropped for the load and rebuilt
   from their own definitions afterwards (the fast way to bulk-load), then ANALYZE and VACUUM.
3. The API is started as `facmon run` serves it (uvicorn, a process of its own, a free
   port) and a fixed mix of filtered list queries is sent through HTTP, one at a time,
   `--requests` of each kind per run: latency percentiles per kind and overall, per run,
   and the median of the runs.

The schema is dropped afterwards unless `--keep`. Nothing here asserts a speed: the target
(p99 under 150 ms) is reported against the figures.

    facmon bench tickets
    facmon bench tickets --tickets 2000 --requests 5 --runs 1 --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_P99_MS = 150.0
API_APPLICATION = "facmon-bench-tickets"  # how the API's database sessions are told apart
SITES = 50
DEVICES = 40_000
ACTIVE_ROUNDS = 3  # a device's last three tickets may still be in the loop
SPAN = timedelta(days=3 * 365)
KIND_OF = ("elevator",) * 5 + ("lighting",) * 7 + ("pump",) * 3 + ("access",) * 5
FAULTS = {
    "elevator": ("door_slow", "door_reversals", "levelling_error", "entrapment", "vibration"),
    "lighting": ("lamp_out", "lights_left_on", "illuminance_low", "circuit_overcurrent"),
    "pump": ("vibration_rising", "dry_running", "pressure_low", "motor_overheat", "leak"),
    "access": ("door_held_open", "door_forced", "lock_slowing", "reader_offline"),
}
SUMMARIES = {
    "door_slow": "door close time {v:.1f} s above {t:.1f} s",
    "door_reversals": "{n} door reversals in 10 min",
    "levelling_error": "levelling error {v:.0f} mm at floor {n}",
    "entrapment": "电梯困人 passenger trapped, car stopped at floor {n}",
    "vibration": "car vibration RMS {v:.2f} g rising",
    "lamp_out": "照明盲区 lamp out, current fell to {v:.2f} A",
    "lights_left_on": "lights left on after hours, {v:.1f} kW",
    "illuminance_low": "illuminance {v:.0f} lux under {t:.0f} lux",
    "circuit_overcurrent": "circuit current {v:.1f} A over {t:.1f} A",
    "vibration_rising": "水泵 bearing vibration {v:.2f} mm/s rising toward {t:.1f}",
    "dry_running": "pump running dry: flow {v:.1f} m3/h at full current",
    "pressure_low": "outlet pressure {v:.2f} bar under {t:.2f} bar",
    "motor_overheat": "motor temperature {v:.0f} C over {t:.0f} C",
    "leak": "pressure loss with pump idle, suspected leak",
    "door_held_open": "门禁 door held open {v:.0f} s",
    "door_forced": "door forced open, no valid credential",
    "lock_slowing": "lock actuation {v:.0f} ms, slowing",
    "reader_offline": "reader heartbeat missing for {n} min",
}
SEVERITY_WEIGHTS = (("critical", 10), ("major", 35), ("minor", 55))
ACTIVE_STATE_WEIGHTS = (
    ("closed", 60),
    ("open", 6),
    ("dispatched", 10),
    ("acknowledged", 8),
    ("rectified", 8),
    ("verified", 4),
    ("reopened", 4),
)
DISPATCH_H = {"critical": 1, "major": 4, "minor": 24}
RECTIFY_H = {"critical": 4, "major": 24, "minor": 72}
ASSIGNEES = tuple(
    f"{family}.{n:02d}" for family in ("li", "wang", "zhang", "liu") for n in range(50)
)
CONTRACTORS = {kind: tuple(f"{kind} contractor {n}" for n in range(1, 6)) for kind in FAULTS}
COLUMNS = (
    "device_id",
    "site",
    "building",
    "kind",
    "fault_type",
    "severity",
    "detector_severity",
    "state",
    "summary",
    "detector",
    "detector_version",
    "evidence",
    "onset_ms",
    "opened_at",
    "updated_at",
    "occurrences",
    "assignee",
    "contractor",
    "dispatch_due_at",
    "acknowledge_due_at",
    "rectify_due_at",
    "recheck_due_at",
    "dispatched_at",
    "closed_at",
    "dispatch_breached",
    "rectify_breached",
    "escalation_level",
    "repeat_count",
    "previous_ticket_ids",
    "card",
    "reopen_count",
)


def _weighted(rng: random.Random, weights: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _w in weights], [w for _n, w in weights])[0]


def _stamp(moment: datetime | None) -> str:
    return r"\N" if moment is None else moment.isoformat()


def device_of(d: int) -> tuple[str, str, str, str]:
    """Device number d as (site, building, kind, device_id)."""
    kind = KIND_OF[d % len(KIND_OF)]
    site = d % SITES
    return f"site-{site:02d}", f"b{1 + (d // SITES) % (1 + site % 8)}", kind, f"{kind}-{d:05d}"


def ticket_lines(tickets: int, now: datetime, seed: int) -> Iterator[str]:
    """COPY text lines in `COLUMNS` order. Ticket i is device i % DEVICES's ticket number
    i // DEVICES, in time order; only a device's last ACTIVE_ROUNDS tickets may be open,
    each with a fault of its own, so the one-active-ticket-per-fault rule holds."""
    rng = random.Random(seed)
    rounds = max(1, -(-tickets // DEVICES))
    start = now - SPAN
    for i in range(tickets):
        d, r = i % DEVICES, i // DEVICES
        site, building, kind, device_id = device_of(d)
        faults = FAULTS[kind]
        fault = faults[(r + d // len(KIND_OF)) % len(faults)]  # every fault in every round
        severity = _weighted(rng, SEVERITY_WEIGHTS)
        recent = r >= rounds - ACTIVE_ROUNDS
        state = _weighted(rng, ACTIVE_STATE_WEIGHTS) if recent else "closed"
        opened = start + SPAN * ((r + rng.random()) / rounds)
        opened = min(opened, now - timedelta(minutes=1))
        dispatch_due = opened + timedelta(hours=DISPATCH_H[severity])
        rectify_due = opened + timedelta(hours=RECTIFY_H[severity])
        dispatched = None if state == "open" else opened + timedelta(minutes=rng.randint(5, 300))
        closed = opened + timedelta(hours=rng.uniform(1, 120)) if state == "closed" else None
        updated = min(closed or dispatched or opened, now)
        summary = SUMMARIES[fault].format(
            v=rng.uniform(0.5, 90), t=rng.uniform(1, 60), n=rng.randint(1, 40)
        )
        assignee = None if state == "open" else ASSIGNEES[rng.randrange(len(ASSIGNEES))]
        contractor = None if state == "open" else CONTRACTORS[kind][d % 5]
        repeat = 1 + (r % 3 if rng.random() < 0.1 else 0)
        card = {1: "none", 2: "yellow"}.get(repeat, "red")
        fields = (
            device_id,
            site,
            building,
            kind,
            fault,
            severity,
            severity,
            state,
            f"{summary} at {device_id} ({building})",
            fault,
            "1.0",
            "{}",
            str(int(opened.timestamp() * 1000)),
            _stamp(opened),
            _stamp(updated),
            str(1 + rng.randrange(5)),
            assignee or r"\N",
            contractor or r"\N",
            _stamp(dispatch_due),
            _stamp(
                dispatched + timedelta(hours=4) if state == "dispatched" and dispatched else None
            ),
            _stamp(rectify_due),
            _stamp(opened + timedelta(hours=96) if state == "rectified" else None),
            _stamp(dispatched),
            _stamp(closed),
            "f",
            "f",
            "0",
            str(repeat),
            "[]",
            card,
            "0",
        )
        yield "\t".join(fields) + "\n"


@dataclass
class Database:
    url: str
    schema: str
    engine: Engine

    @property
    def service_url(self) -> str:
        """The URL the API process opens: the bench schema first on its search path."""
        separator = "&" if "?" in self.url else "?"
        return (
            f"{self.url}{separator}options=-csearch_path%3D{self.schema}"
            f"&application_name={API_APPLICATION}"
        )


def create_database(url: str) -> Database:
    from facmon.schema import create_schema

    schema = f"bench_tickets_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    create_schema(engine)
    return Database(url, schema, engine)


def drop_database(database: Database) -> None:
    database.engine.dispose()
    admin = create_engine(database.url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{database.schema}" CASCADE'))
    admin.dispose()


def load(database: Database, tickets: int, now: datetime, seed: int) -> dict[str, float]:
    """COPY the tickets in, indexes off; rebuild them; ANALYZE and VACUUM. Seconds per phase."""
    phases: dict[str, float] = {}
    raw = database.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
                " AND tablename = 'tickets' AND indexname <> 'tickets_pkey'",
                (database.schema,),
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{database.schema}"."{name}"')
            started = time.perf_counter()
            columns = ", ".join(COLUMNS)
            with cursor.copy(f"COPY tickets ({columns}) FROM STDIN") as copy:
                chunk = io.StringIO()
                for n, line in enumerate(ticket_lines(tickets, now, seed), 1):
                    chunk.write(line)
                    if n % 20_000 == 0:
                        copy.write(chunk.getvalue())
                        chunk = io.StringIO()
                copy.write(chunk.getvalue())
            conn.commit()
            phases["copy_s"] = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
            conn.commit()
            phases["index_s"] = time.perf_counter() - started
            started = time.perf_counter()
            conn.autocommit = True
            cursor.execute("VACUUM (ANALYZE) tickets")
            phases["vacuum_analyze_s"] = time.perf_counter() - started
    finally:
        raw.close()
    return phases


# -- the query mix -----------------------------------------------------------------------------

Params = dict[str, str | list[str]]
ACTIVE = ["open", "dispatched", "acknowledged", "reopened"]


def query_mix(now: datetime) -> dict[str, Callable[[random.Random], Params]]:
    """The kinds of list request a quality team sends, each with varying values."""

    def site(rng: random.Random) -> str:
        return f"site-{rng.randrange(SITES):02d}"

    def device(rng: random.Random) -> str:
        return device_of(rng.randrange(DEVICES))[3]

    month_ago = (now - timedelta(days=30)).isoformat()
    return {
        "newest": lambda rng: {},
        "site": lambda rng: {"site": site(rng)},
        "site_building": lambda rng: {"site": site(rng), "building": f"b{1 + rng.randrange(2)}"},
        "active": lambda rng: {"state": ACTIVE},
        "critical_open": lambda rng: {"severity": ["critical"], "state": ["open,dispatched"]},
        "overdue": lambda rng: {"overdue": "true"},
        "overdue_site": lambda rng: {"overdue": "true", "site": site(rng)},
        "assignee": lambda rng: {"assignee": rng.choice(ASSIGNEES)},
        "contractor_active": lambda rng: {
            "contractor": f"{rng.choice(list(FAULTS))} contractor {1 + rng.randrange(5)}",
            "state": ACTIVE,
        },
        "kind_fault": lambda rng: {"kind": "pump", "fault_type": rng.choice(FAULTS["pump"])},
        "last_30_days": lambda rng: {"opened_from": month_ago},
        "search_device": lambda rng: {"q": device(rng)},
        "search_word": lambda rng: {"q": rng.choice(["vibration", "困人", "lamp out", "leak"])},
        "by_severity": lambda rng: {"sort": "severity", "order": "desc"},
        "due_soonest": lambda rng: {"state": ACTIVE, "sort": "due", "order": "asc"},
        "recently_updated": lambda rng: {"sort": "updated", "site": site(rng)},
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "n": len(ordered)}


def run_mix(
    client: httpx.Client, now: datetime, requests: int, seed: int
) -> dict[str, dict[str, float]]:
    """One run: `requests` of every kind, kinds interleaved; plus `next_page`, the request for
    a following page with the cursor a previous answer gave."""
    rng = random.Random(seed)
    mix = query_mix(now)
    timings: dict[str, list[float]] = {name: [] for name in [*mix, "next_page"]}
    cursors: list[tuple[Params, str]] = []
    for _round in range(requests):
        for name, make in mix.items():
            params = make(rng)
            timings[name].append(_timed_get(client, params, cursors))
        if cursors:
            params, cursor = cursors.pop(rng.randrange(len(cursors)))
            timings["next_page"].append(_timed_get(client, {**params, "cursor": cursor}, cursors))
    result = {name: _percentiles(values) for name, values in timings.items() if values}
    result["overall"] = _percentiles([v for values in timings.values() for v in values])
    return result


def _timed_get(client: httpx.Client, params: Params, cursors: list[tuple[Params, str]]) -> float:
    started = time.perf_counter()
    response = client.get("/api/tickets/page", params=params)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(
            f"GET /api/tickets/page {params}: {response.status_code} {response.text}"
        )
    page = response.json()
    if page["next_cursor"] and len(cursors) < 1000:
        cursors.append(({k: v for k, v in params.items() if k != "cursor"}, page["next_cursor"]))
    return elapsed_ms


# -- the API process -----------------------------------------------------------------------------


def serve(database_url: str, data_dir: str, port: int) -> None:
    """The API as `facmon run` serves it, on `port` (run in a process of its own)."""
    import uvicorn

    from api.app import create_app
    from facmon.service import Stores
    from facmon.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=Path(data_dir), database_url=database_url
    )
    config = uvicorn.Config(
        create_app(Stores.open(settings)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run()


def start_api(database: Database, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    from facmon.embedded_broker import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.bench_tickets", database.service_url, data_dir, str(port)],
        cwd=Path(__file__).resolve().parent.parent,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API process ended with exit code {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code < 500:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the API did not answer on /healthz within 60 s")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(database: Database, api_pid: int) -> tuple[float, dict[int, float]]:
    """CPU seconds of the API process and of each database session it holds."""
    with database.engine.connect() as connection:
        backends = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": API_APPLICATION},
        )
        return _cpu_s(api_pid), {int(pid): _cpu_s(int(pid)) for (pid,) in backends}


def _cpu_ms_per_request(
    before: tuple[float, dict[int, float]], after: tuple[float, dict[int, float]], requests: int
) -> dict[str, float]:
    database_s = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
    return {
        "api": round((after[0] - before[0]) * 1000 / requests, 2),
        "database": round(database_s * 1000 / requests, 2),
    }


def _median_runs(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            key: round(statistics.median(run[name][key] for run in runs), 1)
            for key in ("p50_ms", "p95_ms", "p99_ms")
        }
        | {"n": sum(run[name]["n"] for run in runs)}
        for name in runs[0]
    }


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, every setting spelled out."""
    return (
        f"facmon bench tickets --tickets {args.tickets} --requests {args.requests} "
        f"--runs {args.runs} --seed {args.seed} --database-url {args.database_url}"
        + (" --keep" if args.keep else "")
    )


def bench_tickets(args: argparse.Namespace) -> int:
    from quality.accounts import TokenStore

    if make_url(args.database_url).get_backend_name() != "postgresql":
        print(
            "--database-url must be PostgreSQL (the bench loads with COPY) / "
            "--database-url 须为 PostgreSQL（以 COPY 装载）",
            file=sys.stderr,
        )
        return 2
    now = datetime.now(UTC).replace(microsecond=0)
    load_avg = os.getloadavg()
    database = create_database(args.database_url)
    process: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        phases = load(database, args.tickets, now, args.seed)
        load_s = time.perf_counter() - started
        _id, token = TokenStore(database.engine).create("viewer", "bench")
        with tempfile.TemporaryDirectory() as data_dir:
            process, base = start_api(database, data_dir)
            headers = {"Authorization": f"Bearer {token}"}
            runs = []
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                run_mix(client, now, 2, args.seed)  # warm the API and the caches once
                before = _cpu_snapshot(database, process.pid)
                for run in range(args.runs):
                    runs.append(run_mix(client, now, args.requests, args.seed + run))
                sent = sum(int(run["overall"]["n"]) for run in runs)
                cpu = _cpu_ms_per_request(before, _cpu_snapshot(database, process.pid), sent)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        if args.keep:
            database.engine.dispose()
        else:
            drop_database(database)
    result: dict[str, Any] = {
        "command": _command_line(args),
        "database": "postgresql",
        "tickets": args.tickets,
        "schema": database.schema if args.keep else None,
        "load_s": round(load_s, 1),
        "load_phases_s": {name: round(value, 1) for name, value in phases.items()},
        "requests_per_kind_per_run": args.requests,
        "runs": args.runs,
        "load_average_before": [round(x, 2) for x in load_avg],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "target_p99_ms": TARGET_P99_MS,
        "cpu_ms_per_request": cpu,
        "median_of_runs": _median_runs(runs),
        "per_run_overall": [run["overall"] for run in runs],
    }
    if args.json:
        print(json.dumps(result))
        return 0
    _print(result)
    return 0


def _print(result: dict[str, Any]) -> None:
    print(f"$ {result['command']}")
    print(
        f"ticket list latency, {result['tickets']:,} tickets on PostgreSQL / "
        f"工单列表查询延迟（{result['tickets']:,} 张工单）"
    )
    phases = ", ".join(f"{k} {v}" for k, v in result["load_phases_s"].items())
    print(f"load / 装载: {result['load_s']} s ({phases})")
    print(
        f"machine load average / 机器负载: before {result['load_average_before']}, "
        f"after {result['load_average_after']}"
    )
    print(
        f"median of {result['runs']} runs, {result['requests_per_kind_per_run']} requests "
        f"per kind per run / {result['runs']} 轮中位数"
    )
    print(f"  {'query / 查询':28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, figures in result["median_of_runs"].items():
        print(
            f"  {name:28} {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f} "
            f"{figures['p99_ms']:8.1f}"
        )
    cpu = result["cpu_ms_per_request"]
    print(
        f"CPU per request / 每次请求的 CPU 时间: API {cpu['api']} ms, PostgreSQL "
        f"{cpu['database']} ms (the rest of the latency is waiting: for a CPU on a busy "
        "machine, for the disk / 其余为等待时间)"
    )
    overall = result["median_of_runs"]["overall"]["p99_ms"]
    verdict = "met / 达标" if overall < result["target_p99_ms"] else "missed / 未达标"
    print(f"target / 目标: overall p99 < {result['target_p99_ms']:.0f} ms: {verdict}")


def add_bench_tickets_command(bench_sub: Any) -> None:
    """Add `bench tickets` under `facmon bench`."""
    parser = bench_sub.add_parser(
        "tickets", help="ticket list latency (filters, search, sorts, paging) over 1M tickets"
    )
    parser.add_argument(
        "--tickets", type=int, default=1_000_000, help="tickets loaded (default 1,000,000)"
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"PostgreSQL URL; a schema of its own is made and dropped (default {DEFAULT_URL})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument(
        "--requests", type=int, default=50, help="requests of each query kind per run (50)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the queries")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=bench_tickets)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
