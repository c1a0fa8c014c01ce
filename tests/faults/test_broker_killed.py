"""Mosquitto killed -9 while ingest is down: only the shipped autosave window is lost.

The broker runs with the persistence lines of the shipped configuration
(deploy/mosquitto/mosquitto.conf). Ingest goes away, the fleet keeps publishing
for several seconds (the broker queues for ingest's persistent session), and
the broker is killed -9 mid-stream, then restarted; ingest comes back.
"""

from __future__ import annotations

import time
from pathlib import Path

from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.faults.accounting import SteadyFleet, stored_keys, tally
from tools.bench_broker_persistence import shipped_persistence
from tools.servers import InfluxServer, MosquittoServer

# The shipped `autosave_interval 1` saves once a whole second has passed since the
# last save, checked on the broker's loop: at most 2 s apart, plus the save itself.
LOSS_WINDOW_S = 2.5


def test_broker_killed_while_ingest_is_down_loses_at_most_the_autosave_window(
    influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    broker = MosquittoServer(tmp_path / "mosquitto", extra_config=shipped_persistence())
    broker.workdir.mkdir(parents=True)
    broker.start()
    database = unique("brokerkill").replace("-", "_")
    settings = service_settings(
        tmp_path, mqtt_url=broker.url, influx_url=influx.url, influx_database=database
    )
    store = InfluxStore(influx.url, database)
    try:
        service = started(settings)  # its persistent session exists before the first sample
        with SteadyFleet(broker.port, site) as fleet:
            try:
                wait_until(lambda: len(stored_keys(store, site)) >= 200, what="ingest to run")
            finally:
                service.stop()
            ingest_down = time.monotonic()
            wait_until(
                lambda: len(fleet.acknowledged()) - len(fleet.acknowledged(ingest_down)) >= 1600,
                what="8 s of traffic queued for the absent ingest",
            )
            broker.stop(kill=True)
            killed = time.monotonic()
            broker.start()
            wait_until(lambda: fleet.connects >= 2, what="the fleet to reconnect")
            since = fleet.ticks
            wait_until(
                lambda: fleet.ticks > since + 10 and len(fleet.acknowledged()) >= since * 20,
                what="the fleet to publish through the restarted broker",
            )
        service = started(settings)
        try:
            last = {(device, fleet.ticks) for device in fleet.devices}
            wait_until(
                lambda: last <= set(stored_keys(store, site)),
                timeout_s=60,
                what="the queued and the later samples to be stored",
            )
        finally:
            service.stop()
        result = tally(fleet, store, settings.ticket_database_url)
        print(result.line("broker killed -9 while ingest is down"))
        queued_before_kill = len(fleet.acknowledged(killed)) - len(fleet.acknowledged(ingest_down))
        assert queued_before_kill >= 1600, "the broker held too little to test anything"
        sent_at = {s.key: s.at for s in fleet.sent}
        outside = [key for key in result.lost if sent_at[key] < killed - LOSS_WINDOW_S]
        assert not outside, (
            f"{len(outside)} of {len(result.lost)} lost samples were acknowledged more than "
            f"{LOSS_WINDOW_S} s before the kill, first {outside[:3]}: the autosave window is wider"
        )
        assert len(result.lost) <= LOSS_WINDOW_S * 200
        assert result.duplicated == []
        assert result.dead_lettered == 0
    finally:
        store.close()
        broker.cleanup()
