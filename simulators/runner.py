"""Drives a fleet against a broker: paces simulated time and publishes what is due.

Simulated time runs `speed` times faster than the wall clock but never passes
it, so a scenario that starts an hour ago back-fills history quickly and then
continues live, and every device timestamp stays acceptable to the ingestor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from contract.topics import Channel
from gateway.connection import BrokerAddress
from gateway.publisher import DeviceConnection
from simulators.fleet import Action, Fleet, OutMessage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunStats:
    published: int = 0
    events: int = 0
    sim_ms: int = 0
    real_s: float = 0.0
    devices: int = 0
    offline: int = 0


ProgressCallback = Callable[[RunStats], None]


class SimulationRunner:
    def __init__(
        self,
        fleet: Fleet,
        address: BrokerAddress,
        speed: float,
        client_prefix: str = "sim",
        wall_clock: Callable[[], float] = time.time,
        protocol: str = "3.1.1",
        will_delay_s: float = 0.0,
        passwords: Mapping[str, str] | None = None,
    ) -> None:
        """`will_delay_s` (MQTT v5 only) is real seconds: at a `speed` above 1 the
        broker's delay covers more simulated time than the scenario says.

        With `passwords` (device_id -> password, see `simulators.credentials`) each
        device logs in with its own account and its bound client id `dev-<device_id>`,
        as a real device does; `address`'s user and `client_prefix` are then unused."""
        if will_delay_s and protocol != "5":
            log.warning("a will delay needs MQTT v5; devices' wills go out at once")
            will_delay_s = 0.0
        self.protocol = protocol
        self.will_delay_s = will_delay_s
        self.fleet = fleet
        self.address = address
        self.speed = speed
        self.client_prefix = client_prefix
        self.wall_clock = wall_clock
        self.passwords = passwords
        self.connections: dict[str, DeviceConnection] = {}
        self.stats = RunStats(devices=len(fleet.devices))
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _connection(self, message: OutMessage) -> DeviceConnection:
        device_id = message.device.device_id
        conn = self.connections.get(device_id)
        if conn is None:
            address: BrokerAddress = self.address
            client_id: str | None = f"{self.client_prefix}-{device_id}"
            if self.passwords is not None:
                address = replace(address, username=device_id, password=self.passwords[device_id])
                client_id = None  # the device library's default, dev-<device_id>
            conn = DeviceConnection(
                message.device,
                address,
                client_id=client_id,
                protocol=self.protocol,
                will_delay_s=round(self.will_delay_s),
            )
            self.connections[device_id] = conn
        return conn

    def _deliver(self, message: OutMessage) -> None:
        conn = self._connection(message)
        if message.action is Action.CONNECT:
            conn.connect()
        elif message.action is Action.DISCONNECT:
            conn.drop()
            self.stats.offline += 1
        else:
            conn.publish(message.channel, message.payload, retain=message.retain)
            if message.channel is Channel.TELEMETRY:
                self.stats.published += 1
            else:
                self.stats.events += 1

    def run(
        self,
        duration_sim_s: float | None = None,
        max_messages: int | None = None,
        progress: ProgressCallback | None = None,
        progress_every_s: float = 2.0,
    ) -> RunStats:
        real_start = time.monotonic()
        wall_start_ms = int(self.wall_clock() * 1000)
        sim_start = self.fleet.start_ms
        end_ms = None if duration_sim_s is None else sim_start + int(duration_sim_s * 1000)
        last_progress = real_start
        try:
            while not self._stop.is_set():
                elapsed = time.monotonic() - real_start
                target = sim_start + int(elapsed * self.speed * 1000)
                wall_now = wall_start_ms + int(elapsed * 1000)
                target = min(target, wall_now)
                if end_ms is not None:
                    target = min(target, end_ms)
                for message in self.fleet.advance_to(target):
                    self._deliver(message)
                    if max_messages is not None and self.stats.published >= max_messages:
                        self._stop.set()
                        break
                self.stats.sim_ms = self.fleet.now_ms - sim_start
                self.stats.real_s = time.monotonic() - real_start
                if progress and time.monotonic() - last_progress >= progress_every_s:
                    progress(self.stats)
                    last_progress = time.monotonic()
                if end_ms is not None and self.fleet.now_ms >= end_ms:
                    break
                next_due = self.fleet.next_due_ms()
                wait_s = (next_due - target) / 1000 / self.speed
                self._stop.wait(min(max(wait_s, 0.001), 0.25))
        finally:
            self.close()
        if progress:
            progress(self.stats)
        return self.stats

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()
        self.connections.clear()


def future_start_problem(
    scenario: str, start_ms: int, now_ms: int, option: bool = True
) -> str | None:
    """Why a scenario starting after `now_ms` would publish nothing, and what to run.

    Simulated time never passes the wall clock, so such a run would wait silently
    until the start date. The suggestion keeps the scenario's time of day; `option`
    offers `--start` besides the file's `start:`.
    """
    if start_ms <= now_ms:
        return None
    day_ms = 86_400_000
    past = start_ms - ((start_ms - now_ms) // day_ms + 1) * day_ms
    start = datetime.fromtimestamp(start_ms / 1000, UTC)
    same_time = datetime.fromtimestamp(past / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ahead_h = (start_ms - now_ms) / 3_600_000
    ahead = f"{ahead_h / 24:.0f} days" if ahead_h >= 48 else f"{ahead_h:.1f} h"
    fix = (
        f"--start {same_time} (the same time of day) or --start=-1h, or set 'start:' in the file"
        if option
        else f"'start: {same_time}' (the same time of day) or 'start: -1h' in the file"
    )
    return (
        f"scenario '{scenario}' starts at {start:%Y-%m-%d %H:%M} UTC, {ahead} from now. "
        "Simulated time never runs ahead of the clock, so nothing would be published "
        f"before then. To run it now, start it in the past: {fix}"
    )


def format_progress(stats: RunStats) -> str:
    sim_h = stats.sim_ms / 3_600_000
    rate = stats.published / stats.real_s if stats.real_s > 0 else 0.0
    return (
        f"simulated {sim_h:6.2f} h in {stats.real_s:6.1f} s | {stats.devices} devices"
        f" | {stats.published} samples ({rate:,.0f}/s) | {stats.offline} dropped offline"
    )
