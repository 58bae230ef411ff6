"""Agency tokens name the agencies they may post for and the certificates their messages must
be signed with.

Existing tokens get empty lists: an ``agency`` token made before this revision names no agency
and is refused at ``/inbound`` until a new one is issued with ``--agency`` (README, "Who may
see what"); tokens of the other roles never name either.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("agencies", sa.JSON(), nullable=False, server_default="[]"))
        table.add_column(sa.Column("signers", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("signers")
        table.drop_column("agencies")
