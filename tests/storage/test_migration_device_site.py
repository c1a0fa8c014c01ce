"""Revision 0003 on a release database with data, on SQLite and PostgreSQL: the registry's
rows keep their site under the (site, device_id) key, and the ticket dedup index names the
site while still covering active tickets only."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from contract.finding import Finding, Severity
from contract.topics import DeviceRef
from facmon.migrations import alembic_config
from facmon.schema import upgrade_schema
from ingest.device_registry import DeviceRegistry, DeviceState
from quality.tickets.store import TicketStore
from tests.storage.test_migrations import Database, database, release_dump  # noqa: F401

REVISION = "0003"


def vibration(site: str) -> Finding:
    pump = DeviceRef(site, "b1", "pump", "pump-7")
    return Finding(pump, "vibration_rising", Severity.MAJOR, "vib", "1.2", 5, "vibration")


def test_release_rows_keep_their_site_and_the_id_may_join_another_site(
    database: Database,  # noqa: F811
) -> None:
    database.load(release_dump(database.dialect))
    upgrade_schema(database.engine)
    engine = database.engine
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("devices")["constrained_columns"] == ["site", "device_id"]
    indexes = {i["name"]: i for i in inspector.get_indexes("tickets")}
    assert indexes["uq_ticket_active_device_fault"]["column_names"] == [
        "site",
        "device_id",
        "fault_type",
    ]
    assert indexes["ix_ticket_device_fault_closed"]["column_names"][:3] == [
        "site",
        "device_id",
        "fault_type",
    ]

    registry = DeviceRegistry(engine)
    kept = registry.get("site-a", "pump-7")
    assert kept is not None and (kept.building, kept.samples, kept.last_seq) == ("b1", 42, 41)
    registry.save([DeviceState("pump-7", "site-b", "b1", "pump", samples=1)])
    assert [(d.site, d.samples) for d in registry.named("pump-7")] == [
        ("site-a", 42),
        ("site-b", 1),
    ]

    tickets = TicketStore(engine)
    # site-a's pump-7 has the release's dispatched ticket: its finding joins it
    assert tickets.record(vibration("site-a")).ticket_id == 1
    # site-b's pump-7 is another device: a ticket of its own
    other = tickets.record(vibration("site-b"))
    assert other.opened and other.ticket_id not in (1, 2)


def test_the_unique_index_still_covers_active_tickets_only(
    database: Database,  # noqa: F811
) -> None:
    """A closed ticket of the device does not stop a new one from opening."""
    database.load(release_dump(database.dialect))
    upgrade_schema(database.engine)
    tickets = TicketStore(database.engine)
    first = tickets.record(vibration("site-c"))
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            f"UPDATE tickets SET state = 'closed' WHERE id = {first.ticket_id}"
        )
    again = tickets.record(vibration("site-c"))
    assert again.ticket_id != first.ticket_id


def test_a_downgrade_restores_the_release_keys_while_ids_are_unique(
    database: Database,  # noqa: F811
) -> None:
    database.load(release_dump(database.dialect))
    upgrade_schema(database.engine)
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), f"{REVISION}-1")
    inspector = inspect(database.engine)
    assert inspector.get_pk_constraint("devices")["constrained_columns"] == ["device_id"]
    unique = {i["name"]: i for i in inspector.get_indexes("tickets")}
    assert unique["uq_ticket_active_device_fault"]["column_names"] == ["device_id", "fault_type"]
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    assert DeviceRegistry(database.engine).get("site-a", "pump-7") is not None
