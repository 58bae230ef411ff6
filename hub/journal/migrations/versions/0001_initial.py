"""The journal's first schema: inbox, outbox, sequences, business keys, failures, audit,
outbound requests.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = 36
NAME = 100
TEXT_ID = 255


def _when(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _inbox()
    _outbox()
    op.create_table(
        "subject_sequences",
        sa.Column("subject", sa.String(TEXT_ID), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_subject_sequences"),
    )
    op.create_table(
        "business_keys",
        sa.Column("key", sa.String(TEXT_ID), nullable=False),
        sa.Column("inbox_id", sa.String(ID), nullable=False),
        _when("first_seen_at"),
        sa.PrimaryKeyConstraint("key", name="pk_business_keys"),
    )
    _failed_messages()
    _audit_log()
    _outbound_requests()


def _inbox() -> None:
    op.create_table(
        "inbox",
        sa.Column("inbox_id", sa.String(ID), nullable=False),
        sa.Column("source", sa.String(NAME), nullable=False),
        sa.Column("external_id", sa.String(TEXT_ID), nullable=False),
        sa.Column("agency", sa.String(NAME), nullable=True),
        sa.Column("kind", sa.String(NAME), nullable=True),
        sa.Column("content_type", sa.String(TEXT_ID), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        _when("received_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("last_attempt_at", nullable=True),
        _when("processed_at", nullable=True),
        sa.PrimaryKeyConstraint("inbox_id", name="pk_inbox"),
        sa.UniqueConstraint("source", "external_id", name="uq_inbox_source_external_id"),
    )
    op.create_index("ix_inbox_status_last_attempt_at", "inbox", ["status", "last_attempt_at"])


def _outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("inbox_id", sa.String(ID), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("routing_key", sa.String(TEXT_ID), nullable=False),
        sa.Column("subject", sa.String(TEXT_ID), nullable=False),
        sa.Column("subject_seq", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        _when("created_at"),
        _when("published_at", nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_inbox_id", "outbox", ["inbox_id"])
    unpublished = sa.text("published_at IS NULL")
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["created_at", "subject_seq"],
        postgresql_where=unpublished,
        sqlite_where=unpublished,
    )


def _failed_messages() -> None:
    op.create_table(
        "failed_messages",
        sa.Column("failed_id", sa.String(ID), nullable=False),
        sa.Column("inbox_id", sa.String(ID), nullable=False),
        sa.Column("agency", sa.String(NAME), nullable=True),
        sa.Column("kind", sa.String(NAME), nullable=True),
        sa.Column("error_type", sa.String(NAME), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("first_failed_at"),
        _when("last_failed_at"),
        sa.Column("fingerprint", sa.String(TEXT_ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("failed_id", name="pk_failed_messages"),
        sa.UniqueConstraint("inbox_id", name="uq_failed_messages_inbox_id"),
    )
    for columns in (["status", "fingerprint"], ["agency"], ["error_type"], ["last_failed_at"]):
        op.create_index(f"ix_failed_messages_{'_'.join(columns)}", "failed_messages", columns)


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _when("at"),
        sa.Column("actor", sa.String(NAME), nullable=False),
        sa.Column("action", sa.String(NAME), nullable=False),
        sa.Column("target", sa.String(TEXT_ID), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )


def _outbound_requests() -> None:
    op.create_table(
        "outbound_requests",
        sa.Column("request_id", sa.String(TEXT_ID), nullable=False),
        sa.Column("agency", sa.String(NAME), nullable=False),
        sa.Column("kind", sa.String(NAME), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("smev_message_id", sa.String(TEXT_ID), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("answer_inbox_id", sa.String(ID), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_outbound_requests"),
        sa.UniqueConstraint("smev_message_id", name="uq_outbound_requests_smev_message_id"),
    )


def downgrade() -> None:
    for table in (
        "outbound_requests",
        "audit_log",
        "failed_messages",
        "business_keys",
        "subject_sequences",
        "outbox",
        "inbox",
    ):
        op.drop_table(table)
