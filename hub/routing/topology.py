"""The broker topology, declared as data: every exchange, queue and binding the hub uses.

registry ─▶ {p}.commands (topic) ─#─▶ {p}.commands            (quorum)
agencies ─▶ {p}.inbound (direct) ─agency─▶ {p}.inbound.<agency> (quorum, one per agency)
                 └─ no such agency ─▶ {p}.unrouted (fanout) ─▶ {p}.unrouted
retries  ─▶ {p}.retry (direct) ─<agency>.<n>s─▶ {p}.retry.<agency>.<n>s  (and commands.<n>s)
                 (TTL n s, then dead-lettered back to the inbound exchange with the
                  agency as routing key, or to the commands exchange)
crashes  ─▶ work and command queues dead-letter past their delivery limit ─▶ {p}.dead
events   ─▶ {p}.events (topic, e.g. student.birth.verified) ─#─▶ {p}.registry (quorum)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

ExchangeType = Literal["direct", "topic", "fanout"]
DEFAULT_AGENCIES = ("zags", "pfr", "gosuslugi")
DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)


def _frozen(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Exchange:
    name: str
    type: ExchangeType
    arguments: Mapping[str, Any] = field(default_factory=_frozen)
    durable: bool = True


@dataclass(frozen=True)
class Queue:
    name: str
    arguments: Mapping[str, Any] = field(default_factory=_frozen)
    durable: bool = True

    @property
    def quorum(self) -> bool:
        return self.arguments.get("x-queue-type") == "quorum"


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class Topology:
    """Names and shapes; ``build_topology`` makes one, the bus declares it."""

    prefix: str
    agencies: tuple[str, ...]
    retry_delays: tuple[int, ...]
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]

    def exchange(self, suffix: str) -> Exchange:
        name = f"{self.prefix}.{suffix}"
        return next(e for e in self.exchanges if e.name == name)

    def queue(self, suffix: str) -> Queue:
        name = f"{self.prefix}.{suffix}"
        return next(q for q in self.queues if q.name == name)

    @property
    def inbound_exchange(self) -> Exchange:
        return self.exchange("inbound")

    @property
    def commands_exchange(self) -> Exchange:
        return self.exchange("commands")

    @property
    def events_exchange(self) -> Exchange:
        return self.exchange("events")

    @property
    def retry_exchange(self) -> Exchange:
        return self.exchange("retry")

    @property
    def dead_exchange(self) -> Exchange:
        return self.exchange("dead")

    @property
    def unrouted_exchange(self) -> Exchange:
        return self.exchange("unrouted")

    @property
    def work_queues(self) -> tuple[Queue, ...]:
        return tuple(self.queue(f"inbound.{agency}") for agency in self.agencies)

    def work_queue(self, agency: str) -> Queue:
        return self.queue(f"inbound.{agency}")

    @property
    def commands_queue(self) -> Queue:
        return self.queue("commands")

    @property
    def unrouted_queue(self) -> Queue:
        return self.queue("unrouted")

    @property
    def dead_queue(self) -> Queue:
        return self.queue("dead")

    @property
    def registry_queue(self) -> Queue:
        return self.queue("registry")

    def retry_route(
        self, target_exchange: str, routing_key: str, delay_seconds: float
    ) -> tuple[str, int]:
        """(routing key on the retry exchange, actual delay) for a message going back to
        ``target_exchange`` with ``routing_key``: the smallest delay bucket not shorter than
        asked, or the longest there is."""
        if target_exchange == self.commands_exchange.name:
            target = "commands"
        elif target_exchange == self.inbound_exchange.name and routing_key in self.agencies:
            target = routing_key
        else:
            raise ValueError(f"no retry queue leads back to {target_exchange!r}/{routing_key!r}")
        delay = next((d for d in self.retry_delays if d >= delay_seconds), self.retry_delays[-1])
        return f"{target}.{delay}s", delay

    def bound_keys(self, exchange: str) -> set[str]:
        return {b.routing_key for b in self.bindings if b.exchange == exchange}

    def describe(self) -> str:
        """A readable listing for ``hub topology show``."""
        lines = [f"exchange {e.name} ({e.type}) {dict(e.arguments) or ''}" for e in self.exchanges]
        lines += [f"queue    {q.name} {dict(q.arguments)}" for q in self.queues]
        lines += [f"bind     {b.exchange} --{b.routing_key}--> {b.queue}" for b in self.bindings]
        return "\n".join(lines)


def build_topology(
    prefix: str = "hub",
    agencies: Sequence[str] = DEFAULT_AGENCIES,
    retry_delays: Sequence[int] = DEFAULT_RETRY_DELAYS,
    delivery_limit: int = 20,
) -> Topology:
    """The hub's topology under ``prefix`` (tests use random prefixes)."""
    p = prefix
    work_args = _frozen(
        {
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": f"{p}.dead",
        }
    )
    exchanges = [
        Exchange(f"{p}.commands", "topic"),
        Exchange(f"{p}.events", "topic"),
        Exchange(f"{p}.inbound", "direct", _frozen({"alternate-exchange": f"{p}.unrouted"})),
        Exchange(f"{p}.unrouted", "fanout"),
        Exchange(f"{p}.retry", "direct"),
        Exchange(f"{p}.dead", "fanout"),
    ]
    queues = [
        Queue(f"{p}.commands", work_args),
        *(Queue(f"{p}.inbound.{agency}", work_args) for agency in agencies),
        Queue(f"{p}.unrouted", _frozen({"x-queue-type": "quorum"})),
        Queue(f"{p}.dead", _frozen({"x-queue-type": "quorum"})),
        Queue(f"{p}.registry", _frozen({"x-queue-type": "quorum"})),
        *_retry_queues(p, agencies, retry_delays),
    ]
    bindings = [
        Binding(f"{p}.commands", f"{p}.commands", "#"),
        *(Binding(f"{p}.inbound", f"{p}.inbound.{agency}", agency) for agency in agencies),
        Binding(f"{p}.unrouted", f"{p}.unrouted", ""),
        Binding(f"{p}.dead", f"{p}.dead", ""),
        Binding(f"{p}.events", f"{p}.registry", "#"),
        *(
            Binding(f"{p}.retry", q.name, q.name.removeprefix(f"{p}.retry."))
            for q in _retry_queues(p, agencies, retry_delays)
        ),
    ]
    return Topology(
        p, tuple(agencies), tuple(retry_delays), tuple(exchanges), tuple(queues), tuple(bindings)
    )


def _retry_queues(prefix: str, agencies: Sequence[str], delays: Sequence[int]) -> list[Queue]:
    # Classic queues: per-queue TTL with dead-lettering back is their oldest, surest feature.
    # Dead-lettering keeps the key the message was published with unless the queue names one,
    # so each queue names the key that leads home: the agency, or any key for commands.
    targets = [(agency, f"{prefix}.inbound", agency) for agency in agencies]
    targets.append(("commands", f"{prefix}.commands", "retry"))
    return [
        Queue(
            f"{prefix}.retry.{name}.{delay}s",
            _frozen(
                {
                    "x-message-ttl": delay * 1000,
                    "x-dead-letter-exchange": exchange,
                    "x-dead-letter-routing-key": key,
                }
            ),
        )
        for name, exchange, key in targets
        for delay in delays
    ]
