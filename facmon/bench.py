"""`facmon bench ingest`: ingest throughput next to raw broker delivery, on real servers.

The raw figure is what Mosquitto delivers at QoS 1 between its own C clients
(`mosquitto_pub -l --nodelay` into `mosquitto_sub`); the ingest figure is the
whole service path (validation, detectors, batched InfluxDB writes, ack after
durable), fed by several Python publisher processes because one paho client
tops out near 8k QoS 1 messages a second (DESIGN.md section 5). Their ratio
says how much of the broker's capacity ingest can use. Only figures are
printed: nothing here asserts a speed.
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
from dataclasses import asdict, dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from gateway.contract import DeviceRef, Kind, telemetry_topic
from gateway.payload import encode_telemetry

KINDS: tuple[str, ...] = tuple(kind.value for kind in Kind)
INGEST_TIMEOUT_S = 300.0
RAW_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 60.0
POLL_S = 0.01
PUBLISH_WINDOW = 1000  # unacknowledged QoS 1 messages per publisher

Message = tuple[str, bytes]
Report = tuple[str, str, float | str]  # (ready|done|error, client id, seconds or error)


class BenchError(RuntimeError):
    """A benchmark step failed; the text says which and what was seen."""


@dataclass
class RunResult:
    raw_msgs_per_s: float
    raw_s: float
    ingest_msgs_per_s: float
    ingest_s: float
    publish_s: float
    stored: int
    count_ok: bool


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def make_messages(count: int, devices: int, site: str, now_ms: int) -> list[Message]:
    """Valid telemetry with realistic values, so validation and detectors do real work."""
    import numpy as np

    from simulators.models import MODELS

    refs = []
    models = []
    for d in range(devices):
        kind = KINDS[d % len(KINDS)]
        refs.append(DeviceRef(site, "bench", kind, f"{kind}-{d:04d}"))
        models.append(MODELS[kind](np.random.default_rng(d)))
    topics = [telemetry_topic(ref) for ref in refs]
    seqs = [0] * devices
    start_ms = now_ms - count
    messages: list[Message] = []
    for i in range(count):
        d = i % devices
        seqs[d] += 1
        ts_ms = start_ms + i
        payload = encode_telemetry(ts_ms, seqs[d], models[d].sample(ts_ms, 1.0, []))
        messages.append((topics[d], payload))
    return messages


def split_by_device(messages: list[Message], devices: int, publishers: int) -> list[list[Message]]:
    """One device's messages all go through one publisher, so its own order holds."""
    shares: list[list[Message]] = [[] for _ in range(publishers)]
    for i, message in enumerate(messages):
        shares[(i % devices) % publishers].append(message)
    return [share for share in shares if share]


# -- raw broker delivery ------------------------------------------------------


def measure_raw(port: int, payloads: list[bytes], workdir: Path) -> float:
    """Seconds for `mosquitto_pub -l --nodelay` to deliver every payload to `mosquitto_sub`.

    A retained warm-up message on the topic proves the subscription is active
    before the clock starts; the publisher process is started (and connects)
    while that happens, so the time is delivery, not process start-up.
    """
    sub_bin = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
    pub_bin = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    for binary in (sub_bin, pub_bin):
        if not Path(binary).exists():
            raise BenchError(f"{binary} not found: install the Debian package 'mosquitto-clients'")
    count = len(payloads)
    topic = f"bench/raw/{uuid.uuid4().hex[:12]}"
    common = ["-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic]
    subprocess.run(
        [pub_bin, *common, "-r", "-m", "warm-up"], check=True, timeout=30, capture_output=True
    )
    out_path = workdir / f"{topic.rsplit('/', 1)[1]}.out"
    data = b"".join(payload + b"\n" for payload in payloads)
    with out_path.open("w+b") as out:
        sub = subprocess.Popen([sub_bin, *common, "-C", str(count + 1)], stdout=out)
        pub = subprocess.Popen(
            [pub_bin, *common, "--nodelay", "-l"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert pub.stdin is not None
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while out.seek(0, os.SEEK_END) == 0:
                if sub.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("mosquitto_sub did not receive the retained warm-up message")
                time.sleep(0.005)
            time.sleep(0.05)  # let mosquitto_pub finish its CONNECT
            if pub.poll() is not None:
                raise BenchError(f"mosquitto_pub exited early with {pub.returncode}")
            started = time.perf_counter()
            pub.stdin.write(data)
            pub.stdin.close()
            try:
                sub.wait(RAW_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                out.seek(0)
                got = out.read().count(b"\n") - 1
                raise BenchError(
                    f"raw delivery timed out after {RAW_TIMEOUT_S:.0f} s: "
                    f"mosquitto_sub got {got} of {count} messages"
                ) from None
            elapsed = time.perf_counter() - started
            pub.wait(30)
        finally:
            for process in (sub, pub):
                if process.poll() is None:
                    process.kill()
                    process.wait()
        out.seek(0)
        received = out.read().count(b"\n") - 1
    out_path.unlink(missing_ok=True)
    subprocess.run([pub_bin, *common, "-r", "-n"], timeout=30, capture_output=True)
    if sub.returncode != 0 or received != count:
        raise BenchError(
            f"mosquitto_sub exited with {sub.returncode} after {received} of {count} messages"
        )
    return elapsed


# -- ingest ---------------------------------------------------------------------


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
            results.put(("error", client_id, "no CONNACK from the broker"))
            return
        results.put(("ready", client_id, 0.0))
        if not go.wait(READY_TIMEOUT_S * 2):
            return
        started = time.perf_counter()
        infos: list[mqtt.MQTTMessageInfo] = []
        for i, (topic, payload) in enumerate(messages):
            if i >= PUBLISH_WINDOW:
                infos[i - PUBLISH_WINDOW].wait_for_publish(INGEST_TIMEOUT_S)
            infos.append(client.publish(topic, payload, qos=1))
        for info in infos[-PUBLISH_WINDOW:]:
            info.wait_for_publish(INGEST_TIMEOUT_S)
        results.put(("done", client_id, time.perf_counter() - started))
    except Exception as exc:
        results.put(("error", client_id, f"{type(exc).__name__}: {exc}"))
    finally:
        client.disconnect()
        client.loop_stop()


def _ingested_total(metrics: Any) -> float:
    """Read the counter from another thread; a concurrent first insert may need a retry."""
    for _ in range(10):
        try:
            return float(metrics.ingested.total())
        except RuntimeError:  # dict changed size during iteration
            time.sleep(0.001)
    return 0.0


def _drop_session(port: int, client_id: str) -> None:
    """End the service's persistent session, or later runs would queue copies for it."""
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


def measure_ingest(
    mqtt_url: str,
    mqtt_port: int,
    influx_url: str,
    shares: list[list[Message]],
    workdir: Path,
) -> tuple[float, float, int]:
    """(seconds until every message is durable and counted, publish seconds, points stored)."""
    from facmon.service import Service
    from facmon.settings import Settings

    count = sum(len(share) for share in shares)
    tag = uuid.uuid4().hex[:10]
    data_dir = workdir / f"service-{tag}"
    data_dir.mkdir()
    client_id = f"facmon-bench-ingest-{tag}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mqtt_url=mqtt_url,
        influx_url=influx_url,
        influx_database=f"bench_{tag}",
        data_dir=data_dir,
        mqtt_client_id=client_id,
    )
    service = Service(settings)
    context = multiprocessing.get_context("spawn")  # the service's threads make fork unsafe
    go = context.Event()
    results: Queue[Report] = context.Queue()
    processes = [
        context.Process(
            target=_publisher_process,
            args=(mqtt_port, f"facmon-bench-pub-{tag}-{n}", share, go, results),
            daemon=True,
        )
        for n, share in enumerate(shares)
    ]
    try:
        service.start()
        for process in processes:
            process.start()
        for _ in processes:
            state, who, detail = _result(results, READY_TIMEOUT_S, "publisher connect")
            if state != "ready":
                raise BenchError(f"publisher {who} failed: {detail}")
        metrics = service.stores.metrics
        started = time.perf_counter()
        go.set()
        deadline = started + INGEST_TIMEOUT_S
        publish_s = 0.0
        finished = 0
        while _ingested_total(metrics) < count:
            now = time.perf_counter()
            if now > deadline:
                raise BenchError(
                    f"ingest timed out after {INGEST_TIMEOUT_S:.0f} s: "
                    f"{_ingested_total(metrics):.0f} of {count} messages durable, "
                    f"{metrics.dead_letters.total():.0f} dead letters, "
                    f"{metrics.write_errors.total():.0f} write errors, "
                    f"{finished} of {len(processes)} publishers done"
                )
            try:
                state, who, detail = results.get_nowait()
            except queue.Empty:
                time.sleep(POLL_S)
                continue
            if state != "done":
                raise BenchError(f"publisher {who} failed: {detail}")
            finished += 1
            publish_s = max(publish_s, float(detail))
        elapsed = time.perf_counter() - started
        while finished < len(processes):
            state, who, detail = _result(results, INGEST_TIMEOUT_S, "publisher completion")
            if state != "done":
                raise BenchError(f"publisher {who} failed: {detail}")
            finished += 1
            publish_s = max(publish_s, float(detail))
        stored = sum(service.stores.series.count(kind) for kind in KINDS)
        return elapsed, publish_s, stored
    finally:
        go.set()
        for process in processes:
            if process.pid is None:  # never started
                continue
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        service.stop()
        _drop_session(mqtt_port, client_id)
        shutil.rmtree(data_dir, ignore_errors=True)


def _result(results: Queue[Report], timeout_s: float, what: str) -> Report:
    try:
        return results.get(timeout=timeout_s)
    except queue.Empty:
        raise BenchError(f"no {what} report within {timeout_s:.0f} s") from None


# -- the command ------------------------------------------------------------------


def summarize(args: argparse.Namespace, runs: list[RunResult], wall_s: float) -> dict[str, Any]:
    ingest = statistics.median(r.ingest_msgs_per_s for r in runs)
    raw = statistics.median(r.raw_msgs_per_s for r in runs)
    return {
        "ingest_msgs_per_s": round(ingest, 1),
        "raw_msgs_per_s": round(raw, 1),
        "ratio": round(ingest / raw, 4),
        "messages": args.messages,
        "devices": args.devices,
        "publishers": args.publishers,
        "runs": args.runs,
        "count_ok": all(r.count_ok for r in runs),
        "ingest_runs": [round(r.ingest_msgs_per_s, 1) for r in runs],
        "raw_runs": [round(r.raw_msgs_per_s, 1) for r in runs],
        "per_run": [asdict(r) for r in runs],
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall_s, 2),
    }


def print_table(report: dict[str, Any]) -> None:
    def row(label: str, median: float, values: list[float]) -> str:
        runs = "  ".join(f"{v:,.0f}" for v in values)
        return f"{label:<22}{median:>12,.0f}    {runs}"

    print(
        f"facmon bench ingest: {report['messages']} messages, {report['devices']} devices, "
        f"{report['publishers']} publisher processes, {report['runs']} runs "
        f"(Python {report['python']}, {report['cpu_count']} CPUs, {report['wall_s']:.0f} s)"
    )
    print(f"{'':<22}{'median':>12}    per run")
    print(row("ingest msgs/s", report["ingest_msgs_per_s"], report["ingest_runs"]))
    print(row("raw QoS 1 msgs/s", report["raw_msgs_per_s"], report["raw_runs"]))
    print(f"{'ratio ingest/raw':<22}{report['ratio']:>12.3f}")
    print(f"{'stored == published':<22}{'yes' if report['count_ok'] else 'NO':>12}")


def bench_ingest(args: argparse.Namespace) -> int:
    """Run the benchmark described in the module docstring; 0 on success."""
    from facmon.servers import InfluxServer, MosquittoServer, ServerError

    for name in ("messages", "devices", "publishers", "runs"):
        if getattr(args, name) < 1:
            print(f"error: --{name} must be at least 1", file=sys.stderr)
            return 2
    if not getattr(args, "verbose", False):
        # Tickets opened on realistic data are expected here, not news.
        for noisy in ("ingest", "facmon.service", "detectors"):
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
            site = f"bench{n}-{uuid.uuid4().hex[:8]}"
            messages = make_messages(args.messages, args.devices, site, int(time.time() * 1000))
            raw_s = measure_raw(mosquitto.port, [p for _, p in messages], workdir)
            raw_rate = args.messages / raw_s
            _progress(
                f"run {n}/{args.runs}: raw broker QoS 1: {args.messages} msgs in {raw_s:.3f} s "
                f"= {raw_rate:,.0f} msg/s"
            )
            shares = split_by_device(messages, args.devices, args.publishers)
            ingest_s, publish_s, stored = measure_ingest(
                mosquitto.url, mosquitto.port, influx.url, shares, workdir
            )
            ingest_rate = args.messages / ingest_s
            ok = stored == args.messages
            _progress(
                f"run {n}/{args.runs}: ingest: {args.messages} msgs durable in {ingest_s:.3f} s "
                f"= {ingest_rate:,.0f} msg/s (publishers done after {publish_s:.3f} s); "
                f"stored {stored} points{'' if ok else ' MISMATCH'}"
            )
            runs.append(RunResult(raw_rate, raw_s, ingest_rate, ingest_s, publish_s, stored, ok))
    except (BenchError, ServerError, subprocess.SubprocessError, OSError) as exc:
        print(f"error: bench ingest failed: {exc}", file=sys.stderr)
        return 1
    finally:
        influx.cleanup()
        mosquitto.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    report = summarize(args, runs, time.perf_counter() - began)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    if not report["count_ok"]:
        print(
            f"error: InfluxDB holds {[r.stored for r in runs]} points per run, "
            f"expected {args.messages}",
            file=sys.stderr,
        )
        return 1
    return 0
