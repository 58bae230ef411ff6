"""The RabbitMQ-only part of the bus contract (quorum queues, delivery limits, a queue that
exists with other arguments) on a three-node cluster, where quorum queues replicate: the same
test functions as ``test_bus_contract``, run with ``KombuBus`` on the cluster's failover list
of nodes, plus what only a cluster shows, that every work queue has a member on each node.

Only this part: the rest of the contract does not depend on the number of nodes, and one
cluster for the module keeps it to a few seconds beyond the cluster's start.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract_tests.test_bus_contract import (
    AnyBus,
    MakeBus,
    bus,
    test_a_message_that_keeps_crashing_consumers_ends_up_dead,
    test_a_queue_that_exists_with_other_arguments_is_named_in_the_refusal,
    test_work_queues_are_quorum_queues,
    topology,
    unbound,
)
from hub.routing.bus import KombuBus
from hub.routing.topology import Topology
from tests.support.replicated import RabbitCluster, cluster_for_test

# The contract's fixtures and tests, collected here again with this module's broker.
__all__ = [
    "bus",
    "test_a_message_that_keeps_crashing_consumers_ends_up_dead",
    "test_a_queue_that_exists_with_other_arguments_is_named_in_the_refusal",
    "test_work_queues_are_quorum_queues",
    "topology",
    "unbound",
]

pytestmark = [pytest.mark.contract, pytest.mark.integration]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    with cluster_for_test() as running:
        yield running


@pytest.fixture
def bus_class() -> type[AnyBus]:
    return KombuBus


@pytest.fixture
def broker_url(cluster: RabbitCluster) -> str:
    """Every node, as kombu's failover list (the tests' own kombu connections take it too)."""
    return cluster.url


@pytest.fixture
def make_bus(broker_url: str) -> MakeBus:
    return lambda topology: KombuBus(broker_url, topology)


def test_every_work_queue_has_a_member_on_each_node(
    bus: AnyBus, topology: Topology, cluster: RabbitCluster
) -> None:
    output = cluster.ctl(cluster.nodes[0], "list_queues", "--no-table-headers", "name", "members")
    members = dict(line.partition("\t")[::2] for line in output.splitlines())
    names = sorted(node.name for node in cluster.nodes)
    for agency in topology.agencies:
        queue = topology.work_queue(agency).name
        assert sorted(_atoms(members[queue])) == names, queue


def _atoms(erlang_list: str) -> list[str]:
    inner = erlang_list.strip().strip("[]")
    return [atom.strip().strip("'") for atom in inner.split(",") if atom.strip()]
