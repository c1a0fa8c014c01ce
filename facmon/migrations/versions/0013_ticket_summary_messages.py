"""A ticket's summary as a catalog message (key and placeholder values), so that the board,
notifications and reports show it in the reader's language (zh-CN or en).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("summary_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("summary_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("summary_params")
        batch.drop_column("summary_key")
