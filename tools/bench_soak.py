"""`facmon bench soak`: a fleet publishing at a steady rate for minutes, on real servers.

Real Mosquitto and InfluxDB on free loopback ports, N `facmon ingest` workers
(the processes `facmon run` starts to scale out) owning a share of the sites
each, and load-generator processes that each own a slice of the devices. Every
device publishes one realistic telemetry sample (simulator models) per period
as a real QoS 1 publish on its own topic, paced on the wall clock and spread
evenly over the period, stamped with its publish time. Many devices share one
MQTT connection per load-generator process, as behind an edge gateway, through
a minimal QoS 1 publisher (`QoS1Publisher`, a quarter of paho's CPU per message)
so that the load generator leaves the CPU to what is measured. The devices it
stands in for have processors of their own, so by default the load generators
run at a lower CPU priority (`--generator-nice`): when the machine is full they
yield to the servers and ingest rather than compete with them. Lag counts from
the actual publish, so the report says how far they fell behind their schedule:
lag that a starved generator held back shows there.

Lag is measured where it happens: each worker observes, when a batch is
durable and acknowledged, `now - device timestamp` for each of its samples in
the histogram `facmon_ingest_durable_lag_seconds`, and the bench reads it from
the workers' metrics ports (FACMON_METRICS_PORT). Resident memory comes from
psutil. Targets: lag p99 < 1 s and < 500 MB RSS per ingest process. Only
figures are printed; missing a target is a result, not an error. If the load
generator falls behind the offered rate (short of CPU, or the broker holding
back its PUBACKs), the report says so: the run then did not measure ingest at
the offered load. The broker saves its persistence every 60 s, as shipped in
deploy/mosquitto.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import queue
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from facmon.embedded_broker import free_port
from facmon.workers import IngestWorkers, WorkerSpec
from ingest.read_ahead import encode_varint
from tools.bench import KINDS, PUBLISH_WINDOW, READY_TIMEOUT_S, BenchError

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    import psutil

    from observability.metrics import HistogramSnapshot
    from tools.servers import InfluxServer, MosquittoServer

Report = tuple[str, str, float | str]  # (ready|done|error, client id, detail)

TARGET_P99_S = 1.0
TARGET_RSS_MB = 500.0
KEPT_UP_SHARE = 0.99  # the load generator must publish this share of its schedule
LAG_METRIC = "facmon_ingest_durable_lag_seconds"
LAG_MAX_METRIC = "facmon_ingest_durable_lag_max_seconds"
WRITE_METRIC = "facmon_ingest_batch_write_seconds"
INGESTED_METRIC = "facmon_messages_ingested_total"
PENDING_METRIC = "facmon_ingest_pending_messages"
CONNECTED_LINE = "ingest.subscriber: connected to "  # logged once per session start
WORKER_READY_TIMEOUT_S = 90.0
ACK_TIMEOUT_S = 120.0
DRAIN_STALL_S = 60.0  # stop waiting for the backlog once nothing moved this long
RECOUNT_S = 5.0  # while draining, count the store at most this often
SLEEP_AHEAD_S = 0.002  # publish what is due within this; sleep otherwise
SEND_BATCH = 64  # most PUBLISH packets per send
GENERATOR_NICE = 10
AUTOSAVE = "autosave_interval 60\n"
# Per publisher, in the shared counter array:
SENT, ACKED, MAX_LATE, LATE_1S, ERRORS, SCHEDULED, BLOCKED_S = range(7)
STRIDE = 7


class _Shared(Protocol):
    def __getitem__(self, index: int) -> float: ...
    def __setitem__(self, index: int, value: float) -> None: ...


def add_soak_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", type=int, default=10_000, help="simulated devices")
    parser.add_argument("--rate", type=float, default=1.0, help="samples per second per device")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="ingest worker processes")
    parser.add_argument("--publishers", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--sites", type=int, help="sites the devices spread over (default: 4 per worker)"
    )
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between progress")
    parser.add_argument(
        "--generator-nice",
        type=int,
        default=GENERATOR_NICE,
        choices=range(0, 20),
        metavar="0-19",
        help="niceness added to the load generators, which stand in for devices with "
        f"processors of their own (default: {GENERATOR_NICE}; 0 competes with ingest)",
    )
    parser.add_argument(
        "--batch-delay",
        type=float,
        help="FACMON_BATCH_MAX_DELAY_S for the workers (default: the service default)",
    )
    parser.add_argument(
        "--batch-min-delay",
        type=float,
        help="FACMON_BATCH_MIN_DELAY_S for the workers (default: the service default)",
    )
    parser.add_argument(
        "--database-url",
        help="FACMON_DATABASE_URL for the workers (default: SQLite in a temporary directory)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        help="seconds to wait after the load for the backlog to be stored (default: duration)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _progress(text: str) -> None:
    print(f"[soak] {text}", file=sys.stderr, flush=True)


# -- the load generator -----------------------------------------------------------


@dataclass(frozen=True)
class DeviceSlot:
    """One simulated device: its topic, its model and when in each period it publishes."""

    topic: str
    kind: str
    seed: int
    offset_s: float


def scheduled_samples(offset_s: float, period_s: float, duration_s: float) -> int:
    """Samples a device with this offset publishes in `duration_s`: k·period + offset < duration.

    >>> scheduled_samples(0.0, 1.0, 10.0), scheduled_samples(0.5, 1.0, 10.0)
    (10, 10)
    >>> scheduled_samples(0.25, 0.5, 1.0)
    2
    """
    count = max(0, math.ceil((duration_s - offset_s) / period_s))
    while count > 0 and (count - 1) * period_s + offset_s >= duration_s:
        count -= 1
    while count * period_s + offset_s < duration_s:
        count += 1
    return count


def plan_devices(devices: int, sites: list[str], rate_hz: float) -> list[DeviceSlot]:
    """Devices round-robin over the sites (every kind at every site), their publish times
    spread evenly over the period across the whole fleet."""
    from contract.topics import DeviceRef, telemetry_topic

    period = 1.0 / rate_hz
    slots = []
    for d in range(devices):
        kind = KINDS[(d // len(sites)) % len(KINDS)]
        ref = DeviceRef(sites[d % len(sites)], "soak", kind, f"{kind}-{d:05d}")
        slots.append(DeviceSlot(telemetry_topic(ref), kind, d, period * d / devices))
    return slots


class PublisherError(RuntimeError):
    """The broker refused or dropped a load generator's connection."""


class QoS1Publisher:
    """A minimal MQTT 3.1.1 client that only publishes at QoS 1 and counts PUBACKs.

    Each sample is a real PUBLISH (QoS 1, its own packet id, its device's topic) that
    the broker acknowledges, as from paho; but paho costs about 100 us of CPU per
    QoS 1 message here (packet objects, a wake-up of its network thread, properties
    parsed on every PUBACK), and on a small machine the load generator would then
    take the CPU that ingest is being measured on. Packets due together leave in
    one `send`, and PUBACKs are read between them.
    """

    def __init__(self, host: str, port: int, client_id: str, keepalive_s: int = 60) -> None:
        self.keepalive_s = keepalive_s
        self.sock = socket.create_connection((host, port), timeout=READY_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = client_id.encode()
        body = (
            b"\x00\x04MQTT\x04\x02"  # protocol name and level 4 (3.1.1), clean session
            + keepalive_s.to_bytes(2, "big")
            + len(name).to_bytes(2, "big")
            + name
        )
        self.sock.sendall(b"\x10" + encode_varint(len(body)) + body)
        connack = b""
        while len(connack) < 4:
            chunk = self.sock.recv(4 - len(connack))
            if not chunk:
                raise PublisherError("the broker closed the connection instead of a CONNACK")
            connack += chunk
        if connack[0] != 0x20 or connack[3] != 0:
            raise PublisherError(f"the broker refused the connection: CONNACK {connack.hex()}")
        self.sock.setblocking(False)
        self.inflight: set[int] = set()
        self.acked = 0
        self.unexpected = 0
        self._next_id = 0
        self._out = bytearray()
        self._in = bytearray()
        self._last_send = time.monotonic()

    def publish(self, topic: bytes, payload: bytes) -> None:
        """Queue one QoS 1 PUBLISH; `flush` sends what is queued."""
        packet_id = self._next_id % 65535 + 1
        self._next_id = packet_id
        if packet_id in self.inflight:
            raise PublisherError(f"packet id {packet_id} still unacknowledged after 65,535 more")
        self.inflight.add(packet_id)
        length = 2 + len(topic) + 2 + len(payload)
        self._out += b"\x32" + encode_varint(length) + len(topic).to_bytes(2, "big")
        self._out += topic + packet_id.to_bytes(2, "big") + payload

    def flush(self) -> None:
        if self._out:
            self.sock.setblocking(True)
            try:
                self.sock.sendall(self._out)
            finally:
                self.sock.setblocking(False)
            self._out.clear()
            self._last_send = time.monotonic()
        elif time.monotonic() - self._last_send > self.keepalive_s / 2:
            self.sock.sendall(b"\xc0\x00")  # PINGREQ
            self._last_send = time.monotonic()

    def poll(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the broker, and count the PUBACKs that came."""
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout_s))
        if not readable:
            return
        while True:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                break
            if not chunk:
                raise PublisherError("the broker closed the connection")
            self._in += chunk
            if len(chunk) < 65536:
                break
        data, at = self._in, 0
        while len(data) - at >= 2:
            kind, size = data[at], data[at + 1]  # our packets here are all 2-byte bodies
            if size & 0x80:
                raise PublisherError(f"unexpected packet {kind:#04x} from the broker")
            if len(data) - at < 2 + size:
                break
            if kind == 0x40 and size == 2:  # PUBACK
                packet_id = int.from_bytes(data[at + 2 : at + 4], "big")
                if packet_id in self.inflight:
                    self.inflight.discard(packet_id)
                    self.acked += 1
                else:
                    self.unexpected += 1
            elif kind != 0xD0:  # PINGRESP is fine; nothing else is expected
                self.unexpected += 1
            at += 2 + size
        del data[:at]

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            pass
        self.sock.close()


def _publisher_process(
    port: int,
    client_id: str,
    slots: list[DeviceSlot],
    rate_hz: float,
    duration_s: float,
    start: _Shared,
    go: MpEvent,
    counters: _Shared,
    index: int,
    results: Queue[Report],
    niceness: int = 0,
) -> None:
    """One MQTT connection publishing for its slice of devices on the shared schedule.

    A device's sample is published at t0 + k·period + offset. Behind schedule, samples
    go out as fast as possible (stamped with their real publish time) until the run
    ends; what is still unpublished then is not sent, so achieved < offered shows it.
    """
    import numpy as np

    from contract.payload import encode_telemetry
    from simulators.models import MODELS

    os.nice(niceness)
    base = index * STRIDE
    period = 1.0 / rate_hz
    models = [MODELS[slot.kind](np.random.default_rng(slot.seed)) for slot in slots]
    topics = [slot.topic.encode() for slot in slots]
    offsets = [slot.offset_s for slot in slots]
    seqs = [0] * len(slots)
    counters[base + SCHEDULED] = float(
        sum(scheduled_samples(off, period, duration_s) for off in offsets)
    )
    client: QoS1Publisher | None = None
    try:
        client = QoS1Publisher("127.0.0.1", port, client_id)
        results.put(("ready", client_id, 0.0))
        if not go.wait(READY_TIMEOUT_S * 2):
            return
        t0 = start[0]
        sent = late_1s = 0
        max_late = 0.0
        k = j = 0
        end = t0 + duration_s
        last_store = 0.0
        while k * period + offsets[j] < duration_s:
            now = time.time()
            if now >= end:
                break
            target = t0 + k * period + offsets[j]
            if target > now + SLEEP_AHEAD_S:
                client.flush()
                client.poll(min(target - now, 0.25))
                continue
            if len(client.inflight) >= PUBLISH_WINDOW:  # the broker holds the PUBACKs back
                client.flush()
                waited = time.monotonic()
                client.poll(0.05)
                counters[base + BLOCKED_S] += time.monotonic() - waited
                continue
            # What is due now leaves in one send (a short one, so that a publisher behind
            # schedule does not hold stamped samples back).
            for _ in range(SEND_BATCH):
                if target > now + SLEEP_AHEAD_S or len(client.inflight) >= PUBLISH_WINDOW:
                    break
                late = now - target
                if late > max_late:
                    max_late = late
                if late > 1.0:
                    late_1s += 1
                ts_ms = int(time.time() * 1000)
                seqs[j] += 1
                metrics = models[j].sample(ts_ms, period, [])
                models[j].take_events()  # telemetry only; keep the model's event list empty
                client.publish(topics[j], encode_telemetry(ts_ms, seqs[j], metrics))
                sent += 1
                j += 1
                if j == len(slots):
                    j, k = 0, k + 1
                if k * period + offsets[j] >= duration_s:
                    break
                target = t0 + k * period + offsets[j]
            client.flush()
            client.poll(0.0)
            if now - last_store > 0.1:
                _store(counters, base, sent, client.acked, max_late, late_1s, client.unexpected)
                last_store = now
        client.flush()
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while client.inflight and time.monotonic() < deadline:
            client.poll(0.1)
        _store(counters, base, sent, client.acked, max_late, late_1s, client.unexpected)
        results.put(("done", client_id, float(sent)))
    except Exception as exc:
        results.put(("error", client_id, f"{type(exc).__name__}: {exc}"))
    finally:
        if client is not None:
            client.close()


def _store(
    counters: _Shared, base: int, sent: int, acked: int, max_late: float, late: int, errors: int
) -> None:
    counters[base + SENT] = float(sent)
    counters[base + ACKED] = float(acked)
    counters[base + MAX_LATE] = max_late
    counters[base + LATE_1S] = float(late)
    counters[base + ERRORS] = float(errors)


# -- the ingest workers -----------------------------------------------------------------


class LoggedWorkers(IngestWorkers):
    """`facmon run`'s worker supervision, with each worker's output in a file of its own:
    stdout carries the report."""

    def __init__(self, specs: list[WorkerSpec], base_env: dict[str, str], log_dir: Path) -> None:
        super().__init__(specs, base_env)
        self.log_dir = log_dir

    def log_path(self, spec: WorkerSpec) -> Path:
        return self.log_dir / f"{spec.client_id}.log"

    def _spawn(self, spec: WorkerSpec) -> subprocess.Popen[bytes]:
        with self.log_path(spec).open("ab") as log:
            env = {**self.base_env, **spec.env}
            return subprocess.Popen(self.command, env=env, stdout=log, stderr=subprocess.STDOUT)


def free_port_range(count: int, host: str = "127.0.0.1") -> int:
    """A base port such that base .. base+count-1 are all free (worker i gets base+i)."""

    for _ in range(200):
        base = free_port(host)
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return base
    raise BenchError(f"found no {count} consecutive free ports for the workers' metrics")


def bench_workers(
    count: int,
    sites: list[str],
    client_id: str,
    mosquitto: MosquittoServer,
    influx: InfluxServer,
    database: str,
    data_dir: Path,
) -> tuple[list[WorkerSpec], dict[str, str]]:
    """`count` ingest workers splitting `sites`, each with its own metrics port, and the
    environment they run with: the service defaults plus what the bench sets, never this
    shell's FACMON_* (a production database URL must not receive bench data)."""
    from facmon.settings import Settings
    from facmon.workers import plan_workers

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ingest_workers=count,
        ingest_sites=",".join(sites),
        ingest_share_group=None,
        mqtt_client_id=client_id,
        metrics_port=free_port_range(count),
        data_dir=data_dir,
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("FACMON_")}
    env |= {
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": database,
        "FACMON_DATA_DIR": str(data_dir),
        "FACMON_API_HOST": "127.0.0.1",
    }
    return plan_workers(settings, mosquitto.url), env


@dataclass
class WorkerTrack:
    """What the bench knows of one worker, across restarts (counters restart at zero)."""

    port: int
    client_id: str
    pid: int | None = None
    last_hist: HistogramSnapshot | None = None
    last_ingested: float = 0.0
    hist: HistogramSnapshot | None = None
    last_writes: HistogramSnapshot | None = None
    writes: HistogramSnapshot | None = None  # time to make each batch durable
    ingested: float = 0.0
    max_lag_s: float = 0.0
    pending: float = 0.0
    max_rss: int = 0
    rss: int = 0
    cpu: float = 0.0
    restarts: int = 0
    process: psutil.Process | None = field(default=None, repr=False)


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


# -- the run ------------------------------------------------------------------------------


@dataclass
class Interval:
    elapsed_s: float
    offered_per_s: float
    published_per_s: float
    ingested_per_s: float
    lag_p99_s: float | None
    rss_mb: list[float]
    cpu_percent: dict[str, list[float]]  # of one core, per process
    machine_busy_percent: float  # of all cores, whoever used them
    load_1m: float


class Soak:
    """One soak run; `run()` returns the report (raises BenchError if it could not run)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = uuid.uuid4().hex[:8]
        self.workdir = Path(tempfile.mkdtemp(prefix="facmon-soak-"))
        self.intervals: list[Interval] = []
        self.tracks: list[WorkerTrack] = []
        self.bounds: tuple[float, ...] = ()
        self.generator_nice: int | None = None  # as the generators' processes report it

    # -- metrics of the workers

    def _scrape(self, track: WorkerTrack, pid: int | None) -> None:
        """Add what this worker did since the last scrape to its running totals."""
        import httpx

        from observability.metrics import parse_histogram, parse_samples

        try:
            text = httpx.get(f"http://127.0.0.1:{track.port}/metrics", timeout=5.0).text
        except httpx.HTTPError:
            return  # restarting; its counters are read on the next scrape
        hist = parse_histogram(text, LAG_METRIC)
        if hist is None:
            return
        self.bounds = hist.bounds
        ingested = sum(
            value
            for labels, value in parse_samples(text, INGESTED_METRIC)
            if labels.get("channel") == "telemetry"
        )
        peak = max((value for _, value in parse_samples(text, LAG_MAX_METRIC)), default=0.0)
        track.pending = sum(value for _, value in parse_samples(text, PENDING_METRIC))
        restarted = (
            track.last_hist is None
            or (pid is not None and track.pid is not None and pid != track.pid)
            or hist.count < track.last_hist.count
        )
        if track.last_hist is not None and restarted:
            track.restarts += 1
        track.hist = _accumulated(track.hist, track.last_hist, hist, restarted)
        writes = parse_histogram(text, WRITE_METRIC)
        if writes is not None:
            track.writes = _accumulated(track.writes, track.last_writes, writes, restarted)
            track.last_writes = writes
        track.ingested += ingested - (0.0 if restarted else track.last_ingested)
        track.last_hist, track.last_ingested = hist, ingested
        track.max_lag_s = max(track.max_lag_s, peak)
        track.pid = pid

    def _sample_processes(self, workers: IngestWorkers) -> None:
        import psutil

        for track, pid in zip(self.tracks, workers.pids, strict=True):
            try:
                if track.process is None or track.process.pid != pid:
                    track.process = psutil.Process(pid)
                    track.process.cpu_percent(None)
                track.rss = track.process.memory_info().rss
                track.max_rss = max(track.max_rss, track.rss)
            except psutil.Error:
                track.rss = 0

    def _run_histogram(self) -> HistogramSnapshot:
        from observability.metrics import HistogramSnapshot

        total = HistogramSnapshot.empty(self.bounds)
        for track in self.tracks:
            if track.hist is not None:
                total = total + track.hist
        return total

    def _write_histogram(self) -> HistogramSnapshot | None:
        found = [t.writes for t in self.tracks if t.writes is not None]
        if not found:
            return None
        total = found[0]
        for writes in found[1:]:
            total = total + writes
        return total

    # -- the command

    def run(self) -> dict[str, Any]:
        import multiprocessing

        from tools.servers import InfluxServer, MosquittoServer

        args = self.args
        began = time.perf_counter()
        sites = [f"soak-{self.tag}-{n:02d}" for n in range(args.sites)]
        slots = plan_devices(args.devices, sites, args.rate)
        # Persistence saved every 60 s as deploy/mosquitto ships it: the test servers' 1 s
        # would rewrite a backlog of queued messages every second.
        mosquitto = MosquittoServer(self.workdir / "mosquitto", extra_config=AUTOSAVE)
        influx = InfluxServer(self.workdir / "influx")
        for server in (mosquitto, influx):
            server.workdir.mkdir()
        data_dir = self.workdir / "data"
        logs = self.workdir / "logs"
        logs.mkdir()
        database = f"soak_{self.tag}"
        specs, env = bench_workers(
            args.workers, sites, f"facmon-soak-{self.tag}", mosquitto, influx, database, data_dir
        )
        if args.batch_delay is not None:
            env["FACMON_BATCH_MAX_DELAY_S"] = str(args.batch_delay)
        if args.batch_min_delay is not None:
            env["FACMON_BATCH_MIN_DELAY_S"] = str(args.batch_min_delay)
        if args.database_url:
            env["FACMON_DATABASE_URL"] = args.database_url
        workers = LoggedWorkers(specs, env, logs)
        self.tracks = [
            WorkerTrack(int(spec.env["FACMON_METRICS_PORT"]), spec.client_id) for spec in specs
        ]
        context = multiprocessing.get_context("spawn")
        go = context.Event()
        start = context.Array("d", 1, lock=False)
        counters = context.Array("d", args.publishers * STRIDE, lock=False)
        results: Queue[Report] = context.Queue()
        shares = [slots[p :: args.publishers] for p in range(args.publishers)]
        publishers = [
            context.Process(
                target=_publisher_process,
                args=(
                    mosquitto.port,
                    f"facmon-soak-pub-{self.tag}-{p}",
                    share,
                    args.rate,
                    args.duration,
                    start,
                    go,
                    counters,
                    p,
                    results,
                    args.generator_nice,
                ),
                daemon=True,
            )
            for p, share in enumerate(shares)
        ]
        workers_started = False
        try:
            _progress("starting Mosquitto and InfluxDB on free ports")
            mosquitto.start()
            influx.start()
            _progress(
                f"starting {args.workers} ingest workers ({len(sites)} sites, metrics on ports "
                f"{self.tracks[0].port}-{self.tracks[-1].port})"
            )
            workers.start()
            workers_started = True
            self._wait_for_workers(workers, data_dir)
            _progress(f"starting {args.publishers} load generators for {args.devices:,} devices")
            for process in publishers:
                process.start()
            self._wait_for(publishers, results, "ready", READY_TIMEOUT_S * 2)
            t0 = time.time() + 1.0
            start[0] = t0
            go.set()
            _progress(
                f"publishing {args.devices * args.rate:,.0f} samples/s for {args.duration:g} s"
            )
            self._monitor(workers, publishers, counters, t0, influx, mosquitto)
            self._wait_for(publishers, results, "done", ACK_TIMEOUT_S + 30)
            drained_s = self._drain(workers, counters, t0, influx.url, database)
            for track, pid in zip(self.tracks, workers.pids, strict=True):
                self._scrape(track, pid)
            workers.stop()  # flush what is left; SIGTERM acknowledges only what is durable
            stored = self._count_stored(influx.url, database)
            logs_text = {spec.client_id: _tail(workers.log_path(spec), 10**9) for spec in specs}
        finally:
            go.set()
            for process in publishers:
                if process.pid is not None:
                    process.join(10)
                    if process.is_alive():
                        process.kill()
                        process.join()
            if workers_started:
                workers.stop()
            influx.cleanup()
            mosquitto.cleanup()
        return self._report(counters, stored, drained_s, began, logs_text)

    def _wait_for_workers(self, workers: LoggedWorkers, data_dir: Path) -> None:
        """Each worker answers on its metrics port and holds its subscriptions."""
        import httpx

        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        for spec, track in zip(workers.specs, self.tracks, strict=True):
            state = data_dir / f"subscriptions-{spec.client_id}.json"
            while True:
                try:
                    answered = httpx.get(f"http://127.0.0.1:{track.port}/metrics", timeout=1.0)
                    if answered.is_success and state.exists():
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"ingest worker {spec.client_id} did not come up within "
                        f"{WORKER_READY_TIMEOUT_S:.0f} s; its log ends with:\n"
                        + _tail(workers.log_path(spec))
                    )
                time.sleep(0.2)
        for track, pid in zip(self.tracks, workers.pids, strict=True):
            self._scrape(track, pid)

    @staticmethod
    def _wait_for(
        publishers: list[SpawnProcess], results: Queue[Report], wanted: str, timeout_s: float
    ) -> None:
        """A `wanted` report from every load generator, or BenchError with the first failure."""
        for _ in publishers:
            try:
                state, who, detail = results.get(timeout=timeout_s)
            except queue.Empty:
                raise BenchError(
                    f"no load generator {wanted} report within {timeout_s:.0f} s"
                ) from None
            if state != wanted:
                raise BenchError(f"load generator {who} failed: {detail}")

    def _monitor(
        self,
        workers: IngestWorkers,
        publishers: list[SpawnProcess],
        counters: _Shared,
        t0: float,
        influx: InfluxServer,
        mosquitto: MosquittoServer,
    ) -> None:
        """A progress line every interval until the load ends."""
        import psutil

        args = self.args
        assert influx.process is not None and mosquitto.process is not None
        servers = {
            "mosquitto": psutil.Process(mosquitto.process.pid),
            "influxd": psutil.Process(influx.process.pid),
        }
        loaders = [psutil.Process(p.pid) for p in publishers]
        self.generator_nice = min(p.nice() for p in loaders) - os.nice(0)
        for process in [*servers.values(), *loaders]:
            process.cpu_percent(None)
        psutil.cpu_percent(None)
        offered = args.devices * args.rate
        last_t = t0
        last_published = 0.0
        last_ingested = sum(t.ingested for t in self.tracks)
        last_hist = self._run_histogram()
        next_report = t0 + args.interval
        end = t0 + args.duration
        while True:
            now = time.time()
            self._sample_processes(workers)
            dead = [p for p in publishers if not p.is_alive() and p.exitcode not in (0, None)]
            if dead:
                raise BenchError(f"a load generator exited with {dead[0].exitcode}")
            if now >= next_report or now >= end:
                for track, pid in zip(self.tracks, workers.pids, strict=True):
                    self._scrape(track, pid)
                published = sum(counters[p * STRIDE + ACKED] for p in range(args.publishers))
                ingested = sum(t.ingested for t in self.tracks)
                hist = self._run_histogram()
                span = max(now - last_t, 1e-9)
                p99 = (hist - last_hist).quantile(0.99)
                cpu = {
                    "ingest": [_cpu(t.process) for t in self.tracks],
                    "load": [_cpu(p) for p in loaders],
                    **{name: [_cpu(p)] for name, p in servers.items()},
                }
                interval = Interval(
                    round(now - t0, 1),
                    offered,
                    round((published - last_published) / span, 1),
                    round((ingested - last_ingested) / span, 1),
                    None if p99 is None else round(p99, 4),
                    [round(t.rss / 1e6, 1) for t in self.tracks],
                    {name: [round(v) for v in values] for name, values in cpu.items()},
                    round(psutil.cpu_percent(None), 1),
                    round(os.getloadavg()[0], 2),
                )
                self.intervals.append(interval)
                _progress(_format_interval(interval))
                last_t, last_published, last_ingested, last_hist = now, published, ingested, hist
                next_report += args.interval
            if now >= end:
                return
            time.sleep(min(1.0, max(0.05, min(next_report, end) - time.time())))

    def _drain(
        self, workers: IngestWorkers, counters: _Shared, t0: float, influx_url: str, database: str
    ) -> float:
        """Wait until InfluxDB holds every published sample, or the backlog stops moving.

        Ingest's own counter is not enough: a sample redelivered after a reconnect is
        processed (and counted) twice, and stored once. So once ingest looks idle, the
        store is counted.
        """
        args = self.args
        timeout = args.drain_timeout if args.drain_timeout is not None else args.duration
        began = time.time()
        deadline = began + timeout
        moved_at, last = began, (-1.0, -1)
        next_note = began + args.interval
        stored, counted_at = -1, 0.0
        while time.time() < deadline:
            self._sample_processes(workers)
            for track, pid in zip(self.tracks, workers.pids, strict=True):
                self._scrape(track, pid)
            published = int(sum(counters[p * STRIDE + ACKED] for p in range(args.publishers)))
            ingested = sum(t.ingested for t in self.tracks)
            now = time.time()
            idle = ingested >= published and not any(t.pending for t in self.tracks)
            if idle and now - counted_at >= RECOUNT_S:
                stored, counted_at = self._count_stored(influx_url, database), now
                if stored >= published:
                    break
            if (ingested, stored) != last:
                moved_at, last = now, (ingested, stored)
            elif now - moved_at > DRAIN_STALL_S:
                _progress(
                    f"backlog stalled: {ingested:,.0f} processed by ingest, {published:,} published"
                )
                break
            if now >= next_note:
                _progress(
                    f"{now - t0:6.0f} s  load over; {ingested:,.0f} of {published:,} samples "
                    f"processed, rss {_joined([t.rss / 1e6 for t in self.tracks])} MB"
                )
                next_note += args.interval
            time.sleep(0.5)
        return time.time() - began

    @staticmethod
    def _count_stored(influx_url: str, database: str) -> int:
        from storage.timeseries.influx import InfluxStore

        store = InfluxStore(influx_url, database, timeout_s=600.0)
        try:
            return sum(store.count(kind) for kind in KINDS)
        finally:
            store.close()

    def _report(
        self,
        counters: _Shared,
        stored: int,
        drained_s: float,
        began: float,
        worker_logs: dict[str, str],
    ) -> dict[str, Any]:
        args = self.args
        n = args.publishers
        scheduled = int(sum(counters[p * STRIDE + SCHEDULED] for p in range(n)))
        sent = int(sum(counters[p * STRIDE + SENT] for p in range(n)))
        published = int(sum(counters[p * STRIDE + ACKED] for p in range(n)))
        late_1s = int(sum(counters[p * STRIDE + LATE_1S] for p in range(n)))
        errors = int(sum(counters[p * STRIDE + ERRORS] for p in range(n)))
        max_late = max(counters[p * STRIDE + MAX_LATE] for p in range(n))
        blocked_s = max(counters[p * STRIDE + BLOCKED_S] for p in range(n))
        hist = self._run_histogram()
        max_lag = max((t.max_lag_s for t in self.tracks), default=0.0)
        lag: dict[str, float | None] = {}
        beyond: list[str] = []  # above the highest bucket: only "more than" it is known
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            value = hist.quantile(q)
            if value is not None and (hist.share_at_most(hist.bounds[-1]) or 0.0) < q:
                beyond.append(name)
            elif value is not None and max_lag > 0:
                value = min(value, max_lag)  # interpolation within a bucket can overshoot
            lag[name] = None if value is None else round(value, 4)
        lag["max"] = round(max_lag, 4)
        writes = self._write_histogram()
        write_s: dict[str, float | None] = {}
        if writes is not None:
            for name, q in (("p50", 0.5), ("p99", 0.99)):
                value = writes.quantile(q)
                write_s[name] = None if value is None else round(value, 4)
            write_s["mean"] = round(writes.sum / writes.count, 4) if writes.count else None
        within = hist.share_at_most(TARGET_P99_S)
        rss_mb = [round(t.max_rss / 1e6, 1) for t in self.tracks]
        restarts = sum(t.restarts for t in self.tracks)
        # Each worker process logs one "connected to" per session start; more are reconnects,
        # after which the broker redelivers what was not yet acknowledged.
        connects = sum(text.count(CONNECTED_LINE) for text in worker_logs.values())
        reconnects = max(0, connects - len(self.tracks) - restarts)
        loaded = self.intervals[1:] or self.intervals  # the first interval includes start-up
        cpu_mean = {
            name: round(sum(sum(i.cpu_percent[name]) for i in loaded) / len(loaded), 1)
            for name in (loaded[0].cpu_percent if loaded else {})
        }
        kept_up = scheduled > 0 and published >= KEPT_UP_SHARE * scheduled
        lag_ok = within is not None and within >= 0.99
        rss_ok = bool(rss_mb) and max(rss_mb) < TARGET_RSS_MB
        return {
            "devices": args.devices,
            "rate_hz": args.rate,
            "duration_s": args.duration,
            "workers": args.workers,
            "publishers": args.publishers,
            "generator_nice": self.generator_nice,
            "sites": args.sites,
            "batch_max_delay_s": args.batch_delay,
            "batch_min_delay_s": args.batch_min_delay,
            "offered_per_s": round(args.devices * args.rate, 1),
            "published_per_s": round(published / args.duration, 1),
            "scheduled": scheduled,
            "sent": sent,
            "published": published,
            "load_generator_kept_up": kept_up,
            "load_generator_max_late_s": round(max_late, 3),
            "load_generator_late_over_1s": late_1s,
            "load_generator_blocked_s": round(blocked_s, 1),
            "unexpected_packets": errors,
            "ingested": int(sum(t.ingested for t in self.tracks)),
            "stored": stored,
            "count_ok": stored == published,
            "drain_s": round(drained_s, 1),
            "lag_samples": hist.count,
            "lag_s": lag,
            "lag_beyond_buckets": beyond,
            "lag_share_within_1s": None if within is None else round(within, 5),
            "batch_writes": 0 if writes is None else writes.count,
            "batch_write_s": write_s,
            "rss_max_mb": rss_mb,
            "rss_total_max_mb": round(sum(rss_mb), 1),
            "worker_restarts": restarts,
            "cpu_percent_mean": cpu_mean,
            "machine_busy_percent_mean": round(
                sum(i.machine_busy_percent for i in loaded) / max(len(loaded), 1), 1
            ),
            "load_1m_max": max((i.load_1m for i in self.intervals), default=0.0),
            "lag_p99_ok": lag_ok,
            "rss_ok": rss_ok,
            "pass": lag_ok and rss_ok,
            "target_p99_s": TARGET_P99_S,
            "target_rss_mb": TARGET_RSS_MB,
            "intervals": [asdict(i) for i in self.intervals],
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "wall_s": round(time.perf_counter() - began, 1),
            "worker_reconnects": reconnects,
            "worker_log_tails": (
                {who: text[-1500:] for who, text in worker_logs.items()}
                if restarts or reconnects or stored != published
                else {}
            ),
        }

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _accumulated(
    total: HistogramSnapshot | None,
    last: HistogramSnapshot | None,
    now: HistogramSnapshot,
    restarted: bool,
) -> HistogramSnapshot:
    """`total` plus what a worker observed since its `last` scrape (all of `now` after a
    restart, whose counters begin at zero)."""
    from observability.metrics import HistogramSnapshot

    before = HistogramSnapshot.empty(now.bounds) if restarted or last is None else last
    delta = now - before
    return delta if total is None else total + delta


def _cpu(process: psutil.Process | None) -> float:
    import psutil

    if process is None:
        return 0.0
    try:
        return float(process.cpu_percent(None))
    except psutil.Error:
        return 0.0


def _joined(values: list[float]) -> str:
    return "+".join(f"{v:.0f}" for v in values)


def _format_interval(i: Interval) -> str:
    p99 = "n/a" if i.lag_p99_s is None else f"{i.lag_p99_s:.3f} s"
    cpu = " ".join(
        f"{name} {'+'.join(f'{v:.0f}' for v in vs)}" for name, vs in i.cpu_percent.items()
    )
    return (
        f"{i.elapsed_s:6.0f} s  offered {i.offered_per_s:,.0f}/s  published "
        f"{i.published_per_s:,.0f}/s  ingested {i.ingested_per_s:,.0f}/s  lag p99 {p99}  "
        f"rss {_joined(i.rss_mb)} MB  cpu% {cpu}  machine {i.machine_busy_percent:.0f}% "
        f"load {i.load_1m:.1f}"
    )


def _seconds(report: dict[str, Any], name: str) -> str:
    value = report["lag_s"][name]
    if value is None:
        return "n/a"
    prefix = "> " if name in report["lag_beyond_buckets"] else ""
    return f"{prefix}{value:.3f} s"


def print_report(report: dict[str, Any]) -> None:
    r = report
    print(
        f"facmon bench soak: {r['devices']:,} devices at {r['rate_hz']:g} Hz for "
        f"{r['duration_s']:g} s, {r['workers']} ingest workers, {r['publishers']} load "
        f"generators (nice {r['generator_nice']}), {r['sites']} sites "
        f"(Python {r['python']}, {r['cpu_count']} CPUs, "
        f"{r['wall_s']:.0f} s)"
    )
    print(f"{'offered':<22}{r['offered_per_s']:>12,.0f} samples/s  ({r['scheduled']:,} scheduled)")
    share = r["published"] / r["scheduled"] if r["scheduled"] else 0.0
    print(
        f"{'published (QoS 1)':<22}{r['published_per_s']:>12,.0f} samples/s  "
        f"({r['published']:,} acknowledged by the broker, {share:.1%} of the schedule; "
        f"max {r['load_generator_max_late_s']:.2f} s behind)"
    )
    if not r["load_generator_kept_up"]:
        blocked = r.get("load_generator_blocked_s", 0.0)
        cause = (
            f"the broker held back its PUBACKs ({blocked:,.0f} s with {PUBLISH_WINDOW:,} "
            "publishes unacknowledged)"
            if blocked > 0.1 * r["duration_s"]
            else "it lacked CPU"
        )
        print(
            f"  the load generator could not keep up: it published {r['published_per_s']:,.0f} "
            f"of the offered {r['offered_per_s']:,.0f} samples/s ({cause}), so this run does "
            "not measure ingest at the offered load"
        )
    lag = "  ".join(f"{name} {_seconds(r, name)}" for name in ("p50", "p95", "p99", "max"))
    print(f"{'durable lag':<22}{lag}  ({r['lag_samples']:,} samples)")
    write_s = r.get("batch_write_s") or {}
    if write_s:
        times = "  ".join(
            f"{name} {'n/a' if value is None else f'{value:.3f} s'}"
            for name, value in write_s.items()
        )
        print(f"{'batch write time':<22}{times}  ({r['batch_writes']:,} batches made durable)")
    rss = ", ".join(f"{mb:,.0f}" for mb in r["rss_max_mb"])
    print(f"{'max RSS per worker':<22}{rss} MB (total {r['rss_total_max_mb']:,.0f} MB)")
    if r["worker_restarts"] or r.get("worker_reconnects"):
        print(
            f"{'worker restarts':<22}{r['worker_restarts']} restarts, "
            f"{r.get('worker_reconnects', 0)} reconnects to the broker (each one redelivers "
            "what was not yet acknowledged)"
        )
    mark = "yes" if r["count_ok"] else "NO"
    print(
        f"{'stored == published':<22}{mark} ({r['stored']:,} stored, {r['published']:,} "
        f"published, {r['ingested']:,} processed by ingest; drain {r['drain_s']:.0f} s)"
    )
    print(
        f"{'p99 lag < 1 s':<22}{'PASS' if r['lag_p99_ok'] else 'FAIL'} "
        f"({_seconds(r, 'p99')}; {r['lag_share_within_1s'] or 0:.2%} within 1 s)"
    )
    print(
        f"{'RSS < 500 MB':<22}{'PASS' if r['rss_ok'] else 'FAIL'} "
        f"(largest worker {max(r['rss_max_mb'], default=0):,.0f} MB)"
    )
    cpu = ", ".join(f"{name} {value:.0f}" for name, value in r["cpu_percent_mean"].items())
    print(f"{'mean CPU %':<22}{cpu} (of one core, summed over each group's processes)")
    print(
        f"{'machine':<22}{r['machine_busy_percent_mean']:.0f} % busy on average "
        f"({r['cpu_count']} CPUs, 1-min load up to {r['load_1m_max']:.1f}, other work included)"
    )
    verdict = "PASS" if r["pass"] else "FAIL"
    if not r["load_generator_kept_up"]:
        verdict += f" (at {r['published_per_s']:,.0f} samples/s, not the offered load)"
    print(f"{'targets':<22}{verdict}")


def bench_soak(args: argparse.Namespace) -> int:
    """Run the soak described in the module docstring; 0 once it ran, whatever the figures."""
    from tools.servers import ServerError

    args.sites = args.sites or 4 * args.workers
    problems = [
        f"--{name} must be at least {low}"
        for name, low in (("devices", 1), ("workers", 1), ("publishers", 1))
        if getattr(args, name) < low
    ]
    problems += [
        f"--{name} must be positive"
        for name in ("rate", "duration", "interval")
        if not getattr(args, name) > 0
    ]
    if args.sites < args.workers:
        problems.append("--sites must be at least --workers: each worker owns whole sites")
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    args.publishers = min(args.publishers, args.devices)
    if not getattr(args, "verbose", False):
        for noisy in ("facmon.workers",):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    soak = Soak(args)
    try:
        report = soak.run()
    except (BenchError, ServerError, subprocess.SubprocessError, OSError) as exc:
        print(
            f"error: bench soak could not run: {exc}\n"
            "Check that mosquitto and influxd are installed (make system-deps) and that the "
            "machine has free memory and loopback ports, then run it again (-v for details).",
            file=sys.stderr,
        )
        return 1
    finally:
        soak.cleanup()
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0
