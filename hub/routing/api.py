"""The bus port: what the hub asks of its message broker (RabbitMQ, or the in-process
``MemoryBus``), and the errors both raise when the broker fails it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.errors import PermanentError, RetryableError

ATTEMPTS_HEADER = "x-hub-attempts"  # the hub counts attempts itself (x-death varies by version)
SOURCE_HEADER = "x-hub-source"
AGENCY_HEADER = "x-hub-agency"
KIND_HEADER = "x-hub-kind"
TRACE_HEADER = "x-hub-trace-id"
# Set by those who store a message in the inbox before publishing it (the SMEV client, the
# HTTP endpoint): the worker skips its process-then-store fast path, which would find it stored.
STORED_HEADER = "x-hub-stored"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish: persistent, with the hub's headers."""

    body: bytes
    routing_key: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    content_type: str | None = None


class Delivery(Protocol):
    """A consumed message; exactly one of ``ack``/``reject`` settles it."""

    body: bytes
    routing_key: str
    headers: Mapping[str, Any]
    message_id: str | None
    content_type: str | None
    queue: str
    redelivered: bool

    def ack(self) -> None: ...

    def reject(self) -> None:
        """Settle without requeue: on RabbitMQ the queue's dead-letter exchange gets it."""
        ...


BatchHandler = Callable[[list[Delivery]], None]


@dataclass(frozen=True, slots=True)
class ParkedReplay:
    """What one pass over the parked events did: ``taken`` were published again, of which
    ``parked`` still had no queue bound for them and went back to the parking queue."""

    taken: int = 0
    parked: int = 0

    @property
    def delivered(self) -> int:
        """How many reached a queue bound for them."""
        return self.taken - self.parked


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


class Bus(Protocol):
    """Publishing with confirms, batched consuming, delayed redelivery, topology."""

    def declare(self) -> None: ...

    def publish(self, exchange: str, messages: Sequence[Outgoing]) -> None:
        """Returns once the broker holds every message in a queue: one bound for it or, for
        an event, the parking queue; raises (retryable) otherwise."""
        ...

    def replay_parked(self, limit: int) -> ParkedReplay:
        """Publish up to ``limit`` parked events to the events exchange again."""
        ...

    def publish_delayed(
        self, target_exchange: str, messages: Sequence[Outgoing], delay_seconds: float
    ) -> None: ...

    def consume(
        self,
        queues: Sequence[str],
        on_batch: BatchHandler,
        *,
        stop: threading.Event,
        prefetch: int = 200,
        max_batch: int = 100,
        max_wait: float = 0.05,
    ) -> None: ...

    def queue_depths(self) -> dict[str, int]: ...

    def close(self) -> None: ...
