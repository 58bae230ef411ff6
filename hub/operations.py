"""What operators do with failed messages: look, replay, discard. Every action is audited."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from hub.errors import PermanentError, RetryableError
from hub.journal.api import (
    FailedMessage,
    InboxRecord,
    Journal,
    NewEvent,
    OutboxEvent,
)
from hub.worker import Worker


class NothingToReplayError(PermanentError):
    code = "NOTHING_TO_REPLAY"


@dataclass(frozen=True)
class ReplayResult:
    failed_id: str
    inbox_id: str
    status: str  # processed | duplicate | failed | pending (a passing failure: retried later)
    reason: str | None
    events: Sequence[NewEvent] = ()
    published_before: Sequence[OutboxEvent] = ()


@dataclass
class Operations:
    journal: Journal
    worker: Worker

    def select(
        self, ids: Sequence[str], group: str | None, everything: bool
    ) -> list[FailedMessage]:
        """The open failed messages an operator named: by id, by group, or all."""
        if ids:
            found = [self.journal.failed_message(i) for i in ids]
            missing = [i for i, f in zip(ids, found, strict=True) if f is None]
            if missing:
                raise NothingToReplayError(f"no failed message with id {', '.join(missing)}")
            return [f for f in found if f is not None]
        if group or everything:
            chosen = self.journal.failed(fingerprint=group, limit=100_000)
            if not chosen:
                where = f"in group {group}" if group else "at all"
                raise NothingToReplayError(f"no open failed messages {where}")
            return chosen
        raise NothingToReplayError("name failed message ids, --group FINGERPRINT or --all")

    def dry_run(self, failed: FailedMessage) -> ReplayResult:
        """What a replay would publish now, beside what was published before; writes nothing."""
        record = self.journal.inbox(failed.inbox_id)
        if record is None:
            raise NothingToReplayError(f"inbox message {failed.inbox_id} is gone")
        fresh = dataclasses.replace(record, attempts=1)
        outcome = self.worker.outcome(fresh, None)
        status = "failed" if outcome.failure else "processed"
        reason = outcome.failure.reason if outcome.failure else None
        before = self.journal.events_for(failed.inbox_id)
        return ReplayResult(
            failed.failed_id, failed.inbox_id, status, reason, outcome.events, before
        )

    def replay(self, failed: Sequence[FailedMessage], actor: str) -> list[ReplayResult]:
        """Process again from the stored raw bytes with today's code and settings."""
        inbox_ids = self.journal.reopen_for_replay([f.failed_id for f in failed], actor)
        by_inbox = {f.inbox_id: f for f in failed}
        results = [
            self._replay_one(record, by_inbox[record.inbox_id])
            for record in self.journal.start_attempts(inbox_ids)
        ]
        for result in results:
            self.journal.audit(
                actor,
                "replay-result",
                result.failed_id,
                result.status,
                {
                    "inbox_id": result.inbox_id,
                    "reason": result.reason,
                    "events": len(result.events),
                },
            )
        return results

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

    def discard(self, failed_id: str, actor: str, reason: str) -> None:
        if not reason.strip():
            raise PermanentError("a discard needs a reason (--reason)")
        self.journal.discard(failed_id, actor, reason)
