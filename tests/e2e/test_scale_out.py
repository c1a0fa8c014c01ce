"""Two ingest workers on one machine: real Mosquitto, PostgreSQL and InfluxDB.

`facmon run` with FACMON_INGEST_WORKERS=2 splits the sites between two
`facmon ingest` processes. Every device must be judged by exactly one worker,
no ticket may be duplicated, and a worker killed mid-stream must lose nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from facmon.embedded_broker import free_port
from facmon.settings import Settings
from facmon.workers import plan_workers
from gateway.connection import parse_mqtt_url
from quality.tickets.models import Ticket, TicketOccurrence
from simulators.runner import SimulationRunner
from storage.timeseries.influx import InfluxStore
from tests.conftest import unique, wait_until
from tests.e2e.helpers import fleet_for, held_open_scenario
from tests.quality.tickets.conftest import POSTGRES_URL
from tools.servers import InfluxServer, MosquittoServer

SIM_SECONDS = 300  # door held open from 2 min: a ticket per site well inside the run


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    schema = unique("scale").replace("-", "_")
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _ingest_workers(
    parent: psutil.Process, seen: dict[int, psutil.Process] | None = None
) -> list[psutil.Process]:
    workers = [
        child
        for child in parent.children()
        if child.is_running() and "ingest" in child.cmdline() and child.status() != "zombie"
    ]
    if seen is not None:
        seen.update((worker.pid, worker) for worker in workers)
    return workers


def _publish_site(mosquitto: MosquittoServer, site: str) -> int:
    scenario = held_open_scenario(site)
    runner = SimulationRunner(
        fleet_for(scenario), parse_mqtt_url(mosquitto.url), scenario.speed, site
    )
    try:
        return runner.run(duration_sim_s=SIM_SECONDS).published
    finally:
        runner.close()


def test_two_workers_split_the_sites_judge_each_device_once_and_survive_a_kill(
    mosquitto: MosquittoServer, influx: InfluxServer, postgres_schema: str, tmp_path: Path
) -> None:
    sites = [unique(f"so{n}") for n in range(4)]
    database = unique("scale").replace("-", "_")
    api_port = free_port()
    client_id = unique("scale-ingest")
    database_url = f"{POSTGRES_URL}?options=-csearch_path%3D{postgres_schema}"
    env = {
        **os.environ,
        "FACMON_MQTT_URL": mosquitto.url,
        "FACMON_INFLUX_URL": influx.url,
        "FACMON_INFLUX_DATABASE": database,
        "FACMON_DATABASE_URL": database_url,
        "FACMON_DATA_DIR": str(tmp_path / "data"),
        "FACMON_MQTT_CLIENT_ID": client_id,
        "FACMON_API_PORT": str(api_port),
        "FACMON_BATCH_MAX_DELAY_S": "0.2",
        "FACMON_INGEST_WORKERS": "2",
        "FACMON_INGEST_SITES": ",".join(sites),
        "FACMON_TICKET_EVENTS_MQTT": "false",
    }
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        ingest_workers=2,
        ingest_sites=",".join(sites),
        mqtt_client_id=client_id,
        data_dir=tmp_path / "data",
    )
    plan = plan_workers(settings, mosquitto.url)
    owner = {site: spec.client_id for spec in plan for site in spec.units}
    assert sorted(owner) == sorted(sites) and all(spec.units for spec in plan)

    service = subprocess.Popen(
        [sys.executable, "-m", "facmon.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    parent = psutil.Process(service.pid)
    seen_workers: dict[int, psutil.Process] = {}
    store = InfluxStore(influx.url, database)
    engine = create_engine(database_url)
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return service.poll() is not None

        wait_until(healthy, timeout_s=60, what="facmon run to answer /healthz")
        assert service.poll() is None, service.stdout.read() if service.stdout else ""
        workers = wait_until(
            lambda: len(w := _ingest_workers(parent, seen_workers)) == 2 and w,
            what="two ingest workers",
        )
        # Both sessions must hold their subscriptions before anything is published:
        # a worker records them once the broker has acknowledged them.
        for spec in plan:
            state = settings.model_copy(update={"mqtt_client_id": spec.client_id})
            wait_until(
                state.subscription_state_path.exists,
                timeout_s=30,
                what=f"worker {spec.client_id} subscribed",
            )

        published: dict[str, int] = {}
        published[sites[0]] = _publish_site(mosquitto, sites[0])
        published[sites[1]] = _publish_site(mosquitto, sites[1])

        # Kill the owner of the next site: that site publishes into its session meanwhile.
        victim = next(w for w in workers if w.environ()["FACMON_MQTT_CLIENT_ID"] == owner[sites[2]])
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        published[sites[2]] = _publish_site(mosquitto, sites[2])
        published[sites[3]] = _publish_site(mosquitto, sites[3])
        restarted = wait_until(
            lambda: [
                w
                for w in _ingest_workers(parent, seen_workers)
                if w.pid not in {p.pid for p in workers}
            ],
            timeout_s=60,
            what="the killed worker started again",
        )
        assert [w.environ()["FACMON_MQTT_CLIENT_ID"] for w in restarted] == [owner[sites[2]]]

        def stored(site: str) -> int:
            return store.count("access", f"{site}-door") + store.count("pump", f"{site}-pump")

        for site in sites:
            wait_until(
                lambda s=site: stored(s) >= published[s],
                timeout_s=90,
                what=f"every sample of {site} in InfluxDB",
            )
            assert stored(site) == published[site], f"{site}: duplicates in InfluxDB"
            seqs = store.query(f"SELECT seq FROM pump WHERE device_id = '{site}-pump'")
            values = [v[1] for v in seqs[0]["values"]]
            assert len(values) == len(set(values)) == published[site] // 2

        def tickets() -> list[Ticket]:
            with Session(engine) as session:
                return list(session.scalars(select(Ticket)).all())

        wait_until(lambda: len(tickets()) >= len(sites), timeout_s=60, what="a ticket per site")
        found = tickets()
        keys = Counter((t.device_id, t.fault_type) for t in found)
        assert keys == Counter({(f"{site}-door", "door_held_open"): 1 for site in sites})
        with Session(engine) as session:
            for ticket in found:
                site = ticket.device_id.removesuffix("-door")
                workers_seen = {ticket.evidence.get("worker")} | {
                    occurrence.evidence.get("worker")
                    for occurrence in session.scalars(
                        select(TicketOccurrence).where(TicketOccurrence.ticket_id == ticket.id)
                    )
                }
                assert workers_seen == {owner[site]}, (ticket.device_id, workers_seen)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        left = [w for w in seen_workers.values() if w.is_running() and w.status() != "zombie"]
        for worker in left:
            worker.kill()
        store.close()
        engine.dispose()
    # SIGTERM stops the workers with the service: none may outlive it.
    assert left == [], f"ingest workers outlived facmon run: {[w.pid for w in left]}"
    assert service.returncode == 128 + signal.SIGTERM
