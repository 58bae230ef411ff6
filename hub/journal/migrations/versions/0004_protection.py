"""Protection of personal data: scopes on rows, the data key of sealed columns, API tokens and
key checks.

Existing rows stay readable: they get key id ``plain`` (stored in clear; ``hub keys rotate``
seals them) and scope ``""`` (not known: region-wide principals only). Existing business keys
and subject sequences are turned into keyed hashes by the journal on its first open, because
the key is not the migration's to know.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

NAME = 100
SCOPE = 100
KEY_ID = 40
HASH = 64

_SCOPED = ("inbox", "failed_messages", "audit_log", "outbound_requests")
_SEALED = ("inbox", "outbox", "failed_messages", "outbound_requests")


def _when(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    for table in dict.fromkeys((*_SCOPED, *_SEALED)):
        with op.batch_alter_table(table) as batch:
            if table in _SCOPED:
                batch.add_column(
                    sa.Column("scope", sa.String(SCOPE), nullable=False, server_default="")
                )
            if table in _SEALED:
                batch.add_column(
                    sa.Column("key_id", sa.String(KEY_ID), nullable=False, server_default="plain")
                )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(NAME), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("role", sa.String(NAME), nullable=False),
        sa.Column("scope", sa.String(SCOPE), nullable=False),
        sa.Column("secret_hash", sa.String(HASH), nullable=False),
        _when("created_at"),
        sa.Column("created_by", sa.String(NAME), nullable=False),
        _when("expires_at", nullable=True),
        _when("revoked_at", nullable=True),
        _when("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_api_tokens"),
    )
    op.create_table(
        "key_checks",
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("key_id", sa.String(KEY_ID), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        _when("created_at"),
        _when("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_key_checks"),
    )


def downgrade() -> None:
    op.drop_table("key_checks")
    op.drop_table("api_tokens")
    for table in dict.fromkeys((*_SCOPED, *_SEALED)):
        with op.batch_alter_table(table) as batch:
            if table in _SEALED:
                batch.drop_column("key_id")
            if table in _SCOPED:
                batch.drop_column("scope")
