"""Database rows to the port's dataclasses, and messages to rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row

from hub.journal.api import (
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
)
from hub.journal.schema import require_aware

AnyRow: TypeAlias = Row[*tuple[Any, ...]]


def inbox_row(
    inbox_id: str,
    message: InboundMessage,
    now: datetime,
    status: InboxStatus = InboxStatus.RECEIVED,
    attempted: bool = False,
) -> dict[str, Any]:
    """A new inbox row; ``attempted``: processed once already (the worker's fast path)."""
    return {
        "inbox_id": inbox_id,
        "source": message.source,
        "external_id": message.external_id,
        "agency": message.agency,
        "kind": message.kind,
        "content_type": message.content_type,
        "raw": message.raw,
        "headers": dict(message.headers),
        "received_at": require_aware(message.received_at or now, "received_at"),
        "status": status.value,
        "attempts": int(attempted),
        "last_attempt_at": now if attempted else None,
        "processed_at": now if status == InboxStatus.PROCESSED else None,
    }


def inbox_record(row: AnyRow) -> InboxRecord:
    m = row._mapping
    return InboxRecord(
        inbox_id=m["inbox_id"],
        source=m["source"],
        external_id=m["external_id"],
        raw=bytes(m["raw"]),
        agency=m["agency"],
        kind=m["kind"],
        content_type=m["content_type"],
        headers=m["headers"],
        received_at=m["received_at"],
        status=InboxStatus(m["status"]),
        attempts=m["attempts"],
        processed_at=m["processed_at"],
    )


def outbox_event(row: AnyRow) -> OutboxEvent:
    m = row._mapping
    return OutboxEvent(
        event_id=m["event_id"],
        inbox_id=m["inbox_id"],
        routing_key=m["routing_key"],
        subject=m["subject"],
        subject_seq=m["subject_seq"],
        payload=bytes(m["payload"]),
        headers=m["headers"],
        created_at=m["created_at"],
        published_at=m["published_at"],
    )


def failed_message(row: AnyRow) -> FailedMessage:
    m = row._mapping
    return FailedMessage(
        failed_id=m["failed_id"],
        inbox_id=m["inbox_id"],
        agency=m["agency"],
        kind=m["kind"],
        error_type=m["error_type"],
        reason=m["reason"],
        traceback=m["traceback"],
        attempts=m["attempts"],
        first_failed_at=m["first_failed_at"],
        last_failed_at=m["last_failed_at"],
        fingerprint=m["fingerprint"],
        status=FailedStatus(m["status"]),
        resolution=m["resolution"],
    )


def failed_group(row: AnyRow) -> FailedGroup:
    m = row._mapping
    return FailedGroup(
        fingerprint=m["fingerprint"],
        error_type=m["error_type"],
        reason=m["reason"],
        agency=m["agency"],
        count=m["count"],
        first_failed_at=m["first_failed_at"],
        last_failed_at=m["last_failed_at"],
    )


def audit_entry(row: AnyRow) -> AuditEntry:
    m = row._mapping
    return AuditEntry(m["at"], m["actor"], m["action"], m["target"], m["reason"], m["details"])


def outbound_request(row: AnyRow) -> OutboundRequest:
    m = row._mapping
    return OutboundRequest(
        request_id=m["request_id"],
        agency=m["agency"],
        kind=m["kind"],
        state=OutboundState(m["state"]),
        smev_message_id=m["smev_message_id"],
        payload=bytes(m["payload"]),
        attempts=m["attempts"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        answer_inbox_id=m["answer_inbox_id"],
        error=m["error"],
        context=m["context"] or {},
        reply_to=m["reply_to"],
        inbox_id=m["inbox_id"],
    )
