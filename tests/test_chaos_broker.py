"""Chaos on the broker: ``hub run`` on a three-node RabbitMQ cluster (its URL kombu's failover
list of the nodes, the hub's work queues quorum queues replicated on all three) loses the node
that leads its work queue to ``kill -9``, has a node cut off and healed, and sees every node
restarted in turn, while the registry's checks and ZAGS's notices flow through it. Each time
every expected event reaches the registry's queue exactly once by id, nothing fails and no
request reaches SMEV twice (``tests/support/chaos.py`` counts). The hub's journal is the
machine's PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.crypto import GostBackend
from hub.crypto.keys import Certificate, PrivateKey
from tests.support.chaos import (
    Deployment,
    Feeder,
    Stage,
    assert_exactly_once,
    await_events,
    await_expected,
    chaos_stage,
)
from tests.support.replicated import RabbitCluster, RabbitNode, cluster_for_test
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SERVICES = {"worker-1", "worker-2", "relay", "smev-client"}
TIMEOUT = 90.0  # seconds the hub gets to deliver everything after the last fault healed
DOWN = 45.0  # seconds the hub gets to deliver everything with one node of three killed


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    """One cluster for the module (forming it is most of a test's time); each test leaves
    every node running again."""
    with cluster_for_test() as running:
        yield running


@pytest.fixture
def stage(  # noqa: PLR0917 - pytest fixtures
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    cluster: RabbitCluster,
    topology_prefix: str,
    fast_backend: GostBackend,
    dev_key_pair: tuple[PrivateKey, Certificate],
    reference_dir: Path,
) -> Iterator[Stage]:
    with chaos_stage(
        monkeypatch,
        tmp_path,
        pg_url,
        cluster.url,
        topology_prefix,
        fast_backend,
        dev_key_pair,
        reference_dir,
    ) as made:
        yield made


@pytest.fixture
def deployment(stage: Stage, cluster: RabbitCluster) -> Iterator[Deployment]:
    running = stage.deploy()
    try:
        wait_for(lambda: running.started() == SERVICES, 30, running.tail)
        yield running
    finally:
        running.stop()
        for node in cluster.nodes:  # a test that failed midway may have left one down
            if node.pid is None:
                cluster.restart(node)
            elif not node.serving:
                cluster.start_app(node)


def _work_queue(stage: Stage) -> str:
    """ZAGS's work queue: its answers and its notices go there."""
    return next(q.name for q in stage.hub.topology.work_queues if q.name.endswith(".zags"))


def _flowing(stage: Stage, feeder: Feeder) -> None:
    """Wait until events come out while the feeder still sends: the fault hits mid-stream."""
    assert await_events(stage, 3, 60)
    assert feeder.sent < len(stage.checks), "everything was sent before the fault"


def _finish(stage: Stage, feeder: Feeder, deployment: Deployment) -> None:
    feeder.join()
    assert await_expected(stage, TIMEOUT), (stage.registry.count_by_type(), deployment.tail())
    print(f"\n{assert_exactly_once(stage, deployment.tail)}")
    print("\n".join(f"  {n} × {what}" for what, n in deployment.troubles().most_common()))


def test_the_work_queue_leader_is_killed_mid_stream_and_comes_back(
    stage: Stage, deployment: Deployment, cluster: RabbitCluster
) -> None:
    """Two nodes of three are a majority: the hub must deliver everything on them alone,
    before the killed node comes back, and nothing twice after it has."""
    queue = _work_queue(stage)
    feeder = Feeder(stage, interval=0.25)
    _flowing(stage, feeder)
    leader = cluster.leader(queue)
    assert leader is not None
    killed = time.monotonic()
    cluster.kill(leader)
    successor = cluster.await_leader(queue, other_than=leader)
    print(f"\n{leader.name} killed: {successor.name} leads after {time.monotonic() - killed:.1f} s")
    feeder.join()
    delivered = await_expected(stage, DOWN)
    cluster.restart(leader)
    cluster.await_running()
    assert delivered, (stage.registry.count_by_type(), deployment.tail())
    _finish(stage, feeder, deployment)


def test_a_node_cut_off_mid_stream_and_healed(
    stage: Stage, deployment: Deployment, cluster: RabbitCluster
) -> None:
    """``stop_app`` on the node that leads the work queue: the hub's connections to it close,
    the majority elects a new leader, and ``start_app`` brings the node back."""
    queue = _work_queue(stage)
    feeder = Feeder(stage)
    _flowing(stage, feeder)
    cut = cluster.leader(queue)
    assert cut is not None
    cluster.stop_app(cut)
    cluster.await_leader(queue, other_than=cut)
    time.sleep(2)  # messages flow through the majority for a while
    cluster.start_app(cut)
    cluster.await_running()
    _finish(stage, feeder, deployment)


def test_a_rolling_restart_of_every_node_while_messages_flow(
    stage: Stage, deployment: Deployment, cluster: RabbitCluster
) -> None:
    feeder = Feeder(stage, interval=1.0)  # about as long as the three restarts take
    _flowing(stage, feeder)
    for node in cluster.nodes:
        print(f"\nrestarting {node.name}: {feeder.sent} of {len(stage.checks)} checks sent")
        _restart_gracefully(cluster, node)
    _finish(stage, feeder, deployment)


def _restart_gracefully(cluster: RabbitCluster, node: RabbitNode) -> None:
    """Stop one node as an operator's rolling restart does (``rabbitmqctl stop``), start it,
    and wait until the cluster runs all three nodes before the next."""
    old = node.pid
    cluster.ctl(node, "stop")
    wait_for(lambda: not Path(f"/proc/{old}").exists(), 30, f"{node.name} to stop")
    node.pid = None
    cluster.restart(node)
    cluster.await_running()
