"""``KombuBus``: the hub's bus on RabbitMQ (``amqp://``, or ``amqps://`` with the broker's
certificate and name verified, see ``BrokerTls``) and kombu's memory transport.

The same kombu code declares, consumes and measures queues on both transports.

Publishing to RabbitMQ goes through a py-amqp channel in confirm mode, pipelined: the whole
batch is written, then the connection is drained until every delivery tag is settled. Every
message is ``mandatory``. A nack, a channel error, a lost connection or the timeout raises;
so does a returned message, except an event: the events no queue is bound for are published
to the parking exchange (``{p}.events.parked``), confirmed there, and only then does the
publish succeed. Success means the broker holds every message of the batch in a queue.
``replay_parked`` offers parked events to the events exchange again (the relay calls it).

Where the memory transport lacks a broker feature, the bus plays the broker's part so one
contract suite holds for both:

* alternate exchange: a message no queue is bound for goes to the exchange's alternate;
* mandatory / unknown exchange: what no queue (nor an alternate's) takes is returned, as
  RabbitMQ returns it, and parked or refused the same way;
* dead-lettering: ``reject`` publishes to the queue's ``x-dead-letter-exchange`` with an
  ``x-death`` record, like RabbitMQ;
* TTL retry queues: a scheduler thread republishes each delayed message when due;
* returning unsettled messages when a consumer stops: put back at the head of the queue.

Quorum delivery limits are not emulated: on memory a crashing consumer takes the broker
with it. Heartbeats are off: a long batch (a database outage) must not cost the consumer
its connection; a dead peer is noticed by TCP.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import amqp
import kombu.exceptions
import structlog
from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer

from hub.errors import ConfigurationError, PermanentError, RetryableError
from hub.routing._amqp import corked, kombu_transport
from hub.routing.api import Bus, Delivery, Outgoing, ParkedReplay
from hub.routing.topology import Topology
from hub.runtime import backoff_forever

log = structlog.get_logger("hub.bus")

CONFIRM_TIMEOUT = 30.0
REPLAY_BATCH = 500  # parked events taken, published and settled together
POLL_SECONDS = 0.1  # longest a consumer goes without looking at its stop event
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_ROUTING_HEADERS = frozenset({"CC", "BCC"})  # RabbitMQ routes by these: the bus owns them
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.RecoverableConnectionError,
    kombu.exceptions.OperationalError,
)
_REFUSALS: tuple[type[BaseException], ...] = (
    amqp.exceptions.ChannelError,
    kombu.exceptions.ChannelError,
)


class BrokerUnavailableError(RetryableError):
    """The broker cannot be reached or dropped the connection."""

    code = "BROKER_UNAVAILABLE"


class PublishNotConfirmedError(RetryableError):
    """The broker did not confirm every message (nack, returned, refused, timeout): some
    may not be stored, so the whole batch must be published again."""

    code = "PUBLISH_NOT_CONFIRMED"


class BrokerTlsError(PermanentError):
    """The broker's certificate failed verification (wrong CA, wrong host, expired): no
    retry helps until ``broker_tls_ca`` or the broker's certificate is put right."""

    code = "BROKER_TLS_REJECTED"


class BrokerRefusedError(PermanentError):
    """The broker refused to declare or consume (no such queue, conflicting arguments)."""

    code = "BROKER_REFUSED"


class TopologyConflictError(BrokerRefusedError):
    """An exchange or queue of the topology exists on the broker with other arguments."""

    code = "TOPOLOGY_CONFLICT"


@contextlib.contextmanager
def _conflict(kind: str, name: str, wanted: str) -> Iterator[None]:
    try:
        yield
    except amqp.exceptions.PreconditionFailed as exc:
        raise TopologyConflictError(
            f"{kind} {name!r} exists on the broker with other arguments than the hub's "
            f"({wanted}): {exc.reply_text}. The broker never changes what exists: rename it, "
            'or drain and delete it, and declare again (README, "The broker\'s topology")',
            kind=kind,
            name=name,
        ) from exc


def _described(arguments: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in arguments.items()) or "no arguments"


@dataclass(eq=False)
class KombuDelivery:
    """A consumed message; the first ``ack``/``reject`` settles it, later calls do nothing."""

    body: bytes
    routing_key: str
    headers: Mapping[str, Any]
    message_id: str | None
    content_type: str | None
    queue: str
    redelivered: bool
    message: Message = field(repr=False)
    settle: Callable[[KombuDelivery, bool], None] = field(repr=False)
    settled: bool = False

    def ack(self) -> None:
        if not self.settled:
            self.settle(self, True)
            self.settled = True

    def reject(self) -> None:
        if not self.settled:
            self.settle(self, False)
            self.settled = True


@dataclass
class _Inflight:
    """One consumer's deliveries: waiting for a batch, not yet settled, acked but not sent."""

    buffer: list[KombuDelivery] = field(default_factory=list)
    unsettled: dict[int, KombuDelivery] = field(default_factory=dict)
    acked: list[KombuDelivery] = field(default_factory=list)
    in_batch: bool = False  # acks while the handler runs are gathered into one


def _tag(delivery: KombuDelivery) -> int:
    return int(delivery.message.delivery_tag)


class KombuBus:
    """The ``Bus`` port over kombu: RabbitMQ with confirms, or the in-process memory broker.

    Thread-safe for one consumer thread plus any number of publishing threads: publishers
    share one connection under a lock, every ``consume`` call opens its own.
    """

    def __init__(
        self,
        url: str,
        topology: Topology,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        tls: BrokerTls | None = None,
    ) -> None:
        self.url = url
        self.topology = topology
        self.memory = url.startswith("memory://")
        self.confirm_timeout = confirm_timeout
        self.ssl = _ssl_options(url, tls or BrokerTls())
        self._lock = threading.Lock()
        self._publisher: Connection | None = None
        self._replayer: Connection | None = None  # kept: the relay looks every few seconds
        self._replay_lock = threading.Lock()
        self._confirms: _ConfirmChannel | None = None
        self._scheduler = _memory_scheduler() if self.memory else None

    def _connect(self) -> Connection:
        return _open(self.url, self.ssl)

    @contextlib.contextmanager
    def _errors(self, action: str, **details: Any) -> Iterator[None]:
        try:
            yield
        except RetryableError:
            raise
        except _REFUSALS as exc:
            raise BrokerRefusedError(f"broker refused to {action}: {exc}", **details) from exc
        except _CONNECTION_ERRORS as exc:
            url = _masked(self.url)
            if (rejected := _tls_rejection(exc)) is not None:
                message = f"broker's TLS certificate rejected ({action}): {rejected.verify_message}"
                raise BrokerTlsError(message, url=url) from exc
            raise BrokerUnavailableError(f"broker unavailable ({action}): {exc}", url=url) from exc

    # --- topology --------------------------------------------------------------------

    def declare(self) -> None:
        """Declare every exchange, queue and binding; running it again changes nothing.

        A part that exists on the broker with other arguments (made by an earlier hub, or by
        someone else under the same name) is refused with ``TopologyConflictError``: the
        broker never changes an exchange's or a queue's arguments, so only an operator can."""
        with self._errors("declare the topology"), self._connect() as connection:
            channel = connection.channel()
            for e in self.topology.exchanges:
                with _conflict("exchange", e.name, f"{e.type} {_described(e.arguments)}"):
                    channel.exchange_declare(
                        exchange=e.name,
                        type=e.type,
                        durable=e.durable,
                        auto_delete=False,
                        arguments=dict(e.arguments),
                    )
            for q in self.topology.queues:
                arguments = q.broker_arguments
                with _conflict("queue", q.name, _described(arguments)):
                    channel.queue_declare(
                        queue=q.name, durable=q.durable, auto_delete=False, arguments=arguments
                    )
            for b in self.topology.bindings:
                channel.queue_bind(queue=b.queue, exchange=b.exchange, routing_key=b.routing_key)

    # --- publishing ------------------------------------------------------------------

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        """Publish persistently; returns once the broker has confirmed every message and
        holds each in a queue: one bound for it or, for an event, the parking queue."""
        parked = self._publish(exchange, [_own_headers(m) for m in messages])
        if parked:
            keys = sorted({m.routing_key for m in parked})
            log.warning(
                "events parked: no queue is bound for them",
                exchange=exchange,
                count=len(parked),
                routing_keys=keys[:20],
            )

    def _publish(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish and await the broker; the messages parked for want of a bound queue."""
        if not messages:
            return []
        parking = self.topology.parking_for(exchange)
        with self._lock:
            try:
                with self._errors("publish"):
                    returned = self._send(exchange, messages)
                    if returned and parking is not None:
                        _refuse_unroutable(parking, self._send(parking, returned))
                        return returned
                    _refuse_unroutable(exchange, returned)
                    return []
            except Exception:
                self._drop_publisher()  # its channel's state is unknown now
                raise

    def _send(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish ``mandatory`` and await the broker; the messages it returned unroutable."""
        if self.memory:
            return self._send_memory(exchange, messages)
        return self._confirm_channel().publish(exchange, messages)

    def _publisher_connection(self) -> Connection:
        if self._publisher is None:
            self._publisher = self._connect()
        return self._publisher

    def _confirm_channel(self) -> _ConfirmChannel:
        if self._confirms is None:
            connection = self._publisher_connection()
            self._confirms = _ConfirmChannel(connection, self.confirm_timeout)
        return self._confirms

    def _drop_publisher(self) -> None:
        publisher, self._publisher, self._confirms = self._publisher, None, None
        if publisher is not None:
            with contextlib.suppress(Exception):
                publisher.release()

    def _send_memory(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        channel = self._publisher_connection().default_channel
        _require_exchange(channel, exchange)
        targets = [self._memory_target(channel, exchange, m.routing_key) for m in messages]
        producer = self._publisher_connection().Producer()
        for message, target in zip(messages, targets, strict=True):
            if target is not None:
                properties = _kombu_properties(message)
                key = message.routing_key
                producer.publish(message.body, exchange=target, routing_key=key, **properties)
        return [m for m, target in zip(messages, targets, strict=True) if target is None]

    def _memory_target(self, channel: Any, exchange: str, routing_key: str) -> str | None:
        # RabbitMQ's alternate exchange: what no queue is bound for goes there instead, and
        # what the alternate cannot route either is unroutable (returned, if mandatory).
        if _memory_routes(channel, exchange, routing_key):
            return exchange
        try:
            alternate = self.topology.exchange(exchange).arguments.get("alternate-exchange")
        except KeyError:
            return None
        if alternate and _memory_routes(channel, str(alternate), routing_key):
            return str(alternate)
        return None

    def publish_delayed(
        self, target_exchange: str, messages: Sequence[Outgoing], delay_seconds: float
    ) -> None:
        """Send ``messages`` back to ``target_exchange`` (with their own routing keys) after
        the smallest retry delay not shorter than ``delay_seconds``, or the longest."""
        route = self.topology.retry_route(target_exchange, delay_seconds)
        own = [_own_headers(m) for m in messages]
        if self._scheduler is not None:
            self._scheduler.add(self.publish, target_exchange, route.queue, own, route.delay)
            return
        cc = [_with_headers(m, {"CC": [route.routing_key]}) for m in own]
        self._publish(self.topology.retry_exchange.name, cc)

    # --- parked events -----------------------------------------------------------------

    def replay_parked(self, limit: int = 5000) -> ParkedReplay:
        """Publish up to ``limit`` parked events (oldest first) to the events exchange again:
        each reaches the queues bound for it now or is parked again, at the queue's tail. A
        parked event is settled only after its new place has confirmed it (at least once)."""
        queue = self.topology.parked_queue.name
        with self._replay_lock:
            try:
                with self._errors("replay parked events", queue=queue):
                    return self._replay(self._replay_channel(), queue, limit)
            except Exception:
                self._drop_replayer()  # unsettled parked events go back to their queue
                raise

    def _replay(self, channel: Any, queue: str, limit: int) -> ParkedReplay:
        waiting = min(limit, int(channel.queue_declare(queue=queue, passive=True)[1]))
        taken = parked = 0
        while taken < waiting:
            batch = _take(channel, queue, min(REPLAY_BATCH, waiting - taken))
            if not batch:
                break
            try:
                parked += len(self._publish(self.topology.events_exchange.name, _parked(batch)))
            except Exception:
                # RabbitMQ returns unsettled messages when the channel closes; memory would not.
                for message in reversed(batch) if self.memory else ():
                    _requeue_message_at_head(message, queue)
                raise
            for message in batch:
                message.ack()
            taken += len(batch)
        return ParkedReplay(taken, parked)

    def _replay_channel(self) -> Any:
        if self._replayer is None:
            self._replayer = self._connect()
        return self._replayer.default_channel

    def _drop_replayer(self) -> None:
        replayer, self._replayer = self._replayer, None
        if replayer is not None:
            with contextlib.suppress(Exception):
                replayer.release()

    # --- consuming -------------------------------------------------------------------

    def consume(
        self,
        queues: Sequence[str],
        on_batch: Callable[[list[Delivery]], None],
        *,
        stop: threading.Event,
        prefetch: int = 200,
        max_batch: int = 100,
        max_wait: float = 0.05,
    ) -> None:
        """Hand ``on_batch`` up to ``max_batch`` deliveries, or what came within ``max_wait``
        of the first, until ``stop``; what is left unsettled goes back to its queue."""
        inflight = _Inflight()
        with self._errors("consume", queues=list(queues)):
            connection = self._connect()
        try:
            with self._errors("consume", queues=list(queues)):
                self._subscribe(connection.channel(), queues, prefetch, inflight)
            self._loop(connection, inflight, on_batch, stop, (max_batch, max_wait))
        finally:
            self._give_back(list(inflight.unsettled.values()))
            with contextlib.suppress(Exception):
                connection.release()  # closing the channel returns what RabbitMQ still holds

    def _subscribe(
        self,
        channel: Any,
        queues: Sequence[str],
        prefetch: int,
        inflight: _Inflight,
    ) -> None:
        def settle(delivery: KombuDelivery, ok: bool) -> None:
            if ok and inflight.in_batch and not self.memory:
                inflight.acked.append(delivery)  # sent when the batch handler returns
                return
            self._settle(delivery, ok)
            inflight.unsettled.pop(id(delivery), None)

        channel.basic_qos(0, prefetch, False)
        for name in queues:
            channel.queue_declare(queue=name, passive=True)  # fail now, not poll forever

            def received(message: Message, queue: str = name) -> None:
                delivery = self._delivery(message, queue, settle)
                inflight.unsettled[id(delivery)] = delivery
                inflight.buffer.append(delivery)

            queue = _kombu_queue(name)
            Consumer(
                channel, [queue], accept=None, auto_declare=False, on_message=received
            ).consume()

    @staticmethod
    def _delivery(
        message: Message, queue: str, settle: Callable[[KombuDelivery, bool], None]
    ) -> KombuDelivery:
        info, properties = message.delivery_info, message.properties
        headers = {k: v for k, v in (message.headers or {}).items() if k not in _ROUTING_HEADERS}
        return KombuDelivery(
            body=_bytes(message.body),
            routing_key=str(info.get("routing_key") or ""),
            headers=headers,
            message_id=properties.get("message_id") or None,
            content_type=message.content_type or None,
            queue=queue,
            redelivered=bool(info.get("redelivered")),
            message=message,
            settle=settle,
        )

    def _loop(
        self,
        connection: Connection,
        inflight: _Inflight,
        on_batch: Callable[[list[Delivery]], None],
        stop: threading.Event,
        limits: tuple[int, float],
    ) -> None:
        max_batch, max_wait = limits
        buffer = inflight.buffer
        due: float | None = None  # when the batch being collected must be handed over
        while not stop.is_set():
            wait = POLL_SECONDS if due is None else min(POLL_SECONDS, due - time.monotonic())
            with self._errors("consume"):
                _drain(connection, wait)
            if not buffer:
                continue
            due = due or time.monotonic() + max_wait
            if len(buffer) >= max_batch or time.monotonic() >= due:
                batch = buffer[:max_batch]
                del buffer[:max_batch]
                inflight.in_batch = True
                try:
                    on_batch(cast(list[Delivery], batch))
                finally:
                    inflight.in_batch = False
                    self._send_acks(inflight)
                due = time.monotonic() + max_wait if buffer else None

    def _send_acks(self, inflight: _Inflight) -> None:
        """One multiple-ack for the batch when nothing older is still open, else one each."""
        acked, inflight.acked = inflight.acked, []
        if not acked:
            return
        for delivery in acked:
            inflight.unsettled.pop(id(delivery), None)
        last = max(acked, key=_tag)
        older_open = any(_tag(d) < _tag(last) for d in inflight.unsettled.values())
        with self._errors("acknowledge deliveries", queue=last.queue):
            if older_open:
                for delivery in acked:
                    delivery.message.ack()
            else:
                last.message.ack(multiple=True)

    def _settle(self, delivery: KombuDelivery, ok: bool) -> None:
        with self._errors("settle a delivery", queue=delivery.queue):
            if ok:
                delivery.message.ack()
            elif self.memory:
                self._dead_letter_memory(delivery)
            else:
                delivery.message.reject(requeue=False)

    def _dead_letter_memory(self, delivery: KombuDelivery) -> None:
        try:
            dead_exchange = self.topology.queue(delivery.queue).arguments.get(
                "x-dead-letter-exchange"
            )
        except KeyError:
            dead_exchange = None  # a queue of someone else's: no dead-lettering, dropped
        if dead_exchange:
            death = _death(delivery)
            self._publish(str(dead_exchange), [_with_headers(_outgoing(delivery), death)])
        delivery.message.ack()

    def _give_back(self, unsettled: list[KombuDelivery]) -> None:
        # RabbitMQ returns unacked messages when the channel closes; memory would drop them.
        for delivery in reversed(unsettled):
            if delivery.settled:
                continue
            delivery.settled = True
            if self.memory:
                _requeue_at_head(delivery)

    # --- the rest --------------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        """Ready messages in every queue of the topology (delayed ones in their retry queue)."""
        depths: dict[str, int] = {}
        with self._errors("count messages"), self._connect() as connection:
            channel = connection.channel()
            for queue in self.topology.queues:
                depths[queue.name] = int(channel.queue_declare(queue=queue.name, passive=True)[1])
        if self._scheduler is not None:
            for name, count in self._scheduler.pending().items():
                if name in depths:  # the scheduler serves every memory bus in the process
                    depths[name] += count
        return depths

    def close(self) -> None:
        """Close the publishing connection (a later publish opens a new one)."""
        with self._lock:
            self._drop_publisher()
        with self._replay_lock:
            self._drop_replayer()


class _ConfirmChannel:
    """A py-amqp channel in confirm mode: a batch is written whole, then awaited once."""

    def __init__(self, connection: Connection, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        self.channel: Any = connection.channel()
        self.channel.confirm_select()
        self.next_tag = 1
        self.pending: set[int] = set()
        self.nacked = 0
        self.returned: list[_Returned] = []
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish ``mandatory``; the messages RabbitMQ returned (it routed them nowhere)."""
        self.nacked, self.returned = 0, []
        try:
            with corked(self.connection):  # the whole batch in one write
                for message in messages:
                    self.channel.basic_publish(
                        _amqp_message(message), exchange, message.routing_key, True
                    )
                    self.pending.add(self.next_tag)
                    self.next_tag += 1
            self._await_confirms()
        except _REFUSALS as exc:
            raise PublishNotConfirmedError(
                f"broker refused the publish: {exc}", exchange=exchange, count=len(messages)
            ) from exc
        if self.nacked:
            raise PublishNotConfirmedError(
                f"broker did not take {self.nacked} of {len(messages)} messages",
                exchange=exchange,
                nacked=self.nacked,
            )
        return _match_returns(messages, self.returned)

    def _await_confirms(self) -> None:
        deadline = time.monotonic() + self.timeout
        while self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                unconfirmed = len(self.pending)
                raise PublishNotConfirmedError(
                    "no confirm from the broker in time", unconfirmed=unconfirmed
                )
            _drain(self.connection, remaining)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self.nacked += self._settle(tag, multiple)

    def _settle(self, tag: int, multiple: bool) -> int:
        done = {t for t in self.pending if t <= tag} if multiple else {tag} & self.pending
        self.pending -= done
        return len(done)

    def _on_return(self, _exc: Exception, _exchange: str, routing_key: str, msg: Any) -> None:
        # RabbitMQ sends basic.return before the ack of the same message: seen in time.
        message_id = msg.properties.get("message_id") or None
        self.returned.append(_Returned(routing_key, message_id, _bytes(msg.body)))


@dataclass(frozen=True, slots=True)
class _Returned:
    routing_key: str
    message_id: str | None
    body: bytes

    def of(self, message: Outgoing) -> bool:
        return (self.routing_key, self.message_id, self.body) == (
            message.routing_key,
            message.message_id,
            message.body,
        )


def _match_returns(messages: Sequence[Outgoing], returns: Sequence[_Returned]) -> list[Outgoing]:
    """The published messages the returns stand for. RabbitMQ routes a channel's publishes
    in order and returns an unroutable one at once, so the returns come in publishing order:
    each is the next message it matches (identical messages are interchangeable)."""
    matched: list[Outgoing] = []
    start = 0
    for returned in returns:
        index = next((i for i in range(start, len(messages)) if returned.of(messages[i])), None)
        if index is None:  # cannot happen with RabbitMQ; never guess which one it was
            raise PublishNotConfirmedError(
                "a returned message matches none published", routing_key=returned.routing_key
            )
        matched.append(messages[index])
        start = index + 1
    return matched


def _refuse_unroutable(exchange: str, returned: Sequence[Outgoing]) -> None:
    if returned:
        raise PublishNotConfirmedError(
            "unroutable messages returned",
            exchange=exchange,
            routing_keys=[m.routing_key for m in returned],
        )


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


def _drain(connection: Connection, timeout: float) -> None:
    with contextlib.suppress(socket.timeout, TimeoutError):
        connection.drain_events(timeout=max(0.0, timeout))


def _memory_routes(channel: Any, exchange: str, routing_key: str) -> bool:
    # kombu's memory broker keeps a deleted queue's bindings (and would make the queue again
    # on the next publish): only a queue that exists counts, as on RabbitMQ.
    return any(channel._has_queue(queue) for queue in channel._lookup(exchange, routing_key))


def _require_exchange(channel: Any, exchange: str) -> None:
    try:
        channel.exchange_declare(exchange=exchange, passive=True)
    except kombu.exceptions.ChannelError as exc:
        raise PublishNotConfirmedError(f"no exchange {exchange!r}", exchange=exchange) from exc


def _take(channel: Any, queue: str, count: int) -> list[Message]:
    """Up to ``count`` messages of ``queue``, unsettled (``basic.get``: never more than asked,
    so nothing goes back to a quorum queue counted as a failed delivery)."""
    source = _kombu_queue(queue)(channel)
    taken: list[Message] = []
    while len(taken) < count and (message := source.get(no_ack=False, accept=None)) is not None:
        taken.append(message)
    return taken


def _parked(messages: Sequence[Message]) -> list[Outgoing]:
    return [
        Outgoing(
            _bytes(m.body),
            str(m.delivery_info.get("routing_key") or ""),
            {k: v for k, v in (m.headers or {}).items() if k not in _ROUTING_HEADERS},
            m.properties.get("message_id") or None,
            m.content_type or None,
        )
        for m in messages
    ]


def _requeue_at_head(delivery: KombuDelivery) -> None:
    _requeue_message_at_head(delivery.message, delivery.queue)


def _requeue_message_at_head(message: Any, queue: str) -> None:
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


def _own_headers(message: Outgoing) -> Outgoing:
    if not _ROUTING_HEADERS.intersection(message.headers):
        return message
    headers = {k: v for k, v in message.headers.items() if k not in _ROUTING_HEADERS}
    return Outgoing(
        message.body, message.routing_key, headers, message.message_id, message.content_type
    )


def _with_headers(message: Outgoing, extra: Mapping[str, Any]) -> Outgoing:
    headers = {**message.headers, **extra}
    return Outgoing(
        message.body, message.routing_key, headers, message.message_id, message.content_type
    )


def _kombu_properties(message: Outgoing) -> dict[str, Any]:
    return {
        "headers": dict(message.headers),
        "message_id": message.message_id,
        "content_type": message.content_type or DEFAULT_CONTENT_TYPE,
        "content_encoding": "binary",
        "delivery_mode": 2,
    }


def _amqp_message(message: Outgoing) -> amqp.Message:
    return amqp.Message(
        message.body,
        application_headers=dict(message.headers),
        message_id=message.message_id,
        content_type=message.content_type or DEFAULT_CONTENT_TYPE,
        delivery_mode=2,
    )


def _kombu_queue(name: str) -> Any:
    from kombu.entity import Queue  # noqa: PLC0415 - kombu.entity's Queue shadows ours

    return Queue(name, no_declare=True)


def _bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else str(body).encode()


def _masked(url: str) -> str:
    head, at, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://***@{tail}" if at else url


@dataclass(frozen=True)
class BrokerTls:
    """TLS files for ``amqps://`` (settings ``broker_tls_ca/cert/key``): the CA that signed
    the broker's certificate (none: the system's CAs) and an optional client certificate."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def _ssl_options(url: str, tls: BrokerTls) -> dict[str, Any] | bool:
    """py-amqp's ``ssl`` options: the broker's certificate verified against ``tls.ca`` and
    its name (kombu puts the URL's host into ``server_hostname``); ``False`` for plain URLs."""
    if url.partition("://")[0] != "amqps":
        if tls != BrokerTls():
            raise ConfigurationError("broker_tls_* settings need an amqps:// broker_url")
        return False
    if (tls.cert is None) != (tls.key is None):
        raise ConfigurationError("broker_tls_cert and broker_tls_key go together")
    for setting, path in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"broker_tls_{setting}: no file {path}", path=str(path))
    return {
        "ca_certs": str(tls.ca) if tls.ca else None,
        "certfile": str(tls.cert) if tls.cert else None,
        "keyfile": str(tls.key) if tls.key else None,
        "cert_reqs": ssl.CERT_REQUIRED,
        "server_hostname": None,
        "tls_minimum_version": ssl.TLSVersion.TLSv1_2,
    }


def _tls_rejection(exc: BaseException | None) -> ssl.SSLCertVerificationError | None:
    # kombu wraps the handshake's error in its OperationalError: look down the chain.
    while exc is not None and not isinstance(exc, ssl.SSLCertVerificationError):
        exc = exc.__cause__ or exc.__context__
    return exc


def create_bus(url: str, topology: Topology, tls: BrokerTls | None = None) -> KombuBus:
    """The bus for a kombu URL: ``memory://`` (embedded), ``amqp://…`` (RabbitMQ) or
    ``amqps://…`` (RabbitMQ over TLS, verified with ``tls``)."""
    scheme = url.partition("://")[0]
    if scheme not in {"memory", "amqp", "amqps", "pyamqp"}:
        raise ConfigurationError(f"unsupported broker URL scheme {scheme!r}", scheme=scheme)
    return KombuBus(url, topology, tls=tls)


def consume_forever(
    bus: Bus,
    queues: Sequence[str],
    on_batch: Callable[[list[Delivery]], None],
    *,
    stop: threading.Event,
    **options: Any,
) -> None:
    """``bus.consume`` until ``stop``, reconnecting after passing failures (a lost broker)
    with exponential back-off and jitter (tenacity, see ``hub.runtime``)."""
    backoff_forever(lambda: bus.consume(queues, on_batch, stop=stop, **options), stop, "consumer")


def open_connection(url: str, tls: BrokerTls | None = None) -> Connection:
    """A connected kombu connection as the bus opens its own (TLS verified with ``tls``,
    batched socket I/O), for tools beside the bus: the reference registry, clean-up."""
    return _open(url, _ssl_options(url, tls or BrokerTls()))


def _open(url: str, ssl_options: dict[str, Any] | bool) -> Connection:
    """A connection to the first broker of ``url`` that answers: ``url`` may be kombu's
    failover list of a cluster's nodes, ``amqp://h1;amqp://h2;amqp://h3``, tried in turn.

    Not kombu's own failover: it moves to the next node only when retrying, which the bus
    leaves to its callers, and it would open that node on kombu's transport, not ours."""
    *others, last = url.split(";")
    for one in others:
        with contextlib.suppress(*_CONNECTION_ERRORS):
            return _open_one(one, ssl_options)
    return _open_one(last, ssl_options)


def _open_one(url: str, ssl_options: dict[str, Any] | bool) -> Connection:
    memory = url.startswith("memory://")
    connection = Connection(
        url,
        transport=kombu_transport(url),
        transport_options={"polling_interval": 0.01} if memory else {},
        heartbeat=0,
        connect_timeout=5,
        ssl=dict(ssl_options) if isinstance(ssl_options, dict) else False,  # kombu writes to it
    )
    # No retrying inside kombu: callers back off themselves (consume_forever, hub.runtime).
    connection.ensure_connection(max_retries=0)
    return connection


def delete_topology(
    url: str, topology: Topology, extra_queues: Sequence[str] = (), tls: BrokerTls | None = None
) -> None:
    """Remove every queue and exchange of ``topology`` (and ``extra_queues``) from the broker.

    For tests and benchmarks, which use throw-away prefixes; what is already gone is skipped.
    """
    with open_connection(url, tls) as connection:
        channel = connection.channel()
        for name in [*(q.name for q in topology.queues), *extra_queues]:
            with contextlib.suppress(Exception):
                channel.queue_delete(name)
        for exchange in topology.exchanges:
            with contextlib.suppress(Exception):
                channel.exchange_delete(exchange.name)
