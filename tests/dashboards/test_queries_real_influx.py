"""Every dashboard query runs against a real InfluxDB filled through the real ingest path.

The fill runs the demo scenario (every kind, every fault) through Mosquitto
and the service, adds what a live site adds over time (device events of
every kind, a malformed message, tickets taken around the loop, a repeat
fault up to a red card, SLA breaches), runs the service's metrics writer and
then the KPI job. Each panel, annotation and variable query of every
dashboard is then expanded as Grafana would (with the panel's own minimum
interval) and must return data.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from dashboards.build import GENERATED_DIR, all_queries, expand_variables
from facmon.service import Service
from gateway.connection import parse_mqtt_url
from quality.kpi import InfluxSignals, KpiJob, ServiceMetricsWriter
from quality.tickets import Role, TicketStore
from simulators.runner import SimulationRunner
from simulators.scenario import builtin_scenario, load_scenario
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import fleet_for, service_settings, started
from tools.servers import InfluxServer, MosquittoServer

FAULTS = {"door_held_open", "lamp_failure", "door_slowing", "bearing_wear", "offline"}
EVENTS = {"elevator": "door_obstructed", "lighting": "breaker_trip", "access": "tamper"}
SERVICE_METRICS_INTERVAL_S = 1.0
DEFAULT_INTERVAL = "10s"
"""The datasource's `timeInterval`: Grafana never groups finer than this."""


def _publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and return once the broker has acknowledged every message."""
    address = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("dash-pub"))
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def _take_tickets_around_the_loop(tickets: TicketStore, site: str) -> None:
    """Dispatch and rectify every ticket, re-check and close two, and repeat one fault."""
    for ticket in tickets.list():
        if ticket.site != site:  # another test's device, heard through the shared broker
            continue
        tickets.assign(ticket.id, "team", "lead", Role.ENGINEER, None)
        tickets.transition(ticket.id, "rectified", "tech", Role.ENGINEER, "repaired")
        if ticket.fault_type in ("door_held_open", "lamp_failure"):
            tickets.transition(ticket.id, "verified", "qa", Role.QUALITY, "checked on site")
            tickets.transition(ticket.id, "closed", "qa", Role.QUALITY, None)
    # The lamp fails twice more: a yellow, then a red card (reopen grace is 0 in this fill).
    lamp = Finding(
        DeviceRef(site, "garage", "lighting", "lighting-01"),
        "lamp_failure",
        Severity.MAJOR,
        "lighting_lamp_failure",
        "1",
        int(time.time() * 1000),
        "lamps out again",
    )
    for _ in range(2):
        repeat = tickets.record(lamp)
        assert repeat.opened and repeat.repeat_count > 1
        # through the loop: closing straight from open would dismiss it as a false alarm,
        # which earns no card
        tickets.assign(repeat.ticket_id, "team", "lead", Role.ENGINEER, None)
        tickets.transition(repeat.ticket_id, "rectified", "tech", Role.ENGINEER, "new driver")
        tickets.transition(repeat.ticket_id, "verified", "qa", Role.QUALITY, "checked")
        tickets.transition(repeat.ticket_id, "closed", "qa", Role.QUALITY, None)
    assert [c["device_id"] for c in tickets.chronic()] == ["lighting-01"]


class Filled(NamedTuple):
    store: InfluxStore
    site: str
    moves: Counter[str]
    """Ticket moves by new state, from the ticket history when the KPI job ran."""


def _moves(tickets: TicketStore, site: str) -> Counter[str]:
    """State changes of the site's tickets (the shared broker may bring other tests' devices)."""
    return Counter(
        entry.to_state
        for ticket in tickets.list()
        if ticket.site == site
        for entry in tickets.history(ticket.id)
        if entry.to_state != entry.from_state
    )


@pytest.fixture(scope="module")
def filled_influx(
    mosquitto: MosquittoServer, influx: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Filled]:
    """The demo scenario run fast through Mosquitto and ingest, then the KPI job."""
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
            sla_major_dispatch_s=1,  # tickets breach their dispatch deadline within the fill
            sla_critical_dispatch_s=1,
            reopen_grace_s=0,  # so the same fault again is a repeat, not a reopening
        )
    )
    store = InfluxStore(influx.url, database)
    writer = ServiceMetricsWriter(
        service.stores.metrics.registry,
        store,
        instance=service.settings.mqtt_client_id,
        interval_s=SERVICE_METRICS_INTERVAL_S,
    )
    writer.start()
    try:
        scenario = replace(
            load_scenario(builtin_scenario("demo")), site=site, start="-2h", speed=20_000
        )
        runner = SimulationRunner(
            fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
        )
        stats = runner.run(duration_sim_s=100 * 60)
        assert stats.offline == 1 and stats.events > 0
        now_ms = int(time.time() * 1000)
        devices = {"elevator": "elevator-02", "lighting": "lighting-02", "access": "access-02"}
        buildings = {"elevator": "tower-a", "lighting": "garage", "access": "tower-b"}
        events = [
            (
                f"facility/v1/{site}/{buildings[kind]}/{kind}/{devices[kind]}/event",
                json.dumps({"ts": now_ms, "seq": 1, "event": event, "data": {}}).encode(),
            )
            for kind, event in EVENTS.items()
        ]
        bad = (f"facility/v1/{site}/plant/pump/pump-02/telemetry", b"not json")
        _publish(mosquitto.url, [*events, bad])
        metrics = service.stores.metrics
        kinds = ("elevator", "lighting", "pump", "access")
        wait_until(
            lambda: (
                sum(metrics.ingested.value(kind=k, channel="telemetry") for k in kinds)
                == stats.published
                and sum(metrics.ingested.value(kind=k, channel="event") for k in EVENTS)
                >= len(EVENTS)
                and metrics.dead_letters.total() >= 1
            ),
            timeout_s=60,
            what="every published sample, event and dead letter to be durable",
        )
        tickets = service.stores.tickets
        wait_until(
            lambda: {t.fault_type for t in tickets.list()} >= FAULTS,
            timeout_s=30,
            what="a ticket for every injected fault",
        )
        wait_until(lambda: metrics.sla_breaches.total() >= 1, what="a dispatch deadline breach")
        _take_tickets_around_the_loop(tickets, site)
        # Counter panels take differences between intervals: wait for a few intervals' points.
        wait_until(
            lambda: (
                len(
                    store.query(
                        'SELECT count("messages_ingested") FROM "facmon_service" '
                        f"WHERE time > now() - 1h GROUP BY time({DEFAULT_INTERVAL}) fill(none)"
                    )[0]["values"]
                    if store.query('SELECT count("messages_ingested") FROM "facmon_service"')
                    else []
                )
                >= 3
            ),
            timeout_s=60,
            what=f"service metrics in three {DEFAULT_INTERVAL} intervals",
        )
        writer.stop()
        # Freeze the ticket history: nothing may move between the snapshot and the job.
        assert service.subscriber is not None
        service.subscriber.stop()
        service.worker.stop()
        signals = InfluxSignals(store)
        job = KpiJob(service.stores.engine, store, signals, lag=signals)
        moves = _moves(tickets, site)
        now = datetime.now(UTC)
        run = job.run(now - timedelta(hours=3), now)
        assert run.buckets >= 3 and run.ticket_event_points >= sum(moves.values())
        yield Filled(store, site, moves)
    finally:
        writer.stop()
        store.close()
        service.stop()


def _dashboard_files() -> list[Path]:
    return sorted(GENERATED_DIR.glob("*.json"))


def _panel_intervals(dashboard: dict[str, Any]) -> dict[str, str]:
    return {
        panel["title"]: panel["interval"] for panel in dashboard["panels"] if "interval" in panel
    }


def _queries() -> list[tuple[str, str, str, str]]:
    found = []
    for path in _dashboard_files():
        dashboard = json.loads(path.read_text())
        intervals = _panel_intervals(dashboard)
        found += [
            (path.stem, title, query, intervals.get(title, DEFAULT_INTERVAL))
            for title, query in all_queries(dashboard)
        ]
    return found


def _values(series: list[dict[str, Any]]) -> list[Any]:
    """Non-null cells, leaving out the time column of time series."""
    found = []
    for one in series:
        skip = 1 if one.get("columns", [""])[0] == "time" else 0
        found += [v for row in one.get("values", []) for v in row[skip:] if v is not None]
    return found


def test_every_dashboard_is_checked() -> None:
    dashboards = {dashboard for dashboard, *_ in _queries()}
    assert dashboards == {path.stem for path in _dashboard_files()}
    assert len(dashboards) == 7


@pytest.mark.parametrize(("dashboard", "title", "query", "interval"), _queries())
def test_query_returns_data(
    filled_influx: Filled, dashboard: str, title: str, query: str, interval: str
) -> None:
    store, site, _ = filled_influx
    expanded = expand_variables(
        query, site=site, interval=interval, time_filter="time > now() - 3h"
    )
    series = store.query(expanded)
    assert series, f"{dashboard} / {title}: empty result for {expanded}"
    assert _values(series), f"{dashboard} / {title}: only nulls for {expanded}"


def _one(store: InfluxStore, query: str) -> Any:
    (series,) = store.query(query)
    return series["values"][0][1]


def test_kpis_reflect_the_fill(filled_influx: Filled) -> None:
    """The figures behind the panels are the ones the fill implies, not just any data."""
    store, site, moves = filled_influx
    recent = "time > now() - 3h"
    where = f"{recent} AND \"site\" = '{site}'"
    site_scope = f"{where} AND \"scope\" = 'site'"
    # The 12 demo devices sent their status; every ticket was rectified once in the fill.
    simulated = len(load_scenario(builtin_scenario("demo")).devices)
    assert _one(store, f'SELECT max("devices") FROM "kpi" WHERE {site_scope}') == simulated
    assert moves["rectified"] >= 5
    rectified = _one(store, f'SELECT sum("rectified") FROM "kpi" WHERE {site_scope}')
    assert rectified == moves["rectified"], moves
    assert _one(store, f'SELECT sum("opened") FROM "kpi" WHERE {site_scope}') == moves["open"]
    assert _one(store, f'SELECT sum("sla_dispatch_breaches") FROM "kpi" WHERE {site_scope}') >= 1
    assert _one(store, f'SELECT last("chronic_devices") FROM "kpi" WHERE {site_scope}') == 1
    assert _one(store, f'SELECT sum("repeats") FROM "kpi" WHERE {site_scope}') == 2
    integrity = _one(store, f'SELECT last("integrity_pct") FROM "kpi" WHERE {site_scope}')
    assert 0 < integrity < 100  # faulty devices were impaired for a while
    # The site scope and the dashboards' sum over (building, kind) groups agree.
    summed = store.query(
        'SELECT 100 * sum("good_s") / sum("observed_s") FROM "kpi" '
        f"WHERE {where} AND \"scope\" = 'building_kind' GROUP BY time(1h) fill(none)"
    )[0]["values"][-1][1]
    assert summed == pytest.approx(integrity)
    events = store.query(
        f'SELECT count("ticket_id") FROM "ticket_events" WHERE {where} GROUP BY "event"'
    )
    counts = {series["tags"]["event"]: series["values"][0][1] for series in events}
    assert counts == dict(moves)
    assert (counts["verified"], counts["closed"]) == (4, 4)  # 2 tickets and 2 repeats
    dead = _one(
        store, f'SELECT sum("dead_letters") FROM "kpi" WHERE {recent} AND "scope" = \'service\''
    )
    assert dead >= 1
