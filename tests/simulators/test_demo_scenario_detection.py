"""The demo scenario, end to end without a broker: fleet -> contract -> DetectorBank.

Every telemetry payload goes through `decode_message`, the fleet's CONNECT and
DISCONNECT actions become the `online` status and the broker's `offline` last
will, and the bank's clock follows simulated time. Each expected ticket must be
found within its `within` time of the fault, and no other device may get a
finding. A fault-free variant runs for simulated days and must stay silent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache

import pytest

from contract.finding import Finding
from contract.payload import decode_message
from contract.topics import Channel, DeviceRef, status_topic, topic_for
from detectors.base import Detector
from detectors.config_file import load_detector_config
from detectors.elevator_door import DoorSlowingDetector
from detectors.lighting_lamp import LampFailureDetector
from detectors.offline import OfflineDetector
from detectors.pump_bearing import BearingWearDetector
from detectors.registry import DetectorBank
from facmon.demo import DEMO_DETECTORS
from quality.tickets.incidents import joinable
from simulators.fleet import Action, Fleet, OutMessage
from simulators.scenario import (
    ExpectedTicket,
    FaultSpec,
    Scenario,
    builtin_scenario,
    load_scenario,
)

START_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z
STEP_MS = 10_000  # the bank ticks every 10 simulated seconds
HOUR_MS = 3_600_000
DEMO = load_scenario(builtin_scenario("demo"))
RIVERSIDE = load_scenario(builtin_scenario("demo-riverside"))


@dataclass(frozen=True)
class Detection:
    at_ms: int  # simulated time at which the bank emitted the finding
    finding: Finding


class SimClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def _deliver(bank: DetectorBank, message: OutMessage) -> list[Finding]:
    if message.action is Action.DISCONNECT:
        # The device vanished; the broker publishes its last will.
        topic, payload = status_topic(message.device), b"offline"
    else:
        topic, payload = topic_for(message.device, message.channel), message.payload
    decoded = decode_message(topic, payload, now_ms=message.ts_ms)
    if decoded.sample is not None:
        return bank.on_sample(decoded.sample)
    if decoded.event is not None:
        return bank.on_event(decoded.event)
    assert decoded.status is not None and message.channel is Channel.STATUS
    return bank.on_status(decoded.status)


def simulate(
    scenario: Scenario, seed: int, duration_ms: int, start_ms: int = START_MS
) -> tuple[list[Detection], DetectorBank]:
    clock = SimClock(start_ms)
    bank = DetectorBank(clock_ms=clock, config=load_detector_config(DEMO_DETECTORS))
    fleet = Fleet(scenario, seed=seed, start_ms=start_ms)
    found: list[Detection] = []
    t = start_ms
    while t < start_ms + duration_ms:
        t += STEP_MS
        for message in fleet.advance_to(t):
            clock.now_ms = message.ts_ms
            found += [Detection(message.ts_ms, f) for f in _deliver(bank, message)]
        clock.now_ms = t
        found += [Detection(t, f) for f in bank.tick()]
    return found, bank


@cache
def demo_run(seed: int) -> tuple[Detection, ...]:
    return tuple(simulate(DEMO, seed, 2 * HOUR_MS)[0])


def _fault_for(device_id: str, fault_type: str) -> FaultSpec:
    """The injected fault behind an expected ticket: the same type, or the device's only
    fault (a generic detector such as pump_anomaly names the fault by its own type)."""
    on_device = [f for f in DEMO.faults if f.device_id == device_id]
    same = [f for f in on_device if f.type == fault_type]
    [fault] = same or on_device
    return fault


DEMO_SEEDS = [1, 2]


@pytest.mark.parametrize("seed", DEMO_SEEDS)
@pytest.mark.parametrize("expected", DEMO.expect, ids=lambda e: f"{e.device_id}-{e.fault_type}")
def test_demo_expected_ticket_found_within_its_time(seed: int, expected: ExpectedTicket) -> None:
    fault = _fault_for(expected.device_id, expected.fault_type)
    fault_ms = START_MS + int(fault.at_s * 1000)
    hits = [
        d
        for d in demo_run(seed)
        if d.finding.device.device_id == expected.device_id
        and d.finding.fault_type == expected.fault_type
    ]
    assert hits, f"no {expected.fault_type} finding for {expected.device_id}"
    first = hits[0]
    assert first.finding.severity.value == expected.severity
    assert fault_ms <= first.at_ms, "found before the fault began"
    delay_s = (first.at_ms - fault_ms) / 1000
    assert delay_s <= expected.within_s, f"found after {delay_s:.0f} s"
    assert fault_ms - 60_000 <= first.finding.onset_ms <= first.at_ms


def incidents(detections: tuple[Detection, ...], scenario: Scenario = DEMO) -> set[tuple[str, str]]:
    """The tickets the findings open, as (device, fault type): a finding joins an expected
    ticket of its incident (quality.tickets.incidents), else it is a ticket of its own."""
    expected = {(e.device_id, e.fault_type) for e in scenario.expect}
    kinds = {d.device_id: d.kind for d in scenario.devices}
    found = set()
    for d in detections:
        device, fault = d.finding.device.device_id, d.finding.fault_type
        joins = joinable(kinds[device], fault)
        found |= {e for e in expected if e[0] == device and e[1] in joins} or {(device, fault)}
    return found


@pytest.mark.parametrize("seed", DEMO_SEEDS)
def test_demo_has_no_false_tickets(seed: int) -> None:
    assert incidents(demo_run(seed)) == {(e.device_id, e.fault_type) for e in DEMO.expect}


# midnight; dawn with the 07:00 switch-off; noon; dusk with the 18:00 switch-on
@pytest.mark.parametrize("hour_utc", [0.0, 6.5, 12.0, 17.5])
@pytest.mark.parametrize("scenario", [DEMO, RIVERSIDE], ids=lambda s: s.name)
def test_the_demo_opens_the_same_tickets_at_any_hour(scenario: Scenario, hour_utc: float) -> None:
    """`make demo` starts an hour before the wall clock, whenever it is run: daylight,
    lighting timers and pump duty cycles follow the hour, and the demo's first hour opens
    the same tickets at midnight, dawn, noon and dusk (it once lost the garage's
    illuminance ticket in the morning, when simulated daylight lit the garage)."""
    start_ms = START_MS - 8 * HOUR_MS + round(hour_utc * HOUR_MS)  # START_MS is 08:00 UTC
    found, _ = simulate(scenario, 1, HOUR_MS, start_ms)
    expected = {(e.device_id, e.fault_type) for e in scenario.expect}
    assert incidents(tuple(found), scenario) == expected


@pytest.mark.parametrize("seed", DEMO_SEEDS)
def test_demo_offline_device_is_reported_once_and_recovers(seed: int) -> None:
    offline = [d for d in demo_run(seed) if d.finding.fault_type == "offline"]
    assert len(offline) == 1
    assert offline[0].finding.evidence["cause"] == "last will received"


# -- fault-free running -------------------------------------------------------------------

# Several simulated days of the demo's twelve devices with every fault removed. The
# sample rate is lowered (one sample per 40 s) and two seeds are run to keep this file
# fast (the pump detector's Theil-Sen fits dominate); warm-ups, windows and buckets
# still fill.
FAULT_FREE = dataclasses.replace(DEMO, faults=(), expect=(), rate_hz=0.025)
FAULT_FREE_SEEDS = [11, 12]


def _past_warm_up(detector: Detector) -> bool:
    if isinstance(detector, DoorSlowingDetector | BearingWearDetector):
        return detector.baseline is not None
    if isinstance(detector, LampFailureDetector):
        return detector.expected_a is not None
    if isinstance(detector, OfflineDetector):
        return detector.last_heard_ms is not None
    return True  # door held open: nothing to learn


@pytest.mark.parametrize("seed", FAULT_FREE_SEEDS)
def test_fault_free_fleet_opens_no_tickets_for_a_day(seed: int) -> None:
    detections, bank = simulate(FAULT_FREE, seed, 24 * HOUR_MS)
    assert detections == []
    # not vacuous: every device was watched, and every detector finished its warm-up
    watched = [bank.detectors_for(ref) for ref in _refs(FAULT_FREE)]
    assert len(bank) == len(FAULT_FREE.devices)
    assert all(_past_warm_up(d) for detectors in watched for d in detectors)
    # and every detector can vouch for the device: no fault, and not "unknown"
    states = {(d.device.device_id, d.name): d.fault_active() for ds in watched for d in ds}
    assert set(states.values()) == {False}, states


def _refs(scenario: Scenario) -> list[DeviceRef]:
    return [DeviceRef(scenario.site, d.building, d.kind, d.device_id) for d in scenario.devices]


def test_demo_each_fault_gives_exactly_one_finding() -> None:
    # Before hysteresis, elevator-01's median close time flapped across its limit and
    # door_slowing fired twice for one fault (seed 2, at 20.2 and 20.8 simulated minutes).
    for seed in DEMO_SEEDS:
        for expected in DEMO.expect:
            hits = [
                d
                for d in demo_run(seed)
                if d.finding.device.device_id == expected.device_id
                and d.finding.fault_type == expected.fault_type
                and not d.finding.evidence.get("escalation")  # a worsening, not a new fault
            ]
            assert len(hits) == 1, (seed, expected.device_id, [d.at_ms for d in hits])
