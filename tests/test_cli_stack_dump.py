"""`kill -USR1` on a running facmon process writes every thread's stack and leaves it running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import unique, wait_until
from tools.servers import MosquittoServer


def test_sigusr1_dumps_the_threads_of_a_running_ingest_worker(tmp_path: Path) -> None:
    log_path = tmp_path / "ingest.log"
    broker = MosquittoServer(tmp_path / "mosquitto")
    broker.workdir.mkdir()
    broker.start()
    with log_path.open("ab") as log:
        env = {
            **os.environ,
            "FACMON_MQTT_URL": broker.url,
            "FACMON_DATA_DIR": str(tmp_path / "data"),
            "FACMON_MQTT_CLIENT_ID": unique("stacks"),
        }
        env.pop("FACMON_INFLUX_URL", None)
        worker = subprocess.Popen(
            [sys.executable, "-m", "facmon.cli", "ingest"], env=env, stdout=log, stderr=log
        )
        try:
            wait_until(lambda: "running" in log_path.read_text(), 60, "the worker to run")
            worker.send_signal(signal.SIGUSR1)
            wait_until(lambda: "most recent call first" in log_path.read_text(), 30, "the dump")
            text = log_path.read_text()
            assert 'File "' in text and "Thread 0x" in text
            assert worker.poll() is None, "SIGUSR1 must not stop the worker"
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            broker.cleanup()
    assert worker.returncode == 0
    assert " stopped." in log_path.read_text()
