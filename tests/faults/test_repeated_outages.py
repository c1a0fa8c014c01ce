"""The compound fault, five times over: ingest killed -9, InfluxDB down, Mosquitto restarted.

Each cycle, under a steady 200 msg/s (20 devices every 100 ms): `facmon ingest` is
killed -9; InfluxDB stops; a new `facmon ingest` starts and spools; Mosquitto
restarts while InfluxDB is still down; InfluxDB comes back and the cycle waits
until everything the broker acknowledged so far is stored. At the end every
acknowledged (device, seq) must be stored exactly once, except, as a documented
bound, samples published from a broker restart's stop to 5 s after it: one run
lost 806 such samples (the 4 s around the second restart) that the broker had
acknowledged and no longer held, while ingest received everything else; the
cause is not found yet (see the fault matrix in docs/operations.md).

InfluxDB is down for about 8 s a cycle (until 1,600 points are spooled), not the
60 s of the run that once lost data: the length of the outage only sets how many
points the spool holds (12,000 then), not which paths run, and five cycles of
60 s would cost the suite five minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from facmon.embedded_broker import free_port
from observability.metrics import parse_samples
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.faults.accounting import Key, SteadyFleet, stored_keys, tally
from tools.bench_broker_persistence import shipped_persistence
from tools.servers import InfluxServer, MosquittoServer

CYCLES = 5
SPOOLED = 1_600  # points spooled per outage: 8 s of the fleet's 200 msg/s
# The known, not yet explained loss: samples published while Mosquitto restarts
# under a reconnecting ingest (from its stop to this long after it is back).
RESTART_WINDOW_S = 5.0


class IngestProcess:
    """`facmon ingest` (the service's ingest, without API and delivery) as its own
    process, so that it can be killed -9; its /metrics serves on `port`."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = Path(env["FACMON_DATA_DIR"]) / "ingest.log"
        self.starts = 0

    def start(self) -> None:
        self.port = free_port()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "facmon.cli", "ingest"],
                env={**self.env, "FACMON_METRICS_PORT": str(self.port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

        def running() -> bool:  # printed once its session holds the subscription
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"facmon ingest exited: {self.log.read_text()[-2000:]}")
            announced = f"ingest worker {self.env['FACMON_MQTT_CLIENT_ID']} running"
            return self.log.read_text().count(announced) >= self.starts

        # A start takes 5 s idle, 15 s under load. Should one take a minute, the
        # process is asked for its threads' stacks (SIGUSR1, see facmon.cli), kept in
        # the failure message and printed if the start still succeeds.
        started = time.monotonic()
        stacks = ""
        while not running():
            waited = time.monotonic() - started
            if waited > 240:
                pytest.fail(f"facmon ingest did not start in 240 s; its log:\n{stacks}")
            if waited > 60 and not stacks:
                stacks = self._stacks()
                print(f"facmon ingest start number {self.starts}, slow after 60 s:\n{stacks}")
            time.sleep(0.1)

    def _stacks(self) -> str:
        """The process's threads' stacks (SIGUSR1), with the log before them."""
        assert self.process is not None
        self.process.send_signal(signal.SIGUSR1)
        wait_until(
            lambda: "most recent call first" in self.log.read_text(),
            timeout_s=30,
            what="the stack dump of a slow facmon ingest start",
        )
        return self.log.read_text()[-8000:]

    def spooled(self) -> float:
        """Points in this process's spool, from its /metrics (0 while it does not answer)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return 0.0
        return sum(value for _, value in parse_samples(text, "facmon_spool_points"))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def _missing_after(expected: set[Key], store: InfluxStore, site: str, timeout_s: float) -> set[Key]:
    """What of `expected` InfluxDB still lacks once it has all, or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = expected - set(stored_keys(store, site))
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 100 s on an idle machine; restarts slow down under load
def test_kill_outage_and_broker_restart_five_times_lose_nothing(site: str, tmp_path: Path) -> None:
    broker = MosquittoServer(tmp_path / "mosquitto", extra_config=shipped_persistence())
    influx = InfluxServer(tmp_path / "influx")
    for server in (broker, influx):
        server.workdir.mkdir(parents=True)
        server.start()
    database = unique("repeat").replace("-", "_")
    ingest = IngestProcess(
        {
            **os.environ,
            "FACMON_MQTT_URL": broker.url,
            "FACMON_INFLUX_URL": influx.url,
            "FACMON_INFLUX_DATABASE": database,
            "FACMON_DATA_DIR": str(tmp_path / "data"),
            "FACMON_MQTT_CLIENT_ID": unique("repeat-ingest"),
        }
    )
    store = InfluxStore(influx.url, database)
    restarts: list[tuple[float, float]] = []  # (stopped, started) of each broker restart

    def near_a_restart(sent_at: float) -> bool:
        return any(
            stopped - 0.5 <= sent_at <= started + RESTART_WINDOW_S for stopped, started in restarts
        )

    try:
        ingest.start()
        with SteadyFleet(broker.port, site) as fleet:
            wait_until(lambda: len(stored_keys(store, site)) >= 200, what="ingest to run")
            for cycle in range(1, CYCLES + 1):
                ingest.kill()
                influx.stop()
                ingest.start()
                # InfluxDB stays down until the spool holds SPOOLED points: the
                # broker restarts halfway.
                wait_until(lambda: ingest.spooled() >= SPOOLED / 2, what="half the spool")
                stopped = time.monotonic()
                broker.stop()
                broker.start()
                restarts.append((stopped, time.monotonic()))
                wait_until(lambda: ingest.spooled() >= SPOOLED, what="the whole spool")
                influx.start()
                missing = _missing_after(
                    {s.key for s in fleet.acknowledged() if not near_a_restart(s.at)},
                    store,
                    site,
                    timeout_s=60,
                )
                seqs = sorted({seq for _, seq in missing})
                assert not missing, (
                    f"cycle {cycle}: {len(missing)} acknowledged samples not stored after 60 s, "
                    f"seqs {seqs[:3]}..{seqs[-3:]} ({len(seqs)} ticks); ingest log: "
                    f"{ingest.log.read_text()[-3000:]}"
                )
        last = {(device, fleet.ticks) for device in fleet.devices}
        wait_until(lambda: last <= set(stored_keys(store, site)), what="the last samples")
        ingest.stop()
        result = tally(fleet, store, f"sqlite:///{tmp_path / 'data' / 'facmon.sqlite'}")
        print(result.line(f"{CYCLES} x (ingest kill -9, InfluxDB down, Mosquitto restart)"))
        # A lead on the loss once seen near a restart: did a graceful stop run out of
        # its 15 s and end in SIGKILL (which loses the autosave window)?
        print(f"broker stops that ended in SIGKILL: {broker.forced_stops} of {CYCLES}")
        assert result.published >= CYCLES * SPOOLED
        sent_at = {s.key: s.at for s in fleet.sent}
        outside = [key for key in result.lost if not near_a_restart(sent_at[key])]
        assert outside == [], f"lost {len(outside)} away from a broker restart: {outside[:5]}"
        assert len(result.lost) <= CYCLES * RESTART_WINDOW_S * 200, (
            f"lost {len(result.lost)}; broker stops ended in SIGKILL: {broker.forced_stops}"
        )
        assert result.duplicated == []
        assert result.dead_lettered == 0
    finally:
        ingest.kill()
        store.close()
        broker.cleanup()
        influx.cleanup()
