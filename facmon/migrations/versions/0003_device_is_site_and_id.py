"""A device is its site and its id: the registry's key and the ticket dedup index name the site.

`door-1` may exist in two sites. The device registry's primary key becomes (site, device_id);
every row keeps its site (the column was there, only not part of the key). The unique index
that allows one active ticket per device and fault, and the index that finds a device's last
closed ticket, gain the site; the active-ticket condition of the unique index is kept as the
database has it (another revision may have changed which states are active).

A downgrade puts the old keys back, which fails while an id is in two sites.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE_ACTIVE = "uq_ticket_active_device_fault"
LAST_CLOSED = "ix_ticket_device_fault_closed"
# The condition of release eb27afb, for a database whose index went missing.
RELEASE_ACTIVE = "state IN ('open', 'dispatched', 'rectified', 'verified', 'reopened')"


def _active_condition(bind: sa.Connection) -> str:
    """The WHERE of the unique active-ticket index as this database has it."""
    if bind.dialect.name == "postgresql":
        found = bind.execute(
            sa.text(
                "SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
                " WHERE indexrelid = to_regclass(:name)"
            ),
            {"name": UNIQUE_ACTIVE},
        ).scalar()
        return str(found) if found else RELEASE_ACTIVE
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"),
        {"name": UNIQUE_ACTIVE},
    ).scalar()
    if not sql or " WHERE " not in str(sql).upper():
        return RELEASE_ACTIVE
    at = str(sql).upper().rindex(" WHERE ")
    return str(sql)[at + len(" WHERE ") :].strip()


def _ticket_indexes(columns: list[str]) -> None:
    bind = op.get_bind()
    condition = sa.text(_active_condition(bind))
    op.drop_index(UNIQUE_ACTIVE, table_name="tickets", if_exists=True)
    op.drop_index(LAST_CLOSED, table_name="tickets", if_exists=True)
    op.create_index(
        UNIQUE_ACTIVE,
        "tickets",
        [*columns, "fault_type"],
        unique=True,
        sqlite_where=condition,
        postgresql_where=condition,
    )
    op.create_index(LAST_CLOSED, "tickets", [*columns, "fault_type", "closed_at"], unique=False)


def _devices_key(columns: list[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        name = sa.inspect(bind).get_pk_constraint("devices").get("name") or "devices_pkey"
        op.drop_constraint(name, "devices", type_="primary")
        op.create_primary_key(name, "devices", columns)
        return
    # SQLite cannot alter a key: the table is copied, rows and all, into one with the new key.
    with op.batch_alter_table("devices", recreate="always", copy_from=_devices_table(columns)):
        pass


def _devices_table(key: list[str]) -> sa.Table:
    """The registry's table as release eb27afb made it, with `key` as its primary key."""
    return sa.Table(
        "devices",
        sa.MetaData(),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_sample_ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )


def upgrade() -> None:
    _devices_key(["site", "device_id"])
    _ticket_indexes(["site", "device_id"])


def downgrade() -> None:
    _ticket_indexes(["device_id"])
    _devices_key(["device_id"])
