"""``MemoryBus``: the bus inside one process, on kombu's memory transport (``memory://``).

The embedded hub (``hub demo``, SQLite and no RabbitMQ) runs on it, and so do most tests.
Where the memory transport lacks a broker feature, the bus plays the broker's part, so that
one contract suite (``contract_tests/test_bus_contract.py``) holds for it and ``KombuBus``:

* alternate exchange: a message no queue is bound for goes to the exchange's alternate;
* mandatory / unknown exchange: what no queue (nor an alternate's) takes is returned, as
  RabbitMQ returns it, and parked or refused the same way;
* dead-lettering: ``reject`` publishes to the queue's ``x-dead-letter-exchange`` with an
  ``x-death`` record, like RabbitMQ;
* TTL retry queues: a scheduler thread republishes each delayed message when due;
* returning unsettled messages when a consumer stops (or a replay fails): put back at the
  head of the queue.

Quorum delivery limits are not emulated: on memory a crashing consumer takes the broker
with it. The broker's state is the process's: every ``MemoryBus`` of a process shares it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import kombu.exceptions
import structlog
from kombu.message import Message

from hub.errors import RetryableError
from hub.routing._kombu import (
    DEFAULT_CONTENT_TYPE,
    KombuBase,
    KombuDelivery,
    own_headers,
    with_headers,
)
from hub.routing.api import Outgoing, PublishNotConfirmedError
from hub.routing.topology import Topology

log = structlog.get_logger("hub.bus")

URL = "memory://"


class MemoryBus(KombuBase):
    """The ``Bus`` port on kombu's in-process memory broker, playing RabbitMQ's part where
    the memory transport has none of its own (see the module's docstring)."""

    # kombu's memory transport ignores ``multiple`` on an ack: each is sent on its own.
    gathers_acks: ClassVar[bool] = False

    def __init__(self, topology: Topology) -> None:
        super().__init__(URL, topology, ssl_options=False)
        self._scheduler = _memory_scheduler()

    # --- publishing ------------------------------------------------------------------

    def _send(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish what a queue takes; the rest is returned, as RabbitMQ returns it."""
        channel = self._publisher_connection().default_channel
        _require_exchange(channel, exchange)
        targets = [self._target(channel, exchange, m.routing_key) for m in messages]
        producer = self._publisher_connection().Producer()
        for message, target in zip(messages, targets, strict=True):
            if target is not None:
                properties = _kombu_properties(message)
                key = message.routing_key
                producer.publish(message.body, exchange=target, routing_key=key, **properties)
        return [m for m, target in zip(messages, targets, strict=True) if target is None]

    def _target(self, channel: Any, exchange: str, routing_key: str) -> str | None:
        # RabbitMQ's alternate exchange: what no queue is bound for goes there instead, and
        # what the alternate cannot route either is unroutable (returned, if mandatory).
        if _routes(channel, exchange, routing_key):
            return exchange
        try:
            alternate = self.topology.exchange(exchange).arguments.get("alternate-exchange")
        except KeyError:
            return None
        if alternate and _routes(channel, str(alternate), routing_key):
            return str(alternate)
        return None

    def publish_delayed(
        self, target_exchange: str, messages: Sequence[Outgoing], delay_seconds: float
    ) -> None:
        """Send ``messages`` back to ``target_exchange`` (with their own routing keys) after
        the smallest retry delay not shorter than ``delay_seconds``, or the longest: held by
        the process's scheduler, counted in the retry queue's depth meanwhile."""
        route = self.topology.retry_route(target_exchange, delay_seconds)
        own = [own_headers(m) for m in messages]
        self._scheduler.add(self.publish, target_exchange, route.queue, own, route.delay)

    # --- what RabbitMQ does on its own -------------------------------------------------

    def _keep_taken(self, batch: Sequence[Message], queue: str) -> None:
        for message in reversed(batch):
            _requeue_at_head(message, queue)

    def _reject(self, delivery: KombuDelivery) -> None:
        try:
            dead_exchange = self.topology.queue(delivery.queue).arguments.get(
                "x-dead-letter-exchange"
            )
        except KeyError:
            dead_exchange = None  # a queue of someone else's: no dead-lettering, dropped
        if dead_exchange:
            death = _death(delivery)
            self._publish(str(dead_exchange), [with_headers(_outgoing(delivery), death)])
        delivery.message.ack()

    def _return_unsettled(self, delivery: KombuDelivery) -> None:
        _requeue_at_head(delivery.message, delivery.queue)

    def queue_depths(self) -> dict[str, int]:
        """Ready messages in every queue of the topology (delayed ones in their retry queue)."""
        depths = super().queue_depths()
        for name, count in self._scheduler.pending().items():
            if name in depths:  # the scheduler serves every memory bus in the process
                depths[name] += count
        return depths


def _routes(channel: Any, exchange: str, routing_key: str) -> bool:
    # kombu's memory broker keeps a deleted queue's bindings (and would make the queue again
    # on the next publish): only a queue that exists counts, as on RabbitMQ.
    return any(channel._has_queue(queue) for queue in channel._lookup(exchange, routing_key))


def _require_exchange(channel: Any, exchange: str) -> None:
    try:
        channel.exchange_declare(exchange=exchange, passive=True)
    except kombu.exceptions.ChannelError as exc:
        raise PublishNotConfirmedError(f"no exchange {exchange!r}", exchange=exchange) from exc


def _kombu_properties(message: Outgoing) -> dict[str, Any]:
    return {
        "headers": dict(message.headers),
        "message_id": message.message_id,
        "content_type": message.content_type or DEFAULT_CONTENT_TYPE,
        "content_encoding": "binary",
        "delivery_mode": 2,
    }


def _requeue_at_head(message: Any, queue: str) -> None:
    # Memory-transport internals: the queue is a queue.Queue; returned messages go first,
    # as RabbitMQ serves them, and the original message is forgotten by its channel.
    raw = message.serializable()  # a kombu.transport.virtual Message
    raw["properties"] = {
        **raw["properties"],
        "delivery_info": {**message.delivery_info, "redelivered": True},
    }
    target = message.channel._queue_for(queue)
    with target.mutex:
        target.queue.appendleft(raw)
        target.not_empty.notify()
    message.channel.qos.ack(message.delivery_tag)


def _death(delivery: KombuDelivery) -> dict[str, Any]:
    entry = {
        "count": 1,
        "reason": "rejected",
        "queue": delivery.queue,
        "exchange": str(delivery.message.delivery_info.get("exchange") or ""),
        "routing-keys": [delivery.routing_key],
        "time": datetime.now(UTC).replace(microsecond=0),
    }
    earlier = list(delivery.headers.get("x-death") or [])
    first = {
        "x-first-death-queue": delivery.queue,
        "x-first-death-reason": "rejected",
        "x-first-death-exchange": entry["exchange"],
    }
    return {**first, **delivery.headers, "x-death": [entry, *earlier]}


def _outgoing(delivery: KombuDelivery) -> Outgoing:
    d = delivery
    return Outgoing(d.body, d.routing_key, d.headers, d.message_id, d.content_type)


# --- TTL retry queues ----------------------------------------------------------------------

_Publish = Callable[[str, Sequence[Outgoing]], None]


@dataclass(order=True)
class _Due:
    at: float
    order: int
    publish: _Publish = field(compare=False)
    exchange: str = field(compare=False)
    queue: str = field(compare=False)
    message: Outgoing = field(compare=False)


class _Scheduler:
    """The memory transport's TTL retry queues: republishes each message when it is due.

    One per process, like the memory broker itself: delayed messages outlive a closed bus.
    """

    def __init__(self) -> None:
        self._due: list[_Due] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(
        self,
        publish: _Publish,
        exchange: str,
        queue: str,
        messages: Sequence[Outgoing],
        delay: float,
    ) -> None:
        at = time.monotonic() + delay
        with self._wake:
            for message in messages:
                item = _Due(at, next(self._order), publish, exchange, queue, message)
                heapq.heappush(self._due, item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bus-delays", daemon=True)
                self._thread.start()
            self._wake.notify()

    def pending(self) -> dict[str, int]:
        with self._wake:
            counts: dict[str, int] = {}
            for item in self._due:
                counts[item.queue] = counts.get(item.queue, 0) + 1
            return counts

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._ready():
                    self._wake.wait(self._due[0].at - time.monotonic() if self._due else None)
                item = heapq.heappop(self._due)
            self._send(item)

    def _ready(self) -> bool:
        return bool(self._due) and self._due[0].at <= time.monotonic()

    def _send(self, item: _Due) -> None:
        try:
            item.publish(item.exchange, [item.message])
        except RetryableError as exc:
            # As RabbitMQ's dead-lettering from a TTL queue: what cannot be routed is lost.
            log.error("delayed message dropped", exchange=item.exchange, error=str(exc))


_scheduler: _Scheduler | None = None
_scheduler_lock = threading.Lock()


def _memory_scheduler() -> _Scheduler:
    global _scheduler  # noqa: PLW0603 - one per process, as the memory broker's state
    with _scheduler_lock:
        if _scheduler is None:
            _scheduler = _Scheduler()
        return _scheduler
