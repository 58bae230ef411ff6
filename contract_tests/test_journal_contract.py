"""One contract for every journal: SQLite (a temporary file) and PostgreSQL (a fresh database).

Whatever the backend, the hub's promises hold: a delivery is stored once, events are written
once and keep their order per subject, failures are kept whole, operators' actions are audited
and the outbound state machine refuses moves it does not know.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from hub.canonical.ids import event_id_for
from hub.journal.errors import InvalidTransitionError, NotFoundError, ReasonRequiredError
from hub.journal.records import (
    OUTBOUND_TRANSITIONS,
    AuditOutcome,
    AuditQuery,
    Completion,
    FailedStatus,
    Failure,
    InboundMessage,
    InboxStatus,
    NewEvent,
    NewOutbound,
    OutboundState,
    Outcome,
    Received,
    Settlement,
)
from hub.journal.sql import SqlJournal, failed_id_for

pytestmark = pytest.mark.contract

BINARY = "Привет, реестр студентов ✓".encode() + bytes(range(256)) + b"\x00\xff\x00"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def journal(journal_url: str) -> Iterator[SqlJournal]:
    with SqlJournal(journal_url, create=True) as opened:
        yield opened


def message(
    external_id: str,
    raw: bytes = b"<x/>",
    *,
    agency: str = "fns",
    headers: dict[str, str] | None = None,
    received_at: datetime | None = None,
) -> InboundMessage:
    return InboundMessage(
        "smev", external_id, raw, agency, "income", "text/xml", headers or {}, received_at
    )


def event(inbox_id: str, position: int = 0, subject: str = "person-1") -> NewEvent:
    payload = f"{inbox_id}:{position}".encode()
    return NewEvent(event_id_for(inbox_id, position), "registry.changed", subject, payload)


def started(journal: SqlJournal, *external_ids: str) -> list[str]:
    """Receive messages and count their first attempt; their inbox ids."""
    received = journal.receive([message(e) for e in external_ids])
    journal.start_attempts([r.inbox_id for r in received])
    return [r.inbox_id for r in received]


def fail(journal: SqlJournal, inbox_id: str, reason: str = "schema violation") -> None:
    failure = Failure("SchemaValidationError", reason, f"Traceback: {reason}", "fp-schema")
    journal.complete([Outcome(inbox_id, failure=failure)])


# --- inbox -------------------------------------------------------------------------------


def test_receive_stores_new_messages_before_processing(journal: SqlJournal) -> None:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    msg = message("m-1", BINARY, headers={"x-hub-trace": "трасса"}, received_at=at)
    assert journal.receive([msg]) == [Received(msg.inbox_id, False, InboxStatus.RECEIVED)]
    stored = journal.inbox(msg.inbox_id)
    assert stored is not None
    assert (stored.raw, stored.headers, stored.received_at) == (BINARY, msg.headers, at)
    assert (stored.status, stored.attempts, stored.processed_at) == (InboxStatus.RECEIVED, 0, None)
    assert (stored.source, stored.external_id, stored.agency) == ("smev", "m-1", "fns")
    assert (stored.kind, stored.content_type) == ("income", "text/xml")


def test_redelivery_in_the_same_batch_is_a_duplicate(journal: SqlJournal) -> None:
    first, other = message("m-1"), message("m-2")
    results = journal.receive([first, other, message("m-1", b"<changed/>")])
    assert [(r.inbox_id, r.duplicate) for r in results] == [
        (first.inbox_id, False),
        (other.inbox_id, False),
        (first.inbox_id, True),
    ]
    stored = journal.inbox(first.inbox_id)
    assert stored is not None and stored.raw == b"<x/>"  # the first copy is kept


def test_redelivery_across_batches_reports_the_current_status(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    journal.complete([Outcome(inbox_id, events=[event(inbox_id)])])
    [again] = journal.receive([message("m-1")])
    assert (again.duplicate, again.status) == (True, InboxStatus.PROCESSED)


def test_start_attempts_counts_only_received_messages_in_given_order(journal: SqlJournal) -> None:
    a, b, c = (r.inbox_id for r in journal.receive([message(x) for x in "abc"]))
    journal.start_attempts([a])
    journal.complete([Outcome(a)])
    records = journal.start_attempts([c, a, "no-such-id", b, c])
    assert [(r.inbox_id, r.attempts) for r in records] == [(c, 1), (b, 1)]
    assert [r.attempts for r in journal.start_attempts([b])] == [2]
    assert journal.start_attempts([]) == []


def test_unfinished_finds_messages_left_behind(journal: SqlJournal) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    never, tried, done = (message(x, received_at=long_ago) for x in ("never", "tried", "done"))
    journal.receive([never, tried, done])
    journal.start_attempts([tried.inbox_id, done.inbox_id])
    journal.complete([Outcome(done.inbox_id)])
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    assert journal.unfinished(ten_minutes_ago, 10) == [never.inbox_id]
    soon = datetime.now(UTC) + timedelta(seconds=5)
    assert journal.unfinished(soon, 10) == [never.inbox_id, tried.inbox_id]
    assert journal.unfinished(soon, 1) == [never.inbox_id]


# --- complete: events written once, in order ----------------------------------------------


def test_complete_writes_events_and_marks_processed(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    events = [event(inbox_id, 0), event(inbox_id, 1, "person-2"), event(inbox_id, 2)]
    [done] = journal.complete([Outcome(inbox_id, events=events)])
    assert done == Completion(inbox_id, InboxStatus.PROCESSED, 3)
    stored = journal.events_for(inbox_id)
    assert [e.event_id for e in stored] == [e.event_id for e in events]
    assert [(e.subject, e.subject_seq) for e in stored] == [
        ("person-1", 1),
        ("person-2", 1),
        ("person-1", 2),
    ]
    assert stored[0].payload == events[0].payload and stored[0].inbox_id == inbox_id
    record = journal.inbox(inbox_id)
    assert record is not None and record.status == InboxStatus.PROCESSED
    assert record.processed_at is not None


def test_complete_twice_writes_events_once(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    outcome = Outcome(inbox_id, events=[event(inbox_id)])
    first, in_batch = journal.complete([outcome, outcome])
    [later] = journal.complete([outcome])
    assert first.events_written == 1
    assert in_batch == later == Completion(inbox_id, InboxStatus.PROCESSED, 0)
    assert len(journal.events_for(inbox_id)) == 1


def test_concurrent_completion_of_one_message_writes_events_once(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    outcome = Outcome(inbox_id, events=[event(inbox_id), event(inbox_id, 1)])
    barrier, results = threading.Barrier(4), []

    def complete() -> None:
        barrier.wait()
        results.extend(journal.complete([outcome]))

    threads = [threading.Thread(target=complete) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.events_written for r in results) == [0, 0, 0, 2]
    assert {r.status for r in results} == {InboxStatus.PROCESSED}
    assert [e.subject_seq for e in journal.events_for(inbox_id)] == [1, 2]


def test_events_about_one_subject_keep_their_order(journal: SqlJournal) -> None:
    ids = started(journal, "m-1", "m-2", "m-3")
    journal.complete([Outcome(ids[0], events=[event(ids[0], subject="anna")])])
    journal.complete([Outcome(i, events=[event(i, subject="anna")]) for i in ids[1:]])
    pending = journal.pending_events(10)
    assert [(e.inbox_id, e.subject_seq) for e in pending] == [(i, n) for n, i in enumerate(ids, 1)]
    assert all(e.created_at.tzinfo is not None for e in pending)


def test_business_key_seen_before_makes_a_duplicate(journal: SqlJournal) -> None:
    a, b, c, d = started(journal, "a", "b", "c", "d")
    journal.complete([Outcome(a, events=[event(a)], business_key="snils:1")])
    results = journal.complete(
        [
            Outcome(b, events=[event(b)], business_key="snils:1"),
            Outcome(c, events=[event(c)], business_key="snils:2"),
            Outcome(d, events=[event(d)], business_key="snils:2"),
        ]
    )
    assert [(r.status, r.events_written) for r in results] == [
        (InboxStatus.DUPLICATE, 0),
        (InboxStatus.PROCESSED, 1),
        (InboxStatus.DUPLICATE, 0),
    ]
    assert journal.events_for(b) == journal.events_for(d) == []


def test_complete_refuses_unknown_messages(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    with pytest.raises(NotFoundError, match="no-such-id") as caught:
        journal.complete([Outcome(inbox_id), Outcome("no-such-id")])
    assert caught.value.details["missing"] == ["no-such-id"]
    record = journal.inbox(inbox_id)
    assert record is not None and record.status == InboxStatus.RECEIVED  # nothing was applied


# --- the worker's fast path: stored together with its outcome ------------------------------


def test_receive_processed_stores_message_outcome_and_one_attempt(journal: SqlJournal) -> None:
    done, broken, later = message("done", BINARY), message("broken"), message("later")
    failure = Failure("SchemaValidationError", "bad", "Traceback: bad", "fp")
    results = journal.receive_processed(
        [
            (done, Outcome(done.inbox_id, events=[event(done.inbox_id)], business_key="k:1")),
            (broken, Outcome(broken.inbox_id, failure=failure)),
            (later, None),  # a passing failure: stored, to be retried
        ]
    )
    assert results == [
        Received(done.inbox_id, False, InboxStatus.PROCESSED),
        Received(broken.inbox_id, False, InboxStatus.FAILED),
        Received(later.inbox_id, False, InboxStatus.RECEIVED),
    ]
    stored = [journal.inbox(m.inbox_id) for m in (done, broken, later)]
    assert [(r.status, r.attempts) for r in stored if r] == [
        (InboxStatus.PROCESSED, 1),
        (InboxStatus.FAILED, 1),
        (InboxStatus.RECEIVED, 1),
    ]
    assert stored[0] is not None and stored[0].raw == BINARY and stored[0].processed_at
    assert [e.subject_seq for e in journal.events_for(done.inbox_id)] == [1]
    [kept] = journal.failed()
    assert (kept.inbox_id, kept.attempts, kept.reason) == (broken.inbox_id, 1, "bad")


def test_receive_processed_leaves_stored_messages_alone(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    again, new = message("m-1", b"<resent/>"), message("m-2")
    results = journal.receive_processed(
        [
            (again, Outcome(inbox_id, events=[event(inbox_id)])),
            (new, Outcome(new.inbox_id)),
            (new, Outcome(new.inbox_id, events=[event(new.inbox_id)])),
        ]
    )
    assert [(r.duplicate, r.status) for r in results] == [
        (True, InboxStatus.RECEIVED),
        (False, InboxStatus.PROCESSED),
        (True, InboxStatus.PROCESSED),
    ]
    assert journal.events_for(inbox_id) == []  # the stored message's outcome was not applied
    assert journal.events_for(new.inbox_id) == []  # the first copy's outcome counts
    record = journal.inbox(inbox_id)
    assert record is not None and (record.raw, record.attempts) == (b"<x/>", 1)


def test_receive_processed_keeps_business_keys_and_subject_order(journal: SqlJournal) -> None:
    (first,) = started(journal, "a")
    journal.complete([Outcome(first, events=[event(first, subject="anna")], business_key="k")])
    b, c = message("b"), message("c")
    results = journal.receive_processed(
        [
            (b, Outcome(b.inbox_id, events=[event(b.inbox_id, subject="anna")], business_key="k")),
            (c, Outcome(c.inbox_id, events=[event(c.inbox_id, subject="anna")])),
        ]
    )
    assert [r.status for r in results] == [InboxStatus.DUPLICATE, InboxStatus.PROCESSED]
    assert journal.events_for(b.inbox_id) == []
    assert [e.subject_seq for e in journal.events_for(c.inbox_id)] == [2]
    assert journal.receive_processed([]) == []


# --- outbox --------------------------------------------------------------------------------


def test_pending_events_and_mark_published(journal: SqlJournal) -> None:
    ids = started(journal, "a", "b", "c")
    journal.complete([Outcome(i, events=[event(i, subject=i)]) for i in ids])
    first_two = journal.pending_events(2)
    assert len(first_two) == 2 and all(e.published_at is None for e in first_two)
    journal.mark_published([e.event_id for e in first_two])
    journal.mark_published([e.event_id for e in first_two])  # a relay crash: published again
    journal.mark_published([])
    rest = journal.pending_events(10)
    assert len(rest) == 1 and rest[0].event_id not in {e.event_id for e in first_two}
    published = journal.events_for(first_two[0].inbox_id or "")
    assert published[0].published_at is not None and published[0].published_at.tzinfo == UTC


# --- failures, replay, discard --------------------------------------------------------------


def test_failure_is_kept_whole(journal: SqlJournal) -> None:
    msg = message("m-1", BINARY)
    journal.receive([msg])
    journal.start_attempts([msg.inbox_id])
    journal.start_attempts([msg.inbox_id])
    failure = Failure("SchemaValidationError", "поле «СНИЛС» пусто", "Traceback…\n  line 1", "fp")
    before = datetime.now(UTC)
    [done] = journal.complete([Outcome(msg.inbox_id, failure=failure)])
    assert done == Completion(msg.inbox_id, InboxStatus.FAILED, 0)
    [kept] = journal.failed()
    assert kept.failed_id == failed_id_for(msg.inbox_id)
    assert (kept.error_type, kept.reason, kept.traceback) == (
        failure.error_type,
        failure.reason,
        failure.traceback,
    )
    assert (kept.attempts, kept.agency, kept.kind, kept.status) == (2, "fns", "income", "open")
    assert before <= kept.first_failed_at == kept.last_failed_at <= datetime.now(UTC)
    assert journal.failed_message(kept.failed_id) == kept
    stored = journal.inbox(msg.inbox_id)
    assert stored is not None and stored.raw == BINARY and stored.status == InboxStatus.FAILED


def test_failure_without_fingerprint_gets_one(journal: SqlJournal) -> None:
    a, b = started(journal, "a", "b")
    journal.complete([Outcome(i, failure=Failure("Boom", f"reason {i}")) for i in (a, b)])
    fingerprints = {f.fingerprint for f in journal.failed()}
    assert len(fingerprints) == 1 and "" not in fingerprints


def test_replay_requeues_and_audits(journal: SqlJournal) -> None:
    a, b = started(journal, "a", "b")
    fail(journal, a)
    fail(journal, b)
    ids = [failed_id_for(b), failed_id_for(a)]
    assert journal.reopen_for_replay(ids, "operator-1") == [b, a]
    for inbox_id in (a, b):
        record = journal.inbox(inbox_id)
        assert record is not None and (record.status, record.attempts) == ("received", 0)
    assert {f.status for f in journal.failed(status=None)} == {FailedStatus.REPLAYED}
    assert journal.failed() == []
    replayed = journal.failed_message(failed_id_for(a))
    assert replayed is not None and "operator-1" in (replayed.resolution or "")
    audit = journal.audit_log()
    assert [(e.actor, e.action) for e in audit] == [("operator-1", "replay")] * 2
    assert {e.target for e in audit} == set(ids)
    # A lost re-queue: replaying again is allowed and hands the message out again.
    assert journal.reopen_for_replay(ids[:1], "operator-1") == [b]
    assert journal.reopen_for_replay([], "operator-1") == []


def test_replay_of_unknown_or_discarded_failures_changes_nothing(journal: SqlJournal) -> None:
    a, b = started(journal, "a", "b")
    fail(journal, a)
    fail(journal, b)
    with pytest.raises(NotFoundError, match="nope") as caught:
        journal.reopen_for_replay([failed_id_for(a), "nope"], "op")
    assert caught.value.details["missing"] == ["nope"]
    journal.discard(failed_id_for(b), "op", "duplicate of a paper request")
    with pytest.raises(InvalidTransitionError, match="discarded"):
        journal.reopen_for_replay([failed_id_for(a), failed_id_for(b)], "op")
    record = journal.inbox(a)
    assert record is not None and record.status == InboxStatus.FAILED


def test_refailure_after_replay_updates_the_same_row(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    fail(journal, inbox_id, "first reason")
    first = journal.failed_message(failed_id_for(inbox_id))
    [requeued] = journal.reopen_for_replay([failed_id_for(inbox_id)], "op")
    journal.start_attempts([requeued])
    journal.start_attempts([requeued])
    fail(journal, requeued, "second reason")
    [again] = journal.failed(status=None)
    assert first is not None and again.failed_id == first.failed_id
    assert (again.reason, again.traceback, again.status) == (
        "second reason",
        "Traceback: second reason",
        FailedStatus.OPEN,
    )
    assert again.attempts == 3  # one before the replay, two after
    assert again.first_failed_at == first.first_failed_at < again.last_failed_at
    assert again.resolution is None


def test_replay_never_writes_an_existing_event_again(journal: SqlJournal, journal_url: str) -> None:
    (inbox_id,) = started(journal, "m-1")
    events = [event(inbox_id, 0), event(inbox_id, 1)]
    journal.complete([Outcome(inbox_id, events=events[:1], business_key="snils:1")])
    # A message processed once and failed later (e.g. under an older hub version): put it
    # back to "received" behind the journal's back, then let it fail and be replayed.
    engine = create_engine(journal_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE inbox SET status = 'received' WHERE inbox_id = :id"), {"id": inbox_id}
        )
    engine.dispose()
    fail(journal, inbox_id)
    [requeued] = journal.reopen_for_replay([failed_id_for(inbox_id)], "op")
    journal.start_attempts([requeued])
    [done] = journal.complete([Outcome(inbox_id, events=events, business_key="snils:1")])
    assert done == Completion(inbox_id, InboxStatus.PROCESSED, 1)  # its own key: no duplicate
    stored = journal.events_for(inbox_id)
    assert [(e.event_id, e.subject_seq) for e in stored] == [
        (events[0].event_id, 1),
        (events[1].event_id, 2),
    ]


def test_failed_filters_newest_first(journal: SqlJournal) -> None:
    received = journal.receive(
        [message("a", agency="fns"), message("b", agency="pfr"), message("c", agency="fns")]
    )
    a, b, c = (r.inbox_id for r in received)
    journal.start_attempts([a, b, c])
    fail(journal, a)
    journal.complete([Outcome(b, failure=Failure("Timeout", "slow", "", "fp-timeout"))])
    fail(journal, c)
    assert [f.inbox_id for f in journal.failed()] == [c, b, a]
    assert [f.inbox_id for f in journal.failed(agency="fns")] == [c, a]
    assert [f.inbox_id for f in journal.failed(error_type="Timeout")] == [b]
    assert [f.inbox_id for f in journal.failed(fingerprint="fp-schema")] == [c, a]
    assert [f.inbox_id for f in journal.failed(limit=1)] == [c]
    cut = journal.failed()[1].last_failed_at
    assert [f.inbox_id for f in journal.failed(since=cut)] == [c, b]
    journal.discard(failed_id_for(a), "op", "sent by mistake")
    assert [f.inbox_id for f in journal.failed(status=FailedStatus.DISCARDED)] == [a]
    assert journal.failed(since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_failed_groups_by_fingerprint(journal: SqlJournal) -> None:
    a, b, c, d = started(journal, "a", "b", "c", "d")
    fail(journal, a, "old reason")
    fail(journal, b, "new reason")
    journal.complete([Outcome(c, failure=Failure("Timeout", "slow", "", "fp-timeout"))])
    fail(journal, d)
    journal.discard(failed_id_for(d), "op", "not ours")  # discarded: no longer in a group
    schema, timeout = journal.failed_groups()
    assert (schema.fingerprint, schema.count, schema.reason) == ("fp-schema", 2, "new reason")
    assert schema.error_type == "SchemaValidationError" and schema.agency == "fns"
    assert schema.first_failed_at < schema.last_failed_at
    assert (timeout.fingerprint, timeout.count) == ("fp-timeout", 1)
    assert journal.failed_groups(error_type="Timeout") == [timeout]
    assert journal.failed_groups(agency="nobody") == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert journal.failed_groups(since=later) == []


def test_discard_needs_a_reason_and_is_audited(journal: SqlJournal) -> None:
    (inbox_id,) = started(journal, "m-1")
    fail(journal, inbox_id)
    failed_id = failed_id_for(inbox_id)
    with pytest.raises(ReasonRequiredError):
        journal.discard(failed_id, "op", "   ")
    journal.discard(failed_id, "op", "the agency withdrew the request")
    kept = journal.failed_message(failed_id)
    assert kept is not None and kept.status == FailedStatus.DISCARDED
    assert "the agency withdrew the request" in (kept.resolution or "")
    record = journal.inbox(inbox_id)
    assert record is not None and record.status == InboxStatus.DISCARDED
    [entry] = journal.audit_log()
    assert (entry.actor, entry.action, entry.target) == ("op", "discard", failed_id)
    assert entry.reason == "the agency withdrew the request"
    assert entry.details == {"inbox_id": inbox_id}
    with pytest.raises(InvalidTransitionError, match="discarded"):
        journal.discard(failed_id, "op", "again")
    with pytest.raises(NotFoundError):
        journal.discard("no-such-failure", "op", "why not")


def test_audit_log_is_newest_first(journal: SqlJournal) -> None:
    for n in range(5):
        journal.audit("op", "config", f"target-{n}", f"reason {n}", {"n": n, "ok": True})
    entries = journal.audit_log(limit=3)
    assert [e.target for e in entries] == ["target-4", "target-3", "target-2"]
    assert entries[0].details == {"n": 4, "ok": True}
    assert entries[0].at.tzinfo is not None and entries[0].at >= entries[1].at


def test_audit_log_pages_and_filters_within_a_scope(journal: SqlJournal) -> None:
    school, other = "45201/4520100012", "45201/4520100099"
    for n in range(7):
        journal.audit(
            f"Иванова (operator@{school}, tok{n % 2:09d})",
            "reveal",
            f"f-{n}",
            "why",
            {"n": n},
            scope=school,
        )
    journal.audit("Петров (operator@45201, tok000000009)", "reveal", "f-other", "", {}, scope=other)
    denial = {"action": "reveal", "code": "ACCESS_DENIED"}
    journal.audit("Иванова (auditor@x, tok000000000)", "denied", "f-x", "no", denial, scope=school)
    journal.audit("client 10.0.0.1", "denied", "authenticate", "", {"action": "authenticate"})
    journal.audit("admin_%", "purge", "inbox", "", {})
    mine = journal.audit_log(100, school)
    assert len(mine) == 8 and {e.scope for e in mine} == {school}

    first = journal.audit_log(3, school, AuditQuery(action="reveal"))
    second = journal.audit_log(3, school, AuditQuery(action="reveal", before=first[-1].entry_id))
    third = journal.audit_log(3, school, AuditQuery(action="reveal", before=second[-1].entry_id))
    pages = [[e.target for e in page] for page in (first, second, third)]
    assert pages == [["f-x", "f-6", "f-5"], ["f-4", "f-3", "f-2"], ["f-1", "f-0"]]
    back = journal.audit_log(3, school, AuditQuery(action="reveal", after=third[0].entry_id))
    assert [e.target for e in back] == ["f-4", "f-3", "f-2"]

    allowed = AuditQuery(action="reveal", outcome=AuditOutcome.ALLOWED, actor="TOK000000001")
    assert [e.target for e in journal.audit_log(100, school, allowed)] == ["f-5", "f-3", "f-1"]
    denied = journal.audit_log(100, None, AuditQuery(outcome=AuditOutcome.DENIED))
    assert [e.target for e in denied] == ["authenticate", "f-x"]
    logins = journal.audit_log(100, "*", AuditQuery(action="authenticate"))
    assert [e.actor for e in logins] == ["client 10.0.0.1"]
    # What an auditor types is a value, never a pattern or SQL.
    assert [e.actor for e in journal.audit_log(100, None, AuditQuery(actor="_%"))] == ["admin_%"]
    for hostile in ("%", "' OR 1=1 --", "\\", "reveal' --"):
        assert journal.audit_log(100, None, AuditQuery(actor=hostile, action=hostile)) == []


# --- outbound requests ------------------------------------------------------------------------

_PATH_TO = {
    OutboundState.PENDING: [],
    OutboundState.SENT: [OutboundState.SENT],
    OutboundState.ACCEPTED: [OutboundState.SENT, OutboundState.ACCEPTED],
}


def test_outbound_creation_is_idempotent(journal: SqlJournal) -> None:
    created, new = journal.create_outbound("req-1", "fns", "income", BINARY, "smev-1")
    again, new_again = journal.create_outbound("req-1", "fns", "income", b"other", "smev-2")
    assert (new, new_again) == (True, False)
    assert again == created and again.payload == BINARY
    assert (created.state, created.attempts, created.smev_message_id) == ("pending", 0, "smev-1")
    assert created.created_at.tzinfo is not None and journal.outbound("req-1") == created
    assert journal.outbound("nope") is None


def test_every_allowed_outbound_move(journal: SqlJournal) -> None:
    for n, (start, targets) in enumerate(OUTBOUND_TRANSITIONS.items()):
        for target in targets:
            request_id = f"req-{n}-{target}"
            journal.create_outbound(request_id, "fns", "income", b"x", f"msg-{request_id}")
            for step in _PATH_TO.get(start, []):
                journal.transition_outbound(request_id, step)
            moved = journal.transition_outbound(request_id, target, error="e")
            assert moved.state == target and moved.error == "e"


def test_refused_outbound_moves_name_both_states(journal: SqlJournal) -> None:
    journal.create_outbound("req-1", "fns", "income", b"x", "msg-1")
    with pytest.raises(InvalidTransitionError, match="from pending to answered") as caught:
        journal.transition_outbound("req-1", OutboundState.ANSWERED)
    assert caught.value.details["from_state"] == "pending"
    for step in (OutboundState.SENT, OutboundState.ACCEPTED, OutboundState.ANSWERED):
        journal.transition_outbound("req-1", step)
    for state in OutboundState:
        with pytest.raises(InvalidTransitionError, match=f"from answered to {state}"):
            journal.transition_outbound("req-1", state)
    with pytest.raises(NotFoundError):
        journal.transition_outbound("nope", OutboundState.SENT)


def test_outbound_resend_with_a_new_message_id_and_correlation(journal: SqlJournal) -> None:
    journal.create_outbound("req-1", "fns", "income", b"x", "msg-1")
    sent = journal.transition_outbound("req-1", OutboundState.SENT)
    resent = journal.transition_outbound("req-1", OutboundState.SENT, smev_message_id="msg-2")
    assert (sent.attempts, resent.attempts, resent.smev_message_id) == (1, 2, "msg-2")
    assert resent.updated_at >= sent.updated_at >= sent.created_at
    assert journal.outbound_by_message_id("msg-1") is None
    journal.transition_outbound("req-1", OutboundState.ACCEPTED)
    answered = journal.transition_outbound("req-1", OutboundState.ANSWERED, answer_inbox_id="in-1")
    assert (answered.answer_inbox_id, answered.attempts) == ("in-1", 2)
    assert journal.outbound_by_message_id("msg-2") == answered


# --- data kept exactly ---------------------------------------------------------------------


def test_naive_datetimes_are_refused(journal: SqlJournal) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        journal.receive([message("m-1", received_at=naive)])
    with pytest.raises(ValueError, match="timezone-aware"):
        journal.unfinished(naive, 10)


def test_times_come_back_aware_in_utc(journal: SqlJournal) -> None:
    noon_utc = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    msg = message("m-1", received_at=noon_utc.astimezone(ZoneInfo("Europe/Moscow")))
    journal.receive([msg])
    stored = journal.inbox(msg.inbox_id)
    assert stored is not None and stored.received_at == noon_utc
    assert stored.received_at.utcoffset() == timedelta(0)


def test_big_payloads_are_kept_byte_for_byte(journal: SqlJournal) -> None:
    big = (BINARY * (5 * 1024 * 1024 // len(BINARY) + 1))[: 5 * 1024 * 1024]
    msg = message("big", big)
    journal.receive([msg])
    [record] = journal.start_attempts([msg.inbox_id])
    assert record.raw == big
    big_event = NewEvent(event_id_for(msg.inbox_id, 0), "registry.changed", "person-1", big)
    journal.complete([Outcome(msg.inbox_id, events=[big_event])])
    [published] = journal.pending_events(1)
    assert published.payload == big


def _asks(inbox_id: str, request_id: str = "req-1") -> Outcome:
    ask = NewOutbound(request_id, "zags", "rogdinf", BINARY, f"msg-{request_id}", {"n": "Иван"})
    return Outcome(inbox_id, outbound=[ask])


def test_an_outcome_asks_an_agency_once(journal: SqlJournal) -> None:
    first, again = started(journal, "command-1", "command-1-resent")
    journal.complete([_asks(first)])
    journal.complete([_asks(again)])  # the registry sent the same request id twice
    stored = journal.outbound("req-1")
    assert stored is not None
    assert (stored.state, stored.payload, stored.context) == ("pending", BINARY, {"n": "Иван"})
    assert (stored.inbox_id, stored.smev_message_id, stored.reply_to) == (first, "msg-req-1", None)
    assert journal.outbound_by_message_id("msg-req-1") == stored


def test_a_duplicate_asks_nothing_and_a_failure_only_what_it_carries(
    journal: SqlJournal,
) -> None:
    # A failure carries only what the processor puts there: the answer a refused message
    # still owes its sender (an applicant told to correct the application); stored once.
    a, b, c = started(journal, "a", "b", "c")
    failure = Failure("AgencySchemaError", "bad")
    journal.complete(
        [Outcome(a, business_key="k"), Outcome(b, (), "k", outbound=_asks(b).outbound)]
    )
    journal.complete([Outcome(c, failure=failure, outbound=_asks(c, "req-2").outbound)])
    assert journal.outbound("req-1") is None
    told = journal.outbound("req-2")
    assert told is not None and told.state is OutboundState.PENDING and told.inbox_id == c


def test_a_resent_fact_is_not_applied_twice_but_its_request_is_answered(
    journal: SqlJournal,
) -> None:
    first, resent = started(journal, "notice", "notice-resent")

    def noticed(inbox_id: str) -> Outcome:
        reply = NewOutbound(
            f"reply:{inbox_id}", "zags", "ack", BINARY, f"msg-{inbox_id}", reply_to=f"to-{inbox_id}"
        )
        ask = NewOutbound(f"ask:{inbox_id}", "zags", "rogdinf", BINARY, f"ask-{inbox_id}")
        return Outcome(
            inbox_id, events=[event(inbox_id)], business_key="zags:1:1", outbound=[reply, ask]
        )

    journal.complete([noticed(first)])
    [duplicate] = journal.complete([noticed(resent)])
    assert duplicate.status == InboxStatus.DUPLICATE and duplicate.events_written == 0
    answer = journal.outbound(f"reply:{resent}")
    assert answer is not None and (answer.reply_to, answer.inbox_id) == (f"to-{resent}", resent)
    assert journal.outbound(f"ask:{resent}") is None  # only the answer, nothing else it asked
    assert journal.outbound(f"reply:{first}") is not None


@pytest.mark.parametrize("waiting", [OutboundState.SENT, OutboundState.ACCEPTED])
def test_an_answer_settles_a_waiting_request_once(
    journal: SqlJournal, waiting: OutboundState
) -> None:
    command, answer, second = started(journal, "command", "answer", "second-answer")
    journal.complete([_asks(command)])
    for step in _PATH_TO[waiting]:
        journal.transition_outbound("req-1", step)
    journal.complete([Outcome(answer, settles=Settlement("req-1", OutboundState.ANSWERED))])
    settled = journal.complete(
        [Outcome(second, settles=Settlement("req-1", OutboundState.REJECTED, "late"))]
    )
    stored = journal.outbound("req-1")
    assert stored is not None and settled[0].status == InboxStatus.PROCESSED
    assert (stored.state, stored.answer_inbox_id, stored.error) == ("answered", answer, None)


def test_an_answer_before_the_request_went_out_changes_nothing(journal: SqlJournal) -> None:
    command, answer = started(journal, "command", "answer")
    journal.complete([_asks(command)])
    journal.complete([Outcome(answer, settles=Settlement("req-1", OutboundState.ANSWERED))])
    stored = journal.outbound("req-1")
    assert stored is not None and stored.state == "pending"


def _outbound(journal: SqlJournal, *names: str) -> None:
    for name in names:
        journal.create_outbound(name, "zags", "rogdinf", BINARY, f"smev-{name}")


def test_a_sender_claims_pending_requests_oldest_first_once(journal: SqlJournal) -> None:
    _outbound(journal, "req-1", "req-2", "req-3")
    first = journal.claim_outbound(2, timedelta(minutes=5))
    assert [(r.request_id, r.state, r.attempts) for r in first] == [
        ("req-1", OutboundState.SENT, 1),
        ("req-2", OutboundState.SENT, 1),
    ]
    assert [r.request_id for r in journal.claim_outbound(10, timedelta(minutes=5))] == ["req-3"]
    assert journal.claim_outbound(10, timedelta(minutes=5)) == []  # all in flight, none stale


def test_a_request_sent_long_ago_without_acceptance_goes_again_with_its_id(
    journal: SqlJournal,
) -> None:
    _outbound(journal, "req-1", "req-2")
    journal.claim_outbound(10, timedelta(minutes=5))
    journal.transition_outbound("req-2", OutboundState.ACCEPTED)  # SMEV took this one
    [again] = journal.claim_outbound(10, timedelta(0))
    assert (again.request_id, again.smev_message_id, again.attempts) == ("req-1", "smev-req-1", 2)
    assert journal.claim_outbound(10, timedelta(0))[0].attempts == 3
    journal.transition_outbound("req-1", OutboundState.FAILED, error="gave up")
    assert journal.claim_outbound(10, timedelta(0)) == []


def test_concurrent_senders_never_claim_the_same_request(journal: SqlJournal) -> None:
    names = [f"req-{n:03d}" for n in range(60)]
    _outbound(journal, *names)
    claimed: list[list[str]] = [[], [], []]

    def sender(mine: list[str]) -> None:
        while batch := journal.claim_outbound(7, timedelta(minutes=5)):
            mine.extend(r.request_id for r in batch)

    threads = [threading.Thread(target=sender, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [name for mine in claimed for name in mine]
    assert sorted(everything) == names  # each exactly once


def test_accepted_moves_only_requests_still_sent(journal: SqlJournal) -> None:
    _outbound(journal, "req-1", "req-2", "req-3")
    journal.claim_outbound(2, timedelta(minutes=5))  # req-1 and req-2 go out
    [answer] = started(journal, "answer")  # answered before SMEV's acceptance was noted
    journal.complete([Outcome(answer, settles=Settlement("req-2", OutboundState.ANSWERED))])
    assert journal.mark_accepted(["req-1", "req-2", "req-3", "req-404"]) == 1
    states = {n: journal.outbound(n).state for n in ("req-1", "req-2", "req-3")}  # type: ignore[union-attr]
    assert states == {"req-1": "accepted", "req-2": "answered", "req-3": "pending"}
    assert journal.mark_accepted([]) == 0


def test_one_batch_settles_many_requests(journal: SqlJournal) -> None:
    names = [f"req-{n}" for n in range(5)]
    _outbound(journal, *names)
    journal.claim_outbound(10, timedelta(minutes=5))
    answers = started(journal, *(f"answer-{n}" for n in range(5)))
    journal.complete(
        [
            Outcome(a, settles=Settlement(n, OutboundState.ANSWERED))
            for a, n in zip(answers, names, strict=True)
        ]
    )
    assert {journal.outbound(n).state for n in names} == {"answered"}  # type: ignore[union-attr]


def _asked(journal: SqlJournal, scope: str, names: list[str], reply: bool = False) -> None:
    """Outbound messages of ``scope`` stored as processing stores them (pending)."""
    msg = message(f"cmd-{scope}-{names[0]}")
    asks = [
        NewOutbound(
            n,
            "gosuslugi",
            "application-accepted" if reply else "rogdinf",
            BINARY,
            f"smev-{n}",
            reply_to=f"to-{n}" if reply else None,
            scope=scope,
        )
        for n in names
    ]
    journal.receive_processed([(msg, Outcome(msg.inbox_id, outbound=asks))])


def test_outbound_counts_come_from_the_database_by_state_requests_and_replies_apart(
    journal: SqlJournal,
) -> None:
    waiting = [f"ask-{n:02d}" for n in range(42)]  # more than any list the console shows
    _asked(journal, "45201/1", [*waiting, "ask-sent", "ask-pending"])
    _asked(journal, "45201/1", ["reply-1", "reply-2", "reply-3"], reply=True)
    _asked(journal, "45202/1", ["theirs-1", "theirs-2"])
    journal.claim_outbound(100, timedelta(minutes=5))  # all go out, then SMEV takes them
    journal.mark_accepted([*waiting, "reply-1", "reply-2", "reply-3", "theirs-1"])
    journal.transition_outbound("ask-pending", OutboundState.FAILED, error="gave up")
    mine = journal.outbound_counts(scope="45201")
    assert mine.requests[OutboundState.ACCEPTED] == 42 and mine.replies[OutboundState.ACCEPTED] == 3
    assert (mine.waiting_on_agency, mine.waiting_on_hub, mine.replies_delivered) == (42, 1, 3)
    assert mine.by_state()[OutboundState.ACCEPTED] == 45
    assert mine.by_state()[OutboundState.FAILED] == 1
    assert set(mine.requests) == set(mine.replies) == set(OutboundState)  # zeros included
    everywhere = journal.outbound_counts()
    assert (everywhere.waiting_on_agency, everywhere.waiting_on_hub) == (43, 2)
    assert journal.outbound_counts(scope="45202").waiting_on_agency == 1
    assert journal.outbound_counts(scope="").by_state() == dict.fromkeys(OutboundState, 0)


def test_outbound_requests_lists_requests_or_replies_apart(journal: SqlJournal) -> None:
    _asked(journal, "45201/1", ["ask-1", "ask-2"])
    _asked(journal, "45201/1", ["reply-1"], reply=True)
    asks = journal.outbound_requests(scope="45201", replies=False)
    assert sorted(r.request_id for r in asks) == ["ask-1", "ask-2"]
    [reply] = journal.outbound_requests(state=OutboundState.PENDING, replies=True)
    assert (reply.request_id, reply.reply_to) == ("reply-1", "to-reply-1")
    assert len(journal.outbound_requests(scope="45201")) == 3
