"""The journal and the relay when the PostgreSQL pair of ``tests/support/replicated.py`` fails
over or loses its synchronous standby.

A commit that waits for a standby that is gone must end, within the journal's timeout, as the
retryable ``DatabaseUnavailableError`` (PostgreSQL itself would wait forever); pooled
connections to a primary that has gone are replaced before use; and of two relays one
publishes again within the two seconds the README promises once the new primary takes
writes: the advisory lock does not move with the data, so they must contend for it afresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from hub.canonical.ids import event_id_for
from hub.journal.engine import make_engine, transaction
from hub.journal.errors import DatabaseUnavailableError
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.sql import SqlJournal
from hub.routing.api import Outgoing, ParkedReplay
from hub.routing.topology import build_topology
from hub.services.relay import Relay
from tests.support.notices import running
from tests.support.replicated import PostgresPair, pair_for_test
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

TIMEOUT = 1.5  # the journal's statement and commit timeout in these tests
HANDOVER = 2.0  # README: a standby relay takes over within two seconds


@pytest.fixture
def pair() -> Iterator[PostgresPair]:
    with pair_for_test() as running_pair:
        yield running_pair


class RecordingBus:
    """Records when each event was published (the lead, not the broker, is under test)."""

    def __init__(self) -> None:
        self.published: dict[str, float] = {}

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        now = time.monotonic()
        for message in messages:
            self.published.setdefault(message.message_id or "", now)

    def replay_parked(self, limit: int) -> ParkedReplay:
        return ParkedReplay()


def _events(journal: SqlJournal, tag: str, count: int) -> list[str]:
    """``count`` processed messages with one event each; the events' ids."""
    ids = []
    for n in range(count):
        message = InboundMessage("test", f"{tag}-{n}", b"<x/>", received_at=datetime.now(UTC))
        event = NewEvent(event_id_for(message.inbox_id, 0), "test.event", f"s{n}", b"{}")
        journal.receive_processed([(message, Outcome(message.inbox_id, [event]))])
        ids.append(event.event_id)
    return ids


def _stop_standby(pair: PostgresPair) -> None:
    """Stop the synchronous standby at once: the primary still waits for it at every commit."""
    folder = pair.folders[pair.standby]
    pair._pg("pg_ctl", "-D", str(folder), "-m", "immediate", "-w", "stop")


def test_a_commit_waiting_for_a_missing_standby_is_a_retryable_outage(
    pair: PostgresPair,
) -> None:
    journal = SqlJournal(pair.url(), create=True, timeout=TIMEOUT)
    try:
        _events(journal, "before", 1)
        _stop_standby(pair)
        began = time.monotonic()
        with pytest.raises(DatabaseUnavailableError, match="no commit within") as caught:
            _events(journal, "stuck", 1)
        waited = time.monotonic() - began
        assert caught.value.retryable
        assert TIMEOUT <= waited < TIMEOUT + 3  # cancelled when due, not hanging
        # Reads take no commit wait: the journal still answers them.
        assert journal.pending_events(10)
    finally:
        journal.close()
    print(f"\ncommit without its standby: DatabaseUnavailableError after {waited:.1f} s")


def test_a_statement_longer_than_the_timeout_is_a_retryable_outage(pg_url: str) -> None:
    engine = make_engine(pg_url, timeout=0.5)
    try:
        with pytest.raises(DatabaseUnavailableError), transaction(engine) as connection:
            connection.execute(text("SELECT pg_sleep(5)"))
        with transaction(engine) as connection:  # the next one goes through
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_pooled_connections_to_the_old_primary_are_replaced_before_use(
    pair: PostgresPair,
) -> None:
    journal = SqlJournal(pair.url(), create=True, timeout=TIMEOUT)
    try:
        before = _events(journal, "before", 3)  # the pool holds connections to the primary
        pair.failover()
        after = _events(journal, "after", 3)  # no error: pinged, found dead, replaced
        pending = {event.event_id for event in journal.pending_events(10)}
        assert pending == {*before, *after}
    finally:
        journal.close()


def _published(buses: Sequence[RecordingBus], ids: Sequence[str]) -> bool:
    return all(any(i in bus.published for bus in buses) for i in ids)


def test_the_standby_relay_takes_over_within_two_seconds_of_a_failover(
    pair: PostgresPair,
) -> None:
    """The leader reaches only the old primary (a process left behind): the standby relay,
    on the pair's multi-host URL, must notice that its own connection died with the old
    primary and take the lead on the new one, though nothing told it the leader is gone."""
    writer = SqlJournal(pair.url(), create=True, timeout=TIMEOUT)
    old_only = f"postgresql+psycopg://postgres@127.0.0.1:{pair.primary}/{pair.database}"
    journals = [SqlJournal(old_only, timeout=TIMEOUT), SqlJournal(pair.url(), timeout=TIMEOUT)]
    leader, standby = RecordingBus(), RecordingBus()
    topology = build_topology("failover", agencies=("zags",))
    relays = [Relay(j, b, topology) for j, b in zip(journals, (leader, standby), strict=True)]  # type: ignore[arg-type]
    try:
        with running(relays[0]):
            first = _events(writer, "before", 5)
            wait_for(lambda: _published([leader], first))
            with running(relays[1]):
                time.sleep(0.5)  # the standby waits for the lock
                pair.failover()
                failed_over = time.monotonic()
                later = _events(writer, "after", 5)
                wait_for(lambda: _published([standby], later), timeout=30)
        handover = max(standby.published[i] for i in later) - failed_over
        assert handover <= HANDOVER, f"published {handover:.1f} s after the failover"
        assert not any(i in leader.published for i in later)
    finally:
        for journal in [writer, *journals]:
            journal.close()
    print(f"\nthe standby relay published {handover:.1f} s after the failover")


def test_one_relay_publishes_again_within_two_seconds_of_a_failover(
    pair: PostgresPair,
) -> None:
    writer = SqlJournal(pair.url(), create=True, timeout=TIMEOUT)
    journals = [SqlJournal(pair.url(), timeout=TIMEOUT) for _ in range(2)]
    buses = [RecordingBus(), RecordingBus()]
    topology = build_topology("failover", agencies=("zags",))
    relays = [Relay(j, b, topology) for j, b in zip(journals, buses, strict=True)]  # type: ignore[arg-type]
    try:
        with running(*relays):
            first = _events(writer, "before", 5)
            wait_for(lambda: _published(buses, first))
            promoted = pair.failover()
            failed_over = time.monotonic()
            later = _events(writer, "after", 5)
            wait_for(lambda: _published(buses, later), timeout=30)
        published = [min(b.published[i] for b in buses if i in b.published) for i in later]
        handover = max(published) - failed_over
        assert handover <= HANDOVER, f"published {handover:.1f} s after the failover"
        assert sum(any(i in b.published for i in later) for b in buses) == 1  # one leader
    finally:
        for journal in [writer, *journals]:
            journal.close()
    print(f"\nfailover in {promoted:.1f} s; relays publishing again within {handover:.1f} s")
