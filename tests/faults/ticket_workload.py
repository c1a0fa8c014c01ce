"""A child process that runs the ticket side of ingest and can be SIGKILLed at any point.

It records a fixed list of findings (several devices and faults, with repeats
that must fold into the open ticket), escalates overdue tickets as ingest's
tick does, and delivers the outbox to a webhook after each batch. Everything is
deterministic (a `ManualClock`, no background threads), so on a fresh database
the same sequence of kill points passes every time: killing at the k-th hits
the same spot on every run, and a sweep over k hits every spot.

The kill points: before and after each statement (`before_cursor_execute`,
`after_cursor_execute`), before each commit, and before each webhook request.
The point after a commit is whatever comes next: a statement's `before`, or a
`send` when the dispatcher has just committed its claim on a row.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import configure_mappers

from contract.clock import ManualClock
from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from quality.delivery import OutboxDispatcher, PendingEvent, Sender, SendResult, WebhookSender
from quality.tickets.store import TicketStore
from storage.sql import make_engine

SECRET = "kill-test-webhook-secret"
SINKS = ("webhook",)
START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
# Every (re)start begins this much later than the run before, as a restarted
# ingest would: past the outbox lease a killed dispatcher may have left behind.
RESTART_GAP = timedelta(hours=1)
LEASE_S = 120.0

LIFT_1 = DeviceRef("hq", "b1", "elevator", "lift-1")
LIFT_2 = DeviceRef("hq", "b1", "elevator", "lift-2")
PUMP_1 = DeviceRef("hq", "b2", "pump", "pump-1")
DOOR_1 = DeviceRef("hq", "b2", "access", "door-1")
LAMP_1 = DeviceRef("hq", "b1", "lighting", "lamp-1")

_FAULTS: dict[str, tuple[Severity, str]] = {
    "door_slowing": (Severity.MAJOR, "elevator_door_slowing"),
    "levelling_error": (Severity.MAJOR, "elevator_levelling"),
    "dry_running": (Severity.CRITICAL, "pump_dry_running"),
    "door_forced": (Severity.CRITICAL, "access_door_forced"),
    "circuit_open": (Severity.MINOR, "lighting_circuit_open"),
}


def _finding(device: DeviceRef, fault_type: str, onset_s: int) -> Finding:
    severity, detector = _FAULTS[fault_type]
    onset_ms = int(START.timestamp() * 1000) + onset_s * 1000
    return Finding(
        device=device,
        fault_type=fault_type,
        severity=severity,
        detector=detector,
        detector_version="1",
        onset_ms=onset_ms,
        summary=f"{device.device_id} {fault_type} at +{onset_s} s",
        evidence={"value": onset_s / 10, "threshold": 1.0, "window": [1, 2, 3]},
    )


# Batches of findings as detectors would emit them; the outbox is delivered after each.
BATCHES: tuple[tuple[Finding, ...], ...] = (
    (
        _finding(LIFT_1, "door_slowing", 0),
        _finding(PUMP_1, "dry_running", 1),
        _finding(LIFT_1, "door_slowing", 2),
        _finding(DOOR_1, "door_forced", 3),
        _finding(LAMP_1, "circuit_open", 4),
    ),
    (
        _finding(LIFT_1, "door_slowing", 10),
        _finding(PUMP_1, "dry_running", 11),
        _finding(LIFT_2, "levelling_error", 12),
        _finding(PUMP_1, "dry_running", 13),
        _finding(LIFT_1, "levelling_error", 14),
    ),
    (
        _finding(DOOR_1, "door_forced", 1300),
        _finding(LAMP_1, "circuit_open", 1301),
        _finding(LIFT_2, "levelling_error", 1302),
    ),
)
FINDINGS: tuple[Finding, ...] = tuple(finding for batch in BATCHES for finding in batch)


def expected_occurrences() -> dict[tuple[str, str], int]:
    """Findings per (device, fault type) in one complete run of the workload."""
    counts: dict[tuple[str, str], int] = {}
    for finding in FINDINGS:
        key = (finding.device.device_id, finding.fault_type)
        counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class Job:
    """One run of the workload; `kill_at` 0 runs it to the end."""

    url: str
    schema: str | None
    webhook_url: str
    result_path: str
    run: int = 0
    kill_at: int = 0


class KillSwitch:
    """Numbers the kill points as they pass and SIGKILLs this process at the `kill_at`-th.

    `kinds` names each point passed: `before`/`after` a statement, `commit` (before
    it is sent), `send` (before a webhook request leaves).
    """

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.kinds: list[str] = []

    def point(self, kind: str) -> None:
        self.kinds.append(kind)
        if len(self.kinds) == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def arm(self, engine: Engine) -> None:
        for name, kind in (
            ("before_cursor_execute", "before"),
            ("after_cursor_execute", "after"),
            ("commit", "commit"),
        ):
            event.listen(engine, name, lambda *_args, kind=kind: self.point(kind))


class SwitchedSender:
    """A sender with a kill point before each request: a commit's effects are then
    always followed by a kill point, whether the next effect is a statement or a send
    (a claim is committed right before its send)."""

    def __init__(self, sender: Sender, switch: KillSwitch) -> None:
        self.sender = sender
        self.switch = switch

    def send(self, event: PendingEvent) -> SendResult:
        self.switch.point("send")
        return self.sender.send(event)

    def close(self) -> None:
        self.sender.close()


def engine_for(url: str, schema: str | None) -> Engine:
    if schema is None:
        return make_engine(url)
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def run(job: Job) -> None:
    """The workload; writes the kinds of kill points it passed to `job.result_path`."""
    engine = engine_for(job.url, job.schema)
    switch = KillSwitch(job.kill_at)
    switch.arm(engine)
    clock = ManualClock(START + job.run * RESTART_GAP)
    store = TicketStore(engine, clock=clock, sinks=SINKS)
    sender = SwitchedSender(WebhookSender(job.webhook_url, SECRET, timeout_s=30), switch)
    dispatcher = OutboxDispatcher(engine, {"webhook": sender}, clock, lease_s=LEASE_S)
    for index, batch in enumerate(BATCHES):
        if index == 2:
            # Past the critical dispatch deadline (15 min): ingest's tick escalates.
            clock.advance(minutes=20)
            store.escalate_overdue()
        for finding in batch:
            clock.advance(seconds=1)
            store.record(finding)
        dispatcher.run_once()
    pending = dispatcher.pending_count()
    sender.close()
    engine.dispose()
    Path(job.result_path).write_text(json.dumps({"points": switch.kinds, "pending": pending}))


def warm_up() -> None:
    """Do once, in the process children are forked from, what would otherwise cost
    every child a third of a second: lazy imports (httpx's transport, the PostgreSQL
    driver) and mapper configuration."""
    WebhookSender("http://127.0.0.1:9/", SECRET).close()
    create_engine("postgresql+psycopg://").dispose()
    configure_mappers()


warm_up()
