"""`facmon bench soak` runs end to end on real servers, and a worker serves its metrics.

Only the shape and the bookkeeping are checked: lag and memory depend on the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from contract.payload import encode_telemetry
from facmon.embedded_broker import free_port
from observability.metrics import parse_histogram, parse_samples
from tests.conftest import unique, wait_until
from tools.bench_soak import QoS1Publisher, plan_devices, scheduled_samples
from tools.servers import InfluxServer, MosquittoServer


def test_a_tiny_soak_reports_every_figure_and_stores_exactly_what_was_published() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "soak", "--json"]
    argv += ["--devices", "50", "--duration", "10", "--workers", "2", "--interval", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert (report["devices"], report["workers"], report["publishers"]) == (50, 2, 2)
    # the devices' CPU yields to what is measured (niceness stops at 19)
    assert report["generator_nice"] == min(19, os.nice(0) + 10) - os.nice(0)
    assert report["offered_per_s"] == 50.0
    assert report["scheduled"] == 500  # 50 devices x 10 periods
    assert report["sent"] == report["published"] > 0
    assert report["stored"] == report["published"] and report["count_ok"] is True
    assert report["ingested"] == report["published"]
    assert report["lag_samples"] == report["published"]  # each sample observed once
    lag = report["lag_s"]
    assert set(lag) == {"p50", "p95", "p99", "max"}
    assert 0 <= lag["p50"] <= lag["p95"] <= lag["p99"] <= lag["max"]
    writes = report["batch_write_s"]  # the workers' own histogram, over the whole run
    assert report["batch_writes"] > 0 and set(writes) == {"p50", "p99", "mean"}
    assert 0 < writes["p50"] <= writes["p99"] and writes["mean"] > 0
    assert len(report["rss_max_mb"]) == 2 and all(mb > 0 for mb in report["rss_max_mb"])
    assert report["rss_total_max_mb"] == pytest.approx(sum(report["rss_max_mb"]), abs=0.2)
    assert report["pass"] == (report["lag_p99_ok"] and report["rss_ok"])
    assert report["worker_restarts"] == 0 and report["worker_reconnects"] >= 0
    assert report["intervals"] and all(
        set(i) >= {"elapsed_s", "published_per_s", "ingested_per_s", "lag_p99_s", "rss_mb"}
        for i in report["intervals"]
    )
    assert "[soak]" in done.stderr and "lag p99" in done.stderr


def test_the_text_report_names_the_targets() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "soak"]
    argv += ["--devices", "8", "--duration", "3", "--workers", "1", "--publishers", "1"]
    argv += ["--generator-nice", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "1 load generators (nice 0)" in done.stdout
    labels = ("offered", "published (QoS 1)", "durable lag", "batch write time")
    for label in (*labels, "max RSS per worker"):
        assert label in done.stdout
    assert "stored == published   yes" in done.stdout
    assert "p99 lag < 1 s" in done.stdout and "RSS < 500 MB" in done.stdout


def test_bad_arguments_exit_2_with_a_message() -> None:
    argv = [sys.executable, "-m", "facmon.cli", "bench", "soak", "--workers", "3", "--sites", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--sites must be at least --workers" in done.stderr


def test_devices_spread_over_sites_and_kinds_and_over_the_period() -> None:
    sites = ["s0", "s1", "s2", "s3"]
    slots = plan_devices(16, sites, rate_hz=2.0)
    assert [slot.topic.split("/")[2] for slot in slots[:4]] == sites
    per_site = {site: {s.kind for s in slots if s.topic.split("/")[2] == site} for site in sites}
    assert all(len(kinds) == 4 for kinds in per_site.values())
    offsets = [slot.offset_s for slot in slots]
    assert offsets == sorted(offsets) and offsets[0] == 0.0 and offsets[-1] < 0.5
    assert sum(scheduled_samples(o, 0.5, 3.0) for o in offsets) == 16 * 6


def test_the_load_generator_sends_real_qos1_publishes_that_the_broker_acknowledges(
    mosquitto: MosquittoServer,
) -> None:
    site = unique("soakq")
    received: list[mqtt.MQTTMessage] = []
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("soakq-sub"))
    subscriber.on_message = lambda _c, _u, message: received.append(message)
    subscriber.connect("127.0.0.1", mosquitto.port)
    subscriber.loop_start()
    try:
        subscriber.subscribe(f"facility/v1/{site}/#", qos=1)
        time.sleep(0.5)
        publisher = QoS1Publisher("127.0.0.1", mosquitto.port, unique("soakq-pub"))
        topics = [f"facility/v1/{site}/b1/pump/pump-{n}/telemetry" for n in range(300)]
        for n, topic in enumerate(topics):
            publisher.publish(topic.encode(), b"x" * n)  # 128+ bytes: 2-byte remaining length
        publisher.flush()

        def all_acknowledged() -> bool:
            publisher.poll(0.05)
            return not publisher.inflight

        wait_until(all_acknowledged, 20, "PUBACKs")
        assert (publisher.acked, publisher.unexpected) == (300, 0)
        publisher.close()
        wait_until(lambda: len(received) >= 300, 20, "the messages at the subscriber")
        assert [(m.topic, m.payload, m.qos) for m in received] == [
            (topic, b"x" * n, 1) for n, topic in enumerate(topics)
        ]
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()


def test_an_ingest_worker_serves_the_lag_histogram_on_its_metrics_port(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path: Path
) -> None:
    port = free_port()
    site = unique("soakm")
    env = {key: value for key, value in os.environ.items() if not key.startswith("FACMON_")}
    env |= {
        "FACMON_MQTT_URL": mosquitto.url,
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": site.replace("-", "_"),
        "FACMON_DATA_DIR": str(tmp_path),
        "FACMON_MQTT_CLIENT_ID": unique("soakm-ingest"),
        "FACMON_INGEST_SITES": site,
        "FACMON_BATCH_MAX_DELAY_S": "0.2",
        "FACMON_METRICS_PORT": str(port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "ingest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape() -> str | None:
        try:
            return httpx.get(url, timeout=1).text
        except httpx.HTTPError:
            return None

    try:
        wait_until(lambda: scrape() or worker.poll() is not None, 60, "the metrics endpoint")
        assert worker.poll() is None
        wait_until(lambda: list(tmp_path.glob("subscriptions-*.json")), 30, "the subscription")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("soakm-pub"))
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        now_ms = int(time.time() * 1000)
        topic = f"facility/v1/{site}/b1/pump/pump-1/telemetry"
        client.publish(
            topic, encode_telemetry(now_ms, 1, {"current_a": 1.0}), qos=1
        ).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()

        def observed() -> int:
            snapshot = parse_histogram(scrape() or "", "facmon_ingest_durable_lag_seconds")
            return 0 if snapshot is None else snapshot.count

        assert wait_until(observed, 30, "the sample in the lag histogram") == 1
        text = scrape() or ""
        assert ({"le": "+Inf"}, 1.0) in parse_samples(
            text, "facmon_ingest_durable_lag_seconds_bucket"
        )
        assert "# TYPE facmon_ingest_durable_lag_seconds histogram" in text
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
