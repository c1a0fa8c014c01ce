"""`facmon run`, `facmon ingest` and `facmon demo`: the service, one ingest worker, the demo."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from facmon.console import announce
from facmon.gc_tuning import tune_for_long_lived_state
from facmon.ports import bind_api_socket
from facmon.settings import Settings

if TYPE_CHECKING:
    from facmon.service import Service

log = logging.getLogger("facmon")


def _serve_api(service: Service, settings: Settings, sock: socket.socket) -> None:
    """Serve on `sock`, bound before the service started (see facmon.ports)."""
    import uvicorn

    from api.app import create_app

    class SignalledServer(uvicorn.Server):
        """Remembers the first signal that stopped it."""

        stopped_by: int | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.stopped_by is None:
                self.stopped_by = sig
            super().handle_exit(sig, frame)

    app = create_app(service.stores)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_level="warning", access_log=False
    )
    server = SignalledServer(config)
    server.run(sockets=[sock])
    # uvicorn re-raises the signal that stopped it, but under asyncio.run the re-raised
    # SIGINT can land in the lifespan task and be swallowed (a race): end the way the
    # signal asks either way, so Ctrl-C always exits 130 and SIGTERM 143.
    if server.stopped_by == signal.SIGINT:
        raise KeyboardInterrupt
    if server.stopped_by == signal.SIGTERM:
        sys.exit(128 + signal.SIGTERM)


def _exit_on_sigterm() -> None:
    """uvicorn re-raises the SIGTERM it caught once it has stopped; as an exception it
    unwinds through our clean-up (workers, flush), where the default action would not."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def cmd_run(args: argparse.Namespace) -> int:
    from facmon.service import Service
    from facmon.workers import IngestWorkers, plan_workers

    _exit_on_sigterm()
    settings = Settings()
    sock = bind_api_socket(settings.api_host, settings.api_port, ".venv/bin/facmon run")
    service = Service(settings, ingest=settings.ingest_workers == 1)
    service.start()
    tune_for_long_lived_state()
    workers: IngestWorkers | None = None
    if settings.ingest_workers == 0:
        announce("no ingest here: FACMON_INGEST_WORKERS=0 (run facmon ingest workers)")
    if settings.ingest_workers > 1:
        assert service.address is not None
        embedded = {"FACMON_MQTT_PROTOCOL": service.mqtt_protocol} if service.broker else {}
        url = settings.mqtt_url or (service.broker.url if service.broker else "")
        workers = IngestWorkers(plan_workers(settings, url, embedded))
        workers.start()
        announce(f"{settings.ingest_workers} ingest workers started")
    announce(f"API on http://{settings.api_host}:{settings.api_port} (OpenAPI at /docs)")
    try:
        _serve_api(service, settings, sock)
    finally:
        if workers:
            workers.stop()
        service.stop()
        announce("stopped.")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """One ingest worker: no API, no event delivery; stops cleanly on SIGTERM."""
    import threading

    from facmon.service import Service
    from observability.metrics import serve_metrics

    settings = Settings()
    if not settings.mqtt_url:
        print(
            "error: facmon ingest needs FACMON_MQTT_URL: a worker joins the broker the "
            "service uses (facmon run starts its workers with it)",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = Service(settings, delivery=False)
    registry = service.stores.metrics.registry
    port = settings.metrics_port
    metrics = serve_metrics(registry, settings.api_host, port) if port else None
    service.start()
    tune_for_long_lived_state()
    announce(f"ingest worker {settings.mqtt_client_id} running")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        if metrics:
            metrics.shutdown()
        service.stop()
        announce(f"ingest worker {settings.mqtt_client_id} stopped.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from facmon.demo import run_demo

    return run_demo(Path(args.scenario) if args.scenario else None, args.seed, _serve_api)


def add_serve_commands(sub: Any) -> None:
    """Add `run`, `ingest` and `demo`."""
    run = sub.add_parser("run", help="run ingest, detectors and the API (FACMON_* settings)")
    run.set_defaults(func=cmd_run)

    ingest_worker = sub.add_parser(
        "ingest", help="one ingest worker for FACMON_INGEST_SITES (no API); see README scale-out"
    )
    ingest_worker.set_defaults(func=cmd_ingest)
    demo = sub.add_parser("demo", help="run everything embedded with simulated faulty devices")
    demo.add_argument("--scenario", help="scenario YAML (default: the built-in demo)")
    demo.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    demo.set_defaults(func=cmd_demo)
