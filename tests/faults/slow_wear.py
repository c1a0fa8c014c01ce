"""A slow bearing wear and a healthy neighbour, as MQTT messages, and where the uninterrupted
detector bank opens its ticket: the reference a restart must not move.

The simulator's pump (duty cycle, noise, wear of `RATE_G_PER_H` from `WEAR_AT_S` on) is
sampled every `EVERY_S` seconds of data time, which starts `SPAN_S` before the wall clock,
so a whole degradation is published in seconds and judged in device time.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.finding import Finding
from contract.payload import decode_message
from contract.topics import topic_for
from detectors.registry import DetectorBank
from simulators.fleet import Fleet
from simulators.scenario import parse_scenario

EVERY_S = 10
WEAR_AT_S = 3_600
RATE_G_PER_H = 0.04
SPAN_S = 5 * 3_600
FAULT = "bearing_wear"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    ts_ms: int
    device_id: str


DAY_MS = 86_400_000
START_HOUR_UTC = 8  # the pumps' duty cycle follows the hour: every run sees the same day


def start_ms(now_ms: int) -> int:
    """The latest 08:00 UTC from which the whole span lies in the past."""
    latest = now_ms - (SPAN_S + 600) * 1000
    day = latest - latest % DAY_MS
    start = day + START_HOUR_UTC * 3_600_000
    return start if start <= latest else start - DAY_MS


def pumps(site: str) -> tuple[str, str]:
    """Device ids do not depend on the site: the simulator's noise is seeded by the id."""
    del site
    return "slow-wear-worn", "slow-wear-healthy"


def messages(site: str, start_ms: int) -> list[Message]:
    """Every message of both pumps over `SPAN_S`, in time order."""
    worn, healthy = pumps(site)
    scenario = parse_scenario(
        {
            "site": site,
            "start": "0s",
            "rate_hz": 1 / EVERY_S,
            "devices": [
                {"id": worn, "kind": "pump", "building": "plant"},
                {"id": healthy, "kind": "pump", "building": "plant"},
            ],
            "faults": [
                {
                    "device": worn,
                    "type": FAULT,
                    "at": f"{WEAR_AT_S}s",
                    "params": {"rate_g_per_h": RATE_G_PER_H},
                }
            ],
        }
    )
    fleet = Fleet(scenario, seed=7, start_ms=start_ms)
    return [
        Message(topic_for(m.device, m.channel), m.payload, m.ts_ms, m.device.device_id)
        for m in fleet.advance_to(start_ms + SPAN_S * 1000)
        if m.payload
    ]


def first_findings(
    batch: list[Message], bank: DetectorBank | None = None
) -> dict[str, tuple[int, Finding]]:
    """Per device and fault type, the first finding of the bank, with the data time of the
    sample that raised it."""
    if bank is None:  # not `or`: an empty bank is falsy
        bank = DetectorBank(offline_after_ms=10**12)
    fired: dict[str, tuple[int, Finding]] = {}
    for message in batch:
        decoded = decode_message(message.topic, message.payload, message.ts_ms + 1)
        if decoded.sample is not None:
            findings = bank.on_sample(decoded.sample)
        elif decoded.event is not None:
            findings = bank.on_event(decoded.event)
        else:
            continue
        for finding in findings:
            fired.setdefault(f"{message.device_id}/{finding.fault_type}", (message.ts_ms, finding))
    return fired


def first_ticket_ms(batch: list[Message], bank: DetectorBank | None = None) -> dict[str, int]:
    """Per device and fault type, when the first finding was raised (data time)."""
    return {key: ts_ms for key, (ts_ms, _) in first_findings(batch, bank).items()}
