"""The journal's port: what the rest of the hub may ask of the message store, as role protocols
(``Inbox``, ``Outbox``, ``OutboundRequests``...) and ``Journal``, all of them in one. The records
they take and return are in ``hub.journal.records``.

The journal is where the hub's promises live: an inbound message is stored before it is
acknowledged upstream, its events are written in the transaction that marks it processed,
and anything that fails permanently is kept whole. Implemented by ``SqlJournal`` on SQLite
(the embedded default) and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from hub.journal.records import (
    Activity,
    AuditEntry,
    AuditQuery,
    Completion,
    FailedGroup,
    FailedMessage,
    FailedStatus,
    HealthCounts,
    InboundMessage,
    InboxRecord,
    OutboundCounts,
    OutboundRequest,
    OutboundState,
    OutboxEvent,
    Outcome,
    Received,
    TokenRecord,
)

if TYPE_CHECKING:
    from hub.journal.lease import Lease


class Inbox(Protocol):
    """Inbound messages: stored before they are acknowledged upstream, then processed once."""

    def receive(self, messages: Sequence[InboundMessage]) -> list[Received]: ...

    def start_attempts(self, inbox_ids: Sequence[str]) -> list[InboxRecord]: ...

    def receive_processed(
        self, processed: Sequence[tuple[InboundMessage, Outcome | None]]
    ) -> list[Received]: ...

    def complete(self, outcomes: Sequence[Outcome]) -> list[Completion]: ...

    def unfinished(self, older_than: datetime, limit: int) -> list[str]: ...

    def inbox(self, inbox_id: str) -> InboxRecord | None: ...


class Outbox(Protocol):
    """Events written with the outcome that made them, published by the relay."""

    def pending_events(self, limit: int) -> list[OutboxEvent]: ...

    def mark_published(self, event_ids: Sequence[str]) -> None: ...

    def events_for(self, inbox_id: str) -> list[OutboxEvent]: ...


class Leadership(Protocol):
    """One process at a time leads a role (the relay, the SMEV client's housekeeping)."""

    def lead(self, role: str, stop: threading.Event) -> AbstractContextManager[Lease | None]: ...


class FailedMessages(Protocol):
    """What could not be processed, kept whole for operators to replay or discard."""

    def failed(
        self,
        *,
        agency: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
        status: FailedStatus | None = FailedStatus.OPEN,
        fingerprint: str | None = None,
        limit: int = 1000,
        scope: str | None = None,
    ) -> list[FailedMessage]: ...

    def failed_groups(
        self,
        *,
        agency: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
        scope: str | None = None,
    ) -> list[FailedGroup]: ...

    def failed_message(self, failed_id: str) -> FailedMessage | None: ...

    def reopen_for_replay(self, failed_ids: Sequence[str], actor: str) -> list[str]: ...

    def discard(self, failed_id: str, actor: str, reason: str) -> None: ...


class AuditLog(Protocol):
    """Who did what to which message, and who was refused."""

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        reason: str,
        details: Mapping[str, Any],
        *,
        scope: str = "",
    ) -> None: ...

    def audit_log(
        self, limit: int = 100, scope: str | None = None, query: AuditQuery | None = None
    ) -> list[AuditEntry]: ...


class OutboundRequests(Protocol):
    """The hub's requests to agencies and their replies, from pending to answered."""

    def create_outbound(
        self, request_id: str, agency: str, kind: str, payload: bytes, smev_message_id: str
    ) -> tuple[OutboundRequest, bool]: ...

    def transition_outbound(
        self,
        request_id: str,
        state: OutboundState,
        *,
        smev_message_id: str | None = None,
        answer_inbox_id: str | None = None,
        error: str | None = None,
    ) -> OutboundRequest: ...

    def claim_outbound(self, limit: int, stale_after: timedelta) -> list[OutboundRequest]: ...

    def mark_accepted(self, request_ids: Sequence[str]) -> int: ...

    def outbound(self, request_id: str) -> OutboundRequest | None: ...

    def outbound_by_message_id(self, smev_message_id: str) -> OutboundRequest | None: ...

    def outbound_requests(
        self,
        state: OutboundState | None = None,
        scope: str | None = None,
        limit: int = 100,
        *,
        replies: bool | None = None,
    ) -> list[OutboundRequest]: ...

    def outbound_counts(self, scope: str | None = None) -> OutboundCounts: ...


class TokenStore(Protocol):
    """API tokens (hashed) and their use."""

    def add_token(self, record: TokenRecord) -> None: ...

    def token(self, token_id: str) -> TokenRecord | None: ...

    def tokens(self) -> list[TokenRecord]: ...

    def revoke_token(self, token_id: str, actor: str) -> bool: ...

    def touch_token(self, token_id: str, at: datetime) -> None: ...


class Monitoring(Protocol):
    """Counts for health, metrics and the console's dashboard."""

    def health_counts(self) -> HealthCounts: ...

    def activity(self, since: datetime, scope: str | None = None) -> Activity: ...


class Maintenance(Protocol):
    """Retention, key rotation, and closing the store."""

    def purge_processed(
        self,
        older_than: datetime,
        actor: str,
        batch: int = 500,
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int: ...

    def rotate_keys(self, batch: int = 500) -> Iterator[tuple[int, int]]: ...

    def close(self) -> None: ...


class Journal(
    Inbox,
    Outbox,
    Leadership,
    FailedMessages,
    AuditLog,
    OutboundRequests,
    TokenStore,
    Monitoring,
    Maintenance,
    Protocol,
):
    """The message store, all roles in one (``SqlJournal``). Every method is one transaction.
    A part of the hub that needs one role may ask for just that protocol."""
