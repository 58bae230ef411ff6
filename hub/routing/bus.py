"""``KombuBus``: the hub's bus on RabbitMQ (``amqp://``, or ``amqps://`` with the broker's
certificate and name verified, see ``BrokerTls``); ``create_bus`` chooses it or the in-process
``MemoryBus`` (``hub.routing.memory``) by the broker URL.

Publishing goes through a py-amqp channel in confirm mode, pipelined: the whole batch is
written, then the connection is drained until every delivery tag is settled. Every message is
``mandatory``. A nack, a channel error, a lost connection or the timeout raises; so does a
returned message, except an event: the events no queue is bound for are published to the
parking exchange (``{p}.events.parked``), confirmed there, and only then does the publish
succeed. Success means the broker holds every message of the batch in a queue.
``replay_parked`` offers parked events to the events exchange again (the relay calls it).

Declaring, consuming, settling and replaying are kombu code shared with ``MemoryBus``
(``hub.routing._kombu``); delayed messages wait in RabbitMQ's TTL retry queues.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import amqp
from kombu.connection import Connection

from hub.errors import ConfigurationError
from hub.routing._amqp import corked
from hub.routing._kombu import (
    DEFAULT_CONTENT_TYPE,
    REFUSALS,
    KombuBase,
    bytes_of,
    drain,
    open_kombu,
    own_headers,
    with_headers,
)
from hub.routing.api import (
    BrokerRefusedError,
    BrokerTlsError,
    BrokerUnavailableError,
    Bus,
    Delivery,
    Outgoing,
    PublishNotConfirmedError,
    TopologyConflictError,
)
from hub.routing.memory import MemoryBus
from hub.routing.topology import Topology
from hub.runtime import backoff_forever

__all__ = [
    "BrokerRefusedError",
    "BrokerTls",
    "BrokerTlsError",
    "BrokerUnavailableError",
    "KombuBus",
    "MemoryBus",
    "PublishNotConfirmedError",
    "TopologyConflictError",
    "consume_forever",
    "create_bus",
    "delete_topology",
    "open_connection",
]

CONFIRM_TIMEOUT = 30.0
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})


class KombuBus(KombuBase):
    """The ``Bus`` port on RabbitMQ: publishing with confirms, delays in TTL queues; the
    rest (and its thread-safety) is ``KombuBase``'s."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        tls: BrokerTls | None = None,
    ) -> None:
        if (scheme := url.partition("://")[0]) not in AMQP_SCHEMES:
            raise ConfigurationError(f"KombuBus needs an AMQP broker URL, not {scheme!r}")
        super().__init__(url, topology, _ssl_options(url, tls or BrokerTls()))
        self.confirm_timeout = confirm_timeout
        self._confirms: _ConfirmChannel | None = None

    def _send(self, exchange: str, messages: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish ``mandatory`` and await the broker; the messages it returned unroutable."""
        return self._confirm_channel().publish(exchange, messages)

    def _confirm_channel(self) -> _ConfirmChannel:
        if self._confirms is None:
            connection = self._publisher_connection()
            self._confirms = _ConfirmChannel(connection, self.confirm_timeout)
        return self._confirms

    def _drop_publisher(self) -> None:
        self._confirms = None
        super()._drop_publisher()

    def publish_delayed(
        self, target_exchange: str, messages: Sequence[Outgoing], delay_seconds: float
    ) -> None:
        """Send ``messages`` back to ``target_exchange`` (with their own routing keys) after
        the smallest retry delay not shorter than ``delay_seconds``, or the longest: through
        the retry exchange (``CC`` names the TTL queue) to wait there."""
        route = self.topology.retry_route(target_exchange, delay_seconds)
        own = [own_headers(m) for m in messages]
        cc = [with_headers(m, {"CC": [route.routing_key]}) for m in own]
        self._publish(self.topology.retry_exchange.name, cc)


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
        except REFUSALS as exc:
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
            drain(self.connection, remaining)

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
        self.returned.append(_Returned(routing_key, message_id, bytes_of(msg.body)))


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


def _amqp_message(message: Outgoing) -> amqp.Message:
    return amqp.Message(
        message.body,
        application_headers=dict(message.headers),
        message_id=message.message_id,
        content_type=message.content_type or DEFAULT_CONTENT_TYPE,
        delivery_mode=2,
    )


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


def create_bus(url: str, topology: Topology, tls: BrokerTls | None = None) -> MemoryBus | KombuBus:
    """The bus for a kombu URL: ``memory://`` (the embedded ``MemoryBus``), ``amqp://…``
    (RabbitMQ) or ``amqps://…`` (RabbitMQ over TLS, verified with ``tls``)."""
    scheme = url.partition("://")[0]
    if scheme == "memory":
        _ssl_options(url, tls or BrokerTls())  # broker_tls_* settings are refused here too
        return MemoryBus(topology)
    if scheme not in AMQP_SCHEMES:
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
    return open_kombu(url, _ssl_options(url, tls or BrokerTls()))


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
