"""`facmon demo`: the service with everything embedded, the properties' simulated devices,
and the quality department at work through the real API.

In order: the ledger is imported (before the service starts, so telemetry meets it), the
service starts, a maintenance window is opened through the API before any device
reports, then the simulators, the ticket printer and the quality lead start while the
API serves in the foreground. Ctrl-C stops it all.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from facmon.console import announce
from facmon.demo.accounts import seed_demo_users, sign_in_lines
from facmon.demo.client import DemoClient
from facmon.demo.ledger import import_demo_ledger, ledger_device
from facmon.demo.maintenance import open_window, report_suppressed
from facmon.demo.properties import DemoPlan, demo_plan
from facmon.demo.quality_lead import DemoQualityLead
from facmon.demo.setup import DemoError, demo_settings, reset_demo_folder
from facmon.demo.tickets import TicketPrinter
from facmon.demo.words import line
from facmon.ports import bind_api_socket
from facmon.service import Service
from facmon.settings import Settings
from simulators.fleet import Fleet
from simulators.runner import RunStats, SimulationRunner, format_progress, future_start_problem

DEFAULT_CONTRACTOR = "door-team"
"""Who gets the walked ticket when the ledger names no contractor for the door."""


def _say(text: str) -> None:
    announce(f"  {text}")


class _Simulation:
    """The properties' fleets, each published by its own runner in its own thread."""

    def __init__(self, plan: DemoPlan, service: Service, seed: int, now_ms: int) -> None:
        assert service.address is not None
        self.fleets: dict[str, Fleet] = {}
        self.runners: list[SimulationRunner] = []
        for index, scenario in enumerate(plan.scenarios):
            fleet = Fleet(scenario, seed=seed, start_ms=scenario.start_ms(now_ms))
            prefix = "demo" if index == 0 else f"demo-{scenario.site}"
            self.fleets[scenario.site] = fleet
            self.runners.append(
                SimulationRunner(fleet, service.address, scenario.speed, client_prefix=prefix)
            )
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        def progress(stats: RunStats) -> None:
            _say("simulator: " + format_progress(stats))

        for index, runner in enumerate(self.runners):
            kwargs = {"progress": progress, "progress_every_s": 15.0} if index == 0 else {}
            thread = threading.Thread(target=runner.run, kwargs=kwargs, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(10)


def _department(
    plan: DemoPlan,
    service: Service,
    simulation: _Simulation,
    clients: tuple[DemoClient, DemoClient],
    contractor: str,
    stop: threading.Event,
) -> None:
    """Once the API answers: the maintenance window, then the devices and the people."""
    lead, technician = clients
    if lead.wait_for(lambda: lead.get("/api/tickets", limit=1) is not None, 30, 0.1) is None:
        if not stop.is_set():
            _say(
                line(
                    "the API did not answer within 30 s: no device was started",
                    "API 在 30 秒内没有响应：未启动任何设备",
                )
            )
        return
    if plan.maintained is not None:
        try:
            open_window(lead, plan.maintained, _say)
        except httpx.HTTPError as exc:
            _say(line(f"maintenance: no window opened ({exc})", f"保养：未能开设保养时段（{exc}）"))
        desk = service.pipeline.findings.maintenance
        if desk is not None:
            desk.gate.refresh()  # now, rather than at the gate's next periodic re-read
    started = datetime.now(UTC)  # the KPIs' period starts with the devices
    simulation.start()
    printer = TicketPrinter(service, stop, _say)
    printer.start()
    if plan.walked is not None:
        DemoQualityLead(
            lead,
            technician,
            contractor,
            plan.walked,
            simulation.fleets[plan.walked.site],
            [s.site for s in plan.scenarios],
            started,
            printer.printed,
            _say,
        ).start()
    if plan.maintained is not None:
        report_suppressed(lead, plan.maintained, _say)


def _banner(
    plan: DemoPlan, base: str, token: str, service: Service, settings: Settings, notes: list[str]
) -> str:
    assert service.address is not None
    broker_note = service.broker.port_note if service.broker else ""
    data_note, ledger_note = notes
    properties = "".join(
        f"  scenario '{s.name}' (property {s.site}): {len(s.devices)} devices, "
        f"{len(s.faults)} injected fault{'' if len(s.faults) == 1 else 's'}, "
        f"{s.speed:g}x real time\n"
        for s in plan.scenarios
    )
    walked = f"the {plan.walked} door-held-open ticket" if plan.walked else "no ticket"
    return (
        "\nfacility-monitor demo / 设施监测演示\n"
        f"  ticket board: {base}/   (token of role quality: {token} )\n"
        f"  API:          {base}/docs\n"
        f"  tickets:      {base}/api/tickets   (send 'Authorization: Bearer <token>')\n"
        f"  metrics:      {base}/metrics\n"
        f"  MQTT broker (embedded): {service.address.redacted()}{broker_note}\n"
        f"  data:         {settings.data_dir.resolve()} ({data_note})\n"
        f"  equipment ledger: {ledger_note}\n"
        f"{properties}"
        "Tickets appear below as detectors open them; the demo quality lead walks\n"
        f"{walked} around the loop. Ctrl-C stops.\n"
        "工单在检测器开单时显示于下方；演示品质主管带一张工单走完闭环。按 Ctrl-C 停止。\n"
    )


def run_demo(
    scenario_path: Path | None,
    seed: int,
    serve: Callable[[Service, Settings, socket.socket], None],
) -> int:
    settings = demo_settings()
    # Everything that can refuse to start does so before the banner and the token.
    sock = bind_api_socket(settings.api_host, settings.api_port, "make demo")
    plan = demo_plan(scenario_path)
    now_ms = int(time.time() * 1000)
    for scenario in plan.scenarios:
        problem = future_start_problem(
            scenario.name, scenario.start_ms(now_ms), now_ms, option=False
        )
        if problem:
            raise DemoError(problem)
    data_note = reset_demo_folder(settings.data_dir)
    if settings.database_url:
        data_note += "; tickets live in FACMON_DATABASE_URL, which the demo does not reset"
    service = Service(settings)
    ledger_note = import_demo_ledger(service.stores.engine)
    service.start()
    stop = threading.Event()
    base = f"http://{settings.api_host}:{settings.api_port}"
    _token_id, token = service.stores.tokens.create("quality", "demo-quality-lead")
    contractor = DEFAULT_CONTRACTOR
    if plan.walked is not None:
        door = ledger_device(service.stores.engine, plan.walked.site, plan.walked.device_id)
        contractor = (door.contractor if door is not None else None) or DEFAULT_CONTRACTOR
    _tech_id, tech_token = service.stores.tokens.create(
        "engineer", "demo-technician", contractor=contractor
    )
    simulation = _Simulation(plan, service, seed, now_ms)
    clients = (DemoClient(base, token, stop), DemoClient(base, tech_token, stop))
    people = seed_demo_users(service.stores.engine, settings.data_dir.parent, contractor)
    announce(_banner(plan, base, token, service, settings, [data_note, ledger_note]))
    announce(sign_in_lines(base, people))
    threading.Thread(
        target=_department,
        args=(plan, service, simulation, clients, contractor, stop),
        name="demo-department",
        daemon=True,
    ).start()
    try:
        serve(service, settings, sock)
    finally:
        announce("stopping...")
        stop.set()
        simulation.stop()
        service.stop()
        announce("stopped.")
    return 0
