"""One contract for the bus: ``MemoryBus`` (kombu's memory transport) and ``KombuBus``
(RabbitMQ).

Whatever the broker, the hub's promises hold: messages arrive whole and in batches, each
agency has its queue and unknown agencies are kept, rejected messages are dead-lettered,
delayed retries come back to their work queue, a publish the broker did not take raises,
a stopped consumer gives back what it held, and messages outlive the bus that sent them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from hub.canonical.ids import event_id_for
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.sql import SqlJournal
from hub.routing.api import ATTEMPTS_HEADER, SOURCE_HEADER, Delivery, Outgoing, ParkedReplay
from hub.routing.bus import (
    BrokerRefusedError,
    KombuBus,
    PublishNotConfirmedError,
    TopologyConflictError,
    delete_topology,
)
from hub.routing.memory import MemoryBus
from hub.routing.topology import Topology, build_topology
from hub.services.relay import Relay
from tests.support.waiting import holds_within, wait_for

pytestmark = pytest.mark.contract

BINARY = "Сведения о рождении ✓".encode() + bytes(range(256)) + b"\x00\xff\x00"
DELAYS = (1, 3)
DELIVERY_LIMIT = 2


AnyBus = MemoryBus | KombuBus
MakeBus = Callable[[Topology], AnyBus]


@pytest.fixture(
    params=[
        pytest.param(MemoryBus, id="memory"),
        pytest.param(KombuBus, id="rabbitmq", marks=pytest.mark.integration),
    ]
)
def bus_class(request: pytest.FixtureRequest) -> type[AnyBus]:
    """The implementation under test."""
    chosen: type[AnyBus] = request.param
    return chosen


@pytest.fixture
def broker_url(bus_class: type[AnyBus], request: pytest.FixtureRequest) -> str:
    """Where the implementation's broker is, for the tests' own kombu connections."""
    if bus_class is MemoryBus:
        return "memory://"
    url: str = request.getfixturevalue("amqp_url")
    return url


@pytest.fixture
def make_bus(bus_class: type[AnyBus], broker_url: str) -> MakeBus:
    """A new bus of the implementation under test, for ``topology``."""
    if bus_class is MemoryBus:
        return MemoryBus
    return lambda topology: KombuBus(broker_url, topology)


@pytest.fixture
def topology(topology_prefix: str) -> Topology:
    return build_topology(topology_prefix, retry_delays=DELAYS, delivery_limit=DELIVERY_LIMIT)


@pytest.fixture
def bus(make_bus: MakeBus, broker_url: str, topology: Topology) -> Iterator[AnyBus]:
    opened = make_bus(topology)
    opened.declare()
    try:
        yield opened
    finally:
        opened.close()
        delete_topology(broker_url, topology, _test_queues(topology))


def _test_queues(topology: Topology) -> list[str]:
    return [f"{topology.prefix}.test.{n}" for n in "ab"]


def _message(n: int, key: str = "zags", **headers: Any) -> Outgoing:
    return Outgoing(f"message {n}".encode(), key, headers, f"id-{n}", "text/plain")


def _depth(bus: AnyBus, queue: str) -> int:
    return bus.queue_depths()[queue]


class Consuming:
    """``bus.consume`` in a thread; records batches and settles them as told."""

    def __init__(
        self, bus: AnyBus, queues: Sequence[str], settle: str = "ack", **options: Any
    ) -> None:
        self.bus, self.queues, self.settle, self.options = bus, list(queues), settle, options
        self.batches: list[list[Delivery]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Consuming:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "consume did not return after stop"

    def _run(self) -> None:
        try:
            self.bus.consume(self.queues, self._on_batch, stop=self.stop, **self.options)
        except BaseException as exc:  # reported by the test that waits
            self.error = exc

    def _on_batch(self, batch: list[Delivery]) -> None:
        self.batches.append(batch)
        for delivery in batch:
            if self.settle == "ack":
                delivery.ack()
            elif self.settle == "reject":
                delivery.reject()

    @property
    def received(self) -> list[Delivery]:
        return [d for batch in self.batches for d in batch]

    def wait(self, count: int, timeout: float = 10) -> list[Delivery]:
        holds_within(lambda: len(self.received) >= count or self.error is not None, timeout)
        if self.error is not None:
            raise self.error
        assert len(self.received) >= count, f"{len(self.received)} of {count} arrived"
        return self.received


def _bind_test_queue(url: str, topology: Topology, name: str, key: str) -> str:
    full = f"{topology.prefix}.test.{name}"
    exchange = Exchange(topology.events_exchange.name, "topic", durable=True)
    with Connection(url) as connection:
        Queue(full, exchange, routing_key=key, durable=True)(connection.channel()).declare()
    return full


# --- topology -----------------------------------------------------------------------------


def test_declare_is_idempotent(bus: AnyBus, topology: Topology) -> None:
    bus.declare()
    bus.declare()
    assert bus.queue_depths() == {q.name: 0 for q in topology.queues}


# --- publish and consume ----------------------------------------------------------------


def test_round_trip_keeps_body_headers_id_and_content_type(bus: AnyBus, topology: Topology) -> None:
    headers = {ATTEMPTS_HEADER: 2, SOURCE_HEADER: "smev", "x-hub-note": "запись"}
    sent = Outgoing(BINARY, "zags", headers, "msg-1", "application/xml")
    bus.publish(topology.inbound_exchange.name, [sent])
    with Consuming(bus, [topology.work_queue("zags").name]) as consuming:
        [got] = consuming.wait(1)
    assert got.body == BINARY
    assert got.routing_key == "zags"
    assert {k: got.headers[k] for k in headers} == headers
    assert got.message_id == "msg-1"
    assert got.content_type == "application/xml"
    assert got.queue == topology.work_queue("zags").name
    assert got.redelivered is False


def test_a_batch_of_mixed_sizes_arrives_whole_and_in_order(bus: AnyBus, topology: Topology) -> None:
    # Sizes around the reads' 64 KiB chunks and RabbitMQ's 128 KiB frames: a batch written in
    # one go must still be cut into messages exactly where they end.
    sizes = [0, 1, 7, 8, 1400, 65_535, 65_536, 65_537, 131_064, 131_072, 300_000, 3, 1400] * 4
    bodies = [bytes([n % 251]) * size + n.to_bytes(2, "big") for n, size in enumerate(sizes)]
    sent = [
        Outgoing(body, "zags", {}, f"id-{n}", "application/octet-stream")
        for n, body in enumerate(bodies)
    ]
    bus.publish(topology.inbound_exchange.name, sent)
    with Consuming(bus, [topology.work_queue("zags").name], max_batch=7) as consuming:
        received = consuming.wait(len(sent), timeout=20)
    assert [d.message_id for d in received] == [m.message_id for m in sent]
    assert [d.body for d in received] == bodies


def test_batches_never_exceed_max_batch(bus: AnyBus, topology: Topology) -> None:
    bus.publish(topology.inbound_exchange.name, [_message(n) for n in range(25)])
    with Consuming(bus, [topology.work_queue("zags").name], max_batch=10, max_wait=1) as c:
        received = c.wait(25)
    assert sorted(d.message_id or "" for d in received) == sorted(f"id-{n}" for n in range(25))
    assert max(len(b) for b in c.batches) == 10


def test_a_partial_batch_is_handed_over_after_max_wait(bus: AnyBus, topology: Topology) -> None:
    queue = topology.work_queue("zags").name
    with Consuming(bus, [queue], max_batch=100, max_wait=0.3) as consuming:
        time.sleep(0.3)  # consumer subscribed
        sent = time.monotonic()
        bus.publish(topology.inbound_exchange.name, [_message(n) for n in range(3)])
        consuming.wait(3, timeout=5)
        waited = time.monotonic() - sent
    assert [len(b) for b in consuming.batches] == [3]
    assert 0.25 <= waited < 2


def test_messages_are_routed_to_their_agency(bus: AnyBus, topology: Topology) -> None:
    messages = [_message(1, "zags"), _message(2, "pfr"), _message(3, "pfr")]
    bus.publish(topology.inbound_exchange.name, messages)
    expected = {topology.work_queue("zags").name: 1, topology.work_queue("pfr").name: 2}
    wait_for(lambda: {q: _depth(bus, q) for q in expected} == expected)
    assert _depth(bus, topology.work_queue("gosuslugi").name) == 0


def test_an_unknown_agency_is_kept_in_unrouted(bus: AnyBus, topology: Topology) -> None:
    bus.publish(topology.inbound_exchange.name, [_message(1, "fns")])
    with Consuming(bus, [topology.unrouted_queue.name]) as consuming:
        [got] = consuming.wait(1)
    assert (got.routing_key, got.message_id) == ("fns", "id-1")


def test_events_follow_wildcard_bindings(bus: AnyBus, topology: Topology, broker_url: str) -> None:
    births = _bind_test_queue(broker_url, topology, "a", "student.birth.*")
    everything = _bind_test_queue(broker_url, topology, "b", "student.#")
    events = [_message(1, "student.birth.verified"), _message(2, "student.death.registered")]
    bus.publish(topology.events_exchange.name, events)
    with Consuming(bus, [births, everything]) as consuming:
        consuming.wait(3)
        time.sleep(0.3)  # nothing more arrives
    by_queue = sorted((d.queue, d.routing_key) for d in consuming.received)
    assert by_queue == [
        (births, "student.birth.verified"),
        (everything, "student.birth.verified"),
        (everything, "student.death.registered"),
    ]


def test_events_wait_in_the_registry_queue_before_any_registry_consumes(
    bus: AnyBus, topology: Topology
) -> None:
    registry = topology.registry_queue
    assert registry is not None
    bus.publish(topology.events_exchange.name, [_message(1, "student.birth.verified")])
    assert _depth(bus, registry.name) == 1
    assert _depth(bus, topology.parked_queue.name) == 0
    with Consuming(bus, [registry.name]) as consuming:
        [got] = consuming.wait(1)
    assert (got.routing_key, got.message_id) == ("student.birth.verified", "id-1")


def test_publishers_in_several_threads_share_one_bus(bus: AnyBus, topology: Topology) -> None:
    def publish(thread: int) -> None:
        for n in range(0, 50, 10):
            batch = [_message(thread * 100 + n + i) for i in range(10)]
            bus.publish(topology.inbound_exchange.name, batch)

    with Consuming(bus, [topology.work_queue("zags").name]) as consuming:
        threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received = consuming.wait(200)
    assert len({d.message_id for d in received}) == 200


# --- events nobody is bound for ----------------------------------------------------------


@pytest.fixture
def unbound(
    make_bus: MakeBus, broker_url: str, topology_prefix: str
) -> Iterator[tuple[AnyBus, Topology]]:
    """A bus whose topology declares no registry queue: no queue is bound for any event."""
    topology = build_topology(
        topology_prefix, retry_delays=DELAYS, delivery_limit=DELIVERY_LIMIT, registry_queue=""
    )
    opened = make_bus(topology)
    opened.declare()
    try:
        yield opened, topology
    finally:
        opened.close()
        later = _with_registry(topology)  # what a test declared later goes too
        delete_topology(broker_url, later, _test_queues(later))


def _with_registry(topology: Topology) -> Topology:
    return build_topology(topology.prefix, retry_delays=DELAYS, delivery_limit=DELIVERY_LIMIT)


def _ids(deliveries: Sequence[Delivery]) -> list[str | None]:
    return [d.message_id for d in deliveries]


def test_events_nobody_is_bound_for_are_parked_and_delivered_once_bound(
    unbound: tuple[AnyBus, Topology], broker_url: str
) -> None:
    bus, topology = unbound
    parked = topology.parked_queue.name
    events = [
        _message(1, "student.birth.verified", **{"x-hub-subject-seq": 1}),
        _message(2, "person.name.changed"),
        _message(3, "student.birth.mismatch"),
    ]
    bus.publish(topology.events_exchange.name, events)
    assert _depth(bus, parked) == 3  # held: "published" is true
    assert bus.replay_parked() == ParkedReplay(taken=3, parked=3)  # still nobody bound
    births = _bind_test_queue(broker_url, topology, "a", "student.#")
    assert bus.replay_parked() == ParkedReplay(taken=3, parked=1)
    with Consuming(bus, [births]) as consuming:
        got = consuming.wait(2)
    assert _ids(got) == ["id-1", "id-3"]
    assert (got[0].body, got[0].routing_key, got[0].content_type) == (
        b"message 1",
        "student.birth.verified",
        "text/plain",
    )
    assert got[0].headers["x-hub-subject-seq"] == 1
    assert _depth(bus, parked) == 1
    with Consuming(bus, [parked]) as consuming:
        [left] = consuming.wait(1)
    assert (left.message_id, left.routing_key) == ("id-2", "person.name.changed")


def test_a_replay_that_fails_leaves_every_parked_event_parked(
    unbound: tuple[AnyBus, Topology], broker_url: str
) -> None:
    # A parked event is settled only after the events exchange has confirmed it again.
    bus, topology = unbound
    parked = topology.parked_queue.name
    bus.publish(
        topology.events_exchange.name, [_message(n, "student.birth.verified") for n in range(3)]
    )
    with Connection(broker_url) as connection:
        connection.channel().exchange_delete(topology.events_exchange.name)
    with pytest.raises(PublishNotConfirmedError):
        bus.replay_parked()
    wait_for(lambda: _depth(bus, parked) == 3)
    bus.declare()
    births = _bind_test_queue(broker_url, topology, "a", "student.#")
    assert bus.replay_parked() == ParkedReplay(taken=3, parked=0)
    with Consuming(bus, [births]) as consuming:
        assert sorted(_ids(consuming.wait(3))) == ["id-0", "id-1", "id-2"]


def test_a_mixed_batch_delivers_the_bound_and_parks_the_rest_in_order(
    unbound: tuple[AnyBus, Topology], broker_url: str
) -> None:
    # RabbitMQ returns the unroutable ones of a pipelined batch: each return must be matched
    # to its own message, identical bodies and repeated ids included.
    bus, topology = unbound
    births = _bind_test_queue(broker_url, topology, "a", "student.#")
    twin = Outgoing(b"same", "person.name.changed", {}, "id-twin", "text/plain")
    batch = [
        _message(1, "student.birth.verified"),
        twin,
        Outgoing(b"same", "person.name.changed", {}, "id-other", "text/plain"),
        _message(2, "student.birth.verified"),
        twin,
        _message(3, "person.death.registered"),
    ]
    bus.publish(topology.events_exchange.name, batch)
    with Consuming(bus, [births]) as consuming:
        assert _ids(consuming.wait(2)) == ["id-1", "id-2"]
    with Consuming(bus, [topology.parked_queue.name]) as consuming:
        parked = consuming.wait(4)
    assert _ids(parked) == ["id-twin", "id-other", "id-twin", "id-3"]
    assert [d.routing_key for d in parked][-1] == "person.death.registered"


def test_an_event_not_even_the_parking_queue_takes_is_refused(
    unbound: tuple[AnyBus, Topology], broker_url: str
) -> None:
    bus, topology = unbound
    with Connection(broker_url) as connection:
        connection.channel().queue_delete(topology.parked_queue.name)
    with pytest.raises(PublishNotConfirmedError) as caught:
        bus.publish(topology.events_exchange.name, [_message(1, "student.birth.verified")])
    assert caught.value.details["exchange"] == topology.parking_exchange.name
    assert caught.value.retryable


def test_every_event_the_relay_published_before_any_consumer_arrives_once_bound(
    unbound: tuple[AnyBus, Topology], make_bus: MakeBus, tmp_path: Path
) -> None:
    # Issue 14: services started before the registry; events confirmed, marked published,
    # and reaching nobody. Now each is held until the registry's queue is declared.
    bus, topology = unbound
    journal = SqlJournal(f"sqlite:///{tmp_path / 'hub.db'}", create=True)
    ids = _application_events(journal, 30)
    relay = Relay(journal, bus, topology, idle_wait=0.01, replay_every=0.1, replay_max_every=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: not journal.pending_events(100))
        # published = held somewhere: the relay's replay takes parked events out and puts
        # them back every 0.1 s, so the count is whole between two replays, not at every instant.
        wait_for(lambda: _depth(bus, topology.parked_queue.name) == 30)
        later = _with_registry(topology)
        make_bus(later).declare()  # the registry's queue, bound with #
        registry = later.registry_queue
        assert registry is not None
        with Consuming(bus, [registry.name]) as consuming:
            arrived = consuming.wait(30)
        assert sorted(_ids(arrived)) == sorted(ids)
        wait_for(lambda: _depth(bus, topology.parked_queue.name) == 0)
    finally:
        stop.set()
        thread.join(10)
        journal.close()


def _application_events(journal: SqlJournal, count: int) -> list[str]:
    ids = []
    for n in range(count):
        message = InboundMessage("test", f"m-{n}", b"<x/>", received_at=datetime.now(UTC))
        event = NewEvent(
            event_id_for(message.inbox_id, 0), "enrollment.application.received", f"s{n}", b"{}"
        )
        journal.receive_processed([(message, Outcome(message.inbox_id, [event]))])
        ids.append(event.event_id)
    return ids


# --- settling ---------------------------------------------------------------------------


def test_ack_removes_and_reject_dead_letters(bus: AnyBus, topology: Topology) -> None:
    work = topology.work_queue("pfr").name
    bus.publish(topology.inbound_exchange.name, [_message(1, "pfr"), _message(2, "pfr")])

    def settle(batch: list[Delivery]) -> None:
        for delivery in batch:
            delivery.ack() if delivery.message_id == "id-1" else delivery.reject()

    with Consuming(bus, [work], settle="none") as consuming:
        consuming.wait(2)
        for batch in consuming.batches:
            settle(batch)
    with Consuming(bus, [topology.dead_queue.name]) as dead:
        [got] = dead.wait(1)
    assert (got.message_id, got.routing_key, got.body) == ("id-2", "pfr", b"message 2")
    death = got.headers["x-death"][0]
    assert (death["queue"], death["reason"]) == (work, "rejected")
    assert _depth(bus, work) == 0


def test_acks_in_a_batch_settle_exactly_the_deliveries_acked(
    bus: AnyBus, topology: Topology
) -> None:
    # RabbitMQ gets one multiple-ack per batch where it can: it must never cover a delivery
    # the handler rejected or left open.
    work = topology.work_queue("zags").name
    bus.publish(topology.inbound_exchange.name, [_message(n) for n in range(6)])

    def on_batch(batch: list[Delivery]) -> None:
        for delivery in batch:
            if delivery.message_id == "id-2":
                delivery.reject()
            elif delivery.message_id != "id-0":  # id-0 stays open
                delivery.ack()

    stop = threading.Event()
    seen: list[Delivery] = []

    def handler(batch: list[Delivery]) -> None:
        on_batch(batch)
        seen.extend(batch)
        if len(seen) >= 6:
            stop.set()

    bus.consume([work], handler, stop=stop, max_batch=6, max_wait=0.5)
    wait_for(lambda: _depth(bus, work) == 1)
    with Consuming(bus, [work]) as again:
        [back] = again.wait(1)
    assert back.message_id == "id-0"
    with Consuming(bus, [topology.dead_queue.name]) as dead:
        assert [d.message_id for d in dead.wait(1)] == ["id-2"]


def test_a_stopped_consumer_gives_back_what_it_held(bus: AnyBus, topology: Topology) -> None:
    work = topology.work_queue("zags").name
    bus.publish(topology.inbound_exchange.name, [_message(n) for n in range(5)])
    with Consuming(bus, [work], settle="none", max_batch=2) as consuming:
        consuming.wait(2)
        stopped = time.monotonic()
        consuming.stop.set()
        consuming.thread.join(timeout=5)
    assert time.monotonic() - stopped < 1, "consume did not stop promptly"
    wait_for(lambda: _depth(bus, work) == 5)
    with Consuming(bus, [work]) as again:
        received = again.wait(5)
    assert sorted(d.message_id or "" for d in received) == [f"id-{n}" for n in range(5)]
    assert any(d.redelivered for d in received)


def test_messages_outlive_the_bus_that_sent_them(
    bus: AnyBus, topology: Topology, make_bus: MakeBus
) -> None:
    bus.publish(topology.inbound_exchange.name, [_message(n, "gosuslugi") for n in range(3)])
    bus.close()
    reopened = make_bus(topology)
    try:
        reopened.declare()
        queue = topology.work_queue("gosuslugi").name
        wait_for(lambda: _depth(reopened, queue) == 3)
        with Consuming(reopened, [queue]) as consuming:
            assert len(consuming.wait(3)) == 3
    finally:
        reopened.close()


# --- delayed retries ----------------------------------------------------------------------


def test_a_delayed_message_returns_to_its_work_queue_after_the_delay(
    bus: AnyBus, topology: Topology
) -> None:
    work = topology.work_queue("pfr").name
    retry = topology.retry_queue("inbound", 1).name
    started = time.monotonic()
    bus.publish_delayed(topology.inbound_exchange.name, [_message(7, "pfr", **{"x-hub-a": 1})], 0.4)
    assert _depth(bus, retry) == 1
    assert _depth(bus, work) == 0
    wait_for(lambda: _depth(bus, work) == 1, timeout=5)
    assert time.monotonic() - started >= 0.9
    with Consuming(bus, [work]) as consuming:
        [got] = consuming.wait(1)
    assert (got.routing_key, got.message_id, got.headers["x-hub-a"]) == ("pfr", "id-7", 1)
    assert "CC" not in got.headers


def test_a_delayed_command_keeps_its_routing_key(bus: AnyBus, topology: Topology) -> None:
    command = _message(8, "student.enrol.requested")
    bus.publish_delayed(topology.commands_exchange.name, [command], 2)  # the 3 s bucket
    time.sleep(1.5)
    assert _depth(bus, topology.commands_queue.name) == 0
    with Consuming(bus, [topology.commands_queue.name]) as consuming:
        [got] = consuming.wait(1, timeout=6)
    assert got.routing_key == "student.enrol.requested"


def test_queue_depths_count_this_topology_only(
    bus: AnyBus, topology: Topology, make_bus: MakeBus, broker_url: str
) -> None:
    other = build_topology(f"{topology.prefix}x", retry_delays=DELAYS)
    neighbour = make_bus(other)
    try:
        neighbour.declare()
        neighbour.publish_delayed(other.inbound_exchange.name, [_message(1)], 3)
        assert set(bus.queue_depths()) == {q.name for q in topology.queues}
        assert sum(bus.queue_depths().values()) == 0
        assert neighbour.queue_depths()[other.retry_queue("inbound", 3).name] == 1
    finally:
        neighbour.close()
        delete_topology(broker_url, other, _test_queues(other))


# --- confirms -----------------------------------------------------------------------------


def test_publishing_to_a_missing_exchange_raises(bus: AnyBus, topology: Topology) -> None:
    with pytest.raises(PublishNotConfirmedError):
        bus.publish(f"{topology.prefix}.no-such-exchange", [_message(1)])
    bus.publish(topology.inbound_exchange.name, [_message(2)])  # the bus recovers
    wait_for(lambda: _depth(bus, topology.work_queue("zags").name) == 1)


def test_an_unroutable_message_raises(bus: AnyBus, topology: Topology) -> None:
    with pytest.raises(PublishNotConfirmedError) as caught:
        bus.publish(topology.retry_exchange.name, [_message(1, "nowhere")])
    assert caught.value.details["routing_keys"] == ["nowhere"]


def test_consuming_a_missing_queue_is_refused(bus: AnyBus, topology: Topology) -> None:
    with pytest.raises(BrokerRefusedError):
        bus.consume([f"{topology.prefix}.no-such-queue"], lambda _b: None, stop=threading.Event())


# --- RabbitMQ only ------------------------------------------------------------------------


def _rabbitmq_only(broker_url: str) -> None:
    if broker_url.startswith("memory://"):
        pytest.skip("quorum queues and delivery limits are RabbitMQ features, not emulated")


def test_work_queues_are_quorum_queues(bus: AnyBus, topology: Topology, broker_url: str) -> None:
    _rabbitmq_only(broker_url)
    queue = topology.work_queue("zags")
    classic = {**queue.arguments, "x-queue-type": "classic"}
    with Connection(broker_url) as connection, pytest.raises(Exception, match="x-queue-type"):
        connection.channel().queue_declare(
            queue=queue.name, durable=True, auto_delete=False, arguments=classic
        )


def test_a_message_that_keeps_crashing_consumers_ends_up_dead(
    bus: AnyBus, topology: Topology, broker_url: str
) -> None:
    _rabbitmq_only(broker_url)
    work = topology.work_queue("zags").name
    bus.publish(topology.inbound_exchange.name, [_message(1)])
    for _ in range(DELIVERY_LIMIT + 1):  # each consumer dies holding the message
        with Consuming(bus, [work], settle="none") as crashing:
            crashing.wait(1)
    with Consuming(bus, [topology.dead_queue.name]) as dead:
        [got] = dead.wait(1)
    assert got.headers["x-death"][0]["reason"] == "delivery_limit"
    assert _depth(bus, work) == 0


def test_a_queue_that_exists_with_other_arguments_is_named_in_the_refusal(
    unbound: tuple[AnyBus, Topology], make_bus: MakeBus, broker_url: str
) -> None:
    # An upgrade: a queue named as the registry's was made earlier, as a classic queue.
    _rabbitmq_only(broker_url)
    _, topology = unbound
    later = _with_registry(topology)
    assert later.registry_queue is not None
    name = later.registry_queue.name
    with Connection(broker_url) as connection:
        connection.channel().queue_declare(queue=name, durable=True, auto_delete=False)
    upgraded = make_bus(later)
    with pytest.raises(TopologyConflictError) as caught:
        upgraded.declare()
    assert name in str(caught.value)
    assert "x-queue-type" in str(caught.value)
    assert caught.value.details == {"kind": "queue", "name": name}
    assert not caught.value.retryable
