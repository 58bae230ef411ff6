"""The PostgreSQL primary and synchronous standby of ``tests/replicated.py`` and the hub's
journal on them: after a failover a committed row is still there, and the journal's multi-host
URL (``target_session_attrs=read-write``) finds the new primary by itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy import text

from hub.journal.engine import make_engine
from hub.journal.errors import DatabaseUnavailableError
from hub.journal.records import InboundMessage
from hub.journal.sql import SqlJournal
from tests.support.replicated import PostgresPair, pair_for_test

pytestmark = pytest.mark.integration

_T = TypeVar("_T")


@pytest.fixture
def pair() -> Iterator[PostgresPair]:
    with pair_for_test() as running:
        print("\npair timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in running.timings.items()))
        yield running


def _receive(journal: SqlJournal, name: str) -> str:
    """One inbound message committed through the journal; its inbox id."""
    message = InboundMessage("test", name, b"<x/>", received_at=datetime.now(UTC))
    journal.receive([message])
    return message.inbox_id


def _retrying(action: Callable[[], _T], timeout: float = 20) -> _T:
    """``action`` again while the database is unavailable (as the hub's services retry):
    the pool's connections to the stopped primary fail once each before new ones are made."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except DatabaseUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _server(url: str) -> tuple[int, bool]:
    """The port of the server a libpq URL reaches, and whether it is a standby."""
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def test_the_standby_replicates_synchronously(pair: PostgresPair) -> None:
    assert not pair.in_recovery(pair.primary)
    assert pair.in_recovery(pair.standby)
    assert _server(pair.libpq_url()) == (pair.primary, False)


def test_a_failover_keeps_what_was_committed_and_the_url_follows_the_primary(
    pair: PostgresPair,
) -> None:
    journal = SqlJournal(pair.url(), create=True)
    try:
        before = _receive(journal, "before")
        old = pair.primary
        promoted = pair.failover()
        began = time.monotonic()
        after = _retrying(lambda: _receive(journal, "after"))
        writing = time.monotonic() - began
        assert pair.primary != old
        assert journal.inbox(before) is not None  # committed before: the standby had it
        assert journal.inbox(after) is not None
    finally:
        journal.close()
    assert _server(pair.libpq_url()) == (pair.primary, False)
    engine = make_engine(pair.url())
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT inet_server_port()")).scalar() == pair.primary
    finally:
        engine.dispose()
    print(f"\nfailover: promoted in {promoted:.1f} s, journal writing again {writing:.1f} s later")


def test_sqlalchemy_refuses_a_libpq_host_list_in_the_authority() -> None:
    """Why ``PostgresPair.url`` puts the hosts in the query: SQLAlchemy reads a port out of
    ``host1:p1,host2:p2`` and fails before libpq could see it."""
    url = "postgresql+psycopg://postgres@127.0.0.1:5432,127.0.0.1:5433/hub"
    with pytest.raises(ValueError, match="invalid literal for int"):
        make_engine(url + "?target_session_attrs=read-write")
