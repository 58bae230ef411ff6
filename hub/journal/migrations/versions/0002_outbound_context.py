"""Outbound requests remember what their answer is read against, and whom a reply goes to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_requests") as table:
        table.add_column(sa.Column("context", sa.JSON(), nullable=False, server_default="{}"))
        table.add_column(sa.Column("reply_to", sa.Text(), nullable=True))
        table.add_column(sa.Column("inbox_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_requests") as table:
        table.drop_column("inbox_id")
        table.drop_column("reply_to")
        table.drop_column("context")
