"""The topology as data: names, arguments, bindings and the choice of delay bucket."""

from __future__ import annotations

import dataclasses

import pytest

from hub.routing.topology import Binding, Topology, build_topology

pytestmark = pytest.mark.unit


@pytest.fixture
def topology() -> Topology:
    return build_topology("hub")


def _bound(topology: Topology) -> set[tuple[str, str, str]]:
    return {(b.exchange, b.routing_key, b.queue) for b in topology.bindings}


def test_exchanges_have_their_names_and_types(topology: Topology) -> None:
    assert {(e.name, e.type) for e in topology.exchanges} == {
        ("hub.commands", "topic"),
        ("hub.events", "topic"),
        ("hub.events.parked", "fanout"),
        ("hub.inbound", "direct"),
        ("hub.unrouted", "fanout"),
        ("hub.retry", "direct"),
        ("hub.dead", "fanout"),
    }
    assert all(e.durable for e in topology.exchanges)


def test_the_inbound_exchange_keeps_unknown_agencies(topology: Topology) -> None:
    assert topology.inbound_exchange.arguments == {"alternate-exchange": "hub.unrouted"}
    assert ("hub.unrouted", "", "hub.unrouted") in _bound(topology)


def test_each_agency_has_a_work_queue_bound_by_its_name(topology: Topology) -> None:
    assert [q.name for q in topology.work_queues] == [
        "hub.inbound.zags",
        "hub.inbound.pfr",
        "hub.inbound.gosuslugi",
    ]
    assert topology.work_queue("pfr").name == "hub.inbound.pfr"
    assert {("hub.inbound", a, f"hub.inbound.{a}") for a in topology.agencies} <= _bound(topology)
    with pytest.raises(KeyError):
        topology.work_queue("fns")


def test_commands_reach_their_queue_by_any_key(topology: Topology) -> None:
    assert ("hub.commands", "#", "hub.commands") in _bound(topology)


def test_work_and_command_queues_are_quorum_with_a_delivery_limit() -> None:
    topology = build_topology("p", delivery_limit=5)
    for queue in (*topology.work_queues, topology.commands_queue):
        assert queue.quorum and queue.durable
        assert queue.broker_arguments == {
            "x-queue-type": "quorum",
            "x-delivery-limit": 5,
            "x-dead-letter-exchange": "p.dead",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }


def test_dead_letters_are_kept_in_one_queue(topology: Topology) -> None:
    assert topology.dead_queue.quorum
    assert "x-dead-letter-exchange" not in topology.dead_queue.arguments  # no loop
    assert ("hub.dead", "", "hub.dead") in _bound(topology)


def test_the_registry_has_a_durable_queue_for_every_event(topology: Topology) -> None:
    queue = topology.registry_queue
    assert queue is not None and queue.name == "hub.registry"
    assert queue.durable and queue.quorum
    # Not the work queues' dead-lettering: {p}.dead is the worker's, for inbound messages.
    assert queue.broker_arguments == {"x-queue-type": "quorum"}
    assert [b for b in topology.bindings if b.exchange == "hub.events"] == [
        Binding("hub.events", "hub.registry", "#")
    ]
    assert topology.registry_bindings == ("#",)


def test_the_registry_queue_name_and_bindings_are_settings() -> None:
    topology = build_topology(
        "p", registry_queue="registry.events", registry_bindings=("student.#", "person.#")
    )
    assert topology.registry_queue is not None
    assert topology.registry_queue.name == "registry.events"
    assert topology.registry_bindings == ("student.#", "person.#")
    assert {("p.events", k, "registry.events") for k in ("student.#", "person.#")} <= _bound(
        topology
    )


def test_an_empty_registry_queue_name_declares_none() -> None:
    topology = build_topology("p", registry_queue="")
    assert topology.registry_queue is None
    assert topology.registry_bindings == ()
    assert not [b for b in topology.bindings if b.exchange == "p.events"]
    assert {q.name for q in topology.queues} == {q.name for q in build_topology("p").queues} - {
        "p.registry"
    }


def test_events_no_queue_is_bound_for_are_parked_in_a_durable_queue(topology: Topology) -> None:
    assert topology.parking_for("hub.events") == "hub.events.parked"
    assert topology.parking_exchange.type == "fanout"  # a parked event keeps its routing key
    assert topology.parked_queue.quorum and topology.parked_queue.durable
    assert ("hub.events.parked", "", "hub.events.parked") in _bound(topology)
    # The events exchange keeps its arguments: consumers that declare it stay compatible.
    assert topology.events_exchange.arguments == {}
    for other in ("hub.commands", "hub.inbound", "hub.retry", "hub.dead", "hub.nowhere"):
        assert topology.parking_for(other) is None


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("hub.commands", ("#",)),  # one of the hub's own queues
        ("hub.events.parked", ("#",)),
        ("hub.inbound.zags", ("#",)),
        ("amq.registry", ("#",)),
        ("r" * 256, ("#",)),
        ("hub.registry", ()),
        ("hub.registry", ("",)),
        ("hub.registry", ("k" * 256,)),
    ],
)
def test_a_registry_queue_that_cannot_work_is_refused(name: str, keys: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="registry queue"):
        build_topology("hub", registry_queue=name, registry_bindings=keys)


def test_retry_queues_expire_back_to_their_target_exchange() -> None:
    topology = build_topology("p", retry_delays=(5, 1))
    assert topology.retry_delays == (1, 5)
    assert [q.name for q in topology.retry_queues] == [
        "p.retry.inbound.1s",
        "p.retry.inbound.5s",
        "p.retry.commands.1s",
        "p.retry.commands.5s",
    ]
    queue = topology.retry_queue("commands", 5)
    assert queue.quorum  # replicated: a classic queue lives on one node of a cluster
    assert queue.broker_arguments == {
        "x-message-ttl": 5000,
        "x-dead-letter-exchange": "p.commands",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-queue-type": "quorum",
    }
    assert ("p.retry", "commands.5s", "p.retry.commands.5s") in _bound(topology)


def test_every_binding_joins_declared_parts(topology: Topology) -> None:
    exchanges = {e.name for e in topology.exchanges}
    queues = {q.name for q in topology.all_queues()}
    assert all(b.exchange in exchanges and b.queue in queues for b in topology.bindings)
    assert len(queues) == len(topology.queues)
    assert all(q.name.startswith("hub.") for q in topology.queues)


@pytest.mark.parametrize(
    ("asked", "bucket"),
    [(0, 1), (0.2, 1), (1, 1), (1.5, 5), (5, 5), (29, 30), (120, 120), (121, 600), (9999, 600)],
)
def test_a_delay_takes_the_smallest_bucket_not_shorter(
    topology: Topology, asked: float, bucket: int
) -> None:
    assert topology.delay_bucket(asked) == bucket


@pytest.mark.parametrize(
    ("attempt", "delay"), [(0, 1), (1, 1), (2, 5), (3, 30), (5, 600), (9, 600)]
)
def test_back_off_grows_with_the_attempt_and_is_capped(
    topology: Topology, attempt: int, delay: int
) -> None:
    assert topology.delay_for_attempt(attempt) == delay


def test_a_retry_route_names_key_queue_and_delay(topology: Topology) -> None:
    route = topology.retry_route("hub.inbound", 3)
    assert (route.routing_key, route.queue, route.delay) == (
        "inbound.5s",
        "hub.retry.inbound.5s",
        5,
    )
    assert topology.retry_route("hub.commands", 1000).queue == "hub.retry.commands.600s"
    with pytest.raises(ValueError, match=r"hub\.events"):
        topology.retry_route("hub.events", 1)


def test_the_topology_is_immutable(topology: Topology) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        topology.prefix = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        topology.commands_queue.arguments["x-delivery-limit"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    "arguments",
    [
        {"agencies": ()},
        {"agencies": ("zags", "zags")},
        {"agencies": ("a.b",)},
        {"retry_delays": ()},
        {"retry_delays": (0, 5)},
        {"delivery_limit": 0},
    ],
)
def test_nonsense_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_topology("hub", **arguments)  # type: ignore[arg-type]


def test_describe_lists_every_part(topology: Topology) -> None:
    text = topology.describe()
    assert len(text.splitlines()) == (
        len(topology.exchanges) + len(topology.queues) + len(topology.bindings)
    )
    assert "queue    hub.inbound.zags (quorum) x-delivery-limit=20" in text
    assert "exchange hub.inbound (direct) alternate-exchange=hub.unrouted" in text
    assert "bind     hub.retry --inbound.30s--> hub.retry.inbound.30s" in text
