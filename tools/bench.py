"""`facmon bench ingest`: ingest throughput next to raw broker delivery, on real servers.

The raw figure is what Mosquitto delivers at QoS 1 between its own C clients:
one `mosquitto_pub -q 1 -l --nodelay` per device into one `mosquitto_sub -q 1`.
The ingest figure is the whole service path (validation, detectors, batched
InfluxDB writes, ack after durable) on the same messages. Their ratio, taken
within each run, says how much of the broker's capacity ingest can use.

Ingest runs as one process (`--workers 1`, the service in this process) or as
N `facmon ingest` worker processes started through facmon/workers.py, each
owning its share of the bench's sites. `--workers 1,2` measures each
configuration in every run, next to that run's raw figure.

The load comes from one `mosquitto_pub -l --nodelay` per device (`--load c`),
so ingest and the raw reference differ only in the consumer; `--load python`
uses paho publisher processes instead, which cost far more CPU on a small box.

Completion is read from InfluxDB: every device publishes its messages in order
on one topic and ingest writes them in order, so once the last message of
every device is stored, all are. A tail count (`SELECT count(seq) ... WHERE
time >= <last round>`) is polled, as a full count would cost InfluxDB tens of
milliseconds of CPU per poll; a full count then confirms it, and after each
configuration every (device, seq) is checked to be stored exactly once.

CPU time per component (ingest, Mosquitto, InfluxDB, load, bench, the rest of
the machine) is read from /proc over the timed part: on a shared machine the
ingest CPU per message varies much less than throughput, and the rest of the
machine's share says how much other work took. With `--workers 1` the ingest
figure is this whole process, the bench's own light threads included. Only
figures are printed: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import paho.mqtt.client as mqtt

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, Kind, telemetry_topic

if TYPE_CHECKING:
    from tools.servers import InfluxServer, MosquittoServer

KINDS: tuple[str, ...] = tuple(kind.value for kind in Kind)
INGEST_TIMEOUT_S = 300.0
RAW_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 60.0
POLL_S = 0.15  # InfluxDB completion poll interval
PUBLISH_WINDOW = 1000  # unacknowledged QoS 1 messages per Python publisher
SITES_PER_WORKER = 4
MAX_PER_PUBLISHER = 60_000  # mosquitto_pub -l reads ahead; its 16-bit message ids must not wrap
LOADS = ("c", "python")
CLK_TCK = os.sysconf("SC_CLK_TCK")

Message = tuple[str, bytes]
Report = tuple[str, str, float | str, float]  # (ready|done|error, client id, s or error, cpu s)


class BenchError(RuntimeError):
    """A benchmark step failed; the text says which and what was seen."""


@dataclass
class IngestResult:
    workers: int
    ingest_s: float
    msgs_per_s: float
    ratio: float  # to the raw figure of the same run
    publish_s: float
    stored: int
    missing: int
    extra: int
    exact: bool
    resolution_s: float  # completion is seen at most this late: poll interval + query time
    cpu_s: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    run: int
    raw_s: float
    raw_msgs_per_s: float
    raw_mosquitto_cpu_s: float
    ingest: list[IngestResult] = field(default_factory=list)


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# -- the devices and their messages ------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """One run's payloads; message i belongs to device i % devices, so every device's
    last message lies in the last `devices` messages (the tail the poll counts)."""

    kinds: list[str]
    ids: list[str]
    payloads: list[bytes]
    tail_ts_ms: int

    @property
    def devices(self) -> int:
        return len(self.ids)

    def expected(self) -> dict[str, int]:
        counts = Counter(i % self.devices for i in range(len(self.payloads)))
        return {self.ids[d]: n for d, n in counts.items()}

    def device_data(self) -> list[bytes]:
        """Each device's payloads as `mosquitto_pub -l` reads them, one per line."""
        return [
            b"".join(p + b"\n" for p in self.payloads[d :: self.devices])
            for d in range(self.devices)
        ]


def make_fleet(count: int, devices: int, now_ms: int) -> Fleet:
    """Valid telemetry with realistic values, so validation and detectors do real work."""
    import numpy as np

    from simulators.models import MODELS

    kinds = [KINDS[d % len(KINDS)] for d in range(devices)]
    ids = [f"{kind}-{d:04d}" for d, kind in enumerate(kinds)]
    models = [MODELS[kind](np.random.default_rng(d)) for d, kind in enumerate(kinds)]
    seqs = [0] * devices
    start_ms = now_ms - count
    payloads: list[bytes] = []
    for i in range(count):
        d = i % devices
        seqs[d] += 1
        ts_ms = start_ms + i
        payloads.append(encode_telemetry(ts_ms, seqs[d], models[d].sample(ts_ms, 1.0, [])))
    return Fleet(kinds, ids, payloads, start_ms + max(0, count - devices))


def lay_out(fleet: Fleet, workers: int, prefix: str) -> tuple[list[str], list[str]]:
    """(sites, topic per device): `SITES_PER_WORKER` sites per worker, and each worker's
    devices dealt kind by kind, so every worker gets an even share of every kind."""
    from ingest.sharding import assign_units

    sites = [f"{prefix}-{k}" for k in range(SITES_PER_WORKER * workers)]
    shares = assign_units(sites, workers)
    by_kind = sorted(range(fleet.devices), key=lambda d: (KINDS.index(fleet.kinds[d]), d))
    topics = [""] * fleet.devices
    for rank, d in enumerate(by_kind):
        share = shares[rank % workers]
        site = share[(rank // workers) % len(share)]
        topics[d] = telemetry_topic(DeviceRef(site, "bench", fleet.kinds[d], fleet.ids[d]))
    return sites, topics


def split_by_device(messages: list[Message], devices: int, publishers: int) -> list[list[Message]]:
    """One device's messages all go through one publisher, so its own order holds."""
    shares: list[list[Message]] = [[] for _ in range(publishers)]
    for i, message in enumerate(messages):
        shares[(i % devices) % publishers].append(message)
    return [share for share in shares if share]


# -- CPU accounting ---------------------------------------------------------------------


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (also of an exited one not yet reaped); 0 if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


class CpuMeter:
    """CPU seconds per component between `start()` and `stop()`. What the machine spent
    beyond them is `rest_of_machine`: other work sharing it, and kernel time charged to
    no process (such as loopback TCP in ksoftirqd)."""

    def __init__(self, components: dict[str, Callable[[], float]]) -> None:
        self.components = components
        self._start: dict[str, float] = {}
        self._used: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: read() for name, read in self.components.items()}
        self._start["machine"] = _machine_busy_s()

    def stop(self) -> None:
        self._used = {name: read() - self._start[name] for name, read in self.components.items()}
        self._used["machine"] = _machine_busy_s() - self._start["machine"]

    def result(self, **measured_elsewhere: float) -> dict[str, float]:
        used = {name: v for name, v in self._used.items() if name != "machine"}
        used.update(measured_elsewhere)
        used["rest_of_machine"] = max(0.0, self._used["machine"] - sum(used.values()))
        return {name: round(value, 2) for name, value in used.items()}


# -- raw broker delivery ------------------------------------------------------


def _client_binaries() -> tuple[str, str]:
    sub_bin = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
    pub_bin = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    for binary in (sub_bin, pub_bin):
        if not Path(binary).exists():
            raise BenchError(f"{binary} not found: install the Debian package 'mosquitto-clients'")
    return sub_bin, pub_bin


# -- load generators ------------------------------------------------------------------


class Load(Protocol):
    def start(self) -> None:
        """Start the publishers and return once every one is connected."""

    def go(self) -> None:
        """Publish everything, without waiting."""

    def publish_s(self) -> float | None:
        """Seconds from `go` until every publisher had its last PUBACK; None while running.
        Raises BenchError when a publisher failed."""

    def cpu_s(self) -> float:
        """CPU seconds the publishers spent since `go` (valid once finished)."""

    def close(self) -> None: ...


class CLoad:
    """One `mosquitto_pub -q 1 --nodelay -l` per device, as the raw reference publishes.

    All processes are connected before `go` (the broker logs each CONNECT); `go`
    releases one thread per process that writes the device's lines to its stdin.
    A finished process is left unreaped for a moment to read its CPU time.
    """

    def __init__(
        self, port: int, topics: list[str], data: list[bytes], broker_log: Path, workdir: Path
    ) -> None:
        self.port = port
        self.topics = topics
        self.data = data
        self.broker_log = broker_log
        self.err_path = workdir / f"mosquitto_pub-{uuid.uuid4().hex[:8]}.err"
        self.tag = uuid.uuid4().hex[:8]
        self.processes: list[subprocess.Popen[bytes]] = []
        self._go = threading.Event()
        self._started = 0.0
        self._threads: list[threading.Thread] = []
        self._done: list[float | None] = [None] * len(topics)
        self._cpu_at_go: list[float] = []
        self._cpu_at_exit: list[float] = [0.0] * len(topics)
        self._errors: list[str] = []

    def start(self) -> None:
        _, pub_bin = _client_binaries()
        client_ids = [f"bench-pub-{self.tag}-{d}" for d in range(len(self.topics))]
        log_offset = self.broker_log.stat().st_size
        with self.err_path.open("ab") as err:
            for topic, client_id in zip(self.topics, client_ids, strict=True):
                argv = [pub_bin, "-h", "127.0.0.1", "-p", str(self.port), "-q", "1"]
                argv += ["-t", topic, "-i", client_id, "--nodelay", "-l"]
                self.processes.append(
                    subprocess.Popen(
                        argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err
                    )
                )
        waiting = {f" as {client_id} (" for client_id in client_ids}
        deadline = time.monotonic() + READY_TIMEOUT_S
        while waiting:
            with self.broker_log.open("rb") as log_file:
                log_file.seek(log_offset)
                text = log_file.read().decode(errors="replace")
            waiting = {needle for needle in waiting if needle not in text}
            exited = [p.returncode for p in self.processes if p.poll() is not None]
            if exited or time.monotonic() > deadline:
                raise BenchError(
                    f"{len(waiting)} of {len(client_ids)} mosquitto_pub processes did not "
                    f"connect ({len(exited)} exited): {self._stderr_tail()}"
                )
            time.sleep(0.02)
        time.sleep(0.05)  # the CONNACKs follow the broker's log line
        self._cpu_at_go = [_proc_cpu_s(p.pid) for p in self.processes]
        for d in range(len(self.processes)):
            thread = threading.Thread(target=self._feed, args=(d,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _feed(self, d: int) -> None:
        process = self.processes[d]
        assert process.stdin is not None
        self._go.wait()
        try:
            process.stdin.write(self.data[d])
            process.stdin.close()
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            self._done[d] = time.perf_counter()
            self._cpu_at_exit[d] = _proc_cpu_s(process.pid)
        except OSError as exc:
            self._errors.append(f"feeding {self.topics[d]}: {exc}")
        code = process.wait()
        if code != 0:
            self._errors.append(f"mosquitto_pub for {self.topics[d]} exited with {code}")

    def go(self) -> None:
        self._started = time.perf_counter()
        self._go.set()

    def publish_s(self) -> float | None:
        if self._errors:
            raise BenchError(f"{self._errors[0]}: {self._stderr_tail()}")
        if any(done is None for done in self._done):
            return None
        return max(done for done in self._done if done is not None) - self._started

    def cpu_s(self) -> float:
        return sum(self._cpu_at_exit) - sum(self._cpu_at_go)

    def _stderr_tail(self) -> str:
        try:
            return self.err_path.read_text(errors="replace")[-500:].strip() or "(no stderr)"
        except OSError:
            return "(no stderr)"

    def close(self) -> None:
        self._go.set()
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for thread in self._threads:
            thread.join(10)
        for process in self.processes:
            if process.poll() is None:
                process.wait()
        self.err_path.unlink(missing_ok=True)


def measure_raw(
    mosquitto: MosquittoServer, fleet: Fleet, device_data: list[bytes], workdir: Path
) -> tuple[float, float]:
    """(seconds, CPU seconds of Mosquitto) for the C load to reach one `mosquitto_sub -q 1`.

    The publishers are those of `--load c` on the same topics, so this and ingest
    differ only in the consumer. (One `mosquitto_pub -l` for every message stalls
    past 65,535 queued messages: it reads its input ahead and its message ids
    wrap.) A retained warm-up message proves the subscription before the clock
    starts.
    """
    sub_bin, pub_bin = _client_binaries()
    assert mosquitto.process is not None
    port, broker_pid = mosquitto.port, mosquitto.process.pid
    count = len(fleet.payloads)
    sites, topics = lay_out(fleet, 1, f"raw-{uuid.uuid4().hex[:8]}")
    warm_up = f"facility/v1/{sites[0]}/warm-up"
    filters = [arg for site in sites for arg in ("-t", f"facility/v1/{site}/#")]
    common = ["-h", "127.0.0.1", "-p", str(port), "-q", "1"]
    subprocess.run(
        [pub_bin, *common, "-t", warm_up, "-r", "-m", "warm-up"],
        check=True,
        timeout=30,
        capture_output=True,
    )
    out_path = workdir / f"raw-{sites[0]}.out"
    load = CLoad(port, topics, device_data, mosquitto.log_path, workdir)
    mosquitto_cpu = 0.0
    with out_path.open("w+b") as out:
        sub = subprocess.Popen([sub_bin, *common, *filters, "-C", str(count + 1)], stdout=out)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while out.seek(0, os.SEEK_END) == 0:
                if sub.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("mosquitto_sub did not receive the retained warm-up message")
                time.sleep(0.005)
            load.start()
            broker_cpu = _proc_cpu_s(broker_pid)
            started = time.perf_counter()
            load.go()
            try:
                while sub.poll() is None:
                    if time.perf_counter() - started > RAW_TIMEOUT_S:
                        raise subprocess.TimeoutExpired("mosquitto_sub", RAW_TIMEOUT_S)
                    load.publish_s()  # raises if a publisher failed
                    time.sleep(0.002)
            except subprocess.TimeoutExpired:
                out.seek(0)
                got = out.read().count(b"\n") - 1
                raise BenchError(
                    f"raw delivery timed out after {RAW_TIMEOUT_S:.0f} s: "
                    f"mosquitto_sub got {got} of {count} messages"
                ) from None
            elapsed = time.perf_counter() - started
            mosquitto_cpu = _proc_cpu_s(broker_pid) - broker_cpu
            while load.publish_s() is None and time.perf_counter() - started < RAW_TIMEOUT_S:
                time.sleep(0.01)  # the last PUBACKs, so that no publisher is killed
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait()
            load.close()
        out.seek(0)
        received = out.read().count(b"\n") - 1
    out_path.unlink(missing_ok=True)
    subprocess.run([pub_bin, *common, "-t", warm_up, "-r", "-n"], timeout=30, capture_output=True)
    if sub.returncode != 0 or received != count:
        raise BenchError(
            f"mosquitto_sub exited with {sub.returncode} after {received} of {count} messages"
        )
    return elapsed, mosquitto_cpu


def _publisher_process(
    port: int,
    client_id: str,
    messages: list[Message],
    go: MpEvent,
    results: Queue[Report],
) -> None:
    """One paho client: connect, report ready, then publish its share at QoS 1 on `go`.

    At most `PUBLISH_WINDOW` messages are unacknowledged, as with paho's
    `max_inflight_messages_set(1000)`, but the window is kept here: paho 2.2
    rescans every queued message on each PUBACK when its own limit is set,
    which halves a publisher's rate (measured: 5.5-6k vs 12-14k msg/s).
    """
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )
    client.max_inflight_messages_set(0)  # unlimited in paho; bounded by the window below
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, rc, _p: None if rc.is_failure else connected.set()
    try:
        client.connect("127.0.0.1", port, keepalive=60)
        client.loop_start()
        if not connected.wait(READY_TIMEOUT_S):
            results.put(("error", client_id, "no CONNACK from the broker", 0.0))
            return
        results.put(("ready", client_id, 0.0, 0.0))
        if not go.wait(READY_TIMEOUT_S * 2):
            return
        started = time.perf_counter()
        cpu_started = time.process_time()
        infos: list[mqtt.MQTTMessageInfo] = []
        for i, (topic, payload) in enumerate(messages):
            if i >= PUBLISH_WINDOW:
                infos[i - PUBLISH_WINDOW].wait_for_publish(INGEST_TIMEOUT_S)
            infos.append(client.publish(topic, payload, qos=1))
        for info in infos[-PUBLISH_WINDOW:]:
            info.wait_for_publish(INGEST_TIMEOUT_S)
        done = time.perf_counter() - started
        results.put(("done", client_id, done, time.process_time() - cpu_started))
    except Exception as exc:
        results.put(("error", client_id, f"{type(exc).__name__}: {exc}", 0.0))
    finally:
        client.disconnect()
        client.loop_stop()


class PythonLoad:
    """Paho publisher processes, each with a share of the devices."""

    def __init__(self, port: int, shares: list[list[Message]]) -> None:
        context = multiprocessing.get_context("spawn")  # the service's threads make fork unsafe
        tag = uuid.uuid4().hex[:8]
        self.go_event = context.Event()
        self.results: Queue[Report] = context.Queue()
        self.processes = [
            context.Process(
                target=_publisher_process,
                args=(port, f"facmon-bench-pub-{tag}-{n}", share, self.go_event, self.results),
                daemon=True,
            )
            for n, share in enumerate(shares)
        ]
        self._finished = 0
        self._publish_s = 0.0
        self._cpu_s = 0.0

    def start(self) -> None:
        for process in self.processes:
            process.start()
        for _ in self.processes:
            state, who, detail, _cpu = self._result(READY_TIMEOUT_S, "publisher connect")
            if state != "ready":
                raise BenchError(f"publisher {who} failed: {detail}")

    def _result(self, timeout_s: float, what: str) -> Report:
        try:
            return self.results.get(timeout=timeout_s)
        except queue.Empty:
            raise BenchError(f"no {what} report within {timeout_s:.0f} s") from None

    def go(self) -> None:
        self.go_event.set()

    def publish_s(self) -> float | None:
        while self._finished < len(self.processes):
            try:
                state, who, detail, cpu = self.results.get_nowait()
            except queue.Empty:
                return None
            if state != "done":
                raise BenchError(f"publisher {who} failed: {detail}")
            self._finished += 1
            self._publish_s = max(self._publish_s, float(detail))
            self._cpu_s += cpu
        return self._publish_s

    def cpu_s(self) -> float:
        return self._cpu_s

    def close(self) -> None:
        self.go_event.set()
        for process in self.processes:
            if process.pid is None:  # never started
                continue
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()


# -- ingest under test -----------------------------------------------------------------


def _drop_session(port: int, client_id: str) -> None:
    """End an ingest session, or later runs would queue copies for it."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    try:
        client.connect("127.0.0.1", port, clean_start=True)
        client.loop_start()
        connected.wait(10)
        client.disconnect()
    except OSError:
        pass
    finally:
        client.loop_stop()


class Ingest(Protocol):
    def start(self) -> None:
        """Start ingest and return once every session holds its subscriptions."""

    def cpu_s(self) -> float:
        """CPU seconds the ingest processes used so far."""

    def diagnostics(self) -> str: ...

    def stop(self) -> None:
        """Stop ingest and end its MQTT sessions."""


class InProcessIngest:
    """The whole service in this process, as `facmon run` with one worker runs it."""

    def __init__(self, mqtt_url: str, port: int, influx_url: str, database: str, data_dir: Path):
        from facmon.settings import Settings

        self.port = port
        self.client_id = f"facmon-bench-ingest-{uuid.uuid4().hex[:10]}"
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_database=database,
            data_dir=data_dir,
            mqtt_client_id=self.client_id,
            ingest_workers=1,
            ingest_sites=None,
            database_url=f"sqlite:///{data_dir / 'facmon.sqlite'}",
            webhook_url=None,
        )
        self.service: Any = None

    def start(self) -> None:
        from facmon.gc_tuning import tune_for_long_lived_state
        from facmon.service import Service

        self.service = Service(self.settings)
        self.service.start()  # returns once the SUBACK arrived
        tune_for_long_lived_state()  # as facmon run does

    def cpu_s(self) -> float:
        return time.process_time()  # this whole process: the service and the bench's own threads

    def diagnostics(self) -> str:
        if self.service is None:
            return "service not started"
        metrics = self.service.stores.metrics
        return (
            f"{metrics.dead_letters.total():.0f} dead letters, "
            f"{metrics.write_errors.total():.0f} write errors"
        )

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
        _drop_session(self.port, self.client_id)


class WorkerIngest:
    """N `facmon ingest` processes started through facmon/workers.py, each owning its sites."""

    def __init__(
        self,
        workers: int,
        sites: list[str],
        mqtt_url: str,
        port: int,
        influx_url: str,
        database: str,
        data_dir: Path,
    ) -> None:
        from facmon.settings import Settings
        from facmon.workers import plan_workers

        self.port = port
        self.data_dir = data_dir
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_database=database,
            data_dir=data_dir,
            mqtt_client_id=f"facmon-bench-{uuid.uuid4().hex[:10]}",
            ingest_workers=workers,
            ingest_sites=",".join(sites),
        )
        self.specs = plan_workers(self.settings, mqtt_url)
        # Only the bench's settings reach the workers, whatever FACMON_* this shell has.
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
        self.base_env.update(
            FACMON_INFLUX_URL=influx_url,
            FACMON_INFLUX_DATABASE=database,
            FACMON_DATA_DIR=str(data_dir),
            FACMON_TICKET_EVENTS_MQTT="false",
        )
        self.workers: Any = None
        self.pids: list[int] = []

    def _log(self, client_id: str) -> Path:
        return self.data_dir / f"{client_id}.log"

    def start(self) -> None:
        from facmon.schema import create_schema
        from facmon.workers import IngestWorkers
        from storage.sql import make_engine

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # As `facmon run` does before it starts workers: workers creating the schema
        # of a new SQLite database at the same moment can collide.
        engine = make_engine(self.settings.ticket_database_url)
        create_schema(engine)
        engine.dispose()
        # Exactly `facmon ingest`, with its output in a log file instead of the bench's
        # stdout (which may carry --json); exec keeps the worker's pid for stop().
        command = [
            "sh",
            "-c",
            'exec "$0" -m facmon.cli ingest >>"$FACMON_DATA_DIR/$FACMON_MQTT_CLIENT_ID.log" 2>&1',
            sys.executable,
        ]
        self.workers = IngestWorkers(self.specs, self.base_env, command)
        self.workers.start()
        self.pids = list(self.workers.pids)
        deadline = time.monotonic() + READY_TIMEOUT_S
        for spec in self.specs:
            state = self.settings.model_copy(update={"mqtt_client_id": spec.client_id})
            while not state.subscription_state_path.exists():
                if time.monotonic() > deadline or self.workers.pids != self.pids:
                    raise BenchError(
                        f"ingest worker {spec.client_id} did not subscribe within "
                        f"{READY_TIMEOUT_S:.0f} s: {self._log_tail(spec.client_id)}"
                    )
                time.sleep(0.05)

    def cpu_s(self) -> float:
        return sum(_proc_cpu_s(pid) for pid in self.pids)

    def _log_tail(self, client_id: str) -> str:
        try:
            return self._log(client_id).read_text(errors="replace")[-800:].strip() or "(no log)"
        except OSError:
            return "(no log)"

    def diagnostics(self) -> str:
        restarted = self.workers is not None and self.workers.pids != self.pids
        tails = "; ".join(
            f"{spec.client_id}: {self._log_tail(spec.client_id)[-300:]}" for spec in self.specs
        )
        return f"{'a worker was restarted; ' if restarted else ''}worker logs: {tails}"

    def stop(self) -> None:
        if self.workers is not None:
            restarted = self.workers.pids != self.pids
            self.workers.stop()
            if restarted:
                raise BenchError(
                    f"an ingest worker exited during the run and was restarted: "
                    f"{self.diagnostics()}"
                )
        for spec in self.specs:
            _drop_session(self.port, spec.client_id)


# -- completion and the exactly-once check --------------------------------------------


class Completion:
    """Counts in InfluxDB: the cheap tail count while running, full counts to confirm."""

    def __init__(self, influx_url: str, database: str, fleet: Fleet) -> None:
        from storage.timeseries.influx import InfluxStore, quote_ident

        self.store = InfluxStore(influx_url, database)
        self.fleet = fleet
        measurements = ",".join(quote_ident(kind) for kind in KINDS)
        self._tail_q = f"SELECT count(seq) FROM {measurements} WHERE time >= {fleet.tail_ts_ms}ms"
        self._full_q = f"SELECT count(seq) FROM {measurements}"
        self.query_s: list[float] = []

    def _count(self, q: str) -> int:
        started = time.perf_counter()
        series = self.store.query(q)
        self.query_s.append(time.perf_counter() - started)
        return sum(int(s["values"][0][1]) for s in series if s.get("values"))

    def tail(self) -> int:
        """Stored messages among the last one of every device."""
        return self._count(self._tail_q)

    def full(self) -> int:
        return self._count(self._full_q)

    def check(self) -> tuple[int, int, int]:
        """(stored, missing, extra) by device and seq: every device's seqs 1..n, once."""
        expected = self.fleet.expected()
        stored = missing = extra = 0
        seen: set[str] = set()
        for kind in KINDS:
            for series in self.store.query(f'SELECT seq FROM "{kind}" GROUP BY device_id'):
                device_id = series.get("tags", {}).get("device_id", "")
                seqs = Counter(int(row[1]) for row in series["values"])
                seen.add(device_id)
                want = range(1, expected.get(device_id, 0) + 1)
                stored += sum(seqs.values())
                missing += sum(1 for seq in want if seq not in seqs)
                extra += sum(n - (1 if 1 <= seq <= len(want) else 0) for seq, n in seqs.items())
        missing += sum(n for device_id, n in expected.items() if device_id not in seen)
        return stored, missing, extra

    def drop(self) -> None:
        from storage.timeseries.influx import quote_ident

        try:
            self.store.query(f"DROP DATABASE {quote_ident(self.store.database)}")
        finally:
            self.store.close()


def measure_ingest(
    ingest: Ingest, load: Load, completion: Completion, meter: CpuMeter
) -> tuple[float, float, dict[str, float]]:
    """(seconds until every message is stored, publish seconds, CPU seconds per component)."""
    fleet = completion.fleet
    total = len(fleet.payloads)
    ingest.start()
    load.start()
    meter.start()
    started = time.perf_counter()
    load.go()
    deadline = started + INGEST_TIMEOUT_S
    polls = 0
    tail = 0
    while tail < fleet.devices:
        polls += 1
        time.sleep(max(0.0, started + polls * POLL_S - time.perf_counter()))
        load.publish_s()  # raises if a publisher failed
        if time.perf_counter() > deadline:
            raise BenchError(
                f"ingest timed out after {INGEST_TIMEOUT_S:.0f} s: {completion.full()} of "
                f"{total} messages stored; {ingest.diagnostics()}"
            )
        tail = completion.tail()
    elapsed = time.perf_counter() - started
    while (stored := completion.full()) < total:  # the tail alone should have sufficed
        if time.perf_counter() > deadline:
            raise BenchError(f"only {stored} of {total} messages stored after the last ones")
        time.sleep(POLL_S)
        elapsed = time.perf_counter() - started
    meter.stop()
    publish_s = load.publish_s()
    while publish_s is None:
        if time.perf_counter() > deadline:
            raise BenchError("publishers did not finish")
        time.sleep(0.01)
        publish_s = load.publish_s()
    return elapsed, publish_s, meter.result(load=load.cpu_s())


# -- the command ------------------------------------------------------------------


def parse_workers(text: str) -> list[int]:
    """`--workers 1,2`: the configurations to measure, in order.

    >>> parse_workers("1, 2,2")
    [1, 2]
    """
    values: list[int] = []
    for part in str(text).split(","):
        if not part.strip():
            continue
        value = int(part)
        if not 1 <= value <= 64:
            raise ValueError(f"--workers takes 1 to 64 processes, got {value}")
        if value not in values:
            values.append(value)
    if not values:
        raise ValueError("--workers needs at least one number")
    return values


def run_configuration(
    workers: int,
    fleet: Fleet,
    device_data: list[bytes],
    args: argparse.Namespace,
    mosquitto: MosquittoServer,
    influx: InfluxServer,
    workdir: Path,
    label: str,
) -> tuple[float, float, tuple[int, int, int], float, dict[str, float]]:
    """One ingest measurement on fresh sites, database and sessions, cleaned up after."""
    assert mosquitto.process is not None and influx.process is not None
    mosquitto_pid, influx_pid, influx_url = mosquitto.process.pid, influx.process.pid, influx.url
    tag = uuid.uuid4().hex[:8]
    sites, topics = lay_out(fleet, workers, f"{label}-{tag}")
    database = f"bench_{tag}"
    data_dir = workdir / f"ingest-{tag}"
    data_dir.mkdir()
    completion = Completion(influx_url, database, fleet)
    ingest: Ingest
    if workers == 1:
        ingest = InProcessIngest(mosquitto.url, mosquitto.port, influx_url, database, data_dir)
    else:
        ingest = WorkerIngest(
            workers, sites, mosquitto.url, mosquitto.port, influx_url, database, data_dir
        )
    load: Load
    if args.load == "c":
        load = CLoad(mosquitto.port, topics, device_data, mosquitto.log_path, workdir)
    else:
        messages = [(topics[i % fleet.devices], p) for i, p in enumerate(fleet.payloads)]
        load = PythonLoad(mosquitto.port, split_by_device(messages, fleet.devices, args.publishers))
    meter = CpuMeter(
        {
            "ingest": ingest.cpu_s,
            "mosquitto": lambda: _proc_cpu_s(mosquitto_pid),
            "influxd": lambda: _proc_cpu_s(influx_pid),
        }
        | ({} if workers == 1 else {"bench": time.process_time})
    )
    try:
        elapsed, publish_s, cpu = measure_ingest(ingest, load, completion, meter)
        check = completion.check()
    finally:
        load.close()
        try:
            ingest.stop()
        finally:
            completion.drop()
            shutil.rmtree(data_dir, ignore_errors=True)
    resolution = POLL_S + statistics.median(completion.query_s or [0.0])
    return elapsed, publish_s, check, resolution, cpu


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(
    args: argparse.Namespace, configs: list[int], runs: list[RunResult], wall_s: float
) -> dict[str, Any]:
    raw = _median([r.raw_msgs_per_s for r in runs])
    per_config = []
    for index, workers in enumerate(configs):
        results = [r.ingest[index] for r in runs]
        rates = [x.msgs_per_s for x in results]
        cpu_us = [x.cpu_s.get("ingest", 0.0) / args.messages * 1e6 for x in results]
        cpu_names = sorted({name for x in results for name in x.cpu_s})
        per_config.append(
            {
                "workers": workers,
                "mode": "in-process" if workers == 1 else "worker processes",
                "ingest_msgs_per_s": round(_median(rates), 1),
                "ratio": round(_median([x.ratio for x in results]), 4),
                "ratio_of_medians": round(_median(rates) / raw, 4) if raw else 0.0,
                "ingest_runs": [round(v, 1) for v in rates],
                "ratio_runs": [round(x.ratio, 4) for x in results],
                "ingest_cpu_us_per_msg": round(_median(cpu_us), 1),
                "ingest_cpu_us_runs": [round(v, 1) for v in cpu_us],
                "cores_busy": {
                    name: round(_median([x.cpu_s.get(name, 0.0) / x.ingest_s for x in results]), 2)
                    for name in cpu_names
                },
                "resolution_s": round(max(x.resolution_s for x in results), 3),
                "count_ok": all(x.exact for x in results),
            }
        )
    return {
        "messages": args.messages,
        "devices": args.devices,
        "load": args.load,
        "publishers": args.publishers if args.load == "python" else args.devices,
        "sites_per_worker": SITES_PER_WORKER,
        "runs": args.runs,
        "raw_msgs_per_s": round(raw, 1),
        "raw_runs": [round(r.raw_msgs_per_s, 1) for r in runs],
        "configs": per_config,
        "count_ok": all(c["count_ok"] for c in per_config),
        "poll_s": POLL_S,
        "per_run": [asdict(r) for r in runs],
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall_s, 2),
    }


def print_table(report: dict[str, Any]) -> None:
    def row(label: str, median: str, values: list[str]) -> str:
        return f"{label:<30}{median:>10}    {'  '.join(f'{v:>8}' for v in values)}"

    load = (
        f"{report['devices']} mosquitto_pub -l --nodelay (one per device)"
        if report["load"] == "c"
        else f"{report['publishers']} paho publisher processes"
    )
    print(
        f"facmon bench ingest: {report['messages']} messages, {report['devices']} devices, "
        f"load: {load}, {report['runs']} runs "
        f"(Python {report['python']}, {report['cpu_count']} CPUs, {report['wall_s']:.0f} s)"
    )
    print(row("", "median", ["per run"]))
    print(
        row(
            "raw QoS 1 msgs/s",
            f"{report['raw_msgs_per_s']:,.0f}",
            [f"{v:,.0f}" for v in report["raw_runs"]],
        )
    )
    for config in report["configs"]:
        name = "1 process" if config["workers"] == 1 else f"{config['workers']} workers"
        print(
            row(
                f"ingest msgs/s, {name}",
                f"{config['ingest_msgs_per_s']:,.0f}",
                [f"{v:,.0f}" for v in config["ingest_runs"]],
            )
        )
        print(
            row(
                "  ratio ingest/raw",
                f"{config['ratio']:.3f}",
                [f"{v:.3f}" for v in config["ratio_runs"]],
            )
        )
        print(
            row(
                "  ingest CPU us/msg",
                f"{config['ingest_cpu_us_per_msg']:.0f}",
                [f"{v:.0f}" for v in config["ingest_cpu_us_runs"]],
            )
        )
        cores = ", ".join(f"{name} {value:.2f}" for name, value in config["cores_busy"].items())
        print(f"  cores busy (median): {cores}")
    resolutions = ", ".join(f"{c['resolution_s']:.2f} s" for c in report["configs"])
    print(
        f"completion seen within {resolutions} (InfluxDB poll every {report['poll_s']} s "
        "plus query time)"
    )
    print(f"{'stored == published, by device and seq':<40}{'yes' if report['count_ok'] else 'NO'}")


def bench_ingest(args: argparse.Namespace) -> int:
    """Run the benchmark described in the module docstring; 0 on success."""
    from tools.servers import InfluxServer, MosquittoServer, ServerError

    for name in ("messages", "devices", "publishers", "runs"):
        if getattr(args, name) < 1:
            print(f"error: --{name} must be at least 1", file=sys.stderr)
            return 2
    try:
        configs = parse_workers(getattr(args, "workers", "1"))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not hasattr(args, "load"):
        args.load = "c"
    if args.load not in LOADS:
        print(f"error: --load must be one of {', '.join(LOADS)}", file=sys.stderr)
        return 2
    if args.messages > args.devices * MAX_PER_PUBLISHER:
        print(
            f"error: at most {MAX_PER_PUBLISHER} messages per device: a mosquitto_pub with "
            "more queued than MQTT's 65,535 message ids stalls; use more --devices",
            file=sys.stderr,
        )
        return 2
    if args.devices < max(configs):
        print(f"error: --devices must be at least --workers ({max(configs)})", file=sys.stderr)
        return 2
    if not getattr(args, "verbose", False):
        # Tickets opened on realistic data are expected here, not news.
        for noisy in ("ingest", "facmon.service", "facmon.workers", "detectors"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="facmon-bench-"))
    mosquitto = MosquittoServer()
    influx = InfluxServer()
    runs: list[RunResult] = []
    try:
        _progress("starting Mosquitto and InfluxDB on free ports")
        mosquitto.start()
        influx.start()
        for n in range(1, args.runs + 1):
            fleet = make_fleet(args.messages, args.devices, int(time.time() * 1000))
            device_data = fleet.device_data()
            raw_s, raw_cpu = measure_raw(mosquitto, fleet, device_data, workdir)
            run = RunResult(n, raw_s, args.messages / raw_s, round(raw_cpu, 2))
            _progress(
                f"run {n}/{args.runs}: raw broker QoS 1: {args.messages} msgs in {raw_s:.3f} s "
                f"= {run.raw_msgs_per_s:,.0f} msg/s (Mosquitto CPU {raw_cpu:.1f} s)"
            )
            for workers in configs:
                elapsed, publish_s, (stored, missing, extra), resolution, cpu = run_configuration(
                    workers, fleet, device_data, args, mosquitto, influx, workdir, f"b{n}"
                )
                rate = args.messages / elapsed
                exact = stored == args.messages and missing == 0 and extra == 0
                result = IngestResult(
                    workers,
                    elapsed,
                    rate,
                    rate / run.raw_msgs_per_s,
                    publish_s,
                    stored,
                    missing,
                    extra,
                    exact,
                    resolution,
                    cpu,
                )
                run.ingest.append(result)
                name = "1 process" if workers == 1 else f"{workers} workers"
                _progress(
                    f"run {n}/{args.runs}: ingest, {name}: {args.messages} msgs stored in "
                    f"{elapsed:.3f} s = {rate:,.0f} msg/s, ratio {result.ratio:.3f} "
                    f"(publishers done after {publish_s:.3f} s; completion seen within "
                    f"{resolution:.2f} s); CPU s: "
                    + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                    + f"; stored {stored}"
                    + ("" if exact else f" MISMATCH: {missing} missing, {extra} extra")
                )
            runs.append(run)
    except (BenchError, ServerError, subprocess.SubprocessError, OSError) as exc:
        print(f"error: bench ingest failed: {exc}", file=sys.stderr)
        return 1
    finally:
        influx.cleanup()
        mosquitto.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    report = summarize(args, configs, runs, time.perf_counter() - began)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    if not report["count_ok"]:
        bad = [
            (r.run, x.workers, x.stored, x.missing, x.extra)
            for r in runs
            for x in r.ingest
            if not x.exact
        ]
        print(
            f"error: stored != published (run, workers, stored, missing, extra): {bad}; "
            f"expected {args.messages} points, each (device, seq) once",
            file=sys.stderr,
        )
        return 1
    return 0
