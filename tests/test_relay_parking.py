"""No event silently dropped: the relay marks an event published only once a queue holds it,
offers parked events again, and backs off while nobody is bound for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kombu.connection import Connection

from hub.canonical.ids import event_id_for
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.sql import SqlJournal
from hub.routing.api import Outgoing, ParkedReplay
from hub.routing.bus import PublishNotConfirmedError, _match_returns, _Returned, delete_topology
from hub.routing.memory import MemoryBus
from hub.routing.topology import Topology, build_topology
from hub.services.relay import Relay

pytestmark = pytest.mark.unit

MEMORY = "memory://"


@pytest.fixture
def topology() -> Topology:
    # No registry queue: nobody is bound for any event.
    return build_topology(f"u{uuid.uuid4().hex[:10]}", registry_queue="")


@pytest.fixture
def bus(topology: Topology) -> Iterator[MemoryBus]:
    opened = MemoryBus(topology)
    opened.declare()
    try:
        yield opened
    finally:
        opened.close()
        delete_topology(MEMORY, topology)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqlJournal]:
    opened = SqlJournal(f"sqlite:///{tmp_path / 'hub.db'}", create=True)
    try:
        yield opened
    finally:
        opened.close()


def _write_events(journal: SqlJournal, count: int) -> list[str]:
    ids = []
    for n in range(count):
        message = InboundMessage("test", f"m-{n}", b"<x/>", received_at=datetime.now(UTC))
        event_id = event_id_for(message.inbox_id, 0)
        event = NewEvent(event_id, "enrollment.application.received", f"s{n}", b"{}")
        journal.receive_processed([(message, Outcome(message.inbox_id, [event]))])
        ids.append(event_id)
    return ids


def test_an_event_no_queue_takes_is_never_marked_published(
    bus: MemoryBus, topology: Topology, journal: SqlJournal
) -> None:
    ids = _write_events(journal, 3)
    with Connection(MEMORY) as connection:  # not even the parking queue is there
        connection.channel().queue_delete(topology.parked_queue.name)
    relay = Relay(journal, bus, topology)
    with pytest.raises(PublishNotConfirmedError):
        relay.publish_once()
    assert [e.event_id for e in journal.pending_events(10)] == ids


def test_an_event_nobody_is_bound_for_is_marked_published_only_once_parked(
    bus: MemoryBus, topology: Topology, journal: SqlJournal
) -> None:
    _write_events(journal, 3)
    relay = Relay(journal, bus, topology)
    assert (relay.publish_once(), relay.publish_once()) == (3, 0)  # one batch takes all
    assert journal.pending_events(10) == []
    assert bus.queue_depths()[topology.parked_queue.name] == 3


class _Parking:
    """A bus whose parked events stay parked, or all find a queue, as told."""

    def __init__(self, parked: int, delivering: bool) -> None:
        self.parked, self.delivering = parked, delivering

    def replay_parked(self, limit: int) -> ParkedReplay:
        taken = min(self.parked, limit)
        if self.delivering:
            self.parked -= taken
            return ParkedReplay(taken, 0)
        return ParkedReplay(taken, taken)


def _relay(bus: _Parking) -> Relay:
    topology = build_topology("t", ("zags",), (1,))
    return Relay(None, bus, topology, replay_every=10, replay_max_every=60, replay_limit=100)  # type: ignore[arg-type]


def _waits(relay: Relay, passes: int) -> list[float]:
    return [relay._next_replay(relay.replay_parked()) for _ in range(passes)]


def test_the_relay_backs_off_while_nobody_is_bound_for_parked_events() -> None:
    bus = _Parking(parked=5, delivering=False)
    relay = _relay(bus)
    assert _waits(relay, 4) == [20, 40, 60, 60]
    bus.delivering = True  # a consumer bound: back to the usual pace
    assert _waits(relay, 1) == [10]


def test_the_relay_replays_a_large_backlog_without_waiting_between_passes() -> None:
    relay = _relay(_Parking(parked=250, delivering=True))
    assert _waits(relay, 4) == [0, 0, 10, 10]  # 100, 100, 50, then nothing parked


def _out(key: str, message_id: str, body: bytes = b"x") -> Outgoing:
    return Outgoing(body, key, {}, message_id)


def test_returns_are_matched_to_their_own_messages_in_publishing_order() -> None:
    # Two messages with one routing key can fare differently (a binding made mid-batch):
    # a return names its message by id and body, never by key alone.
    batch = [_out("k", "a"), _out("k", "b"), _out("j", "c"), _out("k", "b")]
    returns = [_Returned("k", "b", b"x"), _Returned("k", "b", b"x")]
    assert _match_returns(batch, returns) == [batch[1], batch[3]]
    assert _match_returns(batch, []) == []


def test_a_return_that_matches_no_message_is_never_guessed() -> None:
    batch: Sequence[Outgoing] = [_out("k", "a")]
    with pytest.raises(PublishNotConfirmedError):
        _match_returns(batch, [_Returned("k", "a", b"other body")])
    with pytest.raises(PublishNotConfirmedError):  # each message stands for one return
        _match_returns(batch, [_Returned("k", "a", b"x"), _Returned("k", "a", b"x")])
