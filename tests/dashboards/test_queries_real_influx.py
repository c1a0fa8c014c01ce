"""Every dashboard query runs against a real InfluxDB filled through the real ingest path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import GENERATED_DIR, all_queries, expand_variables
from facmon.servers import InfluxServer, MosquittoServer
from facmon.service import Service
from facmon.timeseries.influx import InfluxStore
from gateway.connection import parse_mqtt_url
from simulators.runner import SimulationRunner
from simulators.scenario import builtin_scenario, load_scenario
from tests.conftest import unique, wait_until
from tests.e2e.helpers import fleet_for, service_settings, started


@pytest.fixture(scope="module")
def filled_influx(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[InfluxStore, str]]:
    """The demo scenario (every kind, every fault) run fast through Mosquitto and ingest."""
    site = unique("dash")
    database = site.replace("-", "_")
    tmp_path: Path = tmp_path_factory.mktemp("dash")
    service: Service = started(
        service_settings(
            tmp_path,
            mqtt_url=mosquitto.url,
            influx_url=influx.url,
            influx_database=database,
            offline_after_s=0.5,
        )
    )
    try:
        scenario = replace(
            load_scenario(builtin_scenario("demo")), site=site, start="-2h", speed=20_000
        )
        runner = SimulationRunner(
            fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
        )
        stats = runner.run(duration_sim_s=100 * 60)
        assert stats.offline == 1 and stats.events > 0
        metrics = service.stores.metrics
        wait_until(
            lambda: (
                sum(
                    metrics.ingested.value(kind=kind, channel="telemetry")
                    for kind in ("elevator", "lighting", "pump", "access")
                )
                == stats.published
            ),
            timeout_s=60,
            what="every published sample to be durable",
        )
        wait_until(
            lambda: (
                {t.fault_type for t in service.stores.tickets.list()}
                >= {"door_held_open", "lamp_failure", "door_slowing", "bearing_wear", "offline"}
            ),
            timeout_s=30,
            what="a ticket for every injected fault",
        )
        store = InfluxStore(influx.url, database)
        yield store, site
        store.close()
    finally:
        service.stop()


def _dashboard_files() -> list[Path]:
    return sorted(GENERATED_DIR.glob("*.json"))


def _queries() -> list[tuple[str, str, str]]:
    found = []
    for path in _dashboard_files():
        dashboard = json.loads(path.read_text())
        found += [(path.stem, title, query) for title, query in all_queries(dashboard)]
    return found


def _values(series: list[dict[str, Any]]) -> list[Any]:
    """Non-null cells, leaving out the time column of time series."""
    found = []
    for one in series:
        skip = 1 if one.get("columns", [""])[0] == "time" else 0
        found += [v for row in one.get("values", []) for v in row[skip:] if v is not None]
    return found


@pytest.mark.parametrize(("dashboard", "title", "query"), _queries())
def test_query_returns_data(
    filled_influx: tuple[InfluxStore, str], dashboard: str, title: str, query: str
) -> None:
    store, site = filled_influx
    expanded = expand_variables(query, site=site, interval="1m", time_filter="time > now() - 3h")
    series = store.query(expanded)
    assert series, f"{dashboard} / {title}: empty result for {expanded}"
    assert _values(series), f"{dashboard} / {title}: only nulls for {expanded}"
