"""``KombuBus``: the hub's bus on RabbitMQ (``amqp://``) and kombu's memory transport.

The same kombu code declares and consumes on both. Where the memory transport lacks a
broker feature the bus does the broker's part itself, so one contract suite holds for
both: delayed retries (a timer instead of TTL queues), the alternate exchange for unknown
agencies, dead-lettering on reject, and requeueing what a stopped consumer left unsettled.
Publishing to RabbitMQ uses publisher confirms, pipelined: a batch is sent, then every
confirm is awaited once.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import amqp
import kombu.exceptions
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Consumer

from hub.errors import PermanentError, RetryableError
from hub.routing.api import BatchHandler, Delivery, Outgoing
from hub.routing.topology import Topology

CONFIRM_TIMEOUT = 30.0
_CONNECTION_ERRORS = (
    OSError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.ChannelError,
    kombu.exceptions.OperationalError,
    ConnectionError,
)


class BrokerUnavailableError(RetryableError):
    """The broker cannot be reached or dropped the connection."""

    code = "BROKER_UNAVAILABLE"


class BrokerRefusedError(PermanentError):
    """The broker refused an operation (no such exchange or queue, conflicting arguments)."""

    code = "BROKER_REFUSED"


class PublishNotConfirmedError(RetryableError):
    """The broker did not confirm a publish (nack or timeout): it may not be stored."""

    code = "PUBLISH_NOT_CONFIRMED"


@dataclass
class KombuDelivery:
    """One consumed message; settles through the bus so memory emulation can step in."""

    message: Message
    queue: str
    bus: KombuBus
    settled: bool = False

    @property
    def body(self) -> bytes:
        body = self.message.body
        return body if isinstance(body, bytes) else str(body).encode()

    @property
    def routing_key(self) -> str:
        return str(self.message.delivery_info.get("routing_key", ""))

    @property
    def headers(self) -> Mapping[str, Any]:
        return self.message.headers or {}

    @property
    def message_id(self) -> str | None:
        value = self.message.properties.get("message_id")
        return str(value) if value else None

    @property
    def content_type(self) -> str | None:
        return self.message.content_type or None

    @property
    def redelivered(self) -> bool:
        return bool(self.message.delivery_info.get("redelivered"))

    def ack(self) -> None:
        self.message.ack()
        self.settled = True

    def reject(self) -> None:
        self.bus._reject(self)
        self.settled = True

    def requeue(self) -> None:
        if not self.settled:
            self.message.reject(requeue=True)
            self.settled = True


@dataclass(order=True)
class _Due:
    at: float
    order: int
    exchange: str = field(compare=False)
    message: Outgoing = field(compare=False)


class KombuBus:
    """Publishing with confirms, batched consuming, delayed redelivery, declared topology."""

    def __init__(self, url: str, topology: Topology) -> None:
        self.url = url
        self.topology = topology
        self.memory = url.startswith("memory://")
        self._publisher: Connection | None = None
        self._lock = threading.Lock()
        self._due: list[_Due] = []
        self._order = itertools.count()
        self._timer: threading.Thread | None = None
        self._closed = threading.Event()

    def _connection(self) -> Connection:
        options = {"polling_interval": 0.005} if self.memory else {}
        return Connection(self.url, transport_options=options, heartbeat=0, connect_timeout=5)

    # --- topology --------------------------------------------------------------------

    def declare(self) -> None:
        """Declare every exchange, queue and binding; safe to repeat."""
        with self._translated(), self._connection() as connection:
            channel = connection.default_channel
            exchanges = {e.name: self._exchange(e.name) for e in self.topology.exchanges}
            for exchange in exchanges.values():
                exchange(channel).declare()
            for queue in self.topology.queues:
                self._queue(queue.name, declare=True)(channel).declare()
            for binding in self.topology.bindings:
                Queue(
                    binding.queue, exchanges[binding.exchange], binding.routing_key, no_declare=True
                )(channel).bind_to(binding.exchange, binding.routing_key)

    def _exchange(self, name: str) -> Exchange:
        spec = next(e for e in self.topology.exchanges if e.name == name)
        arguments = {} if self.memory else dict(spec.arguments)
        return Exchange(spec.name, spec.type, durable=spec.durable, arguments=arguments)

    def _queue(self, name: str, *, declare: bool = False) -> Queue:
        spec = next(q for q in self.topology.queues if q.name == name)
        arguments = {} if self.memory else dict(spec.arguments)
        return Queue(
            spec.name, durable=spec.durable, queue_arguments=arguments, no_declare=not declare
        )

    # --- publishing ------------------------------------------------------------------

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        """Publish persistently; returns only when the broker has confirmed every message."""
        if not messages:
            return
        with self._lock, self._translated():
            try:
                if self.memory:
                    self._publish_memory(exchange, messages)
                else:
                    self._publish_confirmed(exchange, messages)
            except Exception:
                self._reset_publisher()
                raise

    def _publisher_connection(self) -> Connection:
        if self._publisher is None:
            self._publisher = self._connection()
            self._publisher.connect()
        return self._publisher

    def _reset_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(Exception):
                publisher.release()

    def _publish_memory(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        producer = self._publisher_connection().Producer()
        for message in messages:
            target, key = self._memory_route(exchange, message.routing_key)
            producer.publish(message.body, exchange=target, routing_key=key, **_properties(message))

    def _memory_route(self, exchange: str, routing_key: str) -> tuple[str, str]:
        # RabbitMQ's alternate exchange, done by hand: the memory transport drops unroutables.
        spec = next((e for e in self.topology.exchanges if e.name == exchange), None)
        fallback = spec.arguments.get("alternate-exchange") if spec else None
        if (
            fallback
            and spec
            and spec.type == "direct"
            and (routing_key not in self.topology.bound_keys(exchange))
        ):
            return str(fallback), routing_key
        return exchange, routing_key

    def _publish_confirmed(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        channel = self._confirm_channel()
        waiting = _Confirms(len(messages), channel)
        for message in messages:
            channel._basic_publish(
                _amqp_message(message), exchange=exchange, routing_key=message.routing_key
            )
        waiting.wait(self._publisher_connection())

    def _confirm_channel(self) -> amqp.Channel:
        connection = self._publisher_connection()
        channel: amqp.Channel = connection.default_channel
        if not getattr(channel, "_hub_confirms", False):
            channel.confirm_select()
            channel._hub_confirms = True
            channel._hub_tag = 0
            channel._hub_pending = {}
            channel.events["basic_ack"].add(
                lambda tag, multiple: _settle(channel, tag, multiple, ok=True)
            )
            channel.events["basic_nack"].add(
                lambda tag, multiple: _settle(channel, tag, multiple, ok=False)
            )
        return channel

    def publish_delayed(
        self, target_exchange: str, messages: Sequence[Outgoing], delay_seconds: float
    ) -> None:
        """Send messages back to ``target_exchange`` after about ``delay_seconds``."""
        if self.memory:
            self._schedule(target_exchange, messages, delay_seconds)
            return
        for message in messages:
            key, _ = self.topology.retry_route(target_exchange, message.routing_key, delay_seconds)
            self.publish(
                self.topology.retry_exchange.name,
                [
                    Outgoing(
                        message.body, key, message.headers, message.message_id, message.content_type
                    )
                ],
            )

    def _schedule(self, exchange: str, messages: Sequence[Outgoing], delay: float) -> None:
        key_delay = (
            self.topology.retry_route(exchange, messages[0].routing_key, delay)[1]
            if messages
            else delay
        )
        with self._lock:
            for message in messages:
                heapq.heappush(
                    self._due,
                    _Due(time.monotonic() + key_delay, next(self._order), exchange, message),
                )
            if self._timer is None:
                self._timer = threading.Thread(target=self._run_timer, daemon=True)
                self._timer.start()

    def _run_timer(self) -> None:
        while not self._closed.wait(0.05):
            due: list[_Due] = []
            with self._lock:
                while self._due and self._due[0].at <= time.monotonic():
                    due.append(heapq.heappop(self._due))
            for item in due:
                self.publish(item.exchange, [item.message])

    # --- consuming -------------------------------------------------------------------

    def consume(
        self,
        queues: Sequence[str],
        on_batch: BatchHandler,
        *,
        stop: threading.Event,
        prefetch: int = 200,
        max_batch: int = 100,
        max_wait: float = 0.05,
    ) -> None:
        """Deliver batches to ``on_batch`` until ``stop``; unsettled messages go back."""
        batch: list[KombuDelivery] = []
        with self._translated(), self._connection() as connection:
            channel = connection.channel()
            consumers = [self._consumer(channel, name, batch, prefetch) for name in queues]
            try:
                for consumer in consumers:
                    consumer.consume()
                self._loop(connection, batch, on_batch, stop, max_batch, max_wait)
            finally:
                self._give_back(batch)
                for consumer in consumers:
                    with contextlib.suppress(Exception):
                        consumer.cancel()

    def _consumer(
        self, channel: Any, queue: str, batch: list[KombuDelivery], prefetch: int
    ) -> Consumer:
        consumer = Consumer(channel, [self._queue(queue)], accept=None, no_ack=False)
        consumer.qos(prefetch_count=prefetch)
        consumer.on_message = lambda message: batch.append(KombuDelivery(message, queue, self))
        return consumer

    def _loop(  # noqa: PLR0917 - one private call site
        self,
        connection: Connection,
        batch: list[KombuDelivery],
        on_batch: BatchHandler,
        stop: threading.Event,
        max_batch: int,
        max_wait: float,
    ) -> None:
        started: float | None = None
        while not stop.is_set():
            with contextlib.suppress(socket.timeout, TimeoutError):
                connection.drain_events(timeout=max_wait)
            if batch and started is None:
                started = time.monotonic()
            waited = time.monotonic() - started if started is not None else 0.0
            if batch and (len(batch) >= max_batch or waited >= max_wait):
                taken = batch[:max_batch]
                del batch[:max_batch]
                on_batch(cast(list[Delivery], taken))
                started = None if not batch else time.monotonic()

    def _give_back(self, batch: list[KombuDelivery]) -> None:
        # RabbitMQ returns unacked messages when the channel closes; memory needs telling.
        for delivery in batch:
            with contextlib.suppress(Exception):
                delivery.requeue()

    def _reject(self, delivery: KombuDelivery) -> None:
        if self.memory:
            dead = Outgoing(
                delivery.body,
                delivery.routing_key,
                {**delivery.headers, "x-hub-dead-from": delivery.queue},
                delivery.message_id,
                delivery.content_type,
            )
            self.publish(self.topology.dead_exchange.name, [dead])
            delivery.message.ack()
        else:
            delivery.message.reject(requeue=False)

    # --- the rest --------------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        depths: dict[str, int] = {}
        with self._translated(), self._connection() as connection:
            channel = connection.channel()
            for queue in self.topology.queues:
                _, count, _ = channel.queue_declare(queue.name, passive=True)
                depths[queue.name] = int(count)
        return depths

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._reset_publisher()

    @contextlib.contextmanager
    def _translated(self) -> Any:
        try:
            yield
        except RetryableError:
            raise
        except amqp.exceptions.ChannelError as exc:
            raise BrokerRefusedError(f"broker refused: {exc}", url=_safe(self.url)) from exc
        except _CONNECTION_ERRORS as exc:
            raise BrokerUnavailableError(f"broker unavailable: {exc}", url=_safe(self.url)) from exc


class _Confirms:
    """Counts the confirms of one pipelined batch on a channel in confirm mode."""

    def __init__(self, count: int, channel: Any) -> None:
        self.channel = channel
        first = channel._hub_tag + 1
        channel._hub_tag += count
        self.tags = set(range(first, first + count))
        for tag in self.tags:
            channel._hub_pending[tag] = None

    def wait(self, connection: Connection) -> None:
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        pending = self.channel._hub_pending
        while any(pending.get(tag) is None for tag in self.tags):
            if time.monotonic() > deadline:
                raise PublishNotConfirmedError("broker did not confirm in time")
            with contextlib.suppress(socket.timeout, TimeoutError):
                connection.drain_events(timeout=1)
        refused = [tag for tag in self.tags if pending.pop(tag) is False]
        if refused:
            raise PublishNotConfirmedError(f"broker refused {len(refused)} messages (nack)")


def _settle(channel: Any, tag: int, multiple: bool, *, ok: bool) -> None:
    pending = channel._hub_pending
    for waiting in [t for t in pending if t == tag or (multiple and t <= tag)]:
        if pending[waiting] is None:
            pending[waiting] = ok


def _properties(message: Outgoing) -> dict[str, Any]:
    return {
        "headers": dict(message.headers),
        "message_id": message.message_id,
        "content_type": message.content_type or "application/octet-stream",
        "content_encoding": "binary",
        "delivery_mode": 2,
    }


def _amqp_message(message: Outgoing) -> amqp.Message:
    return amqp.Message(
        message.body,
        application_headers=dict(message.headers),
        message_id=message.message_id,
        content_type=message.content_type or "application/octet-stream",
        delivery_mode=2,
    )


def _safe(url: str) -> str:
    head, _, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://***@{tail}" if head else url


def create_bus(url: str, topology: Topology) -> KombuBus:
    """The bus for a kombu URL: ``memory://`` (embedded) or ``amqp://…`` (RabbitMQ)."""
    return KombuBus(url, topology)
