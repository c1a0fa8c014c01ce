"""A steady device fleet for fault tests, and the tally of what became of each sample.

`SteadyFleet` publishes one QoS 1 sample per device every tick (20 devices every
100 ms is 200 msg/s) from a client that reconnects by itself, so it rides
through broker restarts. It remembers when each (device, seq) was published and
whether the broker acknowledged it. `tally` then counts, by (device, seq), what
the broker acknowledged against what InfluxDB and the dead-letter store hold.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from storage.dead_letters import DeadLetterStore
from storage.sql import make_engine
from storage.timeseries.influx import InfluxStore, quote_literal
from tests.conftest import unique

Key = tuple[str, int]  # (device id, seq)


@dataclass
class Sent:
    key: Key
    at: float  # time.monotonic() of the publish call
    info: mqtt.MQTTMessageInfo

    @property
    def acknowledged(self) -> bool:
        # Not `info.is_published()`: it raises for a message published while the broker
        # was away, which paho still sends (and gets acknowledged) once it reconnects.
        return bool(self.info._published)


class SteadyFleet:
    """`devices` pumps of site `site`, each publishing every `tick_s`, in a thread."""

    def __init__(self, port: int, site: str, devices: int = 20, tick_s: float = 0.1) -> None:
        self.site = site
        self.devices = [f"pump-{index:02d}" for index in range(devices)]
        self.tick_s = tick_s
        self.sent: list[Sent] = []
        self.ticks = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("fleet"))
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        # Messages published while the broker is away wait in the client, unbounded.
        self._client.max_queued_messages_set(0)
        self.connects = 0  # CONNACKs so far: a restarted broker shows as one more
        self._client.on_connect = self._on_connect
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="steady-fleet", daemon=True)
        self._base_ms = int(time.time() * 1000) - 60_000

    def _on_connect(self, *_: object) -> None:
        self.connects += 1

    def __enter__(self) -> SteadyFleet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            self.ticks += 1
            seq = self.ticks
            ts_ms = self._base_ms + seq * int(self.tick_s * 1000)
            for device_id in self.devices:
                device = DeviceRef(self.site, "b1", "pump", device_id)
                payload = encode_telemetry(ts_ms, seq, {"current_a": 2.0 + seq % 7})
                info = self._client.publish(telemetry_topic(device), payload, qos=1)
                with self._lock:
                    self.sent.append(Sent((device_id, seq), time.monotonic(), info))
            self._stop.wait(max(0.0, started + self.ticks * self.tick_s - time.monotonic()))

    def stop(self, settle_s: float = 30.0) -> None:
        """Stop publishing, and give the broker `settle_s` to acknowledge what is in flight."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(10)
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and not all(s.acknowledged for s in self.sent):
            time.sleep(0.05)
        self._client.loop_stop()
        self._client.disconnect()

    def acknowledged(self, before: float | None = None) -> list[Sent]:
        """What the broker acknowledged (published before `before`, a monotonic time)."""
        with self._lock:
            sent = list(self.sent)
        return [s for s in sent if s.acknowledged and (before is None or s.at < before)]


def stored_keys(store: InfluxStore, site: str) -> Counter[Key]:
    """How many rows InfluxDB holds for each (device, seq) of the site."""
    rows: Counter[Key] = Counter()
    for series in store.query(
        f"SELECT seq FROM pump WHERE site = {quote_literal(site)} GROUP BY device_id"
    ):
        device_id = series["tags"]["device_id"]
        rows.update((device_id, int(value[1])) for value in series["values"])
    return rows


def dead_lettered(database_url: str, site: str) -> int:
    engine = make_engine(database_url)
    try:
        letters = DeadLetterStore(engine).list(limit=1_000_000)
        return sum(1 for letter in letters if f"/{site}/" in letter.topic)
    finally:
        engine.dispose()


@dataclass
class Tally:
    """Counts by (device, seq): `lost` were acknowledged by the broker and are nowhere."""

    published: int
    stored: int
    dead_lettered: int
    lost: list[Key] = field(default_factory=list)
    duplicated: list[Key] = field(default_factory=list)

    def line(self, cell: str) -> str:
        return (
            f"{cell}: published {self.published}, stored {self.stored}, "
            f"dead-lettered {self.dead_lettered}, lost {len(self.lost)}, "
            f"duplicated {len(self.duplicated)}"
        )


def tally(fleet: SteadyFleet, store: InfluxStore, database_url: str) -> Tally:
    acknowledged = {s.key for s in fleet.acknowledged()}
    rows = stored_keys(store, fleet.site)
    return Tally(
        published=len(acknowledged),
        stored=sum(1 for key in acknowledged if key in rows),
        dead_lettered=dead_lettered(database_url, fleet.site),
        lost=sorted(acknowledged - set(rows)),
        duplicated=sorted(key for key, count in rows.items() if count > 1),
    )
