"""`facmon run` with InfluxDB writes KPIs and its own metrics (the service's wiring)."""

from __future__ import annotations

from pathlib import Path

from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.test_kpi_runtime import _publish_status
from tools.servers import InfluxServer, MosquittoServer


def test_service_runs_the_kpi_job_and_writes_its_metrics(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path: Path, site: str
) -> None:
    database = unique("wired").replace("-", "_")
    service = started(
        service_settings(
            tmp_path,
            mqtt_url=mosquitto.url,
            influx_url=influx.url,
            influx_database=database,
            kpi_interval_s=0.2,
            service_metrics_interval_s=0.2,
        )
    )
    reader = InfluxStore(influx.url, database)
    try:
        assert service.kpis is not None
        _publish_status(mosquitto.url, f"facility/v1/{site}/b1/pump/{site}-p1/status")
        wait_until(
            lambda: reader.query(f'SELECT max("devices") FROM "kpi" WHERE "site" = \'{site}\''),
            timeout_s=30,
            what="KPIs from the service's scheduler",
        )
        wait_until(
            lambda: reader.query('SELECT count("messages_ingested") FROM "facmon_service"'),
            what="the service's own metrics",
        )
    finally:
        service.stop()
        reader.close()
    assert service.kpis.scheduler.last_error is None


def test_embedded_series_store_runs_no_kpi_job(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    service = started(service_settings(tmp_path, mqtt_url=mosquitto.url))
    try:
        assert service.kpis is None
    finally:
        service.stop()
