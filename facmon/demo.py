"""`facmon demo`: everything embedded, simulated faulty devices, and one ticket walked
around the whole quality loop through the real API.

A demo quality lead dispatches the door-held-open ticket, a technician fixes the
door (the simulator's fault clears), the lead marks it rectified, telemetry
verifies it, and the lead closes it. The other tickets stay open on the board.

Every run does the same: the demo keeps its data in its own folder
(`.data/demo`), empties it at start and says so. Earlier tickets would otherwise
be reopened rather than opened, and the walk-through would wait for an `open`
ticket that never comes.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from facmon.embedded_broker import recorded_owner
from facmon.ports import StartupError, bind_api_socket
from facmon.service import Service
from facmon.settings import Settings
from simulators.fleet import Fleet
from simulators.runner import (
    RunStats,
    SimulationRunner,
    format_progress,
    future_start_problem,
)
from simulators.scenario import builtin_scenario, load_scenario

DEMO_DETECTORS = Path(__file__).with_name("demo_detectors.yaml")
DEMO_DEFAULTS = {
    "FACMON_OFFLINE_AFTER_S": ("offline_after_s", 15.0),
    "FACMON_VERIFICATION_WINDOW_S": ("verification_window_s", 20),
    "FACMON_DETECTORS_CONFIG": ("detectors_config", DEMO_DETECTORS),
}


DEMO_FOLDER = "demo"


class DemoError(StartupError):
    """The demo cannot start; the message says what to do."""


def demo_data_dir(settings: Settings) -> Path:
    """The demo's own folder inside FACMON_DATA_DIR: `facmon run` data stay untouched."""
    return settings.data_dir / DEMO_FOLDER


def demo_settings() -> Settings:
    """Shorter windows than production, so the loop closes while you watch."""
    overrides: dict[str, Any] = {
        field: value for env, (field, value) in DEMO_DEFAULTS.items() if env not in os.environ
    }
    base = Settings(**overrides)
    return base.model_copy(update={"data_dir": demo_data_dir(base)})


def reset_demo_folder(folder: Path) -> str:
    """Empty the demo's folder for a run that starts like the first; say what was done."""
    owner = recorded_owner(folder)
    if owner is not None:
        raise DemoError(
            f"another demo (process {owner}) is running with {folder}: stop it first, or "
            "give this one its own folder and ports, e.g. FACMON_DATA_DIR=/tmp/demo2 "
            "FACMON_API_PORT=8001 .venv/bin/facmon demo"
        )
    if folder.exists() and any(folder.iterdir()):
        shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return "fresh: the previous demo run's data were removed"
    folder.mkdir(parents=True, exist_ok=True)
    return "fresh"


class DemoQualityLead(threading.Thread):
    """Walks one ticket through dispatch, rectification, verification and closing."""

    def __init__(
        self,
        base_url: str,
        token: str,
        fleet: Fleet,
        stop: threading.Event,
        say: Callable[[str], None],
        device_id: str = "access-01",
        fault_type: str = "door_held_open",
    ) -> None:
        super().__init__(name="demo-quality-lead", daemon=True)
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.fleet = fleet
        self.stop_event = stop
        self.say = say
        self.device_id = device_id
        self.fault_type = fault_type

    def _wait_for(self, probe: Callable[[], Any], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            try:
                found = probe()
            except httpx.HTTPError:
                found = None
            if found:
                return found
            self.stop_event.wait(1.0)
        return None

    def _ticket(self, state: str | None = None) -> dict[str, Any] | None:
        params = {"device_id": self.device_id, "fault_type": self.fault_type}
        if state:
            params["state"] = state
        tickets = self.client.get("/api/tickets", params=params).json()
        return tickets[0] if tickets else None

    def run(self) -> None:
        ticket = self._wait_for(lambda: self._ticket("open"), 180)
        if ticket is None:
            return
        ticket_id = ticket["id"]
        self.say(f"quality lead: dispatching ticket #{ticket_id} ({self.fault_type}) to door-team")
        self.client.post(
            f"/api/tickets/{ticket_id}/assign",
            json={"assignee": "door-team", "note": "please check the door closer"},
        ).raise_for_status()
        if self.stop_event.wait(5.0):
            return
        self.fleet.clear_fault(self.device_id, self.fault_type)
        self.say(f"technician: door closer on {self.device_id} adjusted; door closes again")
        self.client.post(
            f"/api/tickets/{ticket_id}/transitions",
            json={"to": "rectified", "note": "door closer adjusted"},
        ).raise_for_status()
        self.say(f"quality lead: #{ticket_id} rectified; waiting for telemetry to verify it")
        verified = self._wait_for(lambda: self._ticket("verified"), 300)
        if verified is None:
            return
        detail = self.client.get(f"/api/tickets/{ticket_id}").json()
        window = (detail.get("verification") or {}).get("window_s")
        self.say(f"telemetry: #{ticket_id} verified after {window} s of normal door behaviour")
        self.client.post(
            f"/api/tickets/{ticket_id}/transitions",
            json={"to": "closed", "note": "re-checked by telemetry"},
        ).raise_for_status()
        self.say(f"quality lead: #{ticket_id} closed. The loop is complete.")


def _report_tickets(service: Service, stop: threading.Event, say: Callable[[str], None]) -> None:
    seen: set[int] = set()
    while not stop.wait(2.0):
        for ticket in reversed(service.stores.tickets.list(limit=50)):
            if ticket.id not in seen:
                seen.add(ticket.id)
                say(
                    f"ticket #{ticket.id} [{ticket.severity}] {ticket.device_id} "
                    f"{ticket.fault_type}: {ticket.summary}"
                )


def run_demo(
    scenario_path: Path | None,
    seed: int,
    serve: Callable[[Service, Settings, socket.socket], None],
) -> int:
    def say(text: str) -> None:
        print(f"  {text}", flush=True)

    settings = demo_settings()
    # Everything that can refuse to start does so before the banner and the token.
    sock = bind_api_socket(settings.api_host, settings.api_port, "make demo")
    scenario = load_scenario(scenario_path or builtin_scenario("demo"))
    now_ms = int(time.time() * 1000)
    problem = future_start_problem(scenario.name, scenario.start_ms(now_ms), now_ms, option=False)
    if problem:
        raise DemoError(problem)
    data_note = reset_demo_folder(settings.data_dir)
    if settings.database_url:
        data_note += "; tickets live in FACMON_DATABASE_URL, which the demo does not reset"
    service = Service(settings)
    service.start()
    assert service.address is not None
    broker_note = service.broker.port_note if service.broker else ""
    _token_id, token = service.stores.tokens.create("quality", "demo-quality-lead")
    fleet = Fleet(scenario, seed=seed, start_ms=scenario.start_ms(now_ms))
    runner = SimulationRunner(fleet, service.address, scenario.speed, client_prefix="demo")
    stop = threading.Event()

    def progress(stats: RunStats) -> None:
        say("simulator: " + format_progress(stats))

    sim_thread = threading.Thread(
        target=runner.run, kwargs={"progress": progress, "progress_every_s": 15.0}, daemon=True
    )
    base = f"http://{settings.api_host}:{settings.api_port}"
    reporter = threading.Thread(target=_report_tickets, args=(service, stop, say), daemon=True)
    lead = DemoQualityLead(base, token, fleet, stop, say)
    print(
        "\nfacility-monitor demo\n"
        f"  ticket board: {base}/   (token of role quality: {token} )\n"
        f"  API:          {base}/docs\n"
        f"  tickets:      {base}/api/tickets   (send 'Authorization: Bearer <token>')\n"
        f"  metrics:      {base}/metrics\n"
        f"  MQTT broker (embedded): {service.address.redacted()}{broker_note}\n"
        f"  data:         {settings.data_dir.resolve()} ({data_note})\n"
        f"  scenario '{scenario.name}': {len(fleet.devices)} devices, "
        f"{len(scenario.faults)} injected faults, {scenario.speed:g}x real time\n"
        "Tickets appear below as detectors open them; the demo quality lead walks the\n"
        "door-held-open ticket around the loop. Ctrl-C stops.\n",
        flush=True,
    )
    sim_thread.start()
    reporter.start()
    lead.start()
    try:
        serve(service, settings, sock)
    finally:
        print("stopping...", flush=True)
        stop.set()
        runner.stop()
        sim_thread.join(10)
        service.stop()
        print("stopped.", flush=True)
    return 0
