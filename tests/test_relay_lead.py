"""One relay publishes per journal: on PostgreSQL an advisory lock decides which, the others
wait and take over when the leader goes away."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url

from hub.canonical.ids import event_id_for
from hub.journal.errors import DatabaseUnavailableError
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.sql import SqlJournal
from hub.routing.api import Outgoing, ParkedReplay
from hub.routing.topology import build_topology
from hub.services.relay import Relay
from tests.support.notices import running
from tests.support.proxy import SSL_MODES, database_through, proxy, uses_tls
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


class RecordingBus:
    """Records what a relay publishes (the lock, not the broker, is under test here)."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        self.published.extend(m.message_id or "" for m in messages)

    def replay_parked(self, limit: int) -> ParkedReplay:
        return ParkedReplay()  # nothing parked


def _events(journal: SqlJournal, first: int, count: int) -> None:
    for n in range(first, first + count):
        message = InboundMessage("test", f"m-{n}", b"<x/>", received_at=datetime.now(UTC))
        event = NewEvent(event_id_for(message.inbox_id, 0), "test.event", f"s{n}", b"{}")
        journal.receive_processed([(message, Outcome(message.inbox_id, [event]))])


def test_one_relay_leads_and_a_standby_takes_over(pg_url: str) -> None:
    topology = build_topology("lead", agencies=("zags",))
    journals = [SqlJournal(pg_url, create=True), SqlJournal(pg_url)]
    buses = [RecordingBus(), RecordingBus()]
    relays = [Relay(j, b, topology, idle_wait=0.01) for j, b in zip(journals, buses, strict=True)]  # type: ignore[arg-type]
    stops = [threading.Event(), threading.Event()]
    threads = [
        threading.Thread(target=r.run, args=(s,)) for r, s in zip(relays, stops, strict=True)
    ]
    try:
        threads[0].start()
        _events(journals[0], 0, 5)
        wait_for(lambda: len(buses[0].published) == 5)
        threads[1].start()
        _events(journals[0], 5, 5)
        wait_for(lambda: len(buses[0].published) == 10)
        time.sleep(1)
        assert buses[1].published == []  # the standby publishes nothing while the leader lives
        stops[0].set()
        threads[0].join(10)
        _events(journals[0], 10, 5)
        wait_for(lambda: len(buses[1].published) == 5, failure="the standby did not take over")
        assert set(buses[0].published).isdisjoint(buses[1].published)
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            if thread.is_alive() or thread.ident:
                thread.join(10)
        for journal in journals:
            journal.close()


def test_the_leader_wakes_when_events_are_written_not_by_polling(pg_url: str) -> None:
    writer, reader = SqlJournal(pg_url, create=True), SqlJournal(pg_url)
    stop, woke = threading.Event(), threading.Event()
    try:
        with reader.lead("relay-wake", stop) as lease:
            assert lease is not None and lease.notified
            lease.wait_for_events(stop, 0.01)  # nothing written: the timeout ends the wait

            def wait() -> None:
                lease.wait_for_events(stop, 30)
                woke.set()

            waiter = threading.Thread(target=wait)
            waiter.start()
            assert not woke.wait(0.5)  # asleep, not polling
            _events(writer, 1000, 1)
            assert woke.wait(10)  # the commit's notification, long before the 30 s timeout
            waiter.join()
    finally:
        writer.close()
        reader.close()


def test_without_notifications_the_lease_waits_its_timeout(tmp_path: object) -> None:
    journal = SqlJournal(f"sqlite:///{tmp_path}/hub.db", create=True)
    stop = threading.Event()
    try:
        with journal.lead("relay", stop) as lease:
            assert lease is not None and not lease.notified
            started = time.monotonic()
            lease.wait_for_events(stop, 0.2)
            assert time.monotonic() - started >= 0.2
    finally:
        journal.close()


def test_the_leading_relay_applies_the_retention_period(tmp_path: object) -> None:
    journal = SqlJournal(f"sqlite:///{tmp_path}/hub.db", create=True)
    old = InboundMessage("test", "old", b"<x/>", received_at=datetime(2026, 1, 1, tzinfo=UTC))
    recent = InboundMessage("test", "recent", b"<x/>", received_at=datetime.now(UTC))
    journal.receive_processed([(m, Outcome(m.inbox_id)) for m in (old, recent)])
    relay = Relay(journal, RecordingBus(), build_topology("t", ("zags",), (1,)))  # type: ignore[arg-type]
    relay.retention = timedelta(days=30)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: journal.inbox(old.inbox_id) is None)
    finally:
        stop.set()
        thread.join(10)
    assert journal.inbox(recent.inbox_id) is not None
    [entry] = [e for e in journal.audit_log() if e.action == "purge"]
    assert (entry.actor, entry.details["deleted"]) == ("hub relay (retention)", 1)


# --- database cuts while the leader sleeps on its lease (psycopg's own call) ------------------


def _proxied(pg_url: str) -> tuple[str, int]:
    url = make_url(pg_url)
    return url.host or "127.0.0.1", url.port or 5432


@pytest.mark.parametrize("sslmode", SSL_MODES, ids=["sslmode-as-offered", "sslmode-require"])
def test_a_cut_while_the_leader_waits_is_database_unavailable(
    pg_url: str, sslmode: str | None
) -> None:
    SqlJournal(pg_url, create=True).close()
    stop = threading.Event()
    with proxy(*_proxied(pg_url)) as db:
        journal = SqlJournal(database_through(db, pg_url, sslmode))
        try:
            with journal.lead("relay-cut", stop) as lease:
                assert lease is not None
                threading.Timer(0.3, db.cut).start()
                with pytest.raises(DatabaseUnavailableError, match="lost the lead"):
                    lease.wait_for_events(stop, 30)
        finally:
            journal.close()


def _database_quiet(pg_url: str, seconds: float) -> bool:
    """Whether no other session touched the test database for ``seconds`` (a relay that sleeps
    on its lease; a publishing relay queries without pause)."""
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(
            "SELECT bool_and(state = 'idle' AND state_change < now() - make_interval(secs => %s))"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            (seconds,),
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.slow
@pytest.mark.parametrize("sslmode", SSL_MODES, ids=["sslmode-as-offered", "sslmode-require"])
def test_the_relay_survives_database_cuts_while_it_sleeps_on_its_lease(
    pg_url: str, sslmode: str | None
) -> None:
    writer = SqlJournal(pg_url, create=True)
    bus = RecordingBus()
    with proxy(*_proxied(pg_url)) as db:
        url = database_through(db, pg_url, sslmode)
        assert uses_tls(url) == uses_tls(pg_url)  # the proxy passes TLS through as it is
        journal = SqlJournal(url)
        topology = build_topology("cut", agencies=("zags",))
        relay = Relay(journal, bus, topology, notified_wait=3, check_lead_every=3600)  # type: ignore[arg-type]
        try:
            with running(relay):
                for round_ in range(2):
                    _events(writer, 5 * round_, 5)
                    wait_for(
                        lambda n=5 * round_ + 5: len(set(bus.published)) == n,
                        failure=f"round {round_}",
                    )
                    wait_for(lambda: _database_quiet(pg_url, 0.3))
                    db.cut()  # the leader is in psycopg's notifies(), waiting up to 3 s
                    db.restore()
                _events(writer, 10, 5)
                wait_for(lambda: len(set(bus.published)) == 15, timeout=30)
        finally:
            journal.close()
            writer.close()
