"""The journal's tables (SQLAlchemy Core), identical on SQLite and PostgreSQL.

``migrations/versions`` must produce exactly these tables; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Explicit constraint names: the migration spells the same names, so they compare equal.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 36  # a UUID in text form
NAME = 100
TEXT_ID = 255
KEY_ID = 40
SCOPE = 100
HASH = 64  # a secret's SHA-256, hex


def _scope() -> Column[str]:
    # Where in the region a row belongs ("" not known yet): see ``hub.access.scopes``.
    return Column("scope", String(SCOPE), nullable=False, server_default="")


def _key_id() -> Column[str]:
    # The data key the row's sealed columns are under ("plain": in clear): for rotation.
    return Column("key_id", String(KEY_ID), nullable=False, server_default="plain")


def require_aware(value: datetime, name: str) -> datetime:
    """``value`` if it carries a time zone; a naive time is refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite has no time zone type: values are stored as naive UTC text (fixed width, so they
    sort and compare correctly) and come back aware. Naive input is refused, not guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = require_aware(value, "timestamp").astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the impl type guarantees it
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

inbox = Table(
    "inbox",
    metadata,
    Column("inbox_id", String(ID), primary_key=True),
    Column("source", String(NAME), nullable=False),
    Column("external_id", String(TEXT_ID), nullable=False),
    Column("agency", String(NAME)),
    Column("kind", String(NAME)),
    Column("content_type", String(TEXT_ID)),
    Column("raw", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_attempt_at", UtcDateTime),
    Column("processed_at", UtcDateTime),
    _scope(),
    _key_id(),
    UniqueConstraint("source", "external_id"),
    Index(None, "status", "last_attempt_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("inbox_id", String(ID), index=True),
    Column("position", Integer, nullable=False),
    Column("routing_key", String(TEXT_ID), nullable=False),
    Column("subject", String(TEXT_ID), nullable=False),
    Column("subject_seq", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime),
    _key_id(),
)
# Partial index: only unpublished rows are in it, so the relay's query stays fast however
# large the published history grows.
Index(
    "ix_outbox_unpublished",
    outbox.c.created_at,
    outbox.c.subject_seq,
    postgresql_where=outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.published_at.is_(None),
)

subject_sequences = Table(
    "subject_sequences",
    metadata,
    Column("subject", String(TEXT_ID), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

business_keys = Table(
    "business_keys",
    metadata,
    Column("key", String(TEXT_ID), primary_key=True),
    Column("inbox_id", String(ID), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

failed_messages = Table(
    "failed_messages",
    metadata,
    Column("failed_id", String(ID), primary_key=True),
    Column("inbox_id", String(ID), nullable=False, unique=True),
    Column("agency", String(NAME)),
    Column("kind", String(NAME)),
    Column("error_type", String(NAME), nullable=False),
    Column("reason", Text, nullable=False),
    Column("traceback", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", UtcDateTime, nullable=False),
    Column("last_failed_at", UtcDateTime, nullable=False),
    Column("fingerprint", String(TEXT_ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("resolution", Text),
    _scope(),
    _key_id(),
    Index(None, "status", "fingerprint"),
    Index(None, "agency"),
    Index(None, "error_type"),
    Index(None, "last_failed_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(NAME), nullable=False),
    Column("target", String(TEXT_ID), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
    _scope(),
)

outbound_requests = Table(
    "outbound_requests",
    metadata,
    Column("request_id", String(TEXT_ID), primary_key=True),
    Column("agency", String(NAME), nullable=False),
    Column("kind", String(NAME), nullable=False),
    Column("state", String(16), nullable=False),
    Column("smev_message_id", String(TEXT_ID), nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("answer_inbox_id", String(ID)),
    Column("error", Text),
    Column("context", JSON, nullable=False, server_default="{}"),
    Column("reply_to", Text),
    Column("inbox_id", String(ID)),  # the message (registry command) that asked for it
    _scope(),
    _key_id(),
    Index(None, "state", "updated_at"),  # what a sender claims next
)

# API tokens: only the SHA-256 of the secret is kept (see ``hub.access.tokens``).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(NAME), primary_key=True),
    Column("name", String(NAME), nullable=False),
    Column("role", String(NAME), nullable=False),
    Column("scope", String(SCOPE), nullable=False),
    Column("secret_hash", String(HASH), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
    # JSON lists: the agencies an agency token may post for, the signing certificates'
    # SHA-256 its messages must carry (both empty for other roles).
    Column("agencies", JSON, nullable=False, server_default="[]"),
    Column("signers", JSON, nullable=False, server_default="[]"),
)

# One row per data key ever used ("check:<id>": a known value sealed under it), and "index":
# the secret of the indexes' keyed hashes, sealed. Checked before the journal writes anything.
key_checks = Table(
    "key_checks",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("key_id", String(KEY_ID), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime),  # rotation left no row under this key
)
