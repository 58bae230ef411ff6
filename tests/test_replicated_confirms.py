"""Publisher confirms across the loss of a broker node (the cluster of
``tests/support/replicated.py``): the relay publishes events while the node its connection is
on is killed. A confirm that never comes must lead to a re-publish, never to an event marked
published; at the end every event is in the registry's queue (repeated event ids allowed, the
registry drops them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.canonical.ids import event_id_for
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.sql import SqlJournal
from hub.routing.api import Delivery, Outgoing
from hub.routing.bus import KombuBus
from hub.routing.topology import Topology, build_topology
from hub.services.relay import Relay
from tests.support.notices import running
from tests.support.replicated import RabbitCluster, RabbitNode, cluster_for_test
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

EVENTS = 200  # modest: zero loss is the point, not volume
BATCH = 10  # events per writing transaction, so the relay publishes many small batches


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    with cluster_for_test() as running_cluster:
        yield running_cluster


class ConfirmLedger(KombuBus):
    """The hub's bus, keeping count of what the broker confirmed and what raised."""

    def __init__(self, url: str, topology: Topology) -> None:
        super().__init__(url, topology)
        self.confirmed: set[str] = set()
        self.failures = 0

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        try:
            super().publish(exchange, messages)
        except Exception:
            self.failures += 1
            raise
        self.confirmed.update(m.message_id or "" for m in messages)


class CheckedJournal(SqlJournal):
    """Refuses to mark an event published that the bus has not had confirmed."""

    ledger: ConfirmLedger
    unconfirmed_marks: list[str]

    def mark_published(self, event_ids: Sequence[str]) -> None:
        self.unconfirmed_marks.extend(i for i in event_ids if i not in self.ledger.confirmed)
        super().mark_published(event_ids)


def _write(journal: SqlJournal, stop: threading.Event, ids: list[str]) -> None:
    """``EVENTS`` events in transactions of ``BATCH``, spread over a few seconds."""
    for first in range(0, EVENTS, BATCH):
        if stop.is_set():
            return
        pairs = []
        for n in range(first, first + BATCH):
            message = InboundMessage("test", f"m-{n}", b"<x/>", received_at=datetime.now(UTC))
            event = NewEvent(event_id_for(message.inbox_id, 0), "test.event", f"s{n}", b"{}")
            pairs.append((message, Outcome(message.inbox_id, [event])))
            ids.append(event.event_id)
        journal.receive_processed(pairs)
        time.sleep(0.05)


def _drain(bus: KombuBus, queue: str, wanted: set[str], timeout: float = 30) -> set[str]:
    """Consume ``queue`` until every id of ``wanted`` came (or ``timeout``); the ids seen."""
    seen: set[str] = set()
    stop = threading.Event()

    def on_batch(batch: list[Delivery]) -> None:
        for delivery in batch:
            seen.add(str(delivery.headers.get("x-hub-event-id") or delivery.message_id))
            delivery.ack()
        if wanted <= seen:
            stop.set()

    consumer = threading.Thread(target=bus.consume, args=([queue], on_batch), kwargs={"stop": stop})
    consumer.start()
    try:
        stop.wait(timeout)
    finally:
        stop.set()
        consumer.join(10)
    return seen


def test_no_event_is_marked_published_without_a_confirm_when_a_node_dies(
    cluster: RabbitCluster, topology_prefix: str, tmp_path: Path
) -> None:
    topology = build_topology(topology_prefix, agencies=("zags",))
    bus = ConfirmLedger(cluster.url, topology)
    bus.declare()
    journal = CheckedJournal(f"sqlite:///{tmp_path / 'hub.db'}", create=True)
    journal.ledger, journal.unconfirmed_marks = bus, []
    ids: list[str] = []
    relay = Relay(journal, bus, topology, lead_backoff=0.5)
    try:
        with running(relay) as stop:
            writer = threading.Thread(target=_write, args=(journal, stop, ids))
            writer.start()
            wait_for(lambda: len(bus.confirmed) >= EVENTS // 4, timeout=30)
            cluster.kill(_publishing_node(cluster, bus))  # mid-stream: batches in flight
            writer.join(60)
            wait_for(lambda: not journal.pending_events(1), timeout=60)
        assert bus.failures >= 1  # the node's death did hit the relay's publishing
        assert journal.unconfirmed_marks == []
        survivors = KombuBus(";".join(cluster.urls[1:]), topology)
        try:
            assert topology.registry_queue is not None
            seen = _drain(survivors, topology.registry_queue.name, set(ids))
        finally:
            survivors.close()
        assert len(ids) == EVENTS
        assert set(ids) <= seen, f"{len(set(ids) - seen)} events lost"
    finally:
        bus.close()
        journal.close()
    print(f"\n{EVENTS} events, {bus.failures} publishes failed with the node: none lost")


def _publishing_node(cluster: RabbitCluster, bus: ConfirmLedger) -> RabbitNode:
    """The node the relay's publishing connection is on: each connection tries the nodes in
    its own shuffled order, so it is not the first of the list."""
    connection = bus._publisher
    assert connection is not None
    return next(node for node in cluster.nodes if node.port == connection.port)
