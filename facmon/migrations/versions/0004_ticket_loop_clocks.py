"""The ticket loop's acknowledge step (接单), re-check clock (复核), fresh clocks on reopening,
false alarms and the party responsible for cards.

New ticket columns: the acknowledge and re-check deadlines, breaches and stamps, the moment
of the latest reopening, `false_alarm`, and the `contractor` and `team` a dispatch names.
The unique active-ticket index takes the new `acknowledged` state into its condition (its
columns are kept as the database has them).

Data carried over:
- a ticket closed without a re-check (dismissed as false) becomes a false alarm, and loses
  the yellow or red card it was opened with;
- a rectified ticket was acknowledged implicitly when it was rectified (the rule the store
  applies to clients that skip the acknowledge step).
Tickets dispatched or rectified before this revision have no acknowledge or re-check
deadline: those clocks start with their next dispatch or rectification.

A downgrade moves acknowledged tickets back to dispatched and drops the columns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE_ACTIVE = "uq_ticket_active_device_fault"
ACTIVE = "state IN ('open', 'dispatched', 'acknowledged', 'rectified', 'verified', 'reopened')"
ACTIVE_BEFORE = "state IN ('open', 'dispatched', 'rectified', 'verified', 'reopened')"

NULLABLE_COLUMNS = (
    ("contractor", sa.String(length=128)),
    ("team", sa.String(length=128)),
    ("acknowledge_due_at", sa.DateTime(timezone=True)),
    ("recheck_due_at", sa.DateTime(timezone=True)),
    ("acknowledged_at", sa.DateTime(timezone=True)),
    ("reopened_at", sa.DateTime(timezone=True)),
)
FLAGS = ("acknowledge_breached", "recheck_breached", "false_alarm")
INDEXED = ("contractor", "team")


def _active_index(condition: str) -> None:
    """Recreate the unique active-ticket index on the columns it has, under `condition`."""
    indexes = sa.inspect(op.get_bind()).get_indexes("tickets")
    found = next((index for index in indexes if index["name"] == UNIQUE_ACTIVE), None)
    columns = [str(c) for c in found["column_names"]] if found else ["device_id", "fault_type"]
    op.drop_index(UNIQUE_ACTIVE, table_name="tickets", if_exists=True)
    op.create_index(
        UNIQUE_ACTIVE,
        "tickets",
        columns,
        unique=True,
        sqlite_where=sa.text(condition),
        postgresql_where=sa.text(condition),
    )


def upgrade() -> None:
    for name, kind in NULLABLE_COLUMNS:
        op.add_column("tickets", sa.Column(name, kind, nullable=True))
    for name in FLAGS:
        op.add_column(
            "tickets", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    for name in INDEXED:
        op.create_index(f"ix_tickets_{name}", "tickets", [name], unique=False)
    tickets = sa.table(
        "tickets",
        sa.column("state", sa.String()),
        sa.column("verified_at", sa.DateTime(timezone=True)),
        sa.column("rectified_at", sa.DateTime(timezone=True)),
        sa.column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.column("false_alarm", sa.Boolean()),
        sa.column("card", sa.String()),
    )
    op.execute(
        tickets.update()
        .where(tickets.c.state == "closed", tickets.c.verified_at.is_(None))
        .values(false_alarm=True, card="none")
    )
    op.execute(
        tickets.update()
        .where(tickets.c.rectified_at.is_not(None))
        .values(acknowledged_at=tickets.c.rectified_at)
    )
    _active_index(ACTIVE)


def downgrade() -> None:
    op.execute(sa.text("UPDATE tickets SET state = 'dispatched' WHERE state = 'acknowledged'"))
    _active_index(ACTIVE_BEFORE)
    for name in INDEXED:
        op.drop_index(f"ix_tickets_{name}", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for name in (*FLAGS, *(name for name, _kind in reversed(NULLABLE_COLUMNS))):
            batch.drop_column(name)
