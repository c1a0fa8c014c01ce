"""`facmon evaluate scenarios`: every detector judged on the scenario library.

The library (`simulators/scenarios/library/*.yaml`) holds one scenario per fault the
simulators can inject, each stating the tickets it must produce, and long fault-free
scenarios. Each file is replayed, faster than real time, through the production path:
fleet -> `decode_message` (contract v1) -> `DetectorBank`, whose clock is the simulated
clock. A CONNECT becomes the `online` status, an unclean DISCONNECT the broker's
`offline` last will, and the bank ticks every `TICK_MS` of simulated time.

Tickets: the first finding for a (device, fault type) opens a ticket; later findings
for the same pair are occurrences of it, as in the ticket service (nothing closes a
ticket during a replay, so it is one ticket per pair and run).

Matching, per run: an expected ticket is hit when its (device, fault type) ticket opens
no earlier than the fault's start and at most `within` after it, with the expected
severity; the delay is the opening time minus the fault's start. The fault behind an
expectation is the device's fault of the same type or else its only fault (a generic
detector such as `pump_anomaly` reports wear under its own type). Any other ticket is a
false ticket, including one opened before the fault began; a late ticket for an
expected pair is a miss, not a false ticket.

An `offline` ticket that opens inside a recording gap a device's `nuisance.gaps` gives
it is expected, neither false nor counted towards recall. A device whose
`nuisance.cadence` starts with the run has that interval configured as its expected
reporting interval (a later change of cadence is left for the detectors to learn).

Fault-free scenarios (no `faults`) measure false tickets per 1,000 device-days. The
week-long ones sample once a minute (their `rate_hz`), so that a thousand device-days
take minutes, warm-ups are a small share and the building's daily cycles repeat; a
shorter one samples every 2 s, where smoothing and sample-counting rules behave
differently. The simulators have no glitch mechanism, so the replay
adds sensor glitches to every run: a seeded share (`GLITCH_RATE`) of telemetry samples
has one reading replaced by a wrong value still inside the contract's valid range
(stuck at zero, halved, doubled or tripled; a reading at rest, zero, jumps to one unit,
or a count to 1-3; a boolean flipped), re-encoded and decoded like any payload. A glitch
must never open a ticket; a ticket soon after one on its device names it.

Runs (scenario x seed) are spread over processes. The command exits 1 when a target is
missed (recall below 100 %, any false ticket, fewer than 1,000 fault-free device-days
in a full run, a detector or simulator fault without a library scenario) so that it
can gate CI, and 2 for a bad scenario file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from contract.finding import Finding
from contract.payload import MetricValue, decode_message, encode_telemetry
from contract.topics import (
    TELEMETRY_SCHEMAS,
    Channel,
    ContractError,
    DeviceRef,
    Kind,
    MetricSpec,
    topic_for,
)
from detectors.config_file import DetectorConfigFile, parse_detector_config
from detectors.offline import OfflineDetector
from detectors.registry import KIND_DETECTORS, DetectorBank
from simulators.fleet import Action, Fleet, OutMessage
from simulators.models import GENERIC_FAULTS, MODELS
from simulators.scenario import (
    BUILTIN_DIR,
    ExpectedTicket,
    FaultSpec,
    Scenario,
    ScenarioError,
    load_scenario,
)

LIBRARY_DIR: Final = BUILTIN_DIR / "library"
# Relative starts ("-1h") count from this fixed moment, so every run is reproducible.
EPOCH_MS: Final = 1_800_000_000_000  # 2027-01-15T08:00:00Z
DAY_MS: Final = 86_400_000
TICK_MS: Final = 10_000  # the bank's time-based detectors (offline) run this often
OFFLINE_AFTER_MS: Final = 120_000  # the service's default FACMON_OFFLINE_AFTER_S
GLITCH_RATE: Final = 0.001  # one telemetry sample in a thousand carries a glitch
GLITCH_BLAME_MS: Final = 5 * 60_000  # a ticket this soon after a glitch names it
DEVICE_DAYS_TARGET: Final = 1_000.0
FAULT_SEEDS: Final = 3  # seeds per fault scenario (full run)
FREE_SEEDS: Final = 2  # seeds per fault-free scenario (full run)
QUICK_FREE_DAYS: Final = 1.0  # --quick cuts fault-free runs to this length


# -- scenarios -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    path: Path
    scenario: Scenario

    @property
    def fault_free(self) -> bool:
        return not self.scenario.faults


def fault_for(scenario: Scenario, expected: ExpectedTicket, where: str = "") -> FaultSpec:
    """The injected fault an expected ticket answers: same device and type, or the device's
    only fault. Anything else is ambiguous, and a wrong start would fake the delay."""
    on_device = [f for f in scenario.faults if f.device_id == expected.device_id]
    same = [f for f in on_device if f.type == expected.fault_type]
    candidates = same or on_device
    if len(candidates) == 1:
        return candidates[0]
    what = f"{where}: " if where else ""
    if not candidates:
        raise ScenarioError(
            f"{what}expected {expected.fault_type} on {expected.device_id}, but no fault is "
            f"injected on {expected.device_id}; add one under 'faults'"
        )
    raise ScenarioError(
        f"{what}{expected.device_id} has several faults and none, or more than one, of type "
        f"{expected.fault_type}; give the device a single fault or one of that type"
    )


def run_ms(scenario: Scenario, source: str = "") -> int:
    """Simulated length of a run: `duration`, else up to the latest expected deadline."""
    if scenario.duration_s is not None:
        return int(scenario.duration_s * 1000)
    deadlines = [fault_for(scenario, e, source).at_s + e.within_s for e in scenario.expect]
    if not deadlines:
        raise ScenarioError(
            f"{source or scenario.name}: nothing says how long to run; add 'duration', like 7d"
        )
    return int(max(deadlines) * 1000)


def check_evaluable(scenario: Scenario, source: str) -> None:
    """What `load_scenario` cannot know: the evaluation's own needs of a file."""
    seen: set[tuple[str, str]] = set()
    for index, expected in enumerate(scenario.expect):
        where = f"{source}: expect[{index}]"
        pair = (expected.device_id, expected.fault_type)
        if pair in seen:
            raise ScenarioError(
                f"{where}: {expected.fault_type} on {expected.device_id} is expected twice; "
                "one ticket per device and fault type stays open, so expect it once"
            )
        seen.add(pair)
        fault_for(scenario, expected, where)
    run_ms(scenario, source)
    period_ms = round(1000 / scenario.rate_hz)
    if period_ms + TICK_MS > OFFLINE_AFTER_MS:
        raise ScenarioError(
            f"{source}: rate_hz {scenario.rate_hz:g} leaves {period_ms / 1000:g} s between "
            f"samples, so every device would look offline after {OFFLINE_AFTER_MS // 1000} s "
            f"of silence; sample at least every {(OFFLINE_AFTER_MS - TICK_MS) // 1000} s"
        )


def load_library(directory: Path) -> list[LibraryEntry]:
    """Every `*.yaml` under `directory`, validated before any long run starts."""
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: no such folder of scenario files")
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not paths:
        raise ScenarioError(f"{directory}: no scenario files (*.yaml) in this folder")
    entries = []
    for path in paths:
        scenario = load_scenario(path)
        check_evaluable(scenario, str(path))
        entries.append(LibraryEntry(path, scenario))
    names = Counter(e.scenario.name for e in entries)
    duplicates = sorted(n for n, c in names.items() if c > 1)
    if duplicates:
        raise ScenarioError(f"{directory}: several files use the name {duplicates}; rename one")
    owner: dict[str, Path] = {}
    for entry in entries:
        for device in entry.scenario.devices:
            first = owner.setdefault(device.device_id, entry.path)
            if first != entry.path:
                # A device's signal depends only on the seed and its id: two files sharing
                # an id replay the same noise, and their device-days would count twice.
                raise ScenarioError(
                    f"{entry.path}: device id {device.device_id!r} is also used in {first}; "
                    "give each file its own ids (a prefix, like twr-pump-01)"
                )
    return entries


def claimed_fault_types() -> dict[str, tuple[str, frozenset[str]]]:
    """fault type -> (detector name, device kinds): what the bank claims to catch."""
    claimed: dict[str, tuple[str, frozenset[str]]] = {}
    for kind, classes in KIND_DETECTORS.items():
        for cls in classes:
            name, kinds = claimed.get(cls.fault_type, (cls.name, frozenset()))
            claimed[cls.fault_type] = (name, kinds | {kind})
    claimed[OfflineDetector.fault_type] = (OfflineDetector.name, frozenset(KIND_DETECTORS))
    return claimed


def coverage_gaps(entries: Sequence[LibraryEntry]) -> list[str]:
    """Detector fault types no file expects, and simulator faults no file injects."""
    expected = {e.fault_type for entry in entries for e in entry.scenario.expect}
    injected = {f.type for entry in entries for f in entry.scenario.faults}
    unexpected = sorted(set(claimed_fault_types()) - expected)
    simulated = {t for model in MODELS.values() for t in model.fault_types} | GENERIC_FAULTS
    uninjected = sorted(simulated - injected)
    gaps = []
    if unexpected:
        gaps.append(f"no scenario expects what these detectors report: {', '.join(unexpected)}")
    if uninjected:
        gaps.append(f"no scenario injects these simulator faults: {', '.join(uninjected)}")
    return gaps


# -- replay -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ticket:
    """The first finding for a (device, fault type); later ones only count occurrences."""

    device_id: str
    kind: str
    fault_type: str
    severity: str
    detector: str
    opened_ms: int  # simulated time at which the bank emitted the first finding
    occurrences: int = 1
    after_glitch: str = ""  # the device's last glitch, when recent: a likely cause


class SimClock:
    """The bank's clock: simulated time, moved by the replay."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


_GLITCH_FACTORS: Final = (0.0, 0.5, 2.0, 3.0)


class Glitcher:
    """Sensor glitches on a seeded share of telemetry samples: one reading becomes a
    wrong value the contract still accepts, so the gateway lets it through."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.count = 0
        self.last: dict[str, tuple[int, str]] = {}  # device id -> (ts, what changed)

    def __call__(self, device: DeviceRef, payload: bytes) -> bytes:
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return payload
        body = json.loads(payload)
        metrics: dict[str, MetricValue] = body["metrics"]
        name = self.rng.choice(sorted(metrics))
        true = metrics[name]
        metrics[name] = self.wrong(true, TELEMETRY_SCHEMAS[Kind(device.kind)][name])
        self.count += 1
        change = f"{name} {_reading(true)} -> {_reading(metrics[name])}"
        self.last[device.device_id] = (body["ts"], change)
        return encode_telemetry(body["ts"], body["seq"], metrics)

    def recent(self, device_id: str, at_ms: int) -> str:
        """The device's last glitch if it came within `GLITCH_BLAME_MS` before `at_ms`."""
        last = self.last.get(device_id)
        if last is None or not 0 <= at_ms - last[0] <= GLITCH_BLAME_MS:
            return ""
        return f"{(at_ms - last[0]) / 1000:.0f} s after a glitch ({last[1]})"

    def wrong(self, value: MetricValue, spec: MetricSpec) -> MetricValue:
        if isinstance(value, bool):
            return not value
        low = -math.inf if spec.minimum is None else spec.minimum
        high = math.inf if spec.maximum is None else spec.maximum
        if value == 0:  # a reading at rest jumps a little: one unit, or a count of 1 to 3
            glitched = float(self.rng.randint(1, 3)) if spec.type is int else 1.0
        else:
            glitched = value * self.rng.choice(_GLITCH_FACTORS)
        glitched = min(max(glitched, low), high)
        return round(glitched) if spec.type is int else float(glitched)


def _reading(value: MetricValue) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


@dataclass(slots=True)
class Replay:
    """What one run produced, before matching."""

    start_ms: int
    end_ms: int
    devices: dict[str, str]  # device id -> kind
    tickets: list[Ticket] = field(default_factory=list)
    samples: int = 0
    glitches: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # dead letters by reason
    unarmed: list[str] = field(default_factory=list)  # detectors still in warm-up at the end

    @property
    def device_days(self) -> float:
        return len(self.devices) * (self.end_ms - self.start_ms) / DAY_MS


def _deliver(
    bank: DetectorBank,
    message: OutMessage,
    glitch: Glitcher,
    replay: Replay,
    topics: dict[tuple[str, Channel], str],
) -> list[Finding]:
    key = (message.device.device_id, message.channel)
    topic = topics.get(key) or topics.setdefault(key, topic_for(message.device, message.channel))
    payload = message.payload
    if message.action is Action.DISCONNECT:
        # The device vanished without a goodbye; the broker publishes its last will.
        payload = b"offline"
    if message.channel is Channel.TELEMETRY:
        replay.samples += 1
        payload = glitch(message.device, payload)
    try:
        decoded = decode_message(topic, payload, now_ms=message.ts_ms)
    except ContractError as exc:  # a dead letter in production: counted, not fed
        replay.rejected[str(exc)] += 1
        return []
    if decoded.sample is not None:
        return bank.on_sample(decoded.sample)
    if decoded.event is not None:
        return bank.on_event(decoded.event)
    assert decoded.status is not None
    return bank.on_status(decoded.status)


class TicketBook:
    """The ticket service's suppression rule: while a ticket for a (device, fault type)
    is active, a new finding is an occurrence of it, never a second ticket."""

    def __init__(self, glitch: Glitcher | None = None) -> None:
        self.glitch = glitch
        self.open: dict[tuple[str, str], Ticket] = {}

    def add(self, findings: Iterable[Finding], at_ms: int) -> None:
        for finding in findings:
            key = (finding.device.device_id, finding.fault_type)
            ticket = self.open.get(key)
            if ticket is not None:
                self.open[key] = replace(ticket, occurrences=ticket.occurrences + 1)
                continue
            self.open[key] = Ticket(
                finding.device.device_id,
                finding.device.kind,
                finding.fault_type,
                finding.severity.value,
                finding.detector,
                at_ms,
                after_glitch=self.glitch.recent(key[0], at_ms) if self.glitch else "",
            )

    def tickets(self) -> list[Ticket]:
        return sorted(self.open.values(), key=lambda t: (t.opened_ms, t.device_id))


def configured_intervals(scenario: Scenario) -> DetectorConfigFile | None:
    """A device whose scenario gives its cadence from the start (`nuisance.cadence`) has
    that reporting interval configured, as an operator of a sparse sensor sets it in
    FACMON_DETECTORS_CONFIG; a later cadence change is not configured, it is learnt."""
    lines = []
    for device in scenario.devices:
        steps = sorted(device.nuisance.cadence, key=lambda c: c.at) if device.nuisance else []
        if steps and steps[0].at == 0:
            lines.append(
                f"  {scenario.site}/{device.device_id}: "
                f"{{offline: {{expected_interval_s: {steps[0].every:g}}}}}"
            )
    if not lines:
        return None
    return parse_detector_config("devices:\n" + "\n".join(lines) + "\n", scenario.name)


def replay(
    scenario: Scenario,
    seed: int,
    *,
    duration_ms: int | None = None,
    glitch_rate: float = GLITCH_RATE,
    offline_after_ms: int = OFFLINE_AFTER_MS,
    tick_ms: int = TICK_MS,
) -> Replay:
    """Run a scenario through decode and the real detector bank on a simulated clock."""
    start_ms = scenario.start_ms(EPOCH_MS)
    end_ms = start_ms + (run_ms(scenario) if duration_ms is None else duration_ms)
    clock = SimClock(start_ms)
    bank = DetectorBank(
        offline_after_ms=offline_after_ms, clock_ms=clock, config=configured_intervals(scenario)
    )
    fleet = Fleet(scenario, seed=seed, start_ms=start_ms)
    result = Replay(start_ms, end_ms, {d.ref.device_id: d.ref.kind for d in fleet.devices})
    glitch = Glitcher(glitch_rate, seed * 1_000_003 + zlib.crc32(scenario.name.encode()))
    book = TicketBook(glitch)
    topics: dict[tuple[str, Channel], str] = {}

    will_delay_ms = round(scenario.will_delay_s * 1000)
    wills: dict[str, OutMessage] = {}  # delayed last wills, as the broker holds them

    def deliver(message: OutMessage) -> None:
        clock.now_ms = message.ts_ms
        found = _deliver(bank, message, glitch, result, topics)
        if found:
            book.add(found, message.ts_ms)

    def send_wills_due(until_ms: int) -> None:
        for device_id, will in sorted(wills.items(), key=lambda item: item[1].ts_ms):
            if will.ts_ms <= until_ms:
                del wills[device_id]
                deliver(will)

    t_ms = start_ms
    while t_ms < end_ms:
        t_ms = min(t_ms + tick_ms, end_ms)
        for message in fleet.advance_to(min(t_ms, end_ms - 1)):  # [start, end)
            send_wills_due(message.ts_ms)
            device_id = message.device.device_id
            if message.action is Action.DISCONNECT and will_delay_ms:
                wills[device_id] = replace(message, ts_ms=message.ts_ms + will_delay_ms)
                continue
            if message.action is Action.CONNECT:
                wills.pop(device_id, None)  # back within the delay: no will
            deliver(message)
        send_wills_due(min(t_ms, end_ms - 1))
        clock.now_ms = t_ms
        book.add(bank.tick(), t_ms)
    result.tickets = book.tickets()
    result.glitches = glitch.count
    for device in fleet.devices:
        for detector in bank.detectors_for(device.ref):
            if detector.fault_active() is None:
                result.unarmed.append(f"{device.ref.device_id}/{detector.name}")
    return result


# -- matching -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One expected ticket in one run."""

    expected: ExpectedTicket
    fault_start_ms: int
    ticket: Ticket | None
    hit: bool
    delay_s: float | None  # opening minus fault start, when the ticket opened after it
    reason: str = ""  # why it missed


def match(
    scenario: Scenario, start_ms: int, tickets: Iterable[Ticket]
) -> tuple[list[Outcome], list[Ticket]]:
    """Expected tickets against opened ones: an outcome per expectation, and the false
    tickets (every ticket no expectation accounts for)."""
    opened = list(tickets)
    by_pair = {(t.device_id, t.fault_type): t for t in opened}
    outcomes: list[Outcome] = []
    accounted: set[tuple[str, str]] = set()
    for expected in scenario.expect:
        fault_ms = start_ms + round(fault_for(scenario, expected).at_s * 1000)
        pair = (expected.device_id, expected.fault_type)
        ticket = by_pair.get(pair)
        if ticket is None:
            outcomes.append(Outcome(expected, fault_ms, None, False, None, "no ticket"))
            continue
        if ticket.opened_ms < fault_ms:
            # Opened before the fault: a false alarm that also hides the real detection.
            reason = f"opened {(fault_ms - ticket.opened_ms) / 1000:.0f} s before the fault"
            outcomes.append(Outcome(expected, fault_ms, ticket, False, None, reason))
            continue
        accounted.add(pair)
        delay_s = (ticket.opened_ms - fault_ms) / 1000
        reason = ""
        if delay_s > expected.within_s:
            reason = f"late: {_duration(delay_s)} > {_duration(expected.within_s)}"
        elif ticket.severity != expected.severity:
            reason = f"severity {ticket.severity}, expected {expected.severity}"
        outcomes.append(Outcome(expected, fault_ms, ticket, not reason, delay_s, reason))
    false = [
        t
        for t in opened
        if (t.device_id, t.fault_type) not in accounted
        and not in_recording_gap(scenario, start_ms, t)
    ]
    return outcomes, false


def in_recording_gap(scenario: Scenario, start_ms: int, ticket: Ticket) -> bool:
    """An `offline` ticket opened during a recording gap the scenario gives the device
    (`nuisance.gaps`): the device really was silent, so the ticket is expected."""
    if ticket.fault_type != OfflineDetector.fault_type:
        return False
    for device in scenario.devices:
        if device.device_id != ticket.device_id or device.nuisance is None:
            continue
        for gap in device.nuisance.gaps:
            begin_ms = start_ms + round(gap.at * 1000)
            if begin_ms <= ticket.opened_ms <= begin_ms + round(gap.for_ * 1000):
                return True
    return False


# -- runs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    path: str
    scenario: Scenario
    seed: int
    duration_ms: int
    glitch_rate: float

    @property
    def fault_free(self) -> bool:
        return not self.scenario.faults


@dataclass(frozen=True, slots=True)
class RunResult:
    job: Job
    outcomes: tuple[Outcome, ...]
    false_tickets: tuple[Ticket, ...]
    tickets: int
    devices: dict[str, str]
    device_days: float
    samples: int
    glitches: int
    rejected: dict[str, int]
    unarmed: tuple[str, ...]
    seconds: float


def run_job(job: Job) -> RunResult:
    """One scenario under one seed: replay and match (a process pool's unit of work)."""
    started = time.monotonic()
    result = replay(
        job.scenario, job.seed, duration_ms=job.duration_ms, glitch_rate=job.glitch_rate
    )
    outcomes, false = match(job.scenario, result.start_ms, result.tickets)
    return RunResult(
        job,
        tuple(outcomes),
        tuple(false),
        len(result.tickets),
        result.devices,
        result.device_days,
        result.samples,
        result.glitches,
        dict(result.rejected),
        tuple(result.unarmed),
        time.monotonic() - started,
    )


@dataclass(frozen=True, slots=True)
class Options:
    seed: int = 1
    fault_seeds: int = FAULT_SEEDS
    free_seeds: int = FREE_SEEDS
    max_free_days: float | None = None  # cut fault-free runs (quick runs, tests)
    glitch_rate: float = GLITCH_RATE
    workers: int = 0  # 0: one per CPU
    quick: bool = False

    @classmethod
    def quick_run(cls, seed: int = 1) -> Options:
        return cls(seed, 1, 1, QUICK_FREE_DAYS, quick=True)


def plan(entries: Sequence[LibraryEntry], options: Options) -> list[Job]:
    jobs = []
    for entry in entries:
        length = run_ms(entry.scenario, str(entry.path))
        seeds = options.free_seeds if entry.fault_free else options.fault_seeds
        if entry.fault_free and options.max_free_days is not None:
            length = min(length, round(options.max_free_days * DAY_MS))
        for offset in range(seeds):
            jobs.append(
                Job(
                    str(entry.path),
                    entry.scenario,
                    options.seed + offset,
                    length,
                    options.glitch_rate,
                )
            )
    return jobs


def _cost(job: Job) -> float:
    """Rough seconds of work, to start the longest jobs first and keep every process busy:
    about 0.15 ms a sample, and 3 s per pump-day for the bearing detector's trend fits."""
    days = job.duration_ms / DAY_MS
    samples = len(job.scenario.devices) * job.scenario.rate_hz * job.duration_ms / 1000
    pumps = sum(d.kind == "pump" for d in job.scenario.devices)
    return 0.00015 * samples + 3.0 * pumps * days


def run_jobs(
    jobs: Sequence[Job], workers: int = 0, progress: Callable[[str], None] | None = None
) -> list[RunResult]:
    """All jobs, over a process pool when it helps; results in the jobs' order."""
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    order = sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i]))
    results: dict[int, RunResult] = {}
    started = time.monotonic()

    def done(index: int, result: RunResult) -> None:
        results[index] = result
        if progress is not None:
            progress(
                f"{len(results)}/{len(jobs)} {result.job.scenario.name} seed {result.job.seed}: "
                f"{result.device_days:.1f} device-days, {result.tickets} tickets, "
                f"{len(result.false_tickets)} false, {result.seconds:.1f} s "
                f"(elapsed {time.monotonic() - started:.0f} s)"
            )

    if workers <= 1:
        for index in order:
            done(index, run_job(jobs[index]))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_job, jobs[index]): index for index in order}
            for future in as_completed(futures):
                done(futures[future], future.result())
    return [results[i] for i in range(len(jobs))]


# -- report -------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _ticket_dict(ticket: Ticket, start_ms: int) -> dict[str, Any]:
    return {
        "device": ticket.device_id,
        "kind": ticket.kind,
        "fault_type": ticket.fault_type,
        "severity": ticket.severity,
        "detector": ticket.detector,
        "opened_s": round((ticket.opened_ms - start_ms) / 1000, 1),
        "occurrences": ticket.occurrences,
        "after_glitch": ticket.after_glitch,
    }


def _run_dict(result: RunResult) -> dict[str, Any]:
    start_ms = result.job.scenario.start_ms(EPOCH_MS)
    return {
        "name": result.job.scenario.name,
        "file": result.job.path,
        "seed": result.job.seed,
        "fault_free": result.job.fault_free,
        "simulated_s": result.job.duration_ms / 1000,
        "devices": len(result.devices),
        "device_days": round(result.device_days, 3),
        "samples": result.samples,
        "glitches": result.glitches,
        "rejected": result.rejected,
        "tickets": result.tickets,
        "expected": [
            {
                "device": o.expected.device_id,
                "fault_type": o.expected.fault_type,
                "within_s": o.expected.within_s,
                "hit": o.hit,
                "delay_s": None if o.delay_s is None else round(o.delay_s, 1),
                "reason": o.reason,
            }
            for o in result.outcomes
        ],
        "false_tickets": [_ticket_dict(t, start_ms) for t in result.false_tickets],
        "unarmed_detectors": len(result.unarmed),
        "runtime_s": round(result.seconds, 2),
    }


def summarize(
    entries: Sequence[LibraryEntry], results: Sequence[RunResult], options: Options
) -> dict[str, Any]:
    """Per-detector recall, delays and false tickets; the fault-free rate; pass or fail."""
    claimed = claimed_fault_types()
    outcomes = [(r, o) for r in results for o in r.outcomes]
    false = [t for r in results for t in r.false_tickets]
    fault_types = sorted(
        set(claimed) | {o.expected.fault_type for _, o in outcomes} | {t.fault_type for t in false}
    )
    rows: list[dict[str, Any]] = []
    for fault_type in fault_types:
        mine = [(r, o) for r, o in outcomes if o.expected.fault_type == fault_type]
        delays = [o.delay_s for _, o in mine if o.hit and o.delay_s is not None]
        hits = sum(o.hit for _, o in mine)
        name, kinds = claimed.get(fault_type, ("?", frozenset()))
        rows.append(
            {
                "detector": name,
                "fault_type": fault_type,
                "kinds": sorted(kinds),
                "scenarios": len({r.job.scenario.name for r, _ in mine}),
                "expected": len(mine),
                "hits": hits,
                "recall": round(hits / len(mine), 4) if mine else None,
                "median_delay_s": _median(delays),
                "worst_delay_s": round(max(delays), 1) if delays else None,
                "false_tickets": sum(t.fault_type == fault_type for t in false),
                "misses": [
                    {
                        "scenario": r.job.scenario.name,
                        "seed": r.job.seed,
                        "device": o.expected.device_id,
                        "reason": o.reason,
                    }
                    for r, o in mine
                    if not o.hit
                ],
            }
        )
    # by kind, the detectors that watch every kind (generic sensor health, offline) last
    rows.sort(key=lambda row: (len(row["kinds"]) != 1, row["kinds"], row["detector"]))
    free = [r for r in results if r.job.fault_free]
    device_days = sum(r.device_days for r in free)
    free_false = sum(len(r.false_tickets) for r in free)
    by_kind: dict[str, float] = {}
    for r in free:
        for kind in r.devices.values():
            by_kind[kind] = by_kind.get(kind, 0.0) + r.job.duration_ms / DAY_MS
    hits = sum(o.hit for _, o in outcomes)
    recall = round(hits / len(outcomes), 4) if outcomes else None
    failures = []
    if outcomes and hits < len(outcomes):
        failures.append(f"recall {hits}/{len(outcomes)} expected tickets, target 100 %")
    if false:
        failures.append(f"{len(false)} false tickets, target 0")
    if not options.quick and device_days < DEVICE_DAYS_TARGET:
        failures.append(
            f"only {device_days:.0f} fault-free device-days, target {DEVICE_DAYS_TARGET:.0f}"
        )
    failures += coverage_gaps(entries)
    return {
        "passed": not failures,
        "failures": failures,
        "recall": recall,
        "expected": len(outcomes),
        "hits": hits,
        "false_tickets": len(false),
        "device_days": round(device_days, 2),
        "false_per_1000_device_days": round(1000 * free_false / device_days, 3)
        if device_days
        else None,
        "detectors": rows,
        "fault_free": {
            "files": len({r.job.path for r in free}),
            "runs": len(free),
            "device_days": round(device_days, 2),
            "device_days_by_kind": {k: round(v, 2) for k, v in sorted(by_kind.items())},
            "false_tickets": free_false,
            "samples": sum(r.samples for r in free),
            "glitches": sum(r.glitches for r in free),
            # detector -> devices on which it never left its warm-up: its silence proves nothing
            "unarmed_detectors": dict(
                sorted(Counter(u.split("/", 1)[1] for r in free for u in r.unarmed).items())
            ),
        },
        "fault_scenarios_false_tickets": len(false) - free_false,
        "dead_letters": sum(sum(r.rejected.values()) for r in results),
        "scenarios": [_run_dict(r) for r in results],
        "options": {
            "seed": options.seed,
            "fault_seeds": options.fault_seeds,
            "free_seeds": options.free_seeds,
            "quick": options.quick,
            "glitch_rate": options.glitch_rate,
            "tick_s": TICK_MS / 1000,
            "offline_after_s": OFFLINE_AFTER_MS / 1000,
        },
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_report(report: dict[str, Any]) -> str:
    runs = report["scenarios"]
    files = len({r["file"] for r in runs})
    lines = [
        f"Scenario library: {files} files, {len(runs)} runs "
        f"(seeds from {report['options']['seed']}"
        f"{', quick' if report['options']['quick'] else ''})",
        "",
        f"{'detector':<30} {'fault type':<22} {'scen.':>5} {'recall':>13} "
        f"{'median delay':>13} {'worst delay':>12} {'false':>6}",
    ]
    for row in report["detectors"]:
        recall = (
            "no scenario"
            if row["recall"] is None
            else f"{row['hits']}/{row['expected']} {100 * row['recall']:.0f} %"
        )
        lines.append(
            f"{row['detector']:<30} {row['fault_type']:<22} {row['scenarios']:>5} {recall:>13} "
            f"{_duration(row['median_delay_s']):>13} {_duration(row['worst_delay_s']):>12} "
            f"{row['false_tickets']:>6}"
        )
        lines += [
            f"    missed: {m['scenario']} seed {m['seed']} {m['device']}: {m['reason']}"
            for m in row["misses"]
        ]
    free = report["fault_free"]
    kinds = ", ".join(f"{k} {v:.0f}" for k, v in free["device_days_by_kind"].items())
    rate = report["false_per_1000_device_days"]
    lines += [
        "",
        f"Fault-free running: {free['device_days']:.1f} device-days ({kinds}) in {free['runs']} "
        f"runs, {free['samples']:,} samples with {free['glitches']:,} glitches",
        f"  {free['false_tickets']} false tickets = "
        f"{'n/a' if rate is None else f'{rate:.2f}'} per 1,000 device-days",
        *(
            f"  {name} never left its warm-up on {count} device runs"
            for name, count in free["unarmed_detectors"].items()
        ),
        f"Fault scenarios: {report['fault_scenarios_false_tickets']} false tickets",
    ]
    if report["dead_letters"]:
        lines.append(f"Dead letters (payloads the contract refused): {report['dead_letters']}")
    if report["false_tickets"]:
        lines.append("False tickets:")
    for run in runs:
        for ticket in run["false_tickets"]:
            lines.append(
                f"  {run['name']} seed {run['seed']}: {ticket['fault_type']} on "
                f"{ticket['device']} at {_duration(ticket['opened_s'])} ({ticket['detector']})"
                + (f", {ticket['after_glitch']}" if ticket["after_glitch"] else "")
            )
    recall = report["recall"]
    lines.append("")
    if report["passed"]:
        lines.append(
            f"PASS: recall {100 * (recall or 0):.0f} % ({report['hits']}/{report['expected']}), "
            f"0 false tickets in {report['device_days']:.0f} fault-free device-days"
        )
    else:
        lines += ["FAIL:", *(f"  - {failure}" for failure in report["failures"])]
    return "\n".join(lines)


# -- command ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `facmon evaluate scenarios`."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--dir",
        help="folder of scenario files (default: simulators/scenarios/library); "
        "the same targets apply",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="first seed; further runs use seed+1, seed+2"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one seed per file, fault-free runs cut to a day (device-day target not checked)",
    )


def evaluate(
    directory: Path, options: Options, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    entries = load_library(directory)
    jobs = plan(entries, options)
    if progress is not None:
        free = sum(j.fault_free for j in jobs)
        progress(
            f"{len(entries)} files, {len(jobs)} runs ({len(jobs) - free} with faults, "
            f"{free} fault-free) on {min(options.workers or os.cpu_count() or 1, len(jobs))} "
            "processes"
        )
    report = summarize(entries, run_jobs(jobs, options.workers, progress), options)
    report["runtime_s"] = round(time.monotonic() - started, 1)
    return report


def cmd_evaluate_scenarios(args: argparse.Namespace) -> int:
    seed = int(getattr(args, "seed", 1))
    options = Options.quick_run(seed) if getattr(args, "quick", False) else Options(seed)

    def progress(text: str) -> None:
        print(f"[scenarios] {text}", file=sys.stderr, flush=True)

    try:
        report = evaluate(Path(getattr(args, "dir", None) or LIBRARY_DIR), options, progress)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
        print(f"  runtime {report['runtime_s']:.0f} s")
    if not report["passed"]:
        print(
            "evaluate scenarios: target missed: " + "; ".join(report["failures"]), file=sys.stderr
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m tools.evaluate_scenarios`, the same as `facmon evaluate scenarios`."""
    parser = argparse.ArgumentParser(prog="facmon evaluate scenarios", description=__doc__)
    add_arguments(parser)
    return cmd_evaluate_scenarios(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
