"""One relay publishes per journal: on PostgreSQL an advisory lock decides which, the others
wait and take over when the leader goes away."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from hub.journal.api import InboundMessage, NewEvent, Outcome, event_id_for
from hub.journal.sql import SqlJournal
from hub.relay import Relay
from hub.routing.api import Outgoing
from hub.routing.topology import build_topology

pytestmark = pytest.mark.integration


class RecordingBus:
    """Records what a relay publishes (the lock, not the broker, is under test here)."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        self.published.extend(m.message_id or "" for m in messages)


def _events(journal: SqlJournal, first: int, count: int) -> None:
    for n in range(first, first + count):
        message = InboundMessage("test", f"m-{n}", b"<x/>", received_at=datetime.now(UTC))
        event = NewEvent(event_id_for(message.inbox_id, 0), "test.event", f"s{n}", b"{}")
        journal.receive_processed([(message, Outcome(message.inbox_id, [event]))])


def _wait(condition: object, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


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
        assert _wait(lambda: len(buses[0].published) == 5)
        threads[1].start()
        _events(journals[0], 5, 5)
        assert _wait(lambda: len(buses[0].published) == 10)
        time.sleep(1)
        assert buses[1].published == []  # the standby publishes nothing while the leader lives
        stops[0].set()
        threads[0].join(10)
        _events(journals[0], 10, 5)
        assert _wait(lambda: len(buses[1].published) == 5), "the standby did not take over"
        assert set(buses[0].published).isdisjoint(buses[1].published)
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            if thread.is_alive() or thread.ident:
                thread.join(10)
        for journal in journals:
            journal.close()
