"""What Mosquitto's autosave settings cost, at the ingest benchmark's load.

Mosquitto acknowledges a QoS 1 PUBLISH from memory and writes its whole
in-memory database (every queued message) to `mosquitto.db` only at each
autosave. What arrived since the last save is lost when the broker is killed
(`kill -9`, OOM, power), so the autosave setting is the loss window; its cost
is a full rewrite of the queue at every save, which grows with the queue.

For each setting this prints, on the ingest benchmark's fleet (100,000
messages from 100 devices by one `mosquitto_pub -q 1 -l --nodelay` each):

- online: the raw delivery rate into one `mosquitto_sub -q 1` and Mosquitto's
  CPU per message (the queue stays short);
- offline: the same publishers while the subscriber's persistent session is
  away, so the broker queues everything (100,000 messages, about 30 MB):
  the publish rate, Mosquitto's CPU per message, and how many saves it made.

Run: `.venv/bin/python -m tools.bench_broker_persistence [--runs 3]`.
Only figures are printed: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tools.bench import BenchError, CLoad, _proc_cpu_s, lay_out, make_fleet, measure_raw
from tools.servers import MosquittoServer

SHIPPED_CONFIG = Path(__file__).resolve().parent.parent / "deploy/mosquitto/mosquitto.conf"
PERSISTENCE_OPTIONS = ("autosave_interval", "autosave_on_changes")
PUBLISH_TIMEOUT_S = 300.0


def shipped_persistence() -> str:
    """The autosave lines of the shipped broker configuration, ready to append."""
    lines = [
        line.strip()
        for line in SHIPPED_CONFIG.read_text().splitlines()
        if line.strip().split(" ", 1)[0] in PERSISTENCE_OPTIONS
    ]
    if not lines:
        raise BenchError(f"{SHIPPED_CONFIG} sets none of {', '.join(PERSISTENCE_OPTIONS)}")
    return "\n".join(lines) + "\n"


SETTINGS: dict[str, str] = {
    "every 60 s (autosave_interval 60)": "autosave_interval 60\n",
    "every 1 s (autosave_interval 1)": "autosave_interval 1\n",
}


@dataclass
class Figures:
    online_msgs_per_s: float
    online_broker_us: float
    offline_msgs_per_s: float
    offline_broker_us: float
    offline_saves: int


class SaveCounter:
    """Counts rewrites of mosquitto.db (a save writes a new file and renames it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _inode(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        # A freed inode number can be reused by the next save: compare more than it.
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _run(self) -> None:
        last = self._inode()
        while not self._stop.wait(0.005):
            inode = self._inode()
            if inode != last:
                self.count += 1
                last = inode

    def __enter__(self) -> SaveCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _open_session(port: int, client_id: str, filters: list[str]) -> None:
    """Leave a persistent MQTT v5 session subscribed to `filters`, then go away."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=True, properties=properties)
    client.loop_start()
    client.subscribe([(f, 1) for f in filters])
    if not subscribed.wait(10):
        raise BenchError("the offline session's SUBSCRIBE got no SUBACK within 10 s")
    client.disconnect()
    client.loop_stop()


def measure_offline(
    server: MosquittoServer, count: int, devices: int, workdir: Path
) -> tuple[float, float, int]:
    """(msgs/s, broker CPU µs per message, saves) while every message is queued."""
    assert server.process is not None
    fleet = make_fleet(count, devices, int(time.time() * 1000))
    sites, topics = lay_out(fleet, 1, f"offline-{uuid.uuid4().hex[:8]}")
    _open_session(
        server.port, f"offline-{uuid.uuid4().hex[:8]}", [f"facility/v1/{s}/#" for s in sites]
    )
    load = CLoad(server.port, topics, fleet.device_data(), server.log_path, workdir)
    try:
        load.start()
        with SaveCounter(server.workdir / "mosquitto.db") as saves:
            cpu = _proc_cpu_s(server.process.pid)
            load.go()
            deadline = time.monotonic() + PUBLISH_TIMEOUT_S
            while (elapsed := load.publish_s()) is None:
                if time.monotonic() > deadline:
                    raise BenchError(f"publishing {count} messages took over {PUBLISH_TIMEOUT_S} s")
                time.sleep(0.01)
            cpu = _proc_cpu_s(server.process.pid) - cpu
    finally:
        load.close()
    return count / elapsed, cpu / count * 1e6, saves.count


def measure(persistence: str, count: int, devices: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="facmon-bench-persist-") as tmp:
        workdir = Path(tmp)
        server = MosquittoServer(workdir / "broker", extra_config=persistence)
        server.workdir.mkdir()
        server.start()
        try:
            fleet = make_fleet(count, devices, int(time.time() * 1000))
            seconds, broker_cpu = measure_raw(server, fleet, fleet.device_data(), workdir)
            offline = measure_offline(server, count, devices, workdir)
        finally:
            server.stop()
    return Figures(count / seconds, broker_cpu / count * 1e6, *offline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per setting (median shown)")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        help="another setting to compare, options separated by commas "
        "(e.g. 'autosave_on_changes true,autosave_interval 1000')",
    )
    args = parser.parse_args(argv)
    shipped = shipped_persistence()
    settings = {**SETTINGS, f"shipped ({shipped.strip().replace(chr(10), ', ')})": shipped}
    for extra in args.setting:
        settings[extra] = extra.replace(",", "\n") + "\n"
    print(
        "| setting | online msgs/s | online broker µs/msg | offline msgs/s "
        "| offline broker µs/msg | saves while offline |"
    )
    print("|---|---|---|---|---|---|")
    for name, persistence in settings.items():
        runs = [measure(persistence, args.messages, args.devices) for _ in range(args.runs)]

        def median(attribute: str, runs: list[Figures] = runs) -> float:
            return statistics.median(getattr(run, attribute) for run in runs)

        print(
            f"| {name} | {median('online_msgs_per_s'):,.0f} | {median('online_broker_us'):.1f} "
            f"| {median('offline_msgs_per_s'):,.0f} | {median('offline_broker_us'):.1f} "
            f"| {median('offline_saves'):.0f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
