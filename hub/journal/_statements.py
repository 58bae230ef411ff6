"""The journal's SQL, built once per dialect and reused: SQLAlchemy caches each compiled
form, and psycopg prepares the statements it sees often on the server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    Insert,
    String,
    Table,
    Update,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from hub.journal.lease import OUTBOX_CHANNEL
from hub.journal.records import FailedStatus, InboxStatus, OutboundState
from hub.journal.schema import (
    UtcDateTime,
    api_tokens,
    audit_log,
    business_keys,
    failed_messages,
    inbox,
    outbound_requests,
    outbox,
    subject_sequences,
)

RECEIVED = InboxStatus.RECEIVED.value
FAILED = InboxStatus.FAILED.value


def now_param(name: str = "now") -> BindParameter[Any]:
    return bindparam(name, type_=UtcDateTime())


class Statements:
    """Every statement the journal runs, for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"
        self._inbox()
        self._outbox()
        self._failures()
        self._outbound()
        self.add_audit = self.insert(audit_log)
        self.token = select(api_tokens).where(api_tokens.c.token_id == bindparam("id"))

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return postgresql.insert(table) if self.pg else sqlite.insert(table)

    def bulk_insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT of many rows that runs as one statement; pass rows through ``many``.

        PostgreSQL gets ``INSERT … SELECT unnest(array), …``: one SQL text whatever the
        number of rows, so psycopg prepares it once (a multi-row VALUES list is new SQL, to be
        parsed again, for every batch size). SQLite takes the rows as ``executemany``.
        """
        if not self.pg:
            return self.insert(table)
        columns = list(table.c)
        arrays = [func.unnest(bindparam(c.name, type_=ARRAY(c.type))) for c in columns]
        return self.insert(table).from_select(columns, select(*arrays))

    def many(self, rows: Sequence[Mapping[str, Any]]) -> Any:
        """Parameters for a ``bulk_insert``: a column of values per name on PostgreSQL."""
        if not self.pg:
            return rows
        return {name: [row[name] for row in rows] for name in rows[0]}

    def among(self, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
        """``column`` is one of the list bound as ``name``.

        PostgreSQL gets ``= ANY(array)``: one SQL text whatever the list's length, so one
        prepared statement; SQLite expands the list into ``IN (?, ?, …)``.
        """
        if self.pg:
            return column == any_(bindparam(name, type_=ARRAY(String)))
        return column.in_(bindparam(name, expanding=True))

    def _inbox(self) -> None:
        c = inbox.c
        self.receive = self.bulk_insert(inbox).on_conflict_do_nothing().returning(c.inbox_id)
        self.statuses = select(c.inbox_id, c.status).where(self.among(c.inbox_id, "ids"))
        self.start = self._start_attempts()
        self.lock_inbox = (
            select(c.inbox_id, c.status, c.agency, c.kind, c.attempts, c.scope)
            .where(self.among(c.inbox_id, "ids"))
            .order_by(c.inbox_id)
            .with_for_update()
        )
        self.set_status = (
            update(inbox)
            .where(self.among(c.inbox_id, "ids"))
            .values(status=bindparam("status"), processed_at=now_param("at"))
        )
        self.set_scope = (
            update(inbox).where(self.among(c.inbox_id, "ids")).values(scope=bindparam("scope"))
        )
        self.inbox = select(inbox).where(c.inbox_id == bindparam("id"))
        touched = func.coalesce(c.last_attempt_at, c.received_at)
        self.unfinished = (
            select(c.inbox_id)
            .where(c.status == RECEIVED, touched < now_param("older_than"))
            .order_by(touched)
            .limit(bindparam("limit"))
        )
        self.requeue = self._requeue()
        self.discard_inbox = (
            update(inbox)
            .where(c.inbox_id == bindparam("id"), c.status == FAILED)
            .values(status=InboxStatus.DISCARDED.value)
        )

    def _start_attempts(self) -> Update:
        c = inbox.c
        wanted = [self.among(c.inbox_id, "ids"), c.status == RECEIVED]
        stmt = update(inbox).values(attempts=c.attempts + 1, last_attempt_at=now_param())
        if self.pg:
            # A row another transaction holds is being completed (or started) right now:
            # skip it rather than wait and count a second attempt for the same work.
            free = select(c.inbox_id).where(*wanted).with_for_update(skip_locked=True)
            return stmt.where(c.inbox_id.in_(free.scalar_subquery())).returning(*inbox.c)
        return stmt.where(*wanted).returning(*inbox.c)

    def _requeue(self) -> Update:
        c = inbox.c
        return (
            update(inbox)
            .where(self.among(c.inbox_id, "ids"), c.status.in_([FAILED, RECEIVED]))
            .values(status=RECEIVED, attempts=0, last_attempt_at=now_param(), processed_at=None)
            .returning(c.inbox_id)
        )

    def _outbox(self) -> None:
        c = outbox.c
        claim = self.insert(business_keys).on_conflict_do_nothing()
        self.claim_keys = claim.returning(business_keys.c.key)
        self.key_owners = select(business_keys.c.key, business_keys.c.inbox_id).where(
            self.among(business_keys.c.key, "keys")
        )
        self.existing_events = select(c.event_id).where(self.among(c.event_id, "ids"))
        self.take_sequences = self._take_sequences()
        self.add_events = self.bulk_insert(outbox).on_conflict_do_nothing()
        self.notify_events = text(f"NOTIFY {OUTBOX_CHANNEL}") if self.pg else None
        self.pending = (
            select(outbox)
            .where(c.published_at.is_(None))
            .order_by(c.created_at, c.subject_seq, c.event_id)
            .limit(bindparam("limit"))
        )
        self.mark_published = (
            update(outbox)
            .where(self.among(c.event_id, "ids"), c.published_at.is_(None))
            .values(published_at=now_param())
        )
        self.events_for = select(outbox).where(c.inbox_id == bindparam("id")).order_by(c.position)

    def _take_sequences(self) -> Insert:
        stmt = self.insert(subject_sequences)
        # Each row adds the number of events its subject gets in this batch; the row lock it
        # takes makes concurrent writers about one subject take their numbers in turn.
        added = subject_sequences.c.last_seq + stmt.excluded.last_seq
        return stmt.on_conflict_do_update(
            index_elements=[subject_sequences.c.subject], set_={"last_seq": added}
        ).returning(subject_sequences.c.subject, subject_sequences.c.last_seq)

    def _failures(self) -> None:
        c = failed_messages.c
        self.record_failures = self._record_failures()
        self.failed_message = select(failed_messages).where(c.failed_id == bindparam("id"))
        self.failure_inboxes = select(c.inbox_id).where(self.among(c.failed_id, "ids"))
        self.lock_failures = (
            select(failed_messages).where(self.among(c.failed_id, "ids")).with_for_update()
        )
        self.resolve = (
            update(failed_messages)
            .where(c.failed_id == bindparam("b_id"))
            .values(status=bindparam("b_status"), resolution=bindparam("b_resolution"))
        )

    def _record_failures(self) -> Insert:
        stmt = self.insert(failed_messages)
        new = stmt.excluded
        # A re-failure after a replay updates the one row the message has: it is open again,
        # with the latest reason, and attempts add up over every round.
        changes = {
            "agency": new.agency,
            "kind": new.kind,
            "error_type": new.error_type,
            "reason": new.reason,
            "traceback": new.traceback,
            "fingerprint": new.fingerprint,
            "attempts": failed_messages.c.attempts + new.attempts,
            "last_failed_at": new.last_failed_at,
            "status": FailedStatus.OPEN.value,
            "resolution": None,
            "scope": new.scope,
            "key_id": new.key_id,
        }
        return stmt.on_conflict_do_update(index_elements=[failed_messages.c.inbox_id], set_=changes)

    def _outbound(self) -> None:
        c = outbound_requests.c
        self.create_outbound = (
            self.insert(outbound_requests)
            .on_conflict_do_nothing(index_elements=[c.request_id])
            .returning(*outbound_requests.c)
        )
        self.add_outbound = self.insert(outbound_requests).on_conflict_do_nothing()
        self.settle_outbound = (
            update(outbound_requests)
            .where(
                c.request_id == bindparam("b_id"),
                # Not IN (…): an expanding parameter cannot go through executemany, and
                # one batch settles many requests.
                or_(c.state == OutboundState.SENT.value, c.state == OutboundState.ACCEPTED.value),
            )
            .values(
                state=bindparam("b_state"),
                answer_inbox_id=bindparam("b_inbox"),
                error=bindparam("b_error"),
                updated_at=now_param("b_now"),
            )
        )
        self.claimable_outbound = (
            select(c.request_id)
            .where(
                or_(
                    c.state == OutboundState.PENDING.value,
                    and_(c.state == OutboundState.SENT.value, c.updated_at < now_param("stale")),
                )
            )
            .order_by(c.created_at, c.request_id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
        self.claim_outbound = (
            update(outbound_requests)
            .where(self.among(c.request_id, "ids"))
            .values(
                state=OutboundState.SENT.value,
                attempts=c.attempts + 1,
                updated_at=now_param("now"),
            )
            .returning(*outbound_requests.c)
        )
        self.outbound = select(outbound_requests).where(c.request_id == bindparam("id"))
        self.lock_outbound = self.outbound.with_for_update()
        self.outbound_by_message_id = select(outbound_requests).where(
            c.smev_message_id == bindparam("id")
        )
