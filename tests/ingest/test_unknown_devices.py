"""Telemetry from a device the equipment ledger does not list: registered as pending, or
kept as a dead letter with the reason `unknown device`, as FACMON_UNKNOWN_DEVICES says.
Real Mosquitto, InfluxDB and SQLite/PostgreSQL behind the running service."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from contract.payload import encode_telemetry
from contract.topics import DeviceRef, telemetry_topic
from facmon.schema import create_schema
from ingest.ledger_gate import LedgerGate, UnknownDevices
from quality.ledger.directory import LedgerDirectory
from quality.ledger.models import Status
from quality.ledger.store import EquipmentFilter, LedgerStore
from quality.ledger.validation import EquipmentCreate
from storage.timeseries.influx import InfluxStore
from tests.conftest import publish_qos1, unique, wait_until
from tests.e2e.helpers import service_settings, started
from tests.quality.tickets.conftest import engine_factory  # noqa: F401  (the fixture)
from tools.servers import InfluxServer, MosquittoServer


def _now_ms() -> int:
    return int(time.time() * 1000)


def _equipment(site: str, device_id: str, kind: str = "pump") -> EquipmentCreate:
    return EquipmentCreate.model_validate(
        {"site": site, "building": "b1", "kind": kind, "device_id": device_id, "name": device_id}
    )


@pytest.fixture
def engine(engine_factory: object) -> Engine:  # noqa: F811
    made: Engine = engine_factory()  # type: ignore[operator]
    create_schema(made)
    return made


def test_pending_registration_keeps_a_confirmed_record(engine: Engine, site: str) -> None:
    ledger = LedgerStore(engine)
    ledger.create(_equipment(site, "pump-1"))
    directory = LedgerDirectory(engine)
    known = DeviceRef(site, "b1", "pump", "pump-1")
    new = DeviceRef(site, "b2", "pump", "pump-2")
    assert directory.register_pending([known, new, new]) == 1
    assert directory.known() >= {(site, "pump-1"), (site, "pump-2")}
    assert ledger.get(site, "pump-1").status == Status.IN_SERVICE  # type: ignore[union-attr]
    pending = ledger.get(site, "pump-2")
    assert pending is not None and pending.status == Status.PENDING
    assert (pending.building, pending.kind) == ("b2", "pump")


def test_the_gate_admits_known_devices_and_the_ledger_refresh(engine: Engine, site: str) -> None:
    clock = [0.0]
    gate = LedgerGate(LedgerDirectory(engine), UnknownDevices.DEAD_LETTER, 30.0, lambda: clock[0])
    door = DeviceRef(site, "b1", "access", "door-1")
    other_site = DeviceRef(unique("site"), "b1", "access", "door-1")
    assert not gate.admit(door)
    LedgerStore(engine).create(_equipment(site, "door-1", "access"))
    gate.tick()
    assert not gate.admit(door)  # not yet re-read
    clock[0] = 30.0
    gate.tick()
    assert gate.admit(door)
    assert not gate.admit(other_site)  # door-1 of another site is another device


def _sample(device: DeviceRef, seq: int) -> tuple[str, bytes]:
    metrics = {"running": True, "pressure_bar": 3.1, "flow_rate_lpm": 40.0}
    return telemetry_topic(device), encode_telemetry(_now_ms(), seq, metrics)


@pytest.mark.parametrize("mode", ["pending", "dead_letter"])
def test_unknown_device_on_real_servers(
    mode: str,
    mosquitto: MosquittoServer,
    influx: InfluxServer,
    site: str,
    tmp_path: Path,
) -> None:
    database = unique("db").replace("-", "_")
    settings = service_settings(
        tmp_path,
        mqtt_url=mosquitto.url,
        influx_url=influx.url,
        influx_database=database,
        unknown_devices=mode,
    )
    service = started(settings)
    try:
        ledger = LedgerStore(service.stores.engine)
        ledger.create(_equipment(site, "pump-known"))
        known = DeviceRef(site, "b1", "pump", "pump-known")
        stranger = DeviceRef(site, "b1", "pump", "pump-stranger")
        # the ledger row above was written after the service read the ledger: until the
        # next re-read it is unknown too, so the test reads it in now
        assert service.pipeline.decoder.ledger is not None
        service.pipeline.decoder.ledger.known |= {(site, "pump-known")}
        publish_qos1(mosquitto.port, [_sample(known, 1), _sample(stranger, 1)])
        store = InfluxStore(influx.url, database)
        wait_until(lambda: store.count("pump", "pump-known") == 1, what="the known sample")
        if mode == "pending":
            wait_until(lambda: store.count("pump", "pump-stranger") == 1, what="its sample")
            record = wait_until(
                lambda: ledger.get(site, "pump-stranger"), what="a pending ledger row"
            )
            assert record.status == Status.PENDING
            assert not service.stores.dead_letters.find()
        else:
            # the shared broker also brings other tests' devices: this site's letters only
            def ours() -> list[str]:
                return [
                    letter.reason
                    for letter in service.stores.dead_letters.find()
                    if f"{site}/" in letter.reason
                ]

            reasons = wait_until(ours, what="a dead letter")
            assert [reason.split(":")[0] for reason in reasons] == ["unknown device"]
            assert f"{site}/pump-stranger" in reasons[0] and "ledger" in reasons[0]
            assert store.count("pump", "pump-stranger") == 0
            rows, _ = ledger.search(EquipmentFilter(site=site))
            assert [r.device_id for r in rows] == ["pump-known"]
        store.close()
    finally:
        service.stop()
