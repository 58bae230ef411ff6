"""``SqlJournal``: the journal on SQLite (the embedded default) and PostgreSQL.

Every public method is one transaction and does its work in a handful of statements
whatever the batch size (multi-row inserts, ``executemany``, ``= ANY(array)``), because the
journal sits on the hub's hot path.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from sqlalchemy import Connection, and_, exists, false, func, or_, select, update

from hub.access.scopes import REGION
from hub.canonical.ids import HUB_NAMESPACE
from hub.journal import _keys, _rows
from hub.journal._rows import AnyRow
from hub.journal._sealing import Vault
from hub.journal._statements import Statements
from hub.journal.api import Journal
from hub.journal.engine import (
    DATABASE_TIMEOUT,
    READ_ONLY,
    make_engine,
    sqlite_path,
    transaction,
)
from hub.journal.errors import (
    InvalidTransitionError,
    JournalIntegrityError,
    NotFoundError,
    ReasonRequiredError,
    SchemaOutdatedError,
)
from hub.journal.lease import Lease, lead
from hub.journal.migrate import current_revision, head_revision, upgrade_connection
from hub.journal.records import (
    DENIED,
    OUTBOUND_TRANSITIONS,
    Activity,
    AuditEntry,
    AuditOutcome,
    AuditQuery,
    Completion,
    FailedGroup,
    FailedMessage,
    FailedStatus,
    HealthCounts,
    InboundMessage,
    InboxRecord,
    InboxStatus,
    NewEvent,
    NewOutbound,
    OutboundCounts,
    OutboundRequest,
    OutboundState,
    OutboxEvent,
    Outcome,
    Received,
    TokenRecord,
)
from hub.journal.schema import (
    api_tokens,
    audit_log,
    failed_messages,
    inbox,
    outbound_requests,
    outbox,
    require_aware,
)
from hub.protection.sealing import PlainSealer, Sealer

_T = TypeVar("_T")
_NewRow = tuple[str, int, NewEvent]  # (inbox id, position, event)
_InboxLike = AnyRow | InboxRecord  # what a failure record is made from

# ``hub health``: each one an index range (status, unpublished, state), never the contents.
_UNFINISHED = select(func.count(), func.min(inbox.c.received_at)).where(
    inbox.c.status == InboxStatus.RECEIVED.value
)
_UNPUBLISHED = select(func.count()).where(outbox.c.published_at.is_(None))
_OPEN_FAILURES = select(func.count()).where(failed_messages.c.status == FailedStatus.OPEN.value)
_BY_STATE = select(outbound_requests.c.state, func.count()).group_by(outbound_requests.c.state)


def _status_of(outcome: Outcome | None) -> InboxStatus:
    """The status a message processed on the fast path is stored with."""
    if outcome is None:
        return InboxStatus.RECEIVED
    return InboxStatus.FAILED if outcome.failure is not None else InboxStatus.PROCESSED


def failed_id_for(inbox_id: str) -> str:
    """The deterministic id of an inbox message's failure record (one per message)."""
    return str(uuid.uuid5(HUB_NAMESPACE, f"failed:{inbox_id}"))


def default_fingerprint(error_type: str, agency: str | None, kind: str | None) -> str:
    """The grouping key of a failure that came without one: same error, agency and kind."""
    return hashlib.sha256(f"{error_type}|{agency}|{kind}".encode()).hexdigest()[:32]


def _now() -> datetime:
    return datetime.now(UTC)


class SqlJournal:
    """The journal (see ``hub.journal.api.Journal``) on SQLAlchemy Core.

    ``create=True`` migrates the database to the newest schema first. ``sealer`` seals the
    columns that hold personal data (default: none, stored in clear); before anything is
    written the journal checks that its keys open what is stored (``ConfigurationError``).
    ``timeout``: seconds a PostgreSQL statement or commit may take before it fails as
    ``DatabaseUnavailableError`` (see ``hub.journal.engine``; None: no limit).
    Safe to share between threads; for several processes use PostgreSQL.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = False,
        pool_size: int = 5,
        sealer: Sealer | None = None,
        timeout: float | None = DATABASE_TIMEOUT,
    ) -> None:
        self._engine = make_engine(url, pool_size=pool_size, timeout=timeout)
        self._reader = self._engine.execution_options(**{READ_ONLY: True})
        self._q = Statements(self._engine.dialect.name)
        self._vault = Vault(sealer or PlainSealer())
        self._prepared = threading.Lock()
        self._ready = False
        if create:
            with transaction(self._engine) as connection:
                upgrade_connection(connection)
            try:
                self.check_keys()
            except BaseException:
                self._engine.dispose()
                raise

    @classmethod
    def open(
        cls,
        url: str,
        *,
        pool_size: int = 5,
        sealer: Sealer | None = None,
        timeout: float | None = DATABASE_TIMEOUT,
    ) -> SqlJournal:
        """Open the journal at ``url``, ready to use.

        The embedded SQLite journal creates its file and schema on first use and upgrades
        itself; a PostgreSQL database must already be migrated (``SchemaOutdatedError``).
        """
        if sqlite_path(url) is not None:
            journal = cls(url, create=True, pool_size=pool_size, sealer=sealer, timeout=timeout)
        else:
            at, head = current_revision(url), head_revision()
            if at != head:
                raise SchemaOutdatedError(
                    f"journal schema is at revision {at}, the code needs {head}: run the "
                    "migrations",
                    current=at,
                    head=head,
                )
            journal = cls(url, pool_size=pool_size, sealer=sealer, timeout=timeout)
        try:
            journal.check_keys()
        except BaseException:
            journal.close()
            raise
        return journal

    def check_keys(self) -> None:
        """Check the sealer's keys against the journal before anything is written (done by
        ``open`` and before the first transaction): ``ConfigurationError`` when a configured
        key is not the one the journal knows under its id, or rows are under a key not
        configured."""
        if self._ready:
            return
        with self._prepared:
            if not self._ready:
                self._prepare_keys()
                self._ready = True

    def _prepare_keys(self) -> None:
        # Processes starting together (``hub run``) race to record the first key checks: the
        # loser's transaction rolls back whole, and its second look finds the winner's rows.
        try:
            with transaction(self._engine) as connection:
                _keys.prepare(connection, self._vault, _now())
        except JournalIntegrityError:
            with transaction(self._engine) as connection:
                _keys.prepare(connection, self._vault, _now())

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self.check_keys()
        with transaction(self._engine) as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self.check_keys()
        with transaction(self._reader) as connection:
            yield connection

    @contextmanager
    def lead(self, role: str, stop: threading.Event) -> Iterator[Lease | None]:
        """Hold the lead for ``role`` (one holder per journal) for the block; waits for it,
        ``None`` if ``stop`` came first (see ``hub.journal.lease``)."""
        with lead(self._engine, role, stop) as lease:
            yield lease

    # --- inbox -------------------------------------------------------------------------

    def receive(self, messages: Sequence[InboundMessage]) -> list[Received]:
        """Store new deliveries; a redelivery (also within the batch) comes back ``duplicate``
        with the stored message's current status. One result per message, in order."""
        ids = [message.inbox_id for message in messages]
        first = _first_each(zip(ids, messages, strict=True))
        if not first:
            return []
        now = _now()
        rows = [_rows.inbox_row(self._vault, i, m, now) for i, m in first.items()]
        with self._write() as conn:
            stored = set(conn.execute(self._q.receive, self._q.many(rows)).scalars())
            older = [inbox_id for inbox_id in first if inbox_id not in stored]
            statuses = dict(conn.execute(self._q.statuses, {"ids": older}).all()) if older else {}
        return _received(ids, stored, statuses)

    def receive_processed(
        self, processed: Sequence[tuple[InboundMessage, Outcome | None]]
    ) -> list[Received]:
        """Store fresh deliveries together with what processing them gave, in one transaction
        (the worker's fast path: one write per message instead of three).

        Each message is stored with one attempt counted and its outcome applied as
        ``complete`` would; ``None`` (a passing failure) leaves it ``received``. A message
        already stored is not touched and comes back ``duplicate`` with its current status:
        its outcome is dropped, and the caller processes the stored message instead.
        """
        first = _first_each((message.inbox_id, (message, o)) for message, o in processed)
        if not first:
            return []
        now = _now()
        rows = [
            _rows.inbox_row(self._vault, i, m, now, _status_of(o), True, o.scope if o else None)
            for i, (m, o) in first.items()
        ]
        with self._write() as conn:
            stored = set(conn.execute(self._q.receive, self._q.many(rows)).scalars())
            older = [inbox_id for inbox_id in first if inbox_id not in stored]
            statuses = dict(conn.execute(self._q.statuses, {"ids": older}).all()) if older else {}
            new = {i: first[i] for i in first if i in stored}
            live = [o for _, o in new.values() if o is not None]
            inserted = {i: _status_of(o) for i, (_, o) in new.items()}
            # Only a failure record is made from the stored message (its scope: the outcome's).
            current = {i: m.first_attempt(now) for i, (m, o) in new.items() if o and o.failure}
            done = self._apply(conn, live, current, inserted)
        statuses |= {i: c.status.value for i, c in done.items()}
        return _received([m.inbox_id for m, _ in processed], stored, statuses)

    def start_attempts(self, inbox_ids: Sequence[str]) -> list[InboxRecord]:
        """Count an attempt on each message still ``received`` and return those, in the order
        given; messages in any other state (or locked by a concurrent worker on PostgreSQL)
        are left out: the caller acknowledges them and moves on."""
        ids = list(dict.fromkeys(inbox_ids))
        if not ids:
            return []
        with self._write() as conn:
            rows = conn.execute(self._q.start, {"ids": ids, "now": _now()}).all()
        records = {r.inbox_id: r for r in (_rows.inbox_record(self._vault, row) for row in rows)}
        return [records[inbox_id] for inbox_id in ids if inbox_id in records]

    def complete(self, outcomes: Sequence[Outcome]) -> list[Completion]:
        """Apply processing results in one transaction, one ``Completion`` per outcome.

        Only a message still ``received`` changes: otherwise (a concurrent or repeated
        completion) its current status comes back with no events written, so events are
        written once. A failure is kept in failed messages; a business key another message
        already holds makes it a ``duplicate``; else its events go to the outbox, numbered per
        subject, skipping event ids already there (a replay). Unknown ids: ``NotFoundError``.
        """
        first = _first_each((outcome.inbox_id, outcome) for outcome in outcomes)
        if not first:
            return []
        with self._write() as conn:
            current = self._lock_inbox(conn, sorted(first))
            _require_all(first, current, "inbox messages")
            live = [o for o in first.values() if current[o.inbox_id].status == InboxStatus.RECEIVED]
            done = self._apply(conn, live, current, {})
        return _completions(outcomes, current, done)

    def _lock_inbox(self, conn: Connection, ids: Sequence[str]) -> dict[str, AnyRow]:
        # Sorted, FOR UPDATE on PostgreSQL: a concurrent completion of the same message waits
        # here and then sees its new status; a fixed lock order cannot deadlock.
        return {row.inbox_id: row for row in conn.execute(self._q.lock_inbox, {"ids": ids})}

    def _apply(
        self,
        conn: Connection,
        live: Sequence[Outcome],
        current: Mapping[str, _InboxLike],
        already: Mapping[str, InboxStatus],
    ) -> dict[str, Completion]:
        """Write the outcomes' keys, events and failures; set the statuses not ``already``
        stored."""
        now = _now()
        failures = [o for o in live if o.failure is not None]
        others = [o for o in live if o.failure is None]
        duplicates = self._claim_business_keys(conn, others, now)
        winners = [o for o in others if o.inbox_id not in duplicates]
        # Events of a message stored just now cannot be in the outbox yet: no need to look.
        written = self._write_events(conn, winners, look_for_existing=not already)
        statuses = {o.inbox_id: InboxStatus.FAILED for o in failures}
        statuses |= {inbox_id: InboxStatus.DUPLICATE for inbox_id in duplicates}
        statuses |= {o.inbox_id: InboxStatus.PROCESSED for o in winners}
        changed = {i: s for i, s in statuses.items() if already.get(i) != s}
        self._set_statuses(conn, changed, now)
        self._set_scopes(conn, [o for o in live if o.inbox_id not in already])
        self._record_failures(conn, failures, current, now)
        # A refused message may still owe its sender an answer (see Processor._refusals).
        self._add_outbound(conn, [*winners, *(o for o in failures if o.outbound)], now)
        self._add_replies(conn, [o for o in others if o.inbox_id in duplicates], now)
        self._settle_outbound(conn, winners, now)
        return {i: Completion(i, status, written[i]) for i, status in statuses.items()}

    def _claim_business_keys(
        self, conn: Connection, outcomes: Sequence[Outcome], now: datetime
    ) -> set[str]:
        """Inbox ids whose business key another message holds (in this batch or before)."""
        # Keyed hashes: an agency's record number is personal data, its hash is not.
        hashed = {o.inbox_id: self._vault.index(o.business_key) for o in outcomes if o.business_key}
        owners: dict[str, str] = {}
        for inbox_id, key in hashed.items():
            owners.setdefault(key, inbox_id)
        if not owners:
            return set()
        rows = [{"key": k, "inbox_id": owners[k], "first_seen_at": now} for k in sorted(owners)]
        claimed = set(conn.execute(self._q.claim_keys, rows).scalars())
        if taken := [key for key in owners if key not in claimed]:
            owners.update(conn.execute(self._q.key_owners, {"keys": taken}).all())
        return {inbox_id for inbox_id, key in hashed.items() if owners[key] != inbox_id}

    def _write_events(
        self, conn: Connection, outcomes: Sequence[Outcome], *, look_for_existing: bool
    ) -> Counter[str]:
        """Insert the events not yet in the outbox; how many each inbox message got."""
        fresh = self._fresh_events(conn, outcomes, look_for_existing)
        if not fresh:
            return Counter()
        counts = Counter(event.subject for _, _, event in fresh)
        last = self._take_sequences(conn, counts)
        # Stamped after the sequence rows are locked: a writer that waited for another's
        # numbers also gets a later time, so creation order agrees with subject order.
        now = _now()
        seq = {subject: last[subject] - count for subject, count in counts.items()}
        rows = []
        for inbox_id, position, event in fresh:
            seq[event.subject] += 1
            rows.append(self._event_row(inbox_id, position, event, seq[event.subject], now))
        conn.execute(self._q.add_events, self._q.many(rows))
        if self._q.notify_events is not None:
            conn.execute(self._q.notify_events)  # delivered at commit; wakes the relay
        return Counter(inbox_id for inbox_id, _, _ in fresh)

    def _fresh_events(
        self, conn: Connection, outcomes: Sequence[Outcome], look: bool
    ) -> list[_NewRow]:
        candidates: dict[str, _NewRow] = {}
        for outcome in outcomes:
            for position, event in enumerate(outcome.events):
                candidates.setdefault(event.event_id, (outcome.inbox_id, position, event))
        if not candidates or not look:
            return list(candidates.values())
        found = conn.execute(self._q.existing_events, {"ids": list(candidates)}).scalars()
        existing = set(found)
        return [row for event_id, row in candidates.items() if event_id not in existing]

    def _take_sequences(self, conn: Connection, counts: Mapping[str, int]) -> dict[str, int]:
        """Reserve ``counts[subject]`` numbers per subject; the last number taken for each.

        Sequence rows are keyed by the subject's keyed hash: a subject may be made from a
        person's name and birth date."""
        hashed = {self._vault.index(s): s for s in counts}
        rows = [{"subject": h, "last_seq": counts[hashed[h]]} for h in sorted(hashed)]
        return {hashed[h]: last for h, last in conn.execute(self._q.take_sequences, rows).all()}

    def _set_statuses(
        self, conn: Connection, statuses: Mapping[str, InboxStatus], now: datetime
    ) -> None:
        # One statement per distinct status (usually one): cheaper than a row-by-row update.
        by_status: dict[InboxStatus, list[str]] = {}
        for inbox_id, status in statuses.items():
            by_status.setdefault(status, []).append(inbox_id)
        for status, ids in by_status.items():
            at = None if status == InboxStatus.FAILED else now
            conn.execute(self._q.set_status, {"ids": ids, "status": status.value, "at": at})

    def _set_scopes(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
        by_scope: dict[str, list[str]] = {}
        for outcome in outcomes:
            if outcome.scope is not None:
                by_scope.setdefault(outcome.scope, []).append(outcome.inbox_id)
        for scope, ids in by_scope.items():
            conn.execute(self._q.set_scope, {"ids": ids, "scope": scope})

    def _add_outbound(self, conn: Connection, outcomes: Sequence[Outcome], now: datetime) -> None:
        # Idempotent on the request id: a replay or a repeated command asks for nothing new.
        rows = [self._outbound_row(o.inbox_id, new, now) for o in outcomes for new in o.outbound]
        if rows:
            conn.execute(self._q.add_outbound, rows)

    def _add_replies(self, conn: Connection, duplicates: Sequence[Outcome], now: datetime) -> None:
        # An agency that resends a fact under a new MessageID still waits for an answer to
        # that request: the fact is not applied twice, but the request is answered.
        rows = [
            self._outbound_row(o.inbox_id, new, now)
            for o in duplicates
            for new in o.outbound
            if new.reply_to is not None
        ]
        if rows:
            conn.execute(self._q.add_outbound, rows)

    def _settle_outbound(
        self, conn: Connection, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        # Only a request still waiting is settled: a second answer to it changes nothing.
        rows = [
            {
                "b_id": s.request_id,
                "b_state": s.state.value,
                "b_inbox": o.inbox_id,
                "b_error": s.error,
                "b_now": now,
            }
            for o in outcomes
            if (s := o.settles) is not None
        ]
        if rows:
            conn.execute(self._q.settle_outbound, rows)

    def _record_failures(
        self,
        conn: Connection,
        outcomes: Sequence[Outcome],
        current: Mapping[str, _InboxLike],
        now: datetime,
    ) -> None:
        rows = [self._failure_row(current[o.inbox_id], o, now) for o in outcomes]
        if rows:
            conn.execute(self._q.record_failures, rows)

    def _event_row(
        self, inbox_id: str, position: int, event: NewEvent, seq: int, now: datetime
    ) -> dict[str, Any]:
        payload = self._vault.blob(event.payload, _rows.OUTBOX_PAYLOAD, event.event_id)
        return {
            "event_id": event.event_id,
            "inbox_id": inbox_id,
            "position": position,
            "routing_key": event.routing_key,
            "subject": event.subject,
            "subject_seq": seq,
            "payload": payload,
            "headers": dict(event.headers),
            "created_at": now,
            "published_at": None,
            "key_id": self._vault.key_id,
        }

    def _outbound_row(self, inbox_id: str, new: NewOutbound, now: datetime) -> dict[str, Any]:
        v, request_id = self._vault, new.request_id
        return {
            "request_id": request_id,
            "agency": new.agency,
            "kind": new.kind,
            "state": OutboundState.PENDING.value,
            "smev_message_id": new.smev_message_id,
            "payload": v.blob(new.payload, _rows.OUTBOUND_PAYLOAD, request_id),
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "answer_inbox_id": None,
            "error": None,
            "context": v.json(new.context, _rows.OUTBOUND_CONTEXT, request_id),
            "reply_to": new.reply_to,
            "inbox_id": inbox_id,
            "scope": new.scope,
            "key_id": v.key_id,
        }

    def _failure_row(self, inbox: _InboxLike, outcome: Outcome, now: datetime) -> dict[str, Any]:
        failure = outcome.failure
        assert failure is not None  # noqa: S101 - callers pass failed outcomes only
        fingerprint = failure.fingerprint or default_fingerprint(
            failure.error_type, inbox.agency, inbox.kind
        )
        failed_id, v = failed_id_for(inbox.inbox_id), self._vault
        return {
            "failed_id": failed_id,
            "inbox_id": inbox.inbox_id,
            "agency": inbox.agency,
            "kind": inbox.kind,
            "error_type": failure.error_type,
            "reason": v.text(failure.reason, _rows.FAILED_REASON, failed_id),
            "traceback": v.text(failure.traceback, _rows.FAILED_TRACEBACK, failed_id),
            "attempts": inbox.attempts,
            "first_failed_at": now,
            "last_failed_at": now,
            "fingerprint": fingerprint,
            "status": FailedStatus.OPEN.value,
            "resolution": None,
            "scope": outcome.scope if outcome.scope is not None else inbox.scope,
            "key_id": v.key_id,
        }

    def unfinished(self, older_than: datetime, limit: int) -> list[str]:
        """Messages still ``received`` whose last attempt (or reception, if never attempted)
        is older than ``older_than``, oldest first: what a crashed worker left behind."""
        with self._read() as conn:
            params = {"older_than": require_aware(older_than, "older_than"), "limit": limit}
            found = conn.execute(self._q.unfinished, params)
            return list(found.scalars())

    def inbox(self, inbox_id: str) -> InboxRecord | None:
        """The stored message, or ``None``."""
        with self._read() as conn:
            row = conn.execute(self._q.inbox, {"id": inbox_id}).first()
        return _rows.inbox_record(self._vault, row) if row is not None else None

    # --- outbox --------------------------------------------------------------------------

    def pending_events(self, limit: int) -> list[OutboxEvent]:
        """Unpublished events, oldest first (by subject sequence within one moment)."""
        with self._read() as conn:
            rows = conn.execute(self._q.pending, {"limit": limit}).all()
        return [_rows.outbox_event(self._vault, row) for row in rows]

    def mark_published(self, event_ids: Sequence[str]) -> None:
        """Record that these events went out; already published ones keep their time."""
        if not event_ids:
            return
        with self._write() as conn:
            conn.execute(self._q.mark_published, {"ids": list(event_ids), "now": _now()})

    def events_for(self, inbox_id: str) -> list[OutboxEvent]:
        """The events made from one inbox message, in the order processing produced them."""
        with self._read() as conn:
            rows = conn.execute(self._q.events_for, {"id": inbox_id}).all()
        return [_rows.outbox_event(self._vault, row) for row in rows]

    # --- failed messages -------------------------------------------------------------------

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
    ) -> list[FailedMessage]:
        """Failed messages matching every filter given, most recently failed first; ``scope``
        keeps those a principal of that scope reaches (``hub.access.scopes.covers``)."""
        c = failed_messages.c
        where = _failure_filters(agency, error_type, since, scope)
        if status is not None:
            where.append(c.status == status.value)
        if fingerprint is not None:
            where.append(c.fingerprint == fingerprint)
        stmt = select(failed_messages).where(*where)
        stmt = stmt.order_by(c.last_failed_at.desc(), c.failed_id).limit(limit)
        with self._read() as conn:
            return [_rows.failed_message(self._vault, row) for row in conn.execute(stmt)]

    def failed_groups(
        self,
        *,
        agency: str | None = None,
        error_type: str | None = None,
        since: datetime | None = None,
        scope: str | None = None,
    ) -> list[FailedGroup]:
        """Open failures grouped by fingerprint, biggest group first; error type, reason and
        agency are those of the group's most recent failure."""
        groups = _groups_query(_failure_filters(agency, error_type, since, scope))
        with self._read() as conn:
            return [_rows.failed_group(self._vault, row) for row in conn.execute(groups)]

    def failed_message(self, failed_id: str) -> FailedMessage | None:
        """One failed message, or ``None``."""
        with self._read() as conn:
            row = conn.execute(self._q.failed_message, {"id": failed_id}).first()
        return _rows.failed_message(self._vault, row) if row is not None else None

    def reopen_for_replay(self, failed_ids: Sequence[str], actor: str) -> list[str]:
        """Mark failures ``replayed`` and put their messages back to ``received`` with no
        attempts; the inbox ids to re-queue come back, in the order given.

        Already replayed failures are accepted again (a lost re-queue), but a message that
        was processed since is not touched or returned. The replay counts as the message's
        last attempt time, so the sweeper does not pick it up at the same moment. Unknown
        ids: ``NotFoundError``; discarded ones: ``InvalidTransitionError``; nothing changes.
        """
        ids = list(dict.fromkeys(failed_ids))
        if not ids:
            return []
        now = _now()
        with self._write() as conn:
            failures = self._lock_failures(conn, ids)
            _require_replayable(ids, failures)
            inbox_ids = [failures[i].inbox_id for i in ids]
            params = {"ids": inbox_ids, "now": now}
            requeued = set(conn.execute(self._q.requeue, params).scalars())
            self._resolve(conn, ids, FailedStatus.REPLAYED, f"replayed by {actor}")
            self._add_audit(
                conn, [_replay_audit(f, actor, now, requeued) for f in failures.values()]
            )
        return [inbox_id for inbox_id in inbox_ids if inbox_id in requeued]

    def discard(self, failed_id: str, actor: str, reason: str) -> None:
        """Give up an open failure for good, saying why (required); audited."""
        if not reason.strip():
            raise ReasonRequiredError(
                "discarding a failed message needs a reason", failed_id=failed_id
            )
        with self._write() as conn:
            failure = self._open_failure(conn, failed_id)
            resolution = f"discarded by {actor}: {reason}"
            self._resolve(conn, [failed_id], FailedStatus.DISCARDED, resolution)
            conn.execute(self._q.discard_inbox, {"id": failure.inbox_id})
            details = {"inbox_id": failure.inbox_id}
            audit = _audit_row(
                _now(),
                actor,
                "discard",
                failed_id,
                reason=reason,
                details=details,
                scope=failure.scope,
            )
            self._add_audit(conn, [audit])

    def _open_failure(self, conn: Connection, failed_id: str) -> AnyRow:
        failure = self._lock_failures(conn, [failed_id]).get(failed_id)
        if failure is None:
            raise NotFoundError(f"no failed message {failed_id!r}", failed_id=failed_id)
        _require_open(failure)
        return failure

    def _lock_failures(self, conn: Connection, failed_ids: Sequence[str]) -> dict[str, AnyRow]:
        # Inbox rows first, in the order complete() takes them, then the failure rows.
        inbox_ids = list(conn.execute(self._q.failure_inboxes, {"ids": failed_ids}).scalars())
        self._lock_inbox(conn, sorted(inbox_ids))
        rows = conn.execute(self._q.lock_failures, {"ids": failed_ids})
        return {row.failed_id: row for row in rows}

    def _resolve(
        self, conn: Connection, failed_ids: Sequence[str], status: FailedStatus, resolution: str
    ) -> None:
        rows = [
            {"b_id": i, "b_status": status.value, "b_resolution": resolution} for i in failed_ids
        ]
        conn.execute(self._q.resolve, rows)

    # --- audit ---------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        reason: str,
        details: Mapping[str, Any],
        *,
        scope: str = "",
    ) -> None:
        """Append an entry to the audit log (``scope``: where in the region it belongs)."""
        with self._write() as conn:
            entry = _audit_row(
                _now(), actor, action, target, reason=reason, details=details, scope=scope
            )
            self._add_audit(conn, [entry])

    def audit_log(
        self, limit: int = 100, scope: str | None = None, query: AuditQuery | None = None
    ) -> list[AuditEntry]:
        """Up to ``limit`` audit entries a principal of ``scope`` reaches that ``query`` asks
        for, newest first: the newest, those before ``query.before``, or (``query.after``)
        the ``limit`` just newer than that entry."""
        query = query or AuditQuery()
        newest_first = query.after is None
        c = audit_log.c
        stmt = (
            select(audit_log)
            .where(*scope_filter(c.scope, scope), *_audit_filters(query))
            .order_by(c.id.desc() if newest_first else c.id.asc())
            .limit(limit)
        )
        with self._read() as conn:
            entries = [_rows.audit_entry(row) for row in conn.execute(stmt)]
        return entries if newest_first else entries[::-1]

    def _add_audit(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._q.add_audit, list(rows))

    # --- outbound requests -----------------------------------------------------------------

    def create_outbound(
        self, request_id: str, agency: str, kind: str, payload: bytes, smev_message_id: str
    ) -> tuple[OutboundRequest, bool]:
        """Record a request to send, idempotent on ``request_id``: the stored request comes
        back with ``False`` when it already existed (unchanged)."""
        now = _now()
        sealed = self._vault.blob(payload, _rows.OUTBOUND_PAYLOAD, request_id)
        row = {
            "request_id": request_id,
            "agency": agency,
            "kind": kind,
            "state": OutboundState.PENDING.value,
            "smev_message_id": smev_message_id,
            "payload": sealed,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "key_id": self._vault.key_id,
        }
        with self._write() as conn:
            created = conn.execute(self._q.create_outbound, row).first()
            stored = created or conn.execute(self._q.outbound, {"id": request_id}).one()
        return _rows.outbound_request(self._vault, stored), created is not None

    def transition_outbound(
        self,
        request_id: str,
        state: OutboundState,
        *,
        smev_message_id: str | None = None,
        answer_inbox_id: str | None = None,
        error: str | None = None,
    ) -> OutboundRequest:
        """Move a request along ``OUTBOUND_TRANSITIONS`` (``InvalidTransitionError``
        otherwise). A new ``smev_message_id`` replaces the old one (a resend after
        StaleMessageId); each move to SENT counts an attempt; values not given are kept."""
        with self._write() as conn:
            row = conn.execute(self._q.lock_outbound, {"id": request_id}).first()
            if row is None:
                raise NotFoundError(f"no outbound request {request_id!r}", request_id=request_id)
            _require_move(request_id, OutboundState(row.state), state)
            changes = _outbound_changes(row, state, smev_message_id, answer_inbox_id, error)
            stmt = update(outbound_requests).where(outbound_requests.c.request_id == request_id)
            updated = conn.execute(stmt.values(changes).returning(*outbound_requests.c)).one()
        return _rows.outbound_request(self._vault, updated)

    def mark_accepted(self, request_ids: Sequence[str]) -> int:
        """Move those of ``request_ids`` still SENT to ACCEPTED (SMEV took them); a request
        already answered or settled meanwhile stays as it is. How many moved."""
        if not request_ids:
            return 0
        column = outbound_requests.c
        stmt = (
            update(outbound_requests)
            .where(column.request_id.in_(list(request_ids)))
            .where(column.state == OutboundState.SENT.value)
            .values(state=OutboundState.ACCEPTED.value, updated_at=_now())
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount

    def claim_outbound(self, limit: int, stale_after: timedelta) -> list[OutboundRequest]:
        """Up to ``limit`` requests to send now, oldest first, moved to SENT with an attempt
        counted: the pending ones and those SENT longer than ``stale_after`` ago without
        SMEV's acceptance (the sender died or the connection broke: they go again under the
        same MessageID). Concurrent senders never get the same request (on PostgreSQL the
        rows are locked and skipped; SQLite serves one process)."""
        now = _now()
        with self._write() as conn:
            found = {"limit": limit, "stale": now - stale_after}
            ids = list(conn.execute(self._q.claimable_outbound, found).scalars())
            if not ids:
                return []
            rows = conn.execute(self._q.claim_outbound, {"ids": ids, "now": now}).all()
        claimed = sorted(rows, key=lambda row: (row.created_at, row.request_id))
        return [_rows.outbound_request(self._vault, row) for row in claimed]

    def outbound(self, request_id: str) -> OutboundRequest | None:
        """One outbound request, or ``None``."""
        return self._one_outbound(self._q.outbound, request_id)

    def outbound_by_message_id(self, smev_message_id: str) -> OutboundRequest | None:
        """The request sent under this SMEV message id (an answer's OriginalMessageId)."""
        return self._one_outbound(self._q.outbound_by_message_id, smev_message_id)

    # --- operations -----------------------------------------------------------------------

    def health_counts(self) -> HealthCounts:
        """Unfinished inbox messages (and when the oldest arrived), unpublished events, open
        failures and outbound requests per state, read in one transaction."""
        with self._read() as conn:
            unfinished, oldest = conn.execute(_UNFINISHED).one()
            pending = conn.execute(_UNPUBLISHED).scalar_one()
            failed = conn.execute(_OPEN_FAILURES).scalar_one()
            states: dict[str, int] = {state: n for state, n in conn.execute(_BY_STATE)}
        return HealthCounts(
            inbox_unfinished=unfinished,
            oldest_unfinished_at=oldest,
            outbox_pending=pending,
            failed_open=failed,
            outbound_by_state={s: int(states.get(s.value, 0)) for s in OutboundState},
        )

    def outbound_requests(
        self,
        state: OutboundState | None = None,
        scope: str | None = None,
        limit: int = 100,
        *,
        replies: bool | None = None,
    ) -> list[OutboundRequest]:
        """Outbound requests in ``state`` that a principal of ``scope`` reaches, newest
        first; ``replies``: only the replies (``True``), only the hub's requests (``False``)."""
        c = outbound_requests.c
        where = scope_filter(c.scope, scope)
        if state is not None:
            where.append(c.state == state.value)
        if replies is not None:
            where.append(c.reply_to.is_not(None) if replies else c.reply_to.is_(None))
        stmt = select(outbound_requests).where(*where)
        stmt = stmt.order_by(c.created_at.desc(), c.request_id).limit(limit)
        with self._read() as conn:
            return [_rows.outbound_request(self._vault, row) for row in conn.execute(stmt)]

    def outbound_counts(self, scope: str | None = None) -> OutboundCounts:
        """Outbound messages a principal of ``scope`` reaches, counted by state in the
        database (never from a list cut short), requests and replies apart."""
        c = outbound_requests.c
        is_reply = c.reply_to.is_not(None).label("is_reply")
        stmt = (
            select(c.state, is_reply, func.count())
            .where(*scope_filter(c.scope, scope))
            .group_by(c.state, is_reply)
        )
        counts = {False: dict.fromkeys(OutboundState, 0), True: dict.fromkeys(OutboundState, 0)}
        with self._read() as conn:
            for state, reply, count in conn.execute(stmt):
                counts[bool(reply)][OutboundState(state)] = int(count)
        return OutboundCounts(requests=counts[False], replies=counts[True])

    # --- API tokens ----------------------------------------------------------------------

    def add_token(self, record: TokenRecord) -> None:
        """Store a new token (its secret's hash only); an existing id: ``JournalIntegrityError``."""
        with self._write() as conn:
            conn.execute(api_tokens.insert(), _rows.token_row(record))

    def token(self, token_id: str) -> TokenRecord | None:
        """One token, or ``None``."""
        with self._read() as conn:
            row = conn.execute(self._q.token, {"id": token_id}).first()
        return _rows.token_record(row) if row is not None else None

    def tokens(self) -> list[TokenRecord]:
        """Every token, revoked ones too, oldest first."""
        stmt = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.token_id)
        with self._read() as conn:
            return [_rows.token_record(row) for row in conn.execute(stmt)]

    def revoke_token(self, token_id: str, actor: str) -> bool:
        """Revoke a token for good (audited); ``False`` if there is none or it was already."""
        c, now = api_tokens.c, _now()
        stmt = update(api_tokens).where(c.token_id == token_id, c.revoked_at.is_(None))
        with self._write() as conn:
            revoked = conn.execute(stmt.values(revoked_at=now).returning(c.scope)).first()
            if revoked is not None:
                entry = _audit_row(
                    now,
                    actor,
                    "revoke_token",
                    token_id,
                    reason="revoked",
                    details={},
                    scope=revoked.scope,
                )
                self._add_audit(conn, [entry])
        return revoked is not None

    def touch_token(self, token_id: str, at: datetime) -> None:
        """Note when a token was last used."""
        stmt = update(api_tokens).where(api_tokens.c.token_id == token_id)
        with self._write() as conn:
            conn.execute(stmt.values(last_used_at=require_aware(at, "at")))

    # --- protection: activity, retention, key rotation -------------------------------------

    def activity(self, since: datetime, scope: str | None = None) -> Activity:
        """Inbox messages received, processed and failed since ``since`` within ``scope``."""
        since = require_aware(since, "since")
        c, f = inbox.c, failed_messages.c
        counts = select(
            func.count().filter(c.received_at >= since),
            func.count().filter(c.processed_at >= since),
        ).where(*scope_filter(c.scope, scope))
        failures = select(func.count()).where(
            f.last_failed_at >= since, *scope_filter(f.scope, scope)
        )
        with self._read() as conn:
            received, processed = conn.execute(counts).one()
            failed = conn.execute(failures).scalar_one()
        return Activity(received, processed, failed)

    def purge_processed(
        self,
        older_than: datetime,
        actor: str,
        batch: int = 500,
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Delete messages processed (or duplicate, or discarded) that were received before
        ``older_than``, with their published events and resolved failures, ``batch`` at a
        time (one transaction each, then ``on_batch(count)``); audited once with the count.
        A message with an open failure or an unpublished event stays."""
        cutoff = require_aware(older_than, "older_than")
        deleted = 0
        while count := self._purge_batch(cutoff, batch):
            deleted += count
            if on_batch is not None:
                on_batch(count)
        reason = f"retention: processed before {cutoff.isoformat()}"
        details = {"deleted": deleted, "older_than": cutoff.isoformat()}
        self.audit(actor, "purge", "inbox", reason, details, scope=REGION)
        return deleted

    def _purge_batch(self, cutoff: datetime, batch: int) -> int:
        with self._write() as conn:
            ids = list(conn.execute(_purgeable(cutoff, batch)).scalars())
            if ids:
                conn.execute(outbox.delete().where(outbox.c.inbox_id.in_(ids)))
                conn.execute(failed_messages.delete().where(failed_messages.c.inbox_id.in_(ids)))
                conn.execute(inbox.delete().where(inbox.c.inbox_id.in_(ids)))
        return len(ids)

    def rotate_keys(self, batch: int = 500) -> Iterator[tuple[int, int]]:
        """Re-seal every row not under the active key, ``batch`` rows per transaction,
        yielding (done, total) after each; the keys left with no row are marked retired."""
        self.check_keys()
        return _keys.rotate(self._engine, self._vault, batch)

    def _one_outbound(self, stmt: Any, key: str) -> OutboundRequest | None:
        with self._read() as conn:
            row = conn.execute(stmt, {"id": key}).first()
        return _rows.outbound_request(self._vault, row) if row is not None else None


# --- helpers: pure functions on rows and results ------------------------------------------


def _first_each(pairs: Iterable[tuple[str, _T]]) -> dict[str, _T]:
    """The first value for each key, in the order keys first appear (a batch's redeliveries)."""
    first: dict[str, _T] = {}
    for key, value in pairs:
        first.setdefault(key, value)
    return first


def _received(ids: Sequence[str], stored: set[str], statuses: Mapping[str, str]) -> list[Received]:
    results: list[Received] = []
    seen: set[str] = set()
    for inbox_id in ids:
        if inbox_id in stored and inbox_id not in seen:
            status = InboxStatus(statuses.get(inbox_id, InboxStatus.RECEIVED))
            results.append(Received(inbox_id, False, status))
        else:
            status = InboxStatus(statuses.get(inbox_id, InboxStatus.RECEIVED))
            results.append(Received(inbox_id, True, status))
        seen.add(inbox_id)
    return results


def _completions(
    outcomes: Sequence[Outcome], current: Mapping[str, AnyRow], done: Mapping[str, Completion]
) -> list[Completion]:
    results: list[Completion] = []
    seen: set[str] = set()
    for outcome in outcomes:
        inbox_id = outcome.inbox_id
        if inbox_id in done and inbox_id not in seen:
            results.append(done[inbox_id])
        else:
            status = done[inbox_id].status if inbox_id in done else current[inbox_id].status
            results.append(Completion(inbox_id, InboxStatus(status), 0))
        seen.add(inbox_id)
    return results


def _require_all(wanted: Iterable[str], found: Mapping[str, Any], what: str) -> None:
    if missing := [key for key in wanted if key not in found]:
        raise NotFoundError(f"unknown {what}: {', '.join(missing)}", missing=missing)


def _require_replayable(ids: Sequence[str], failures: Mapping[str, AnyRow]) -> None:
    _require_all(ids, failures, "failed messages")
    if gone := [i for i in ids if failures[i].status == FailedStatus.DISCARDED]:
        raise InvalidTransitionError(
            f"discarded failed messages cannot be replayed: {', '.join(gone)}",
            failed_ids=gone,
            from_status="discarded",
            to_status="replayed",
        )


def _require_open(failure: AnyRow) -> None:
    if failure.status != FailedStatus.OPEN:
        raise InvalidTransitionError(
            f"failed message {failure.failed_id} is {failure.status}: only open ones can be "
            "discarded",
            failed_id=failure.failed_id,
            from_status=failure.status,
            to_status="discarded",
        )


def _require_move(request_id: str, current: OutboundState, wanted: OutboundState) -> None:
    if wanted not in OUTBOUND_TRANSITIONS[current]:
        raise InvalidTransitionError(
            f"outbound request {request_id!r} cannot move from {current} to {wanted}",
            request_id=request_id,
            from_state=current.value,
            to_state=wanted.value,
        )


def _outbound_changes(
    row: AnyRow,
    state: OutboundState,
    smev_message_id: str | None,
    answer_inbox_id: str | None,
    error: str | None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {"state": state.value, "updated_at": _now()}
    if state == OutboundState.SENT:
        changes["attempts"] = row.attempts + 1
    given = {"smev_message_id": smev_message_id, "answer_inbox_id": answer_inbox_id, "error": error}
    changes.update({name: value for name, value in given.items() if value is not None})
    return changes


def _purgeable(cutoff: datetime, batch: int) -> Any:
    """Inbox ids retention may delete: finished, old, no open failure, no unpublished event."""
    c, o, f = inbox.c, outbox.c, failed_messages.c
    done = [InboxStatus.PROCESSED.value, InboxStatus.DUPLICATE.value, InboxStatus.DISCARDED.value]
    unpublished = exists().where(o.inbox_id == c.inbox_id, o.published_at.is_(None))
    still_open = exists().where(f.inbox_id == c.inbox_id, f.status == FailedStatus.OPEN.value)
    return (
        select(c.inbox_id)
        .where(c.status.in_(done), c.received_at < cutoff, ~unpublished, ~still_open)
        .order_by(c.received_at)
        .limit(batch)
    )


def scope_filter(column: Any, scope: str | None) -> list[Any]:
    """The conditions that keep rows a principal of ``scope`` reaches: everything for ``None``
    or the region, else the scope itself and what lies below it (never unknown, ``""``)."""
    if scope is None or scope == REGION:
        return []
    if not scope:
        return [false()]
    # "_" is allowed in scopes and is LIKE's any-character: escape it (and "%", "\").
    below = scope.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    return [or_(column == scope, column.like(below, escape="\\"))]


def _audit_filters(query: AuditQuery) -> list[Any]:
    """Bound parameters only: what an auditor types never becomes SQL."""
    c, where = audit_log.c, []
    if query.action is not None:
        refused = and_(c.action == DENIED, c.details["action"].as_string() == query.action)
        where.append(or_(c.action == query.action, refused))
    if query.actor:
        where.append(c.actor.icontains(query.actor, autoescape=True))
    if query.outcome is not None:
        denied = c.action == DENIED
        where.append(denied if query.outcome is AuditOutcome.DENIED else ~denied)
    if query.before is not None:
        where.append(c.id < query.before)
    if query.after is not None:
        where.append(c.id > query.after)
    return where


def _failure_filters(
    agency: str | None, error_type: str | None, since: datetime | None, scope: str | None
) -> list[Any]:
    c = failed_messages.c
    where: list[Any] = scope_filter(c.scope, scope)
    if agency is not None:
        where.append(c.agency == agency)
    if error_type is not None:
        where.append(c.error_type == error_type)
    if since is not None:
        where.append(c.last_failed_at >= require_aware(since, "since"))
    return where


def _groups_query(where: Sequence[Any]) -> Any:
    c = failed_messages.c
    newest = func.row_number().over(
        partition_by=c.fingerprint, order_by=(c.last_failed_at.desc(), c.failed_id)
    )
    ranked = (
        select(
            c.fingerprint,
            c.error_type,
            c.reason,
            c.agency,
            c.key_id,
            c.failed_id,
            func.count().over(partition_by=c.fingerprint).label("count"),
            func.min(c.first_failed_at).over(partition_by=c.fingerprint).label("first_failed_at"),
            func.max(c.last_failed_at).over(partition_by=c.fingerprint).label("last_failed_at"),
            newest.label("rank"),
        )
        .where(c.status == FailedStatus.OPEN.value, *where)
        .subquery()
    )
    r = ranked.c
    order = (r.count.desc(), r.last_failed_at.desc(), r.fingerprint)
    return select(ranked).where(r.rank == 1).order_by(*order)


def _audit_row(
    at: datetime,
    actor: str,
    action: str,
    target: str,
    *,
    reason: str,
    details: Mapping[str, Any],
    scope: str = "",
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "reason": reason,
        "details": dict(details),
        "scope": scope,
    }


def _replay_audit(failure: AnyRow, actor: str, now: datetime, requeued: set[str]) -> dict[str, Any]:
    details = {"inbox_id": failure.inbox_id, "requeued": failure.inbox_id in requeued}
    reason = "replayed by an operator"
    return _audit_row(
        now, actor, "replay", failure.failed_id, reason=reason, details=details, scope=failure.scope
    )


if TYPE_CHECKING:  # mypy proves SqlJournal implements the port
    _implements: type[Journal] = SqlJournal
