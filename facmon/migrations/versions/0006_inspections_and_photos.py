"""Findings by people: photos, inspection routes, rounds and their answers (巡检).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 02:15:31.704121
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspection_routes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inspection_routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspection_routes_site"), ["site"], unique=False)

    op.create_table(
        "photos",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("upload_type", sa.String(length=32), nullable=False),
        sa.Column("upload_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=128), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("storage", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photos_sha256"), ["sha256"], unique=False)

    op.create_table(
        "inspection_rounds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("route_name", sa.String(length=128), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("inspector", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stops_total", sa.Integer(), nullable=False),
        sa.Column("stops_answered", sa.Integer(), nullable=True),
        sa.Column("stops_skipped", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["inspection_routes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inspection_rounds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_rounds_route_id"), ["route_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inspection_rounds_site"), ["site"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inspection_rounds_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "inspection_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("stop_index", sa.Integer(), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.String(length=128), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["inspection_rounds.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "stop_index", "item_index", name="uq_inspection_answer"),
    )
    with op.batch_alter_table("inspection_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_answers_round_id"), ["round_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inspection_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_answers_round_id"))

    op.drop_table("inspection_answers")
    with op.batch_alter_table("inspection_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_rounds_started_at"))
        batch_op.drop_index(batch_op.f("ix_inspection_rounds_site"))
        batch_op.drop_index(batch_op.f("ix_inspection_rounds_route_id"))

    op.drop_table("inspection_rounds")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photos_sha256"))

    op.drop_table("photos")
    with op.batch_alter_table("inspection_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_routes_site"))

    op.drop_table("inspection_routes")
