"""Suppression end to end: a door under a dispatched maintenance work order is held open
(simulator -> real Mosquitto -> the running service -> real InfluxDB): no ticket, a
suppressed occurrence on the work order. Once the work order is verified and closed, the
same fault opens a ticket. Ticket store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gateway.connection import parse_mqtt_url
from quality.ledger.store import LedgerStore
from quality.ledger.validation import EquipmentCreate
from quality.tickets.lifecycle import Role, State
from simulators.runner import SimulationRunner
from simulators.scenario import Scenario, parse_scenario
from tests.conftest import unique, wait_until
from tests.databases import postgres_schema
from tests.e2e.helpers import fleet_for, service_settings, started
from tools.servers import InfluxServer, MosquittoServer

DURATION_S = 300


def held_open(site: str, start: str) -> Scenario:
    return parse_scenario(
        {
            "site": site,
            "start": start,
            "speed": 2000,
            "rate_hz": 1,
            "devices": [{"id": "door-1", "kind": "access", "building": "b1"}],
            "faults": [{"device": "door-1", "type": "door_held_open", "at": "2m"}],
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the service's default SQLite file under its data directory."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema("m") as url:
        yield url


def test_a_door_held_open_under_maintenance_opens_no_ticket_until_closed_out(
    mosquitto: MosquittoServer,
    influx: InfluxServer,
    database_url: str | None,
    tmp_path: Path,
    site: str,
) -> None:
    overrides: dict[str, object] = {
        "mqtt_url": mosquitto.url,
        "influx_url": influx.url,
        "influx_database": unique("db").replace("-", "_"),
    }
    if database_url is not None:
        overrides["database_url"] = database_url
    service = started(service_settings(tmp_path, **overrides))
    try:
        stores = service.stores
        LedgerStore(stores.engine).create(
            EquipmentCreate.model_validate(
                {
                    "site": site,
                    "building": "b1",
                    "kind": "access",
                    "device_id": "door-1",
                    "name": "lobby door",
                }
            )
        )
        _id, token = stores.tokens.create("quality", "quality-lead")
        client = TestClient(create_app(stores), headers={"Authorization": f"Bearer {token}"})
        plan = client.post(
            "/api/maintenance/plans",
            json={
                "name": "door service",
                "site": site,
                "device_id": "door-1",
                "every_days": 90,
                "contractor": "Door Co",
                "checklist": "closer, lock",
            },
        )
        assert plan.status_code == 201, plan.text
        run = client.post("/api/maintenance/run").json()
        (work_order_id,) = run["ticket_ids"]
        assert stores.tickets.require(work_order_id).state == State.DISPATCHED
        desk = service.pipeline.findings.maintenance
        assert desk is not None
        desk.gate.refresh()  # the service re-reads it every 10 s; the test does not wait

        def publish(start: str) -> None:
            scenario = held_open(site, start)
            runner = SimulationRunner(
                fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
            )
            assert runner.run(duration_sim_s=DURATION_S).published == DURATION_S + 1

        def suppressed() -> list[dict[str, Any]]:
            params = {"site": site, "device_id": "door-1"}
            rows: list[dict[str, Any]] = client.get(
                "/api/maintenance/suppressed", params=params
            ).json()
            return rows

        def door_tickets() -> list[int]:
            return [
                t.id
                for t in stores.tickets.list()
                if t.site == site and t.fault_type == "door_held_open"
            ]

        def all_judged() -> bool:
            found = [d for d in stores.devices.named("door-1") if d.site == site]
            return bool(found) and found[0].samples >= DURATION_S + 1

        publish("-20m")
        (kept,) = wait_until(suppressed, what="the held-open finding kept as suppressed")
        wait_until(all_judged, what="every sample judged")
        assert (kept["fault_type"], kept["ticket_id"]) == ("door_held_open", work_order_id)
        assert door_tickets() == []
        detail = client.get(f"/api/tickets/{work_order_id}").json()
        assert detail["occurrences"] == 2
        assert any(
            o["summary"].startswith("suppressed during maintenance")
            for o in detail["occurrence_log"]
        )

        tickets = stores.tickets
        tickets.transition(work_order_id, State.RECTIFIED, "Door Co", Role.ENGINEER)
        tickets.transition(work_order_id, State.VERIFIED, "quality-lead", Role.QUALITY, "ok")
        tickets.transition(work_order_id, State.CLOSED, "quality-lead", Role.QUALITY)
        desk.gate.refresh()
        publish("-10m")
        (opened,) = wait_until(door_tickets, what="a ticket for the fault after close-out")
        assert tickets.require(opened).device_id == "door-1"
        assert len(suppressed()) == 1
    finally:
        service.stop()
