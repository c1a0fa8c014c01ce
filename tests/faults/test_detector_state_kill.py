"""A service killed (SIGKILL) in the middle of a slow bearing wear still opens its tickets on
time, and a healthy pump beside it gets none, on real Mosquitto and InfluxDB.

Three runs of `facmon run` over one database, fed a pump whose vibration rises from 1 h of
data time on, and a healthy pump (`slow_wear`, 10 s cadence, in the past so that five
hours are published in seconds):
1. saves every second; killed at 50 min of data, once the learnt baseline is saved;
2. saves no more (an hour's interval); fed to 75 min of data (15 min into the wear, before
   any ticket) and killed: its state after the first kill is in no saved row, only in
   InfluxDB, so the third run starts from 50 min and catches up by replay;
3. fed the rest: its tickets must be those of an uninterrupted detector bank; stopped
   cleanly, it saves what it judged.

The third run is also sent the second part again before the rest, as the broker redelivers
a batch that was written but not yet acknowledged at the kill: under load one batch holds
the whole part (25 minutes of data), and judging its older samples a second time, out of
order, moved pump_multivariate's onset by 680 s. `test_a_redelivered_backlog_is_not_judged
_twice` shows the same in process, without servers.

Tolerance: one minute of data time on the onset, the bearing detector's bucket: a restart
that split a bucket would move the decision by one bucket at most. The state is restored
exactly, so the onsets are expected equal; a bank that starts afresh at the kill is late by
tens of minutes or never fires (checked first, so that the test can tell them apart).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contract.payload import decode_message
from facmon.embedded_broker import free_port
from facmon.schema import create_schema
from ingest.detector_state import REDELIVERY_WINDOW_MS, KeptBank, StateKeeper
from ingest.pipeline.points import sample_point
from quality.tickets.models import Ticket, TicketOccurrence
from storage.detector_state import DetectorStateStore
from storage.sql import make_engine
from storage.timeseries.influx import InfluxStore
from storage.timeseries.sqlite import SQLiteSeriesStore
from tests.conftest import publish_qos1, unique, wait_until
from tests.faults.slow_wear import (
    WEAR_AT_S,
    Message,
    first_findings,
    first_ticket_ms,
    messages,
    pumps,
    start_ms,
)
from tools.servers import InfluxServer, MosquittoServer

TOLERANCE_MS = 60_000
FIRST_KILL_S = 3_000  # 50 min: the baseline is learnt, the wear has not begun
SECOND_KILL_S = WEAR_AT_S + 900  # 15 min into the wear


class Run:
    """`facmon run` as a child process, on the test's servers and data directory."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, save_s: float) -> None:
        port = str(free_port())
        env = {**self.env, "FACMON_API_PORT": port, "FACMON_DETECTOR_STATE_SAVE_S": str(save_s)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "facmon.cli", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"facmon run exited with {self.process.returncode}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout_s=60, what="facmon run to start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def run(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path: Path
) -> Iterator[tuple[Run, Engine, InfluxStore]]:
    database = unique("state").replace("-", "_")
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "FACMON_MQTT_URL": mosquitto.url,
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": database,
        "FACMON_DATA_DIR": str(data_dir),
        "FACMON_MQTT_CLIENT_ID": unique("state-ingest"),
        "FACMON_BATCH_MAX_DELAY_S": "0.2",
        # The data starts up to 29 h back (08:00 UTC): replay must reach it.
        "FACMON_DETECTOR_REPLAY_HOURS": "48",
    }
    service = Run(env)
    data_dir.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{data_dir / 'facmon.sqlite'}")
    store = InfluxStore(influx.url, database)
    try:
        yield service, engine, store
    finally:
        service.stop()
        store.close()
        engine.dispose()


def telemetry(batch: list[Message], device_id: str) -> list[Message]:
    return [m for m in batch if m.device_id == device_id and m.topic.endswith("/telemetry")]


def tickets(engine: Engine) -> list[Ticket]:
    with Session(engine) as session:
        return list(session.scalars(select(Ticket)))


def recorded_onsets(engine: Engine, device_id: str) -> dict[str, int]:
    """The earliest onset each detector recorded on the device's tickets: a ticket's own
    finding and the occurrences added to it (findings of one fault may share a ticket)."""
    onsets: dict[str, int] = {}

    def note(detector: object, onset_ms: int) -> None:
        if isinstance(detector, str):
            onsets[detector] = min(onsets.get(detector, onset_ms), onset_ms)

    with Session(engine) as session:
        for ticket in session.scalars(select(Ticket).where(Ticket.device_id == device_id)):
            note(ticket.detector, ticket.onset_ms)
        occurrences = select(TicketOccurrence).join(Ticket, Ticket.id == TicketOccurrence.ticket_id)
        for occurrence in session.scalars(occurrences.where(Ticket.device_id == device_id)):
            note(occurrence.evidence.get("detector"), occurrence.onset_ms)
    return onsets


def saved_up_to(engine: Engine, device_id: str, detector: str) -> int:
    for row in DetectorStateStore(engine).load():
        if row.device_id == device_id and row.detector == detector:
            return row.last_ts_ms or 0
    return 0


def test_a_kill_mid_degradation_keeps_the_tickets_on_time(
    run: tuple[Run, Engine, InfluxStore], mosquitto: MosquittoServer, site: str
) -> None:
    service, engine, influx = run
    start = start_ms(int(time.time() * 1000))
    stream = messages(site, start)
    worn, healthy = pumps(site)
    first_kill, second_kill = start + FIRST_KILL_S * 1000, start + SECOND_KILL_S * 1000
    expected = first_findings(stream)
    assert expected and all(key.startswith(f"{worn}/") for key in expected), expected
    assert all(ts > second_kill for ts, _ in expected.values()), "a ticket before the kill"
    fresh = first_ticket_ms([m for m in stream if m.ts_ms > second_kill])
    assert fresh != {key: ts for key, (ts, _) in expected.items()}, "no state needed"

    def publish(low_ms: int, high_ms: int) -> list[Message]:
        part = [m for m in stream if low_ms < m.ts_ms <= high_ms]
        publish_qos1(mosquitto.port, [(m.topic, m.payload) for m in part])
        return part

    def stored(upto_ms: int) -> bool:
        want = len(telemetry([m for m in stream if m.ts_ms <= upto_ms], worn))
        return influx.count("pump", worn) == want

    # 1. Baseline learnt and saved, then killed.
    service.start(save_s=1)
    sent = publish(0, first_kill)
    last = telemetry(sent, worn)[-1].ts_ms
    wait_until(
        lambda: saved_up_to(engine, worn, "pump_bearing_wear") >= last,
        timeout_s=30,
        what="the learnt state to be saved",
    )
    service.kill()

    # 2. Restored; fed 25 more minutes that it never saves; killed.
    service.start(save_s=3600)
    publish(first_kill, second_kill)
    wait_until(lambda: stored(second_kill), timeout_s=30, what="the second part in InfluxDB")
    service.kill()
    assert tickets(engine) == [], "a ticket opened before the wear was judged"
    assert saved_up_to(engine, worn, "pump_bearing_wear") <= first_kill

    # 3. Caught up from InfluxDB, sent the second part again (the unacknowledged batch the
    # broker redelivers), then the rest: the findings of an uninterrupted bank.
    service.start(save_s=3600)
    publish(first_kill, second_kill)
    publish(second_kill, stream[-1].ts_ms)
    wanted = {finding.detector: finding.onset_ms for _, finding in expected.values()}
    wait_until(
        lambda: set(recorded_onsets(engine, worn)) >= set(wanted),
        timeout_s=60,
        what=f"findings of {sorted(wanted)} on the worn pump",
    )
    wait_until(lambda: stored(stream[-1].ts_ms), timeout_s=30, what="the whole stream stored")
    assert [t.fault_type for t in tickets(engine) if t.device_id == healthy] == []
    onsets = recorded_onsets(engine, worn)
    for detector, onset_ms in wanted.items():
        moved_ms = onsets[detector] - onset_ms
        assert abs(moved_ms) <= TOLERANCE_MS, f"{detector}: onset moved by {moved_ms / 1000:.0f} s"

    # A clean stop saves what the run judged (it saved nothing on its own).
    assert saved_up_to(engine, worn, "pump_bearing_wear") <= first_kill
    service.stop()
    assert saved_up_to(engine, worn, "pump_bearing_wear") == telemetry(stream, worn)[-1].ts_ms


def test_a_redelivered_backlog_is_not_judged_twice(tmp_path: Path) -> None:
    """In process: state saved at the first kill, the second part replayed from the series
    store, then the broker redelivers the whole second part (one unacknowledged batch,
    longer than `REDELIVERY_WINDOW_MS`) before the rest: the uninterrupted bank's findings,
    to the millisecond."""
    site = "redelivery"
    start = start_ms(int(time.time() * 1000))
    stream = messages(site, start)
    first_kill, second_kill = start + FIRST_KILL_S * 1000, start + SECOND_KILL_S * 1000
    expected = {key: f.onset_ms for key, (_, f) in first_findings(stream).items()}
    assert expected and all(ts > second_kill for ts, _ in first_findings(stream).values())

    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
    create_schema(engine)
    store = DetectorStateStore(engine)
    first = KeptBank(offline_after_ms=10**12)
    first_ticket_ms([m for m in stream if m.ts_ms <= first_kill], first)
    StateKeeper(first, store, None).stop()  # saved at the first kill
    series = SQLiteSeriesStore(tmp_path / "series.sqlite")
    stored = [decode_message(m.topic, m.payload, m.ts_ms + 1).sample for m in stream]
    series.write([sample_point(s) for s in stored if s is not None and s.ts_ms <= second_kill])

    restarted = KeptBank(offline_after_ms=10**12)
    StateKeeper(restarted, store, series, replay_hours=48).restore()
    backlog = [m for m in stream if first_kill < m.ts_ms <= second_kill]
    assert backlog[-1].ts_ms - backlog[0].ts_ms > REDELIVERY_WINDOW_MS
    rest = [m for m in stream if m.ts_ms > second_kill]
    found = {key: f.onset_ms for key, (_, f) in first_findings(backlog + rest, restarted).items()}
    assert found == expected
    # and the state was needed: a bank started afresh at the second kill differs
    assert {k: f.onset_ms for k, (_, f) in first_findings(rest).items()} != expected
    engine.dispose()
