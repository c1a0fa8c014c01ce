"""Ingest scale-out on one host: `facmon run` with FACMON_INGEST_WORKERS > 1.

Each worker is a `facmon ingest` process with its own MQTT session, owning a
share of the sites in FACMON_INGEST_SITES (see ingest/sharding.py); the
processes share the ticket database and the time-series store. A worker that
dies is started again with backoff; its persistent session kept what arrived
meanwhile. On another host, run `facmon ingest` directly with its own
FACMON_INGEST_SITES and FACMON_MQTT_CLIENT_ID.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from facmon.settings import Settings
from ingest.sharding import assign_units, parse_units

log = logging.getLogger(__name__)

MAX_RESTART_DELAY_S = 30.0
STOP_TIMEOUT_S = 15.0


def worker_client_id(base: str, index: int) -> str:
    """Worker 0 keeps the single-process session id, so a backlog queued for the
    single-process service is drained when the service first scales out."""
    return base if index == 0 else f"{base}-{index}"


@dataclass
class WorkerSpec:
    index: int
    client_id: str
    units: list[str]
    env: dict[str, str]


@dataclass
class _Running:
    spec: WorkerSpec
    process: subprocess.Popen[bytes]
    started: float
    failures: int = 0
    next_start: float = field(default=0.0)


def plan_workers(
    settings: Settings, mqtt_url: str, extra_env: Mapping[str, str] | None = None
) -> list[WorkerSpec]:
    """Which worker owns what, and the environment each runs with."""
    units = parse_units(settings.ingest_sites)
    shares = (
        assign_units(units, settings.ingest_workers)
        if units
        else [[] for _ in range(settings.ingest_workers)]
    )
    specs = []
    for index, share in enumerate(shares):
        client_id = worker_client_id(settings.mqtt_client_id, index)
        env = {
            "FACMON_MQTT_URL": mqtt_url,
            "FACMON_MQTT_CLIENT_ID": client_id,
            "FACMON_INGEST_WORKERS": "1",
            "FACMON_INGEST_SITES": ",".join(share),
            **(
                {"FACMON_METRICS_PORT": str(settings.metrics_port + index)}
                if settings.metrics_port
                else {}
            ),
            **(extra_env or {}),
        }
        specs.append(WorkerSpec(index, client_id, share, env))
    return specs


class IngestWorkers:
    """Starts the workers, restarts any that exits, stops them all on `stop()`."""

    def __init__(
        self,
        specs: list[WorkerSpec],
        base_env: Mapping[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.specs = specs
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.command = command or [sys.executable, "-m", "facmon.cli", "ingest"]
        self._running: list[_Running] = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self, spec: WorkerSpec) -> subprocess.Popen[bytes]:
        log.info(
            "starting ingest worker %s for %s",
            spec.client_id,
            ", ".join(spec.units) or "a shared subscription",
        )
        return subprocess.Popen(self.command, env={**self.base_env, **spec.env})

    def start(self) -> None:
        now = time.monotonic()
        self._running = [_Running(spec, self._spawn(spec), now) for spec in self.specs]
        self._watcher = threading.Thread(target=self._watch, name="ingest-workers", daemon=True)
        self._watcher.start()

    @property
    def pids(self) -> list[int]:
        return [entry.process.pid for entry in self._running]

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for entry in self._running:
                code = entry.process.poll()
                if code is None:
                    continue
                now = time.monotonic()
                if entry.next_start == 0.0:
                    entry.failures = entry.failures + 1 if now - entry.started < 60 else 1
                    delay = min(MAX_RESTART_DELAY_S, 2.0 ** (entry.failures - 1))
                    entry.next_start = now + delay
                    log.error(
                        "ingest worker %s exited with %s; starting it again in %.0f s",
                        entry.spec.client_id,
                        code,
                        delay,
                    )
                if now >= entry.next_start and not self._stop.is_set():
                    entry.process = self._spawn(entry.spec)
                    entry.started = now
                    entry.next_start = 0.0

    def stop(self) -> None:
        """SIGTERM lets each worker flush and acknowledge what is durable."""
        self._stop.set()
        if self._watcher:
            self._watcher.join()
        for entry in self._running:
            if entry.process.poll() is None:
                entry.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for entry in self._running:
            try:
                entry.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("ingest worker %s did not stop; killing it", entry.spec.client_id)
                entry.process.kill()
                entry.process.wait()
