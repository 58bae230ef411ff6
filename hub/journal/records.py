"""The records the journal takes and returns: inbound messages and their outcomes, events,
failed messages, outbound requests, audit entries, tokens, counts. Plain frozen data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.canonical.ids import inbox_id_for


class InboxStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet processed (or waiting for a retry)
    PROCESSED = "processed"  # events written to the outbox
    DUPLICATE = "duplicate"  # same business fact seen before: processed, no events
    FAILED = "failed"  # kept in failed messages for an operator
    DISCARDED = "discarded"  # an operator gave it up, with a reason (audited)


class FailedStatus(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class OutboundState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    ACCEPTED = "accepted"  # accepted by SMEV (MessageMetadata came back)
    ANSWERED = "answered"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"


# Allowed moves of the outbound state machine; anything else is a bug and is refused.
OUTBOUND_TRANSITIONS: Mapping[OutboundState, frozenset[OutboundState]] = {
    OutboundState.PENDING: frozenset(
        {OutboundState.SENT, OutboundState.FAILED, OutboundState.EXPIRED}
    ),
    OutboundState.SENT: frozenset(
        {
            OutboundState.SENT,  # a resend after a broken connection
            OutboundState.ACCEPTED,
            OutboundState.REJECTED,
            OutboundState.FAILED,
            OutboundState.EXPIRED,
        }
    ),
    OutboundState.ACCEPTED: frozenset(
        {
            OutboundState.ANSWERED,
            OutboundState.REJECTED,
            OutboundState.FAILED,
            OutboundState.EXPIRED,
        }
    ),
    OutboundState.ANSWERED: frozenset(),
    OutboundState.REJECTED: frozenset(),
    OutboundState.FAILED: frozenset(),
    OutboundState.EXPIRED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as it arrived, before anything is made of it.

    ``external_id`` is the sender's id for this delivery (SMEV MessageID, AMQP message-id,
    HTTP request id): with ``source`` it identifies a redelivery of the same message.
    """

    source: str
    external_id: str
    raw: bytes
    agency: str | None = None
    kind: str | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    received_at: datetime | None = None
    scope: str | None = None  # where in the region it belongs, when known on arrival

    @property
    def inbox_id(self) -> str:
        return inbox_id_for(self.source, self.external_id)

    def first_attempt(self, now: datetime) -> InboxRecord:
        """The record this message gets when stored with its first attempt counted."""
        return InboxRecord(
            inbox_id=self.inbox_id,
            source=self.source,
            external_id=self.external_id,
            raw=self.raw,
            agency=self.agency,
            kind=self.kind,
            content_type=self.content_type,
            headers=self.headers,
            received_at=self.received_at or now,
            status=InboxStatus.RECEIVED,
            attempts=1,
            scope=self.scope or "",
        )


@dataclass(frozen=True, slots=True)
class Received:
    inbox_id: str
    duplicate: bool  # this delivery was already stored
    status: InboxStatus


@dataclass(frozen=True, slots=True)
class InboxRecord:
    inbox_id: str
    source: str
    external_id: str
    raw: bytes
    agency: str | None
    kind: str | None
    content_type: str | None
    headers: Mapping[str, str]
    received_at: datetime
    status: InboxStatus
    attempts: int
    processed_at: datetime | None = None
    scope: str = ""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event produced by processing; the journal numbers it within its subject."""

    event_id: str
    routing_key: str
    subject: str
    payload: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_id: str
    inbox_id: str | None
    routing_key: str
    subject: str
    subject_seq: int
    payload: bytes
    headers: Mapping[str, Any]
    created_at: datetime
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why processing a message failed for good."""

    error_type: str
    reason: str
    traceback: str = ""
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class NewOutbound:
    """A request to an agency that processing asked for, stored ``pending`` for the sender."""

    request_id: str
    agency: str
    kind: str
    payload: bytes
    smev_message_id: str
    context: Mapping[str, Any] = field(default_factory=dict)
    reply_to: str | None = None
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Settlement:
    """The hub's own request that a message answered, and how."""

    request_id: str
    state: OutboundState  # ANSWERED or REJECTED
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of processing one inbox message, applied in one transaction."""

    inbox_id: str
    events: Sequence[NewEvent] = ()
    business_key: str | None = None
    failure: Failure | None = None
    outbound: Sequence[NewOutbound] = ()
    settles: Settlement | None = None
    scope: str | None = None  # when known: written to the inbox row (and the failure)


@dataclass(frozen=True, slots=True)
class Completion:
    inbox_id: str
    status: InboxStatus
    events_written: int


@dataclass(frozen=True, slots=True)
class FailedMessage:
    failed_id: str
    inbox_id: str
    agency: str | None
    kind: str | None
    error_type: str
    reason: str
    traceback: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    fingerprint: str
    status: FailedStatus
    resolution: str | None = None
    scope: str = ""


@dataclass(frozen=True, slots=True)
class FailedGroup:
    fingerprint: str
    error_type: str
    reason: str
    agency: str | None
    count: int
    first_failed_at: datetime
    last_failed_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    details: Mapping[str, Any]
    scope: str = ""
    entry_id: int = 0  # the log's own order: newer entries have larger ids


DENIED = "denied"  # the action of an entry that records a refusal (details["action"]: of what)


class AuditOutcome(StrEnum):
    ALLOWED = "allowed"  # something done (a reveal, a replay, a login…)
    DENIED = "denied"  # something refused: an action, or an authentication


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which audit entries, and which page of them (newest first).

    ``action`` matches what was done, or what was refused (a denial's ``details["action"]``:
    ``reveal``, ``authenticate``…); ``actor`` is part of the actor's label (a token id, a name,
    a client address); ``before``/``after`` are entry ids: the page older than one, or newer.
    """

    action: str | None = None
    actor: str | None = None
    outcome: AuditOutcome | None = None
    before: int | None = None
    after: int | None = None


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    request_id: str  # the registry's request id: the idempotency key
    agency: str
    kind: str
    state: OutboundState
    smev_message_id: str
    payload: bytes
    attempts: int
    created_at: datetime
    updated_at: datetime
    answer_inbox_id: str | None = None
    error: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    reply_to: str | None = None
    inbox_id: str | None = None
    scope: str = ""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: the SHA-256 of its secret, never the secret."""

    token_id: str
    name: str
    role: str
    scope: str
    secret_hash: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    agencies: tuple[str, ...] = ()  # role agency: the agencies it may post for
    signers: tuple[str, ...] = ()  # SHA-256 (hex, lower case) of certificates it must sign with


@dataclass(frozen=True, slots=True)
class Activity:
    """Inbox messages received, processed and failed since a moment (for a dashboard)."""

    received: int
    processed: int
    failed: int


# Who an outbound message waits on, as the console counts it (``OutboundCounts``). PENDING
# and SENT: on the hub (SMEV has not taken it yet; SENT is a send under way, or one to be
# sent again). ACCEPTED: a request (SendRequest) waits on its agency's answer; a reply
# (SendResponse, ``reply_to`` set) is delivered: nothing comes back for it. The rest are final.
WAITING_ON_HUB = frozenset({OutboundState.PENDING, OutboundState.SENT})


@dataclass(frozen=True, slots=True)
class OutboundCounts:
    """Outbound messages by state within a scope, the hub's requests and its replies apart;
    every state present, zero included."""

    requests: Mapping[OutboundState, int]
    replies: Mapping[OutboundState, int]

    def by_state(self) -> dict[OutboundState, int]:
        """Requests and replies together, per state."""
        return {s: self.requests.get(s, 0) + self.replies.get(s, 0) for s in OutboundState}

    @property
    def waiting_on_hub(self) -> int:
        """Requests and replies the hub has still to get SMEV to take."""
        return sum(n for s, n in self.by_state().items() if s in WAITING_ON_HUB)

    @property
    def waiting_on_agency(self) -> int:
        """Requests SMEV took whose agency has not answered yet."""
        return self.requests.get(OutboundState.ACCEPTED, 0)

    @property
    def replies_delivered(self) -> int:
        return self.replies.get(OutboundState.ACCEPTED, 0)


@dataclass(frozen=True, slots=True)
class HealthCounts:
    """The journal's backlog as ``hub health`` reports it: counts and one time, no content."""

    inbox_unfinished: int  # messages still ``received``: not processed yet, or waiting to retry
    oldest_unfinished_at: datetime | None  # when the oldest of them was received
    outbox_pending: int  # events not yet published
    failed_open: int  # failed messages waiting for an operator
    outbound_by_state: Mapping[OutboundState, int]  # every state, zero included
