"""Database rows to the port's dataclasses, and messages to rows (sealing what is sealed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row

from hub.journal._sealing import Vault
from hub.journal.records import (
    AuditEntry,
    FailedGroup,
    FailedMessage,
    FailedStatus,
    InboundMessage,
    InboxRecord,
    InboxStatus,
    OutboundRequest,
    OutboundState,
    OutboxEvent,
    TokenRecord,
)
from hub.journal.schema import require_aware

AnyRow: TypeAlias = Row[*tuple[Any, ...]]

# Where each sealed value lives: part of its associated data.
INBOX_RAW = "inbox.raw"
OUTBOX_PAYLOAD = "outbox.payload"
FAILED_REASON = "failed_messages.reason"
FAILED_TRACEBACK = "failed_messages.traceback"
OUTBOUND_PAYLOAD = "outbound_requests.payload"
OUTBOUND_CONTEXT = "outbound_requests.context"


def inbox_row(  # noqa: PLR0917 - one row's parts
    vault: Vault,
    inbox_id: str,
    message: InboundMessage,
    now: datetime,
    status: InboxStatus = InboxStatus.RECEIVED,
    attempted: bool = False,
    scope: str | None = None,
) -> dict[str, Any]:
    """A new inbox row; ``attempted``: processed once already (the worker's fast path)."""
    return {
        "inbox_id": inbox_id,
        "source": message.source,
        "external_id": message.external_id,
        "agency": message.agency,
        "kind": message.kind,
        "content_type": message.content_type,
        "raw": vault.blob(message.raw, INBOX_RAW, inbox_id),
        "headers": dict(message.headers),
        "received_at": require_aware(message.received_at or now, "received_at"),
        "status": status.value,
        "attempts": int(attempted),
        "last_attempt_at": now if attempted else None,
        "processed_at": now if status == InboxStatus.PROCESSED else None,
        "scope": scope or message.scope or "",
        "key_id": vault.key_id,
    }


def inbox_record(vault: Vault, row: AnyRow) -> InboxRecord:
    m = row._mapping
    return InboxRecord(
        inbox_id=m["inbox_id"],
        source=m["source"],
        external_id=m["external_id"],
        raw=vault.unblob(m["raw"], m["key_id"], INBOX_RAW, m["inbox_id"]),
        agency=m["agency"],
        kind=m["kind"],
        content_type=m["content_type"],
        headers=m["headers"],
        received_at=m["received_at"],
        status=InboxStatus(m["status"]),
        attempts=m["attempts"],
        processed_at=m["processed_at"],
        scope=m["scope"],
    )


def outbox_event(vault: Vault, row: AnyRow) -> OutboxEvent:
    m = row._mapping
    return OutboxEvent(
        event_id=m["event_id"],
        inbox_id=m["inbox_id"],
        routing_key=m["routing_key"],
        subject=m["subject"],
        subject_seq=m["subject_seq"],
        payload=vault.unblob(m["payload"], m["key_id"], OUTBOX_PAYLOAD, m["event_id"]),
        headers=m["headers"],
        created_at=m["created_at"],
        published_at=m["published_at"],
    )


def failed_message(vault: Vault, row: AnyRow) -> FailedMessage:
    m = row._mapping
    key_id, failed_id = m["key_id"], m["failed_id"]
    return FailedMessage(
        failed_id=failed_id,
        inbox_id=m["inbox_id"],
        agency=m["agency"],
        kind=m["kind"],
        error_type=m["error_type"],
        reason=vault.untext(m["reason"], key_id, FAILED_REASON, failed_id),
        traceback=vault.untext(m["traceback"], key_id, FAILED_TRACEBACK, failed_id),
        attempts=m["attempts"],
        first_failed_at=m["first_failed_at"],
        last_failed_at=m["last_failed_at"],
        fingerprint=m["fingerprint"],
        status=FailedStatus(m["status"]),
        resolution=m["resolution"],
        scope=m["scope"],
    )


def failed_group(vault: Vault, row: AnyRow) -> FailedGroup:
    m = row._mapping
    return FailedGroup(
        fingerprint=m["fingerprint"],
        error_type=m["error_type"],
        reason=vault.untext(m["reason"], m["key_id"], FAILED_REASON, m["failed_id"]),
        agency=m["agency"],
        count=m["count"],
        first_failed_at=m["first_failed_at"],
        last_failed_at=m["last_failed_at"],
    )


def audit_entry(row: AnyRow) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        m["at"],
        m["actor"],
        m["action"],
        m["target"],
        m["reason"],
        m["details"],
        m["scope"],
        m["id"],
    )


def outbound_request(vault: Vault, row: AnyRow) -> OutboundRequest:
    m = row._mapping
    key_id, request_id = m["key_id"], m["request_id"]
    return OutboundRequest(
        request_id=request_id,
        agency=m["agency"],
        kind=m["kind"],
        state=OutboundState(m["state"]),
        smev_message_id=m["smev_message_id"],
        payload=vault.unblob(m["payload"], key_id, OUTBOUND_PAYLOAD, request_id),
        attempts=m["attempts"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        answer_inbox_id=m["answer_inbox_id"],
        error=m["error"],
        context=vault.unjson(m["context"], key_id, OUTBOUND_CONTEXT, request_id),
        reply_to=m["reply_to"],
        inbox_id=m["inbox_id"],
        scope=m["scope"],
    )


def token_row(record: TokenRecord) -> dict[str, Any]:
    return {
        "token_id": record.token_id,
        "name": record.name,
        "role": record.role,
        "scope": record.scope,
        "secret_hash": record.secret_hash,
        "created_at": record.created_at,
        "created_by": record.created_by,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "last_used_at": record.last_used_at,
        "agencies": list(record.agencies),
        "signers": list(record.signers),
    }


def token_record(row: AnyRow) -> TokenRecord:
    fields = dict(row._mapping)  # JSON lists come back as lists: the record holds tuples
    fields["agencies"], fields["signers"] = tuple(fields["agencies"]), tuple(fields["signers"])
    return TokenRecord(**fields)
