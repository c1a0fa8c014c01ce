"""The KPI threads as the service runs them: against a running service's own stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from facmon.kpi_runtime import KpiRuntime
from gateway.connection import parse_mqtt_url
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tools.servers import InfluxServer, MosquittoServer


def _publish_status(url: str, topic: str) -> None:
    address = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("rt-pub"))
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        client.publish(topic, b"online", qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_runtime_writes_kpis_and_service_metrics_for_a_running_service(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path: Path, site: str
) -> None:
    database = unique("rt").replace("-", "_")
    service = started(
        service_settings(
            tmp_path, mqtt_url=mosquitto.url, influx_url=influx.url, influx_database=database
        )
    )
    runtime = KpiRuntime(
        service.stores.engine,
        service.stores.series,
        service.stores.metrics.registry,
        instance="ingest-rt",
        interval_s=0.1,
        metrics_interval_s=0.1,
        settle=timedelta(hours=2),
    )
    reader = InfluxStore(influx.url, database)
    runtime.start()
    try:
        _publish_status(mosquitto.url, f"facility/v1/{site}/b1/pump/{site}-p1/status")
        site_scope = f"\"scope\" = 'site' AND \"site\" = '{site}'"
        wait_until(
            lambda: reader.query(f'SELECT max("devices") FROM "kpi" WHERE {site_scope}'),
            timeout_s=30,
            what="the scheduled KPI job to count the device",
        )
        wait_until(
            lambda: reader.query(
                'SELECT max("messages_ingested") FROM "facmon_service" '
                'WHERE "instance" = \'ingest-rt\' AND "messages_ingested" >= 1'
            ),
            what="the service metrics to record the status message",
        )
    finally:
        runtime.stop()
        service.stop()
    (series,) = reader.query(
        f'SELECT last("devices"), last("online_s") FROM "kpi" WHERE {site_scope}'
    )
    assert series["values"][0][1] == 1 and series["values"][0][2] >= 0
    assert runtime.scheduler.runs >= 1 and runtime.scheduler.last_error is None
    reader.close()
