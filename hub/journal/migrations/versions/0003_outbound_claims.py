"""Senders find the outbound requests to send (pending, or sent long ago without SMEV's
acceptance) by state and age.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbound_requests_state_updated_at", "outbound_requests", ["state", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_requests_state_updated_at", "outbound_requests")
