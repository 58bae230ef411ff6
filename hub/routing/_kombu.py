"""``KombuBase``: the kombu code both buses share, ``KombuBus`` (RabbitMQ) and ``MemoryBus``.

Declaring the topology, consuming in batches, settling, replaying parked events, counting
queues and turning kombu's and py-amqp's exceptions into the hub's are the same on both
transports. What differs is left to the subclasses: how a batch is published and confirmed,
how a message is delayed, and the broker features kombu's memory transport lacks, which
``MemoryBus`` plays itself. The defaults here are what RabbitMQ does on its own: a rejected
message is dead-lettered by the broker, and unsettled messages go back to their queue when
the channel holding them closes.

Heartbeats are off: a long batch (a database outage) must not cost the consumer its
connection; a dead peer is noticed by TCP.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import amqp
import kombu.exceptions
import structlog
from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer

from hub.errors import RetryableError
from hub.routing._amqp import kombu_transport
from hub.routing.api import (
    BrokerRefusedError,
    BrokerTlsError,
    BrokerUnavailableError,
    Delivery,
    Outgoing,
    ParkedReplay,
    PublishNotConfirmedError,
    TopologyConflictError,
)
from hub.routing.topology import Topology

log = structlog.get_logger("hub.bus")

REPLAY_BATCH = 500  # parked events taken, published and settled together
POLL_SECONDS = 0.1  # longest a consumer goes without looking at its stop event
DEFAULT_CONTENT_TYPE = "application/octet-stream"
ROUTING_HEADERS = frozenset({"CC", "BCC"})  # RabbitMQ routes by these: the bus owns them
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.RecoverableConnectionError,
    kombu.exceptions.OperationalError,
)
REFUSALS: tuple[type[BaseException], ...] = (
    amqp.exceptions.ChannelError,
    kombu.exceptions.ChannelError,
)
# kombu's options per URL scheme, beside ``kombu_transport``: the memory transport polls its
# queues, and its default second between polls would be a second of latency per message.
_TRANSPORT_OPTIONS: Mapping[str, Mapping[str, Any]] = {"memory": {"polling_interval": 0.01}}


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


class KombuBase(ABC):
    """The ``Bus`` port over kombu, less publishing: see the module's docstring.

    Thread-safe for one consumer thread plus any number of publishing threads: publishers
    share one connection under a lock, every ``consume`` call opens its own.
    """

    # One multiple-ack per batch where the broker honours ``multiple`` (RabbitMQ does).
    gathers_acks: ClassVar[bool] = True

    def __init__(self, url: str, topology: Topology, ssl_options: dict[str, Any] | bool) -> None:
        self.url = url
        self.topology = topology
        self.ssl = ssl_options
        self._lock = threading.Lock()
        self._publisher: Connection | None = None
        self._replayer: Connection | None = None  # kept: the relay looks every few seconds
        self._replay_lock = threading.Lock()

    def _connect(self) -> Connection:
        return open_kombu(self.url, self.ssl)

    @contextlib.contextmanager
    def _errors(self, action: str, **details: Any) -> Iterator[None]:
        try:
            yield
        except RetryableError:
            raise
        except REFUSALS as exc:
            raise BrokerRefusedError(f"broker refused to {action}: {exc}", **details) from exc
        except CONNECTION_ERRORS as exc:
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
        parked = self._publish(exchange, [own_headers(m) for m in messages])
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

    @abstractmethod
    def _send(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish ``mandatory`` and await the broker; the messages it returned unroutable."""

    @abstractmethod
    def publish_delayed(
        self, target_exchange: str, messages: Sequence[Outgoing], delay_seconds: float
    ) -> None:
        """Send ``messages`` back to ``target_exchange`` (with their own routing keys) after
        the smallest retry delay not shorter than ``delay_seconds``, or the longest."""

    def _publisher_connection(self) -> Connection:
        if self._publisher is None:
            self._publisher = self._connect()
        return self._publisher

    def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with contextlib.suppress(Exception):
                publisher.release()

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
                self._keep_taken(batch, queue)
                raise
            for message in batch:
                message.ack()
            taken += len(batch)
        return ParkedReplay(taken, parked)

    def _keep_taken(self, batch: Sequence[Message], queue: str) -> None:  # noqa: B027 - a hook
        """Taken messages a failed replay leaves unsettled: the broker returns them to
        ``queue`` when their channel closes."""

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
            if ok and inflight.in_batch and self.gathers_acks:
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

            queue = kombu_queue(name)
            Consumer(
                channel, [queue], accept=None, auto_declare=False, on_message=received
            ).consume()

    @staticmethod
    def _delivery(
        message: Message, queue: str, settle: Callable[[KombuDelivery, bool], None]
    ) -> KombuDelivery:
        info, properties = message.delivery_info, message.properties
        headers = {k: v for k, v in (message.headers or {}).items() if k not in ROUTING_HEADERS}
        return KombuDelivery(
            body=bytes_of(message.body),
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
                drain(connection, wait)
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
            else:
                self._reject(delivery)

    def _reject(self, delivery: KombuDelivery) -> None:
        """Settle without requeue: the broker dead-letters it (the queue's arguments say where)."""
        delivery.message.reject(requeue=False)

    def _give_back(self, unsettled: list[KombuDelivery]) -> None:
        for delivery in reversed(unsettled):
            if not delivery.settled:
                delivery.settled = True
                self._return_unsettled(delivery)

    def _return_unsettled(self, delivery: KombuDelivery) -> None:  # noqa: B027 - a hook
        """A delivery a stopping consumer never settled: the broker returns it to its queue
        when the consumer's channel closes."""

    # --- the rest --------------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        """Ready messages in every queue of the topology."""
        depths: dict[str, int] = {}
        with self._errors("count messages"), self._connect() as connection:
            channel = connection.channel()
            for queue in self.topology.queues:
                depths[queue.name] = int(channel.queue_declare(queue=queue.name, passive=True)[1])
        return depths

    def close(self) -> None:
        """Close the publishing connection (a later publish opens a new one)."""
        with self._lock:
            self._drop_publisher()
        with self._replay_lock:
            self._drop_replayer()


def _refuse_unroutable(exchange: str, returned: Sequence[Outgoing]) -> None:
    if returned:
        raise PublishNotConfirmedError(
            "unroutable messages returned",
            exchange=exchange,
            routing_keys=[m.routing_key for m in returned],
        )


def drain(connection: Connection, timeout: float) -> None:
    """Handle what the connection receives within ``timeout`` seconds (nothing: no error)."""
    with contextlib.suppress(socket.timeout, TimeoutError):
        connection.drain_events(timeout=max(0.0, timeout))


def _take(channel: Any, queue: str, count: int) -> list[Message]:
    """Up to ``count`` messages of ``queue``, unsettled (``basic.get``: never more than asked,
    so nothing goes back to a quorum queue counted as a failed delivery)."""
    source = kombu_queue(queue)(channel)
    taken: list[Message] = []
    while len(taken) < count and (message := source.get(no_ack=False, accept=None)) is not None:
        taken.append(message)
    return taken


def _parked(messages: Sequence[Message]) -> list[Outgoing]:
    return [
        Outgoing(
            bytes_of(m.body),
            str(m.delivery_info.get("routing_key") or ""),
            {k: v for k, v in (m.headers or {}).items() if k not in ROUTING_HEADERS},
            m.properties.get("message_id") or None,
            m.content_type or None,
        )
        for m in messages
    ]


def own_headers(message: Outgoing) -> Outgoing:
    """``message`` without the headers RabbitMQ routes by: only the bus sets those."""
    if not ROUTING_HEADERS.intersection(message.headers):
        return message
    headers = {k: v for k, v in message.headers.items() if k not in ROUTING_HEADERS}
    return Outgoing(
        message.body, message.routing_key, headers, message.message_id, message.content_type
    )


def with_headers(message: Outgoing, extra: Mapping[str, Any]) -> Outgoing:
    """``message`` with ``extra`` headers added (or replaced)."""
    headers = {**message.headers, **extra}
    return Outgoing(
        message.body, message.routing_key, headers, message.message_id, message.content_type
    )


def kombu_queue(name: str) -> Any:
    """A kombu handle on the existing queue ``name`` (never declared through it)."""
    from kombu.entity import Queue  # noqa: PLC0415 - kombu.entity's Queue shadows ours

    return Queue(name, no_declare=True)


def bytes_of(body: Any) -> bytes:
    """A message body as bytes (kombu hands some transports' bodies over as text)."""
    return body if isinstance(body, bytes) else str(body).encode()


def _masked(url: str) -> str:
    """``url`` without credentials, each broker of a failover list (``a;b;c``) on its own."""
    return ";".join(_masked_one(one) for one in url.split(";"))


def _masked_one(url: str) -> str:
    head, at, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://***@{tail}" if at else url


def _tls_rejection(exc: BaseException | None) -> ssl.SSLCertVerificationError | None:
    # kombu wraps the handshake's error in its OperationalError: look down the chain.
    while exc is not None and not isinstance(exc, ssl.SSLCertVerificationError):
        exc = exc.__cause__ or exc.__context__
    return exc


def open_kombu(url: str, ssl_options: dict[str, Any] | bool) -> Connection:
    """A connected kombu connection to a broker of ``url`` that answers: ``url`` may be
    kombu's failover list of a cluster's nodes, ``amqp://h1;amqp://h2;amqp://h3``, tried in
    turn, in an order shuffled for each connection.

    Shuffled, because every hub process would otherwise connect to the first node: all the
    connections would drop together when it dies, and every quorum queue the hub declares
    would be led by it (RabbitMQ places a new queue's leader on the declaring client's node
    unless ``queue_leader_locator`` says otherwise). Any node of a cluster serves any queue,
    so the order is no promise worth keeping; kombu's own ``shuffle`` strategy does the same.

    Not kombu's own failover: it moves to the next node only when retrying, which the bus
    leaves to its callers (``consume_forever``, ``hub.runtime``), and it would open that node
    on kombu's transport, not the batched one."""
    *others, last = _shuffled(url.split(";"))
    for one in others:
        with contextlib.suppress(*CONNECTION_ERRORS):
            return _open_one(one, ssl_options)
    return _open_one(last, ssl_options)


def _shuffled(urls: list[str]) -> list[str]:
    return random.sample(urls, len(urls))


def _open_one(url: str, ssl_options: dict[str, Any] | bool) -> Connection:
    connection = Connection(
        url,
        transport=kombu_transport(url),
        transport_options=dict(_TRANSPORT_OPTIONS.get(url.split("://", 1)[0].lower(), {})),
        heartbeat=0,
        connect_timeout=5,
        ssl=dict(ssl_options) if isinstance(ssl_options, dict) else False,  # kombu writes to it
    )
    connection.ensure_connection(max_retries=0)
    return connection
