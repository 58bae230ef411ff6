"""What operators do with failed messages: look, reveal, replay, discard; and read the audit
log. Every call names the principal acting: it sees and touches only messages within its
scope, may do only what its role allows, and every denial and every action is audited.

A message outside the principal's scope is refused exactly as one that does not exist, so a
denial never tells whether it does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.access.policy import Action, Principal
from hub.access.scopes import covers
from hub.access.service import Guard
from hub.errors import PermanentError, RetryableError
from hub.journal.api import Journal
from hub.journal.records import (
    Activity,
    AuditEntry,
    AuditQuery,
    FailedGroup,
    FailedMessage,
    FailedStatus,
    InboxRecord,
    NewEvent,
    OutboundCounts,
    OutboundRequest,
    OutboundState,
    OutboxEvent,
)
from hub.protection.masking import mask_message, mask_text
from hub.services.worker import Worker


class NothingToReplayError(PermanentError):
    code = "NOTHING_TO_REPLAY"


class RevealReasonError(PermanentError):
    code = "REVEAL_REASON"


@dataclass(frozen=True)
class ReplayResult:
    failed_id: str
    inbox_id: str
    status: str  # processed | duplicate | failed | pending (a passing failure: retried later)
    reason: str | None
    events: Sequence[NewEvent] = ()
    published_before: Sequence[OutboxEvent] = ()


@dataclass(frozen=True)
class MessageView:
    """A failed message as an operator sees it: the stored bytes as text, personal data
    masked unless ``revealed`` (a reveal is audited)."""

    failed: FailedMessage
    source: str
    external_id: str
    received_at: datetime
    size: int  # bytes stored
    body: str
    traceback: str
    revealed: bool


@dataclass
class Operations:
    journal: Journal
    worker: Worker
    guard: Guard = field(init=False)

    def __post_init__(self) -> None:
        self.guard = Guard(self.journal)

    # --- looking --------------------------------------------------------------------------

    def groups(
        self,
        principal: Principal,
        *,
        agency: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
    ) -> list[FailedGroup]:
        """Open failed messages within the principal's scope, grouped by cause."""
        self.guard.check(principal, Action.VIEW, "failed")
        return self.journal.failed_groups(
            agency=agency, error_type=error_type, since=since, scope=principal.scope
        )

    def failed(
        self,
        principal: Principal,
        *,
        agency: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
        fingerprint: str | None = None,
        status: FailedStatus | None = FailedStatus.OPEN,
        limit: int = 1000,
    ) -> list[FailedMessage]:
        """Failed messages within the principal's scope (open ones unless ``status``)."""
        self.guard.check(principal, Action.VIEW, "failed")
        return self.journal.failed(
            agency=agency,
            error_type=error_type,
            since=since,
            fingerprint=fingerprint,
            status=status,
            limit=limit,
            scope=principal.scope,
        )

    def show(self, principal: Principal, failed_id: str) -> MessageView:
        """One failed message with personal data masked."""
        failed = self._reachable(principal, Action.VIEW, failed_id)
        return _view(failed, self._record(failed), revealed=False)

    def reveal(self, principal: Principal, failed_id: str, reason: str) -> MessageView:
        """One failed message in clear: needs ``reveal`` over its scope and a reason; audited."""
        if not reason.strip():
            raise RevealReasonError("revealing personal data needs a reason (it is audited)")
        failed = self._reachable(principal, Action.REVEAL, failed_id)
        record = self._record(failed)
        self.journal.audit(
            principal.label(),
            "reveal",
            failed_id,
            reason,
            {"inbox_id": failed.inbox_id},
            scope=failed.scope,
        )
        return _view(failed, record, revealed=True)

    def documents_source(self, principal: Principal, inbox_id: str, reason: str) -> InboxRecord:
        """The stored message whose documents (in SMEV's file store) an operator fetches:
        personal documents, so it needs ``reveal`` over the message's scope and a reason;
        audited."""
        if not reason.strip():
            raise RevealReasonError("fetching documents needs a reason (it is audited)")
        self.guard.check(principal, Action.REVEAL, inbox_id)
        record = self.journal.inbox(inbox_id)
        if record is not None and covers(principal.scope, record.scope):
            self.journal.audit(
                principal.label(), "fetch-attachments", inbox_id, reason, {}, scope=record.scope
            )
            return record
        if record is None and principal.region_wide:
            raise NothingToReplayError(f"no stored message with id {inbox_id}")
        raise self.guard.deny(
            principal, Action.REVEAL, inbox_id, f"no message {inbox_id} in scope {principal.scope}"
        )

    def audit_log(
        self, principal: Principal, limit: int = 100, query: AuditQuery | None = None
    ) -> list[AuditEntry]:
        """The newest audit entries within the principal's scope (all: region-wide) that
        ``query`` asks for, newest first."""
        self.guard.check(principal, Action.AUDIT, "audit")
        return self.journal.audit_log(limit, scope=principal.scope, query=query)

    def outbound_requests(
        self,
        principal: Principal,
        state: OutboundState | None = None,
        limit: int = 100,
        *,
        replies: bool | None = None,
    ) -> list[OutboundRequest]:
        """The hub's requests to agencies (and its replies) within the principal's scope."""
        self.guard.check(principal, Action.VIEW, "outbound")
        return self.journal.outbound_requests(
            state=state, scope=principal.scope, limit=limit, replies=replies
        )

    def outbound_counts(self, principal: Principal) -> OutboundCounts:
        """The hub's outbound messages within the principal's scope, counted by state."""
        self.guard.check(principal, Action.VIEW, "outbound")
        return self.journal.outbound_counts(scope=principal.scope)

    def activity(self, principal: Principal, since: datetime) -> Activity:
        """The journal's activity since ``since`` within the principal's scope (dashboard)."""
        self.guard.check(principal, Action.VIEW, "activity")
        return self.journal.activity(since, scope=principal.scope)

    # --- acting ---------------------------------------------------------------------------

    def select(
        self,
        principal: Principal,
        ids: Sequence[str],
        group: str | None,
        everything: bool,
        action: Action = Action.REPLAY,
    ) -> list[FailedMessage]:
        """The open failed messages an operator named (by id, group or all) within its scope,
        for ``action``: a named one outside the scope is refused, as if it did not exist."""
        self.guard.check(principal, action, "failed")
        if ids:
            return [self._reachable(principal, action, i) for i in ids]
        if group or everything:
            chosen = self.journal.failed(fingerprint=group, limit=100_000, scope=principal.scope)
            if not chosen:
                where = f"in group {group}" if group else "at all"
                raise NothingToReplayError(f"no open failed messages {where} in your scope")
            return chosen
        raise NothingToReplayError("name failed message ids, --group FINGERPRINT or --all")

    def dry_run(self, principal: Principal, failed: FailedMessage) -> ReplayResult:
        """What a replay would publish now, beside what was published before; writes nothing."""
        self._check_each(principal, Action.REPLAY, [failed])
        record = self._record(failed)
        fresh = dataclasses.replace(record, attempts=1)
        outcome = self.worker.outcome(fresh, None)
        status = "failed" if outcome.failure else "processed"
        reason = outcome.failure.reason if outcome.failure else None
        before = self.journal.events_for(failed.inbox_id)
        return ReplayResult(
            failed.failed_id, failed.inbox_id, status, reason, outcome.events, before
        )

    def replay(self, principal: Principal, failed: Sequence[FailedMessage]) -> list[ReplayResult]:
        """Process again from the stored raw bytes with today's code and settings: every
        message must be within the principal's reach, or none is replayed."""
        self._check_each(principal, Action.REPLAY, failed)
        actor = principal.label()
        inbox_ids = self.journal.reopen_for_replay([f.failed_id for f in failed], actor)
        by_inbox = {f.inbox_id: f for f in failed}
        results = [
            self._replay_one(record, by_inbox[record.inbox_id])
            for record in self.journal.start_attempts(inbox_ids)
        ]
        for result in results:
            self._audit_result(actor, result, by_inbox[result.inbox_id].scope)
        return results

    def discard(self, principal: Principal, failed_id: str, reason: str) -> None:
        """Give a failed message up for good, with a reason (kept, audited, never deleted)."""
        if not reason.strip():
            raise PermanentError("a discard needs a reason (--reason)")
        self._reachable(principal, Action.DISCARD, failed_id)
        self.journal.discard(failed_id, principal.label(), reason)

    # --- inside ---------------------------------------------------------------------------

    def _reachable(self, principal: Principal, action: Action, failed_id: str) -> FailedMessage:
        self.guard.check(principal, action, failed_id)
        failed = self.journal.failed_message(failed_id)
        if failed is not None and covers(principal.scope, failed.scope):
            return failed
        if failed is None and principal.region_wide:
            raise NothingToReplayError(f"no failed message with id {failed_id}")
        raise self.guard.deny(
            principal,
            action,
            failed_id,
            f"no failed message {failed_id} in scope {principal.scope}",
        )

    def _check_each(
        self, principal: Principal, action: Action, failed: Sequence[FailedMessage]
    ) -> None:
        self.guard.check(principal, action, "failed")
        for message in failed:
            if not covers(principal.scope, message.scope):
                raise self.guard.deny(
                    principal,
                    action,
                    message.failed_id,
                    f"no failed message {message.failed_id} in scope {principal.scope}",
                )

    def _record(self, failed: FailedMessage) -> InboxRecord:
        record = self.journal.inbox(failed.inbox_id)
        if record is None:
            raise NothingToReplayError(f"inbox message {failed.inbox_id} is gone")
        return record

    def _replay_one(self, record: InboxRecord, failed: FailedMessage) -> ReplayResult:
        try:
            outcome = self.worker.outcome(record, None)
        except RetryableError as exc:
            return ReplayResult(failed.failed_id, record.inbox_id, "pending", str(exc))
        [completion] = self.journal.complete([outcome])
        reason = outcome.failure.reason if outcome.failure else None
        return ReplayResult(
            failed.failed_id, record.inbox_id, completion.status.value, reason, outcome.events
        )

    def _audit_result(self, actor: str, result: ReplayResult, scope: str) -> None:
        details = {
            "inbox_id": result.inbox_id,
            "reason": result.reason,
            "events": len(result.events),
        }
        self.journal.audit(
            actor, "replay-result", result.failed_id, result.status, details, scope=scope
        )


def _view(failed: FailedMessage, record: InboxRecord, *, revealed: bool) -> MessageView:
    if revealed:
        body, trace = record.raw.decode("utf-8", errors="replace"), failed.traceback
    else:  # by what the models and agency schemas declare personal, then the free-text net
        body, trace = mask_message(record.raw, record.source), mask_text(failed.traceback)
    return MessageView(
        failed,
        record.source,
        record.external_id,
        record.received_at,
        len(record.raw),
        body,
        trace,
        revealed,
    )
