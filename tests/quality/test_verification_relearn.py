"""A repair verified by telemetry makes every detector of the incident learn normal again."""

from __future__ import annotations

from pathlib import Path

from contract.finding import Finding, Severity
from contract.payload import Sample
from contract.topics import DeviceRef
from facmon.schema import create_schema
from quality.tickets import TicketStore
from quality.tickets.lifecycle import Role, State
from quality.verification import TelemetryVerifier
from storage.sql import make_engine

PUMP = DeviceRef("hq", "b1", "pump", "pump-07")


class Judge:
    def __init__(self, name: str) -> None:
        self.name = name
        self.version = "1"
        self.relearnt_at: list[int] = []

    def fault_active(self) -> bool | None:
        return False

    def relearn(self, now_ms: int) -> None:
        self.relearnt_at.append(now_ms)


class Bank:
    def __init__(self) -> None:
        self.judges = {
            "bearing_wear": Judge("pump_bearing_wear"),
            "pump_anomaly": Judge("pump_multivariate"),
            "cavitation": Judge("pump_cavitation"),
        }

    def detector(self, device: DeviceRef, fault_type: str) -> Judge | None:
        return self.judges.get(fault_type)


def test_verified_repair_relearns_the_incidents_detectors(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    create_schema(engine)
    store = TicketStore(engine)
    opened = store.record(
        Finding(PUMP, "bearing_wear", Severity.MAJOR, "pump_bearing_wear", "1", 0, "wear", {})
    )
    for target in (State.DISPATCHED, State.RECTIFIED):
        store.transition(opened.ticket_id, target, "tech", Role.ADMIN, "done", assignee="crew")
    bank = Bank()
    verifier = TelemetryVerifier(store, bank)
    verifier.refresh()
    start = verifier._watch[(PUMP.site, PUMP.device_id)][0].rectified_ms + 1
    for step in range(0, verifier.window_ms + 2_000, 1_000):
        verifier.observe(Sample(PUMP, start + step, step, {"accelerometer1_rms_g": 0.2}))
    assert verifier.verified == [opened.ticket_id]
    assert store.require(opened.ticket_id).state == State.VERIFIED
    relearnt = {name: judge.relearnt_at for name, judge in bank.judges.items()}
    assert relearnt["bearing_wear"] == relearnt["pump_anomaly"] == [start + verifier.window_ms]
    assert relearnt["cavitation"] == []  # another cause: its normal is not reset
