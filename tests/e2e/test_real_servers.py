"""Simulator -> real Mosquitto -> ingest -> real InfluxDB, and a ticket opened."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt

from gateway.connection import parse_mqtt_url
from simulators.runner import SimulationRunner
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import fleet_for, held_open_scenario, service_settings, started
from tools.servers import InfluxServer, MosquittoServer


def test_simulated_fault_flows_to_influx_and_opens_a_ticket(
    mosquitto: MosquittoServer, influx: InfluxServer, site: str, tmp_path: Path
) -> None:
    database = unique("db").replace("-", "_")
    settings = service_settings(
        tmp_path, mqtt_url=mosquitto.url, influx_url=influx.url, influx_database=database
    )
    service = started(settings)
    events: list[tuple[str, dict[str, object]]] = []
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("events"))
    listener.on_message = lambda _c, _u, msg: events.append((msg.topic, json.loads(msg.payload)))
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(f"facility/v1/tickets/{site}/#", qos=1)
    listener.loop_start()
    try:
        assert service.mqtt_protocol == "5"
        scenario = held_open_scenario(site)
        fleet = fleet_for(scenario)
        runner = SimulationRunner(fleet, parse_mqtt_url(mosquitto.url), scenario.speed, site)
        stats = runner.run(duration_sim_s=600)
        assert stats.published == 2 * 601

        tickets = wait_until(lambda: service.stores.tickets.list(), what="a ticket")
        assert [(t.device_id, t.fault_type, t.severity) for t in tickets] == [
            (f"{site}-door", "door_held_open", "major")
        ]
        assert tickets[0].evidence["threshold"] == 60.0
        assert tickets[0].evidence["value"] > 60.0

        store = InfluxStore(influx.url, database)
        wait_until(
            lambda: (
                store.count("access", f"{site}-door") == 601
                and store.count("pump", f"{site}-pump") == 601
            ),
            what="every published sample in InfluxDB",
        )
        series = store.query(f"SELECT max(held_open_s) FROM access WHERE device_id = '{site}-door'")
        assert series[0]["values"][0][1] > 60.0
        seqs = store.query(f"SELECT seq FROM pump WHERE device_id = '{site}-pump'")
        pump_seqs = [v[1] for v in seqs[0]["values"]]
        assert len(set(pump_seqs)) == 601 and pump_seqs == sorted(pump_seqs)
        if stats.events:
            wait_until(lambda: store.count("events") == stats.events, what="every event")
        store.close()

        # The same ticket leaves through the outbox as an MQTT event at QoS 1.
        topic, event = wait_until(lambda: events and events[0], what="the ticket event on MQTT")
        assert topic == f"facility/v1/tickets/{site}/b1/{site}-door/opened"
        assert event["type"] == "opened" and event["ticket"]["id"] == tickets[0].id  # type: ignore[index]
    finally:
        listener.loop_stop()
        service.stop()
