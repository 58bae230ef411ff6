"""``Journal.health_counts`` on SQLite and PostgreSQL: the backlog ``hub health`` reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.canonical.ids import event_id_for
from hub.journal.records import (
    Failure,
    HealthCounts,
    InboundMessage,
    NewEvent,
    OutboundState,
    Outcome,
)
from hub.journal.sql import SqlJournal

pytestmark = pytest.mark.contract

T0 = datetime(2024, 3, 1, 8, 30, 15, 250_000, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJournal]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'journal.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    with SqlJournal(url, create=True) as opened:
        yield opened


def receive(journal: SqlJournal, external_id: str, minutes: int) -> str:
    """Store a message received ``minutes`` after T0; its inbox id."""
    at = T0 + timedelta(minutes=minutes)
    message = InboundMessage("smev", external_id, b"<x/>", "zags", "rogdinf", None, {}, at)
    [received] = journal.receive([message])
    return received.inbox_id


def events(inbox_id: str, count: int) -> list[NewEvent]:
    return [
        NewEvent(event_id_for(inbox_id, i), "person.changed", f"p-{inbox_id}", b"{}")
        for i in range(count)
    ]


def no_outbound(**counts: int) -> dict[OutboundState, int]:
    return {state: counts.get(state.value, 0) for state in OutboundState}


def test_an_empty_journal_has_no_backlog(journal: SqlJournal) -> None:
    assert journal.health_counts() == HealthCounts(0, None, 0, 0, no_outbound())


def test_counts_follow_the_messages_through_their_states(journal: SqlJournal) -> None:
    done, failed, late, early = (receive(journal, f"m{i}", m) for i, m in enumerate((1, 2, 9, 3)))
    journal.start_attempts([done, failed, late, early])
    journal.complete(
        [
            Outcome(done, events=events(done, 3)),
            Outcome(failed, failure=Failure("SchemaValidationError", "bad")),
        ]
    )
    journal.mark_published([event_id_for(done, 0)])
    counts = journal.health_counts()
    assert (counts.inbox_unfinished, counts.oldest_unfinished_at) == (2, T0 + timedelta(minutes=3))
    assert (counts.outbox_pending, counts.failed_open) == (2, 1)


def test_the_oldest_unfinished_moves_on_when_it_is_processed(journal: SqlJournal) -> None:
    first, second = receive(journal, "a", 0), receive(journal, "b", 5)
    journal.start_attempts([first, second])
    journal.complete([Outcome(first)])
    assert journal.health_counts().oldest_unfinished_at == T0 + timedelta(minutes=5)
    journal.complete([Outcome(second)])
    assert journal.health_counts().oldest_unfinished_at is None


def test_outbound_requests_are_counted_per_state(journal: SqlJournal) -> None:
    for n in range(4):
        journal.create_outbound(f"r{n}", "pfr", "snils", b"<q/>", f"msg-{n}")
    journal.transition_outbound("r0", OutboundState.SENT)
    journal.transition_outbound("r1", OutboundState.SENT)
    journal.transition_outbound("r1", OutboundState.ACCEPTED)
    journal.transition_outbound("r2", OutboundState.FAILED, error="refused")
    counts = journal.health_counts().outbound_by_state
    assert counts == no_outbound(pending=1, sent=1, accepted=1, failed=1)
