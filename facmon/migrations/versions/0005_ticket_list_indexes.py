"""Indexes for the ticket list at scale: its sort keys, its common filters, free-text search.

Each sort key (opened, updated, rectify deadline, severity) is indexed with the id that breaks
its ties, and site (and building), state, assignee, fault type (and kind) each ahead of the
opening time, so that a keyset page and its bounded count walk an index instead of sorting
the table. The active tickets, the loop's working set, have two partial indexes: by
deadline, and newest first carrying every listed filter column, so that counting them reads
the index alone.

On PostgreSQL the searched text (summary, device id, site, building) gets a trigram GIN
index, which serves `ILIKE '%word%'`. It needs the `pg_trgm` extension: created here when
missing (trusted since PostgreSQL 13, so a database owner may create it); where it cannot
be, the index is left out and search still works, by scanning. On a large table the new
indexes take a while to build, and writes to tickets wait meanwhile.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

LIST_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_ticket_list_opened", ("opened_at", "id")),
    ("ix_ticket_list_updated", ("updated_at", "id")),
    ("ix_ticket_list_due", ("rectify_due_at", "id")),
    ("ix_ticket_list_severity", ("severity", "id")),
    ("ix_ticket_list_site_opened", ("site", "opened_at", "id")),
    ("ix_ticket_list_state_opened", ("state", "opened_at", "id")),
    ("ix_ticket_list_assignee_opened", ("assignee", "opened_at", "id")),
    ("ix_ticket_list_fault_opened", ("fault_type", "opened_at", "id")),
    ("ix_ticket_list_site_building_opened", ("site", "building", "opened_at", "id")),
    ("ix_ticket_list_kind_fault_opened", ("kind", "fault_type", "opened_at", "id")),
)
ACTIVE = "state IN ('open', 'dispatched', 'acknowledged', 'rectified', 'verified', 'reopened')"
# The active tickets' indexes: name, keys, columns carried along (PostgreSQL INCLUDE).
ACTIVE_INDEXES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("ix_ticket_list_active_due", ("rectify_due_at", "id"), ()),
    (
        "ix_ticket_list_active_opened",
        ("opened_at", "id"),
        (
            "state",
            "severity",
            "site",
            "building",
            "kind",
            "fault_type",
            "assignee",
            "contractor",
            "dispatch_due_at",
            "acknowledge_due_at",
            "rectify_due_at",
            "recheck_due_at",
        ),
    ),
)
TRIGRAM_INDEX = "ix_ticket_text_trgm"
# As quality.tickets.models.SEARCH_SQL had it at this revision.
SEARCH_SQL = "(summary || ' ' || device_id || ' ' || site || ' ' || building)"


def _trigram_schema(bind: sa.Connection) -> str | None:
    """The schema holding pg_trgm, after creating it in `public` if it was missing."""
    find = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_trgm'"
    )
    schema = bind.execute(find).scalar()
    if schema is None:
        try:
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
        except sa.exc.DBAPIError as error:
            log.warning(
                "pg_trgm unavailable (%s): ticket search scans instead of using an index / "
                "无法启用 pg_trgm：工单搜索将不使用索引",
                str(error.orig).strip(),
            )
        schema = bind.execute(find).scalar()
    return str(schema) if schema is not None else None


def upgrade() -> None:
    for name, columns in LIST_INDEXES:
        op.create_index(name, "tickets", list(columns), if_not_exists=True)
    for name, columns, carried in ACTIVE_INDEXES:
        op.create_index(
            name,
            "tickets",
            list(columns),
            if_not_exists=True,
            postgresql_include=list(carried),
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _trigram_schema(bind)
    if schema is not None:
        opclass = f"{bind.dialect.identifier_preparer.quote(schema)}.gin_trgm_ops"
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON tickets"
            f" USING gin ({SEARCH_SQL} {opclass})"
        )


def downgrade() -> None:
    op.drop_index(TRIGRAM_INDEX, table_name="tickets", if_exists=True)
    for name, _columns, _carried in reversed(ACTIVE_INDEXES):
        op.drop_index(name, table_name="tickets", if_exists=True)
    for name, _columns in reversed(LIST_INDEXES):
        op.drop_index(name, table_name="tickets", if_exists=True)
