"""The broker topology, declared as data: every exchange, queue and binding the hub uses.

registry ─▶ {p}.commands (topic) ─#─▶ {p}.commands                 (quorum)
agencies ─▶ {p}.inbound (direct) ─agency─▶ {p}.inbound.<agency>     (quorum, one per agency)
                 └─ unknown agency ─▶ {p}.unrouted (fanout) ─▶ {p}.unrouted
retries  ─▶ {p}.retry (direct) ─<target>.<n>s─▶ {p}.retry.<target>.<n>s  (quorum, TTL n s)
                 └─ expired: dead-lettered to the target exchange (inbound or commands)
crashes  ─▶ work and command queues past their delivery limit, or rejected ─▶ {p}.dead
events   ─▶ {p}.events (topic, e.g. student.birth.verified) ─#─▶ {p}.registry   (quorum)
                 │      other consumers bind their own queues beside the registry's
                 └─ bound for nobody: the bus parks it ─▶ {p}.events.parked (fanout)
                        ─▶ {p}.events.parked (quorum); the relay re-publishes it later

Delayed retries keep the message's own routing key: the bus publishes to ``{p}.retry`` with
the original key and names the retry queue's key in the ``CC`` header. RabbitMQ routes by
both keys (only the CC one is bound on the retry exchange) and dead-letters with both, so
on the target exchange the original key finds the work queue again.

Events nobody is bound for are parked by the bus, not by an ``alternate-exchange`` on
``{p}.events``: the hub publishes every event ``mandatory``, and what RabbitMQ returns it
publishes to ``{p}.events.parked`` before the publish counts as done (README, "The broker's
topology", says why). The registry's queue (``registry_queue``, bound with
``registry_bindings``) is declared with the topology, so events wait for a registry that
has not started yet; an empty name declares none.

Back-off: the delay buckets are fixed TTL queues, so the delay for attempt *n* is the
*n*-th bucket, capped at the last (exponential with the default buckets). No jitter is
added: a TTL queue releases messages spaced exactly as they failed, so it never bunches
them up; a caller wanting more spread may ask for any delay and gets the next bucket up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

ExchangeType = Literal["direct", "topic", "fanout"]
DEFAULT_AGENCIES = ("zags", "pfr", "gosuslugi")
DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)
# Quorum queues count a message returned by a stopping or crashed consumer as a delivery,
# so the limit must leave room for restarts with a full prefetch, not only for crashes.
DEFAULT_DELIVERY_LIMIT = 20
RETRY_TARGETS = ("inbound", "commands")
DEFAULT_REGISTRY_QUEUE = "registry"
DEFAULT_REGISTRY_BINDINGS = ("#",)
PARKED = "events.parked"  # the parking exchange and queue, under the prefix
_MAX_KEY_BYTES = 255  # AMQP's short string


def _frozen(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Exchange:
    name: str
    type: ExchangeType
    durable: bool = True
    arguments: Mapping[str, Any] = field(default_factory=_frozen)


@dataclass(frozen=True)
class Queue:
    name: str
    durable: bool = True
    arguments: Mapping[str, Any] = field(default_factory=_frozen)
    quorum: bool = False

    @property
    def broker_arguments(self) -> dict[str, Any]:
        """The arguments to declare the queue with, its type included."""
        extra = {"x-queue-type": "quorum"} if self.quorum else {}
        return {**self.arguments, **extra}


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class RetryRoute:
    """A delayed message's way: ``routing_key`` on the retry exchange, into ``queue``."""

    routing_key: str
    queue: str
    delay: int


@dataclass(frozen=True)
class Topology:
    """Names and shapes; ``build_topology`` makes one, the bus declares it."""

    prefix: str
    agencies: tuple[str, ...]
    retry_delays: tuple[int, ...]
    delivery_limit: int
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]
    registry_queue_name: str | None = None  # full name; None: the hub declares none

    def exchange(self, name: str) -> Exchange:
        """The exchange called ``name`` (full name); KeyError if the hub has none."""
        for exchange in self.exchanges:
            if exchange.name == name:
                return exchange
        raise KeyError(f"no exchange {name!r} in topology {self.prefix!r}")

    def queue(self, name: str) -> Queue:
        """The queue called ``name`` (full name); KeyError if the hub has none."""
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(f"no queue {name!r} in topology {self.prefix!r}")

    def _named(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}"

    @property
    def commands_exchange(self) -> Exchange:
        return self.exchange(self._named("commands"))

    @property
    def events_exchange(self) -> Exchange:
        return self.exchange(self._named("events"))

    @property
    def inbound_exchange(self) -> Exchange:
        return self.exchange(self._named("inbound"))

    @property
    def retry_exchange(self) -> Exchange:
        return self.exchange(self._named("retry"))

    @property
    def dead_exchange(self) -> Exchange:
        return self.exchange(self._named("dead"))

    @property
    def parking_exchange(self) -> Exchange:
        """Where the bus puts events no queue is bound for (fanout: keys are kept)."""
        return self.exchange(self._named(PARKED))

    @property
    def parked_queue(self) -> Queue:
        return self.queue(self._named(PARKED))

    @property
    def registry_queue(self) -> Queue | None:
        """The registry's durable queue on the events exchange, if the hub declares one."""
        return None if self.registry_queue_name is None else self.queue(self.registry_queue_name)

    @property
    def registry_bindings(self) -> tuple[str, ...]:
        """The routing keys the registry's queue is bound with (none without the queue)."""
        ours = (self.events_exchange.name, self.registry_queue_name)
        return tuple(b.routing_key for b in self.bindings if (b.exchange, b.queue) == ours)

    def parking_for(self, exchange: str) -> str | None:
        """The exchange the bus parks what ``exchange`` cannot route (the events'), if any."""
        return self.parking_exchange.name if exchange == self.events_exchange.name else None

    @property
    def commands_queue(self) -> Queue:
        return self.queue(self._named("commands"))

    @property
    def unrouted_queue(self) -> Queue:
        return self.queue(self._named("unrouted"))

    @property
    def dead_queue(self) -> Queue:
        return self.queue(self._named("dead"))

    def work_queue(self, agency: str) -> Queue:
        """The work queue of ``agency``; KeyError for an agency the hub does not know."""
        return self.queue(self._named(f"inbound.{agency}"))

    @property
    def work_queues(self) -> tuple[Queue, ...]:
        return tuple(self.work_queue(agency) for agency in self.agencies)

    def retry_queue(self, target: str, delay: int) -> Queue:
        """The TTL queue holding messages for ``target`` (inbound/commands) ``delay`` s."""
        return self.queue(self._named(f"retry.{target}.{delay}s"))

    @property
    def retry_queues(self) -> tuple[Queue, ...]:
        return tuple(self.retry_queue(t, d) for t in RETRY_TARGETS for d in self.retry_delays)

    def all_queues(self) -> tuple[Queue, ...]:
        """Every queue the hub declares."""
        return self.queues

    def delay_bucket(self, delay_seconds: float) -> int:
        """The smallest delay bucket not shorter than asked, or the longest there is."""
        return next((d for d in self.retry_delays if d >= delay_seconds), self.retry_delays[-1])

    def delay_for_attempt(self, attempt: int) -> int:
        """Back-off for the ``attempt``-th retry (from 1): bucket *n*, capped at the last."""
        return self.retry_delays[min(max(attempt, 1), len(self.retry_delays)) - 1]

    def retry_route(self, target_exchange: str, delay_seconds: float) -> RetryRoute:
        """How to delay a message bound for ``target_exchange`` by about ``delay_seconds``."""
        targets = {self._named(t): t for t in RETRY_TARGETS}
        if target_exchange not in targets:
            raise ValueError(f"no retry queues lead back to exchange {target_exchange!r}")
        target, delay = targets[target_exchange], self.delay_bucket(delay_seconds)
        return RetryRoute(f"{target}.{delay}s", self.retry_queue(target, delay).name, delay)

    def events_summary(self) -> str:
        """Where events go, in a sentence or two (``hub topology declare`` and ``show``)."""
        parked = f"events no queue is bound for wait in {self.parked_queue.name!r}"
        if self.registry_queue_name is None:
            return f"no registry queue (HUB_REGISTRY_QUEUE is empty): {parked}"
        keys = " ".join(self.registry_bindings)
        return f"the registry consumes {self.registry_queue_name!r} (bound with {keys}); {parked}"

    def describe(self) -> str:
        """A readable listing for ``hub topology show``."""
        lines = [f"exchange {e.name} ({e.type}) {_args(e.arguments)}" for e in self.exchanges]
        lines += [f"queue    {q.name} ({_kind(q)}) {_args(q.arguments)}" for q in self.queues]
        lines += [f"bind     {b.exchange} --{b.routing_key}--> {b.queue}" for b in self.bindings]
        return "\n".join(line.rstrip() for line in lines)


def _kind(queue: Queue) -> str:
    return "quorum" if queue.quorum else "classic"


def _args(arguments: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in arguments.items())


def build_topology(
    prefix: str = "hub",
    agencies: Sequence[str] = DEFAULT_AGENCIES,
    retry_delays: Sequence[int] = DEFAULT_RETRY_DELAYS,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    *,
    registry_queue: str | None = None,
    registry_bindings: Sequence[str] = DEFAULT_REGISTRY_BINDINGS,
) -> Topology:
    """The hub's topology under ``prefix`` (tests use random prefixes); ``registry_queue`` is
    the registry's queue's full name (default ``{prefix}.registry``; "" for none)."""
    _check(prefix, agencies, retry_delays, delivery_limit)
    p, delays = prefix, tuple(sorted(set(retry_delays)))
    unrouted = _frozen({"alternate-exchange": f"{p}.unrouted"})
    exchanges = (
        Exchange(f"{p}.commands", "topic"),
        Exchange(f"{p}.events", "topic"),
        Exchange(f"{p}.{PARKED}", "fanout"),
        Exchange(f"{p}.inbound", "direct", arguments=unrouted),
        Exchange(f"{p}.unrouted", "fanout"),
        Exchange(f"{p}.retry", "direct"),
        Exchange(f"{p}.dead", "fanout"),
    )
    work = _work_arguments(p, delivery_limit)
    queues = (
        Queue(f"{p}.commands", arguments=work, quorum=True),
        *(Queue(f"{p}.inbound.{agency}", arguments=work, quorum=True) for agency in agencies),
        Queue(f"{p}.unrouted", quorum=True),
        Queue(f"{p}.dead", quorum=True),
        Queue(f"{p}.{PARKED}", quorum=True),
        *_retry_queues(p, delays),
    )
    bindings = (
        Binding(f"{p}.commands", f"{p}.commands", "#"),
        *(Binding(f"{p}.inbound", f"{p}.inbound.{agency}", agency) for agency in agencies),
        Binding(f"{p}.unrouted", f"{p}.unrouted", ""),
        Binding(f"{p}.dead", f"{p}.dead", ""),
        Binding(f"{p}.{PARKED}", f"{p}.{PARKED}", ""),
        *(Binding(f"{p}.retry", f"{p}.retry.{t}.{d}s", f"{t}.{d}s") for t, d in _pairs(delays)),
    )
    topology = Topology(p, tuple(agencies), delays, delivery_limit, exchanges, queues, bindings)
    registry = f"{p}.{DEFAULT_REGISTRY_QUEUE}" if registry_queue is None else registry_queue
    return _with_registry(topology, registry, registry_bindings)


def _with_registry(topology: Topology, full: str, keys: Sequence[str]) -> Topology:
    # A quorum queue like the work queues, without their dead-lettering: {p}.dead is the
    # worker's, for inbound messages, and no delivery limit (RabbitMQ 3.x has none unless set).
    if not full:
        return topology
    _check_registry(topology, full, keys)
    events = topology.events_exchange.name
    return dataclasses.replace(
        topology,
        queues=(*topology.queues, Queue(full, quorum=True)),
        bindings=(*topology.bindings, *(Binding(events, full, key) for key in dict.fromkeys(keys))),
        registry_queue_name=full,
    )


def _check_registry(topology: Topology, full: str, keys: Sequence[str]) -> None:
    if len(full.encode()) > _MAX_KEY_BYTES or full.startswith("amq."):
        raise ValueError(f"registry queue {full!r}: at most 255 bytes, not starting amq.")
    if any(q.name == full for q in topology.queues):
        raise ValueError(f"registry queue {full!r} is one of the hub's own queues")
    if not keys or any(not key or len(key.encode()) > _MAX_KEY_BYTES for key in keys):
        raise ValueError(
            f"registry queue {full!r} needs binding keys, each 1 to {_MAX_KEY_BYTES} bytes "
            f"(# for every event): {list(keys)!r}"
        )


def _check(
    prefix: str, agencies: Sequence[str], delays: Sequence[int], delivery_limit: int
) -> None:
    if not prefix or not agencies or not delays:
        raise ValueError("a topology needs a prefix, at least one agency and one retry delay")
    if len(set(agencies)) != len(agencies) or any(not a or "." in a for a in agencies):
        raise ValueError(f"agency names must be unique, non-empty and dot-free: {agencies!r}")
    if min(delays) < 1 or delivery_limit < 1:
        raise ValueError("retry delays and the delivery limit must be positive")


def _work_arguments(prefix: str, delivery_limit: int) -> Mapping[str, Any]:
    # at-least-once: the queue keeps a dead letter until {p}.dead has confirmed it (RabbitMQ
    # 3.10+; it requires reject-publish overflow, which without a length limit never acts).
    return _frozen(
        {
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": f"{prefix}.dead",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    )


def _pairs(delays: Sequence[int]) -> list[tuple[str, int]]:
    return [(target, delay) for target in RETRY_TARGETS for delay in delays]


def _retry_queues(prefix: str, delays: Sequence[int]) -> list[Queue]:
    # One fixed TTL per queue expires messages in arrival order; no x-dead-letter-routing-key,
    # so every message returns with its own routing key. Quorum queues, replicated like the
    # work queues: a classic one lives on one node of a cluster, and while that node is down
    # every delayed retry is refused (the retry schedule collapses into immediate redelivery).
    # At-least-once dead-lettering (which needs reject-publish) keeps an expiring message
    # until its target queue has it.
    return [
        Queue(
            f"{prefix}.retry.{target}.{delay}s",
            arguments=_frozen(
                {
                    "x-message-ttl": delay * 1000,
                    "x-dead-letter-exchange": f"{prefix}.{target}",
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                }
            ),
            quorum=True,
        )
        for target, delay in _pairs(delays)
    ]
