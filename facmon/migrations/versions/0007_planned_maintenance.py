"""Planned maintenance: plans, work orders, windows and suppressed findings (保养计划).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:23:41.766918
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("rrule", sa.String(length=500), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("checklist", sa.Text(), nullable=False),
        sa.Column("contractor", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenance_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_maintenance_plans_site"), ["site"], unique=False)

    op.create_table(
        "maintenance_suppressed",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onset_ms", sa.BigInteger(), nullable=False),
        sa.Column("fault_type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detector", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenance_suppressed", schema=None) as batch_op:
        batch_op.create_index(
            "ix_maintenance_suppressed_device", ["site", "device_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_suppressed_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overrun_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overrun_ticket_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_maintenance_window_device", ["site", "device_id", "ends_at"], unique=False
        )

    op.create_table(
        "maintenance_work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overrun_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["maintenance_plans.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "plan_id", "due_date", "site", "device_id", name="uq_maintenance_work_order"
        ),
    )
    with op.batch_alter_table("maintenance_work_orders", schema=None) as batch_op:
        batch_op.create_index("ix_maintenance_work_order_due", ["due_date", "site"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_maintenance_work_orders_plan_id"), ["plan_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_work_orders_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_work_orders_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_work_orders_plan_id"))
        batch_op.drop_index("ix_maintenance_work_order_due")

    op.drop_table("maintenance_work_orders")
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_window_device")

    op.drop_table("maintenance_windows")
    with op.batch_alter_table("maintenance_suppressed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_suppressed_ticket_id"))
        batch_op.drop_index("ix_maintenance_suppressed_device")

    op.drop_table("maintenance_suppressed")
    with op.batch_alter_table("maintenance_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_plans_site"))

    op.drop_table("maintenance_plans")
