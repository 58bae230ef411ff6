"""``hub bench --suite cluster``: the inbound path on a three-node RabbitMQ cluster beside the
single broker, in one run, and how long the path stops when a node dies.

The backbone suite's path (``hub.bench.backbone``: inbox → route → outbox → relay → a
registry's consumer; worker and relay as separate processes) runs twice: on the machine's own
broker and on a local cluster whose three nodes hold every quorum queue of the hub (the hub
connects to the cluster as users configure it, with a ``;``-separated list of its nodes).
The cluster costs what replication costs: each message written to a queue is on a majority
of the nodes before the broker confirms it.

Then the recovery: messages flow at a steady rate, the node leading the hub's work queue is
killed (``kill -9``), and the suite times the first event of a message sent after the kill,
the time the path was stopped, and counts what was lost (nothing may be). The worker and the
relay find a live node by themselves; nobody helps them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from hub.bench.backbone import (
    PLUGIN,
    Collector,
    Result,
    bench_database,
    latency,
    ping,
    services,
    throughput,
)
from hub.bench.rabbit_cluster import RabbitCluster, RabbitNode, missing_rabbitmq, rabbitmq_cluster
from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.errors import ConfigurationError, RetryableError
from hub.routing.api import Outgoing
from hub.routing.bus import delete_topology

AGENCY = "zags"  # the bench plug-in's messages are routed to this agency's work queue
BATCH = 10  # messages per publish while the recovery is measured


@dataclass
class Recovery:
    """What the death of the node leading the work queue cost.

    ``first_event_s``: from the kill to the first event of a message sent after it (the
    path works again end to end); ``pause_s``: the longest time without any event after the
    kill; ``lost``: messages the broker confirmed that never came out as events."""

    node: str
    queue: str
    first_event_s: float
    pause_s: float
    sent: int
    received: int
    duplicates: int

    @property
    def lost(self) -> int:
        return self.sent - self.received


@dataclass
class ClusterRun:
    """The figures of one run: both stacks, then the recovery on the cluster."""

    stacks: list[Result]
    recovery: Recovery


@dataclass
class TimedCollector(Collector):
    """The backbone's consumer, keeping when each event came and when its message was sent."""

    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (sent, arrived)

    def _count(self, body: bytes) -> None:
        super()._count(body)
        self.arrivals.append((float(json.loads(body)["data"]["sent"]), time.time()))


@contextlib.contextmanager
def collecting(url: str, queue: str) -> Iterator[TimedCollector]:
    """A ``TimedCollector`` consuming ``queue`` through the node at ``url``."""
    collector = TimedCollector(url, queue)
    thread = threading.Thread(target=collector.run, daemon=True)
    thread.start()
    collector.ready.wait(10)
    try:
        yield collector
    finally:
        collector.stop.set()
        thread.join(10)


class SteadyPublisher:
    """Publishes bench messages at ``rate`` per second until stopped, retrying a batch while
    the broker is unavailable (as an agency's gateway would); ``confirmed`` holds the numbers
    the broker confirmed."""

    def __init__(self, hub: Hub, rate: float) -> None:
        self.hub = hub
        self.rate = rate
        self.confirmed: set[int] = set()
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyPublisher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.finish()

    def finish(self) -> None:
        """Stop, and wait for the batch in hand: ``confirmed`` is final afterwards."""
        self.stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        start, n = time.perf_counter(), 0
        while not self.stop.is_set():
            time.sleep(max(0.0, start + n / self.rate - time.perf_counter()))
            numbers = range(n, n + BATCH)
            if self._publish(numbers):
                self.confirmed.update(numbers)
            n += BATCH

    def _publish(self, numbers: range) -> bool:
        """Whether the broker confirmed ``numbers`` (False: stopped while retrying)."""
        while True:
            sent = time.time()
            try:
                self.hub.bus.publish(
                    self.hub.topology.inbound_exchange.name,
                    [
                        Outgoing(ping(n, sent), AGENCY, {"x-hub-source": "smev"}, None, "text/xml")
                        for n in numbers
                    ],
                )
                return True
            except RetryableError:
                if self.stop.is_set():
                    return False
                time.sleep(0.1)


def measure_recovery(
    hub: Hub, cluster: RabbitCluster, rate: float, settle_seconds: float
) -> Recovery:
    """Kill the node leading the work queue while messages flow at ``rate``; see ``Recovery``.

    The benchmark's own consumer reads through another node (it stands for the registry,
    which is not what is measured); the hub's worker and relay may be on any node."""
    queue = hub.topology.work_queue(AGENCY).name
    registry = hub.topology.registry_queue
    leader = cluster.leader(queue)
    if registry is None or leader is None:
        raise ConfigurationError("the cluster benchmark needs the registry's queue and a leader")
    survivor = next(node for node in cluster.nodes if node is not leader)
    with (
        collecting(survivor.url, registry.name) as collector,
        services(hub, separate_processes=True),
        SteadyPublisher(hub, rate) as publisher,
    ):
        _await(lambda: len(collector.seen) >= rate * settle_seconds / 2, "events to flow")
        killed = _kill(cluster, leader)
        _await(lambda: any(sent > killed for sent, _ in collector.arrivals), "the first event")
        time.sleep(settle_seconds)
        publisher.finish()  # a batch confirmed after the check below would count as lost
        _await(lambda: publisher.confirmed <= collector.seen, "every event", timeout=60.0)
    arrivals = sorted(arrived for _, arrived in collector.arrivals)
    return Recovery(
        node=leader.name,
        queue=queue,
        first_event_s=min(at for sent, at in collector.arrivals if sent > killed) - killed,
        pause_s=_longest_pause(arrivals, killed),
        sent=len(publisher.confirmed),
        received=len(publisher.confirmed & collector.seen),
        duplicates=len(collector.arrivals) - len(collector.seen),
    )


def _kill(cluster: RabbitCluster, node: RabbitNode) -> float:
    """``kill -9`` the node; the wall-clock time of the kill."""
    killed = time.time()
    cluster.kill(node)
    return killed


def _longest_pause(arrivals: list[float], since: float) -> float:
    """The longest time without an event from ``since`` on (``arrivals`` sorted)."""
    times = [since, *(at for at in arrivals if at > since)]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def _await(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster benchmark: waited {timeout:.0f} s for {what}")
        time.sleep(0.02)


# --- the two stacks -------------------------------------------------------------------------


@contextlib.contextmanager
def bench_hub(database_url: str, broker_url: str, *, delete: bool = True) -> Iterator[Hub]:
    """A hub on a fresh topology prefix with the bench plug-in, its topology deleted after
    (unless not ``delete``: a cluster thrown away after the run, with a node killed, would
    spend a minute and a half refusing to delete quorum queues missing a member)."""
    settings = Settings(
        database_url=database_url,
        broker_url=broker_url,
        topology_prefix=f"bench{uuid.uuid4().hex[:8]}",
        require_signatures=False,
        adapters=(PLUGIN,),
    )
    hub = bootstrap(settings)
    try:
        hub.bus.declare()
        yield hub
    finally:
        if delete:
            with contextlib.suppress(Exception):
                delete_topology(broker_url, hub.topology, tls=hub.broker_tls)
        hub.close()


def measure_stack(
    name: str, hub: Hub, messages: int, latency_seconds: float, console: Console
) -> Result:
    """The backbone's sustained rate (a backlog drained) and its latency at half that rate,
    with the worker and the relay as separate processes."""
    console.print(f"{name}: draining a backlog of {messages:,} messages…")
    rate = throughput(hub, messages, separate=True)
    if rate <= 0:
        raise TimeoutError(f"{name}: no events came out of the backlog")
    console.print(f"{name}: latency at {rate / 2:,.0f} msg/s…")
    p50, p99 = latency(hub, rate / 2, latency_seconds, separate=True)
    return Result(name, rate, p50, p99, rate / 2, None, None, None)


def run(
    console: Console,
    pg_admin_url: str,
    amqp_url: str,
    messages: int = 10_000,
    *,
    latency_seconds: float = 10.0,
    recovery_rate: float = 200.0,
    settle_seconds: float = 3.0,
    single_node: bool = True,
) -> ClusterRun:
    """The single broker at ``amqp_url`` (unless not ``single_node``), then a three-node
    cluster started for the run (one throw-away PostgreSQL database each); the tables printed,
    the figures returned."""
    if (reason := missing_rabbitmq()) is not None:
        raise ConfigurationError(f"the cluster benchmark starts RabbitMQ nodes: {reason}")
    stacks = []
    if single_node:
        with bench_database(pg_admin_url) as database, bench_hub(database, amqp_url) as hub:
            stacks.append(measure_stack("single node", hub, messages, latency_seconds, console))
    console.print("starting a three-node RabbitMQ cluster…")
    with rabbitmq_cluster() as cluster:
        console.print(f"cluster formed in {cluster.timings['cluster formed']:.1f} s")
        with (
            bench_database(pg_admin_url) as database,
            bench_hub(database, cluster.url, delete=False) as hub,
        ):
            name = "three-node cluster"
            stacks.append(measure_stack(name, hub, messages, latency_seconds, console))
            console.print(f"{name}: killing the work queue's leader at {recovery_rate:,.0f} msg/s…")
            recovery = measure_recovery(hub, cluster, recovery_rate, settle_seconds)
    console.print(table(stacks))
    console.print(recovery_table(recovery, recovery_rate))
    return ClusterRun(stacks, recovery)


def table(stacks: list[Result]) -> Table:
    out = Table(title="hub bench: inbound path, single RabbitMQ node and three-node cluster")
    for column in ("RabbitMQ", "msg/s sustained", "p50 ms", "p99 ms", "at msg/s"):
        out.add_column(column)
    for r in stacks:
        out.add_row(
            r.stack,
            f"{r.throughput:,.0f}",
            f"{r.p50_ms or 0:,.1f}",
            f"{r.p99_ms or 0:,.1f}",
            f"{r.latency_rate:,.0f}",
        )
    return out


def recovery_table(r: Recovery, rate: float) -> Table:
    out = Table(title=f"hub bench: kill -9 of the node leading {r.queue} at {rate:,.0f} msg/s")
    for column in (
        "first event sent after the kill",
        "longest pause",
        "confirmed → events",
        "lost",
        "duplicates",
    ):
        out.add_column(column)
    out.add_row(
        f"{r.first_event_s:,.1f} s",
        f"{r.pause_s:,.1f} s",
        f"{r.sent:,} → {r.received:,}",
        f"{r.lost:,}",
        f"{r.duplicates:,}",
    )
    return out
