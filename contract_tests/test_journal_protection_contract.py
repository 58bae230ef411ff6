"""Protection of personal data in the journal, on SQLite and PostgreSQL: scopes on rows and
their filters, API tokens, activity counts, retention, and encryption at rest (nothing
readable in the database, keys checked before anything is written, rotation, values bound to
their rows)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text, update

from hub.canonical.ids import event_id_for
from hub.errors import ConfigurationError
from hub.journal import _keys
from hub.journal.migrate import alembic_config
from hub.journal.records import (
    Failure,
    InboundMessage,
    InboxStatus,
    NewEvent,
    NewOutbound,
    OutboundState,
    Outcome,
    TokenRecord,
)
from hub.journal.schema import (
    business_keys,
    failed_messages,
    inbox,
    key_checks,
    outbound_requests,
    outbox,
    subject_sequences,
)
from hub.journal.sql import SqlJournal
from hub.protection import AesGcmSealer, PlainSealer, Sealer, SealingError, parse_keyring

pytestmark = pytest.mark.contract

NAME = "Константинопольская"
SNILS = "112-233-445 95"
RAW = f"<Ответ><Фамилия>{NAME}</Фамилия><СНИЛС>{SNILS}</СНИЛС></Ответ>".encode()
KEY_A, KEY_B = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2))


def sealer(spec: str, active: str | None = None, index_key: bytes | None = None) -> Sealer:
    keyring = parse_keyring(spec, active)
    assert keyring is not None
    return AesGcmSealer(keyring, index_key)


def keys(*ids: str) -> str:
    material = {"a": KEY_A, "b": KEY_B}
    return ",".join(f"{key_id}:{material[key_id]}" for key_id in ids)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    found: str = request.getfixturevalue("pg_url")
    return found


@pytest.fixture
def journal(url: str) -> Iterator[SqlJournal]:
    with SqlJournal(url, create=True, sealer=sealer(keys("a"))) as opened:
        yield opened


def message(
    external_id: str, scope: str | None = None, raw: bytes = RAW, **kw: Any
) -> InboundMessage:
    return InboundMessage("smev", external_id, raw, "zags", "answer", "text/xml", scope=scope, **kw)


def an_event(inbox_id: str, subject: str = "student:1") -> NewEvent:
    payload = f'{{"name": "{NAME}", "snils": "{SNILS}"}}'.encode()
    return NewEvent(event_id_for(inbox_id, 0), "student.checked", subject, payload)


def failure(reason: str = f"bad value {NAME}") -> Failure:
    return Failure("SchemaValidationError", reason, f"Traceback: {SNILS}", "fp-1")


def processed(journal: SqlJournal, external_id: str, scope: str | None = None, **kw: Any) -> str:
    msg = message(external_id, **kw)
    outcome = Outcome(msg.inbox_id, events=[an_event(msg.inbox_id)], scope=scope)
    journal.receive_processed([(msg, outcome)])
    return msg.inbox_id


def failed(journal: SqlJournal, external_id: str, scope: str | None = None) -> str:
    msg = message(external_id)
    journal.receive([msg])
    journal.start_attempts([msg.inbox_id])
    journal.complete([Outcome(msg.inbox_id, failure=failure(), scope=scope)])
    return msg.inbox_id


def raw_rows(url: str, stmt: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(stmt).all())
    finally:
        engine.dispose()


def execute(url: str, stmt: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(stmt)
    finally:
        engine.dispose()


def as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value)
    return str(value).encode()


# --- scopes --------------------------------------------------------------------------------


def test_scopes_are_stored_and_outcomes_set_them(journal: SqlJournal) -> None:
    known = message("m-1", scope="45201/1")
    journal.receive([known])
    later = failed(journal, "m-2", scope="45201/2")
    unknown = processed(journal, "m-3")
    record = journal.inbox(known.inbox_id)
    assert record is not None and record.scope == "45201/1"
    assert (journal.inbox(later) or record).scope == "45201/2"
    assert (journal.inbox(unknown) or record).scope == ""
    [failure_row] = journal.failed()
    assert failure_row.scope == "45201/2"
    fast = message("m-4", scope="45203/1")
    journal.receive_processed([(fast, Outcome(fast.inbox_id, failure=failure()))])
    slow = message("m-5", scope="45203/1")
    journal.receive_processed([(slow, Outcome(slow.inbox_id, failure=failure(), scope="45203/2"))])
    assert {f.scope for f in journal.failed(scope="45203")} == {"45203/1", "45203/2"}
    assert (journal.inbox(slow.inbox_id) or pytest.fail()).scope == "45203/2"


def test_scope_filters_follow_covers(journal: SqlJournal) -> None:
    for external_id, scope in [
        ("m-1", "45201/1"),
        ("m-2", "45201"),
        ("m-3", "45202/1"),
        ("m-4", "452_1/x"),
        ("m-5", None),
    ]:
        failed(journal, external_id, scope=scope)

    def scopes(scope: str | None) -> set[str]:
        return {f.scope for f in journal.failed(scope=scope)}

    everything = {"45201/1", "45201", "45202/1", "452_1/x", ""}
    assert scopes(None) == scopes("*") == everything
    assert scopes("45201") == {"45201/1", "45201"}
    assert scopes("45201/1") == {"45201/1"}
    assert scopes("452_1") == {"452_1/x"}  # "_" is not a wildcard
    assert scopes("4520") == set()  # a prefix that is not a whole segment
    assert scopes("") == set()
    [group] = journal.failed_groups(scope="45202")
    assert group.count == 1 and NAME in group.reason
    assert journal.failed_groups(scope="*")[0].count == 5


def test_audit_log_and_outbound_requests_by_scope(journal: SqlJournal) -> None:
    journal.audit("op", "look", "t-1", "because", {}, scope="45201/1")
    journal.audit("op", "look", "t-2", "because", {})
    assert [e.target for e in journal.audit_log(scope="45201")] == ["t-1"]
    assert [e.target for e in journal.audit_log(scope="*")] == ["t-2", "t-1"]
    assert journal.audit_log(scope="45201")[0].scope == "45201/1"
    msg = message("cmd-1")
    asks = [
        NewOutbound(
            f"r-{i}", "pfr", "snils", RAW, f"s-{i}", {"person": {"snils": SNILS}}, scope=scope
        )
        for i, scope in enumerate(["45201/1", "45202/1"])
    ]
    journal.receive_processed([(msg, Outcome(msg.inbox_id, outbound=asks))])
    assert [r.request_id for r in journal.outbound_requests(scope="45201")] == ["r-0"]
    both = journal.outbound_requests(state=OutboundState.PENDING)
    assert {r.request_id for r in both} == {"r-0", "r-1"}
    assert journal.outbound_requests(state=OutboundState.SENT) == []
    assert both[0].context == {"person": {"snils": SNILS}} and both[0].payload == RAW


# --- tokens and activity --------------------------------------------------------------------


def test_tokens_are_stored_revoked_once_and_touched(journal: SqlJournal) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    record = TokenRecord(
        "abc123def456",
        "Ivanova",
        "operator",
        "45201",
        "f" * 64,
        now,
        "root",
        now + timedelta(days=30),
    )
    journal.add_token(record)
    assert journal.token("abc123def456") == record
    assert journal.token("nope") is None
    journal.touch_token("abc123def456", now + timedelta(minutes=1))
    assert journal.revoke_token("abc123def456", "root") is True
    assert journal.revoke_token("abc123def456", "root") is False
    assert journal.revoke_token("nope", "root") is False
    [stored] = journal.tokens()
    assert stored.revoked_at is not None and stored.last_used_at == now + timedelta(minutes=1)
    [entry] = journal.audit_log()
    assert (entry.actor, entry.action, entry.target, entry.scope) == (
        "root",
        "revoke_token",
        "abc123def456",
        "45201",
    )


def test_activity_counts_received_processed_and_failed_since(journal: SqlJournal) -> None:
    old = datetime.now(UTC) - timedelta(days=2)
    journal.receive([message("m-old", scope="45201/1", received_at=old)])
    processed(journal, "m-1", scope="45201/1")
    processed(journal, "m-2", scope="45202/1")
    failed(journal, "m-3", scope="45201/2")
    since = datetime.now(UTC) - timedelta(hours=1)
    everywhere = journal.activity(since)
    assert (everywhere.received, everywhere.processed, everywhere.failed) == (3, 2, 1)
    here = journal.activity(since, scope="45201")
    assert (here.received, here.processed, here.failed) == (2, 1, 1)


# --- retention ------------------------------------------------------------------------------


def test_purge_keeps_what_is_still_owed(journal: SqlJournal, url: str) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    gone = [processed(journal, f"m-{i}", received_at=old) for i in range(5)]
    journal.mark_published([e.event_id for e in journal.pending_events(100)])
    unpublished = processed(journal, "m-unpublished", received_at=old)
    kept_failed = failed(journal, "m-open")
    recent = processed(journal, "m-recent")
    discarded = failed(journal, "m-discarded")
    journal.discard(journal.failed()[0].failed_id, "op", "resent")
    execute(
        url,
        update(inbox).values(received_at=old).where(inbox.c.inbox_id.in_([kept_failed, discarded])),
    )
    deleted = journal.purge_processed(datetime.now(UTC) - timedelta(days=30), "root", batch=2)
    assert deleted == 6
    assert all(journal.inbox(i) is None and journal.events_for(i) == [] for i in gone)
    assert journal.inbox(discarded) is None
    for kept in (unpublished, kept_failed, recent):
        assert journal.inbox(kept) is not None
    assert len(journal.events_for(unpublished)) == 1
    assert [f.inbox_id for f in journal.failed(status=None)] == [kept_failed]
    entry = journal.audit_log(limit=1)[0]
    assert (entry.action, entry.details["deleted"]) == ("purge", 6)


# --- encryption at rest ---------------------------------------------------------------------


def test_sealed_columns_are_unreadable_in_the_database(journal: SqlJournal, url: str) -> None:
    done = processed(journal, "m-1")
    failed(journal, "m-2")
    msg = message("cmd")
    ask = NewOutbound("r-1", "pfr", "snils", RAW, "s-1", {"person": {"name": NAME, "snils": SNILS}})
    journal.receive_processed([(msg, Outcome(msg.inbox_id, outbound=[ask]))])
    columns = [
        inbox.c.raw,
        outbox.c.payload,
        failed_messages.c.reason,
        failed_messages.c.traceback,
        outbound_requests.c.payload,
        outbound_requests.c.context,
    ]
    for column in columns:
        values = [as_bytes(v) for (v,) in raw_rows(url, select(column))]
        assert values, column
        for value in values:
            for secret in (NAME.encode(), SNILS.encode(), b"112-233"):
                assert secret not in value, column
    record = journal.inbox(done)
    assert record is not None and record.raw == RAW
    [stored_failure] = journal.failed()
    assert NAME in stored_failure.reason and SNILS in stored_failure.traceback
    tables = [inbox, outbox, failed_messages, outbound_requests]
    assert {k for t in tables for (k,) in raw_rows(url, select(t.c.key_id))} == {"a"}


def test_indexes_hold_keyed_hashes_only(journal: SqlJournal, url: str) -> None:
    msg = message("m-1")
    key = f"zags:{SNILS}:1"
    first = Outcome(
        msg.inbox_id, events=[an_event(msg.inbox_id, "person:secret")], business_key=key
    )
    journal.receive_processed([(msg, first)])
    again = message("m-2")
    [result] = journal.receive_processed([(again, Outcome(again.inbox_id, business_key=key))])
    assert result.status == InboxStatus.DUPLICATE
    stored = [k for (k,) in raw_rows(url, select(business_keys.c.key))]
    subjects = [s for (s,) in raw_rows(url, select(subject_sequences.c.subject))]
    assert len(stored) == 1 and SNILS not in stored[0] and "zags" not in stored[0]
    assert len(subjects) == 1 and "secret" not in subjects[0]
    assert journal.events_for(msg.inbox_id)[0].subject == "person:secret"


def _counts(url: str) -> list[int]:
    return [len(raw_rows(url, select(t))) for t in (key_checks, inbox, outbox)]


def test_a_wrong_key_under_a_known_id_refuses_to_start(journal: SqlJournal, url: str) -> None:
    processed(journal, "m-1")
    journal.close()
    before = _counts(url)
    with pytest.raises(ConfigurationError, match="'a'") as caught:
        SqlJournal.open(url, sealer=sealer(f"a:{KEY_B}"))
    assert KEY_B not in str(caught.value) and KEY_A not in str(caught.value)
    assert _counts(url) == before  # nothing was written


def test_rows_under_a_key_not_configured_refuse_to_start(journal: SqlJournal, url: str) -> None:
    processed(journal, "m-1")
    journal.close()
    before = _counts(url)
    for other in (sealer(keys("b")), PlainSealer()):
        with pytest.raises(ConfigurationError, match="sealed under key 'a'"):
            SqlJournal.open(url, sealer=other)
    assert _counts(url) == before


def test_rotation_reseals_everything_under_the_active_key(journal: SqlJournal, url: str) -> None:
    ids = [processed(journal, f"m-{i}") for i in range(7)]
    failed(journal, "m-failed")
    msg = message("cmd")
    ask = NewOutbound("r-1", "pfr", "snils", RAW, "s-1", {"person": {"snils": SNILS}})
    journal.receive_processed([(msg, Outcome(msg.inbox_id, outbound=[ask]))])
    journal.close()
    with SqlJournal(url, sealer=sealer(keys("a", "b"))) as both:
        steps = list(both.rotate_keys(batch=3))
    assert steps[0] == (0, 7 + 7 + 1 + 1 + 1 + 1) and steps[-1] == (18, 18)
    tables = [inbox, outbox, failed_messages, outbound_requests]
    assert {k for t in tables for (k,) in raw_rows(url, select(t.c.key_id))} == {"b"}
    with SqlJournal(url, sealer=sealer(keys("b"))) as only_new:
        assert all((only_new.inbox(i) or pytest.fail()).raw == RAW for i in ids)
        assert (only_new.outbound("r-1") or pytest.fail()).context == {"person": {"snils": SNILS}}
        assert NAME in only_new.failed()[0].reason
        assert list(only_new.rotate_keys()) == [(0, 0)]
    with pytest.raises(ConfigurationError, match="'b'"):
        SqlJournal.open(url, sealer=sealer(keys("a")))


def test_a_value_moved_to_another_row_does_not_open(journal: SqlJournal, url: str) -> None:
    first, second = processed(journal, "m-1"), processed(journal, "m-2", raw=b"<other/>")
    [(blob,)] = raw_rows(url, select(inbox.c.raw).where(inbox.c.inbox_id == first))
    execute(url, update(inbox).where(inbox.c.inbox_id == second).values(raw=blob))
    with pytest.raises(SealingError, match="does not open"):
        journal.inbox(second)
    assert (journal.inbox(first) or pytest.fail()).raw == RAW


def test_a_changed_index_key_refuses_to_start(url: str) -> None:
    with SqlJournal(url, create=True, sealer=sealer(keys("a"), index_key=b"one")) as first:
        processed(first, "m-1")
    with pytest.raises(ConfigurationError, match="HUB_INDEX_KEY"):
        SqlJournal.open(url, sealer=sealer(keys("a"), index_key=b"two"))
    with SqlJournal(url, sealer=sealer(keys("a"))) as unset:  # the stored one is used
        assert unset.inbox(message("m-1").inbox_id) is not None


def test_an_existing_database_keeps_working_after_the_upgrade(url: str) -> None:
    command.upgrade(alembic_config(url=url), "0003")
    old = datetime.now(UTC) - timedelta(days=1)
    msg = message("m-old")
    execute(
        url,
        text(
            "INSERT INTO inbox (inbox_id, source, external_id, raw, headers, received_at, status, "
            "attempts) VALUES (:id, 'smev', 'm-old', :raw, '{}', :at, 'processed', 1)"
        ).bindparams(id=msg.inbox_id, raw=RAW, at=old.replace(tzinfo=None)),
    )
    execute(
        url,
        text("INSERT INTO business_keys VALUES ('zags:1:1', :id, :at)").bindparams(
            id=msg.inbox_id, at=old.replace(tzinfo=None)
        ),
    )
    execute(url, text("INSERT INTO subject_sequences VALUES ('student:1', 41)"))
    with SqlJournal(url, create=True, sealer=sealer(keys("a"))) as journal:
        assert (journal.inbox(msg.inbox_id) or pytest.fail()).raw == RAW
        resend = message("m-new")
        outcome = Outcome(
            resend.inbox_id, events=[an_event(resend.inbox_id)], business_key="zags:1:1"
        )
        assert journal.receive_processed([(resend, outcome)])[0].status == InboxStatus.DUPLICATE
        fresh = processed(journal, "m-fresh")
        assert journal.events_for(fresh)[0].subject_seq == 42  # the sequence goes on
        assert list(journal.rotate_keys())[-1] == (1, 1)  # the one row stored in clear
        assert (journal.inbox(msg.inbox_id) or pytest.fail()).raw == RAW
    [(key_id,)] = raw_rows(url, select(inbox.c.key_id).where(inbox.c.inbox_id == msg.inbox_id))
    assert key_id == "a"


def test_processes_starting_together_record_the_key_checks_once(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers: the race needs concurrent transactions")
    SqlJournal(url, create=True, sealer=sealer(keys("a"))).close()
    execute(url, key_checks.delete())  # a journal no process has started on yet
    first, second = (SqlJournal(url, sealer=sealer(keys("a"))) for _ in range(2))
    index_key = _keys._index_key

    def first_records_its_checks_meanwhile(vault: Any, stored: Any) -> bytes:
        monkeypatch.setattr(_keys, "_index_key", index_key)
        first.check_keys()
        return index_key(vault, stored)

    monkeypatch.setattr(_keys, "_index_key", first_records_its_checks_meanwhile)
    try:
        second.check_keys()
        processed(second, "m-1")
        assert second.inbox(message("m-1").inbox_id) is not None
    finally:
        first.close()
        second.close()
    names = sorted(name for (name,) in raw_rows(url, select(key_checks.c.name)))
    assert names == ["check:a", "index"]
