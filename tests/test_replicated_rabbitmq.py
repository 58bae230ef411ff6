"""The three-node RabbitMQ cluster of ``tests/replicated.py`` and the hub's bus on it: the
cluster forms, and a quorum queue declared through the bus on kombu's failover list of the
nodes keeps its messages when its leader node is killed (the bus passing over the dead node
first in its list) or cut off."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hub.routing.api import Delivery, Outgoing
from hub.routing.bus import KombuBus, create_bus, delete_topology
from hub.routing.topology import Topology, build_topology
from tests.support.replicated import RabbitCluster, cluster_for_test, free_ports

pytestmark = pytest.mark.integration

MESSAGES = 50


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    """One cluster for the module: forming it takes most of the module's time."""
    with cluster_for_test() as running:
        print(f"\ncluster timings: {_seconds(running.timings)}")
        yield running


@pytest.fixture
def topology(topology_prefix: str) -> Topology:
    return build_topology(topology_prefix, agencies=("zags",))


def _seconds(timings: dict[str, float]) -> str:
    return ", ".join(f"{what} {seconds:.1f} s" for what, seconds in timings.items())


def _publish(bus: KombuBus, topology: Topology, tag: str) -> list[str]:
    """``MESSAGES`` confirmed commands through the hub's bus; their message ids."""
    ids = [f"{tag}-{n}" for n in range(MESSAGES)]
    exchange = f"{topology.prefix}.commands"
    bus.publish(exchange, [Outgoing(b"<x/>", "cmd.test", message_id=i) for i in ids])
    return ids


def _drain(bus: KombuBus, queue: str, expected: int, timeout: float = 30) -> list[str]:
    """Consume ``queue`` through the bus until ``expected`` messages came (or ``timeout``);
    their message ids, each acknowledged."""
    received: list[str] = []
    done, stop = threading.Event(), threading.Event()

    def on_batch(batch: list[Delivery]) -> None:
        for delivery in batch:
            received.append(delivery.message_id or "")
            delivery.ack()
        if len(received) >= expected:
            done.set()

    consumer = threading.Thread(
        target=bus.consume, args=([queue], on_batch), kwargs={"stop": stop}, daemon=True
    )
    consumer.start()
    try:
        done.wait(timeout)
    finally:
        stop.set()
        consumer.join(10)
    return received


def test_the_cluster_runs_three_nodes_that_see_each_other(cluster: RabbitCluster) -> None:
    names = sorted(node.name for node in cluster.nodes)
    for node in cluster.nodes:
        assert cluster.running_nodes(asking=node) == names
    assert len({node.port for node in cluster.nodes}) == 3
    assert all(node.port != 5672 for node in cluster.nodes)  # the machine's own broker's


def test_a_quorum_queue_keeps_its_messages_when_its_leader_is_killed(
    cluster: RabbitCluster, topology: Topology
) -> None:
    queue = f"{topology.prefix}.commands"
    bus = create_bus(cluster.url, topology)
    try:
        bus.declare()
        sent = _publish(bus, topology, "kill")
    finally:
        bus.close()
    leader = cluster.leader(queue)
    assert leader is not None
    killed = time.monotonic()
    cluster.kill(leader)
    successor = cluster.await_leader(queue, other_than=leader)
    elected = time.monotonic() - killed
    # The dead node first in the list: the bus must pass on to the next ones by itself.
    bus = create_bus(
        ";".join([leader.url, *(u for u in cluster.urls if u != leader.url)]), topology
    )
    try:
        received = _drain(bus, queue, MESSAGES)  # from the new leader
        assert sorted(received) == sorted(sent)
        more = _publish(bus, topology, "after")
        assert sorted(_drain(bus, queue, MESSAGES)) == sorted(more)
    finally:
        bus.close()
    print(f"\nleader {leader.name} killed: {successor.name} leads after {elected:.1f} s")
    began = time.monotonic()
    cluster.restart(leader)
    cluster.await_running()
    print(f"killed node back in the cluster after {time.monotonic() - began:.1f} s")


def test_a_queue_carries_on_while_a_node_is_cut_off_and_heals(
    cluster: RabbitCluster, topology: Topology
) -> None:
    """``stop_app`` on a node that does not lead: to the others it is gone as if behind a
    partition; the queue keeps working on the majority, and the node comes back."""
    queue = f"{topology.prefix}.commands"
    bus = create_bus(cluster.url, topology)
    try:
        bus.declare()
        leader = cluster.leader(queue)
        follower = next(node for node in cluster.nodes if node is not leader)
        cluster.stop_app(follower)
        try:
            sent = _publish(bus, topology, "cut")
            assert sorted(_drain(bus, queue, MESSAGES)) == sorted(sent)
        finally:
            cluster.start_app(follower)
        cluster.await_running()
        assert len(cluster.running_nodes()) == 3
    finally:
        bus.close()


def test_the_failover_list_passes_over_a_broker_that_is_not_there(
    amqp_url: str, topology: Topology
) -> None:
    """The same on the machine's single broker, behind a port nothing listens on."""
    dead = f"amqp://guest:guest@127.0.0.1:{free_ports(1)[0]}//"
    bus = create_bus(f"{dead};{amqp_url}", topology)
    try:
        bus.declare()
        sent = _publish(bus, topology, "dead")
        assert sorted(_drain(bus, f"{topology.prefix}.commands", MESSAGES)) == sorted(sent)
    finally:
        bus.close()
        delete_topology(amqp_url, topology)
