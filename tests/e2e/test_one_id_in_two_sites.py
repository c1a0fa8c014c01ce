"""Two properties each have an access door called door-1, both held open: simulators ->
real Mosquitto -> ingest -> real InfluxDB, and two tickets, one per site, with the ticket
store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gateway.connection import parse_mqtt_url
from simulators.runner import SimulationRunner
from simulators.scenario import Scenario, parse_scenario
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.databases import postgres_schema
from tests.e2e.helpers import fleet_for, service_settings, started
from tools.servers import InfluxServer, MosquittoServer

DURATION_S = 300


def door_held_open(site: str, building: str) -> Scenario:
    return parse_scenario(
        {
            "site": site,
            "start": "-20m",
            "speed": 2000,
            "rate_hz": 1,
            "devices": [{"id": "door-1", "kind": "access", "building": building}],
            "faults": [{"device": "door-1", "type": "door_held_open", "at": "2m"}],
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None: the service's default SQLite file under its data directory."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema("e") as url:
        yield url


def test_door_1_held_open_in_two_sites_opens_two_tickets(
    mosquitto: MosquittoServer,
    influx: InfluxServer,
    database_url: str | None,
    tmp_path: Path,
) -> None:
    database = unique("db").replace("-", "_")
    overrides: dict[str, object] = {
        "mqtt_url": mosquitto.url,
        "influx_url": influx.url,
        "influx_database": database,
    }
    if database_url is not None:
        overrides["database_url"] = database_url
    service = started(service_settings(tmp_path, **overrides))
    sites = {unique("north"): "b1", unique("south"): "b7"}
    try:
        for site, building in sites.items():
            scenario = door_held_open(site, building)
            runner = SimulationRunner(
                fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
            )
            assert runner.run(duration_sim_s=DURATION_S).published == DURATION_S + 1

        def both_tickets() -> list[tuple[str, str, str, str]]:
            found = [
                (t.site, t.building, t.device_id, t.fault_type)
                for t in service.stores.tickets.list()
                if t.site in sites
            ]
            return sorted(found) if len(found) == 2 else []

        assert wait_until(both_tickets, what="a ticket per site") == sorted(
            (site, building, "door-1", "door_held_open") for site, building in sites.items()
        )

        def registered() -> list[tuple[str, int]]:
            rows = [(d.site, d.samples) for d in service.stores.devices.named("door-1")]
            mine = sorted(row for row in rows if row[0] in sites)
            return mine if all(n == DURATION_S + 1 for _, n in mine) and len(mine) == 2 else []

        assert [site for site, _ in wait_until(registered, what="both doors registered")] == (
            sorted(sites)
        )

        store = InfluxStore(influx.url, database)

        def all_stored() -> bool:
            return all(
                len(store.recent("access", "door-1", 1_000, site=site)) == DURATION_S + 1
                for site in sites
            )

        wait_until(all_stored, what="every sample of each site's door-1 in InfluxDB")

        _id, token = service.stores.tokens.create("viewer", "test-viewer")
        client = TestClient(
            create_app(service.stores), headers={"Authorization": f"Bearer {token}"}
        )
        for site, building in sites.items():
            device = client.get(f"/api/sites/{site}/devices/door-1").json()
            assert (device["building"], device["samples"]) == (building, DURATION_S + 1)
        ambiguous = client.get("/api/devices/door-1/telemetry")
        assert ambiguous.status_code == 409
        assert set(sites) <= set(ambiguous.json()["detail"]["sites"])
    finally:
        service.stop()
