"""A small reference registry: what the real registry service does with the hub, in miniature.

It sends registry commands to the commands exchange and consumes canonical events from the
registry's queue (``{p}.registry``, which ``hub topology declare`` makes and binds to the
events exchange, so no event waits for the registry to start), deduplicating by event id as a
registry must (the relay publishes at least once). ``hub demo``, the end-to-end benchmark
and the end-to-end tests use it; a registry team can read it as the integration guide in code.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from kombu.entity import Exchange, Queue, binding

from hub.canonical.events import RecordVersion, standing_first
from hub.errors import ConfigurationError
from hub.routing.api import TRACE_HEADER, Bus, Outgoing
from hub.routing.bus import BrokerTls, open_connection
from hub.routing.topology import Topology

COMMAND_CONTENT_TYPE = "application/json"


def command_message(command: Mapping[str, Any], trace_id: str | None = None) -> Outgoing:
    """A registry command as the registry publishes it: JSON, routed by its ``type`` (the
    commands queue is bound with ``#``; the type tells a reader what it is), its
    ``request_id`` as ``message_id`` (the hub's idempotency key) and, when given, its trace
    id in ``x-hub-trace-id`` (without one the hub derives one from the request id)."""
    headers = {TRACE_HEADER: trace_id} if trace_id else {}
    return Outgoing(
        json.dumps(command, ensure_ascii=False).encode(),
        str(command["type"]),
        headers,
        str(command["request_id"]),
        COMMAND_CONTENT_TYPE,
    )


def publish_commands(bus: Bus, topology: Topology, messages: Sequence[Outgoing]) -> None:
    """Publish to ``{p}.commands``; returns once the broker holds each in the commands queue."""
    bus.publish(topology.commands_exchange.name, messages)


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One canonical event as the registry got it, with when it arrived."""

    event: Mapping[str, Any]
    arrived: float  # time.monotonic()

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))

    @property
    def data(self) -> Mapping[str, Any]:
        data = self.event.get("data")
        return data if isinstance(data, Mapping) else {}


def standing_versions(events: Sequence[ReceivedEvent]) -> dict[str, ReceivedEvent]:
    """The event of each act record (``act_record.number``) whose ``record_version`` stands
    (``hub.canonical.events.standing_first``); events without an act record are not here."""
    by_record: dict[str, list[ReceivedEvent]] = {}
    for event in events:
        number = (event.data.get("act_record") or {}).get("number")
        if number and event.data.get("record_version"):
            by_record.setdefault(number, []).append(event)
    return {number: _newest(found) for number, found in by_record.items()}


def _newest(events: Sequence[ReceivedEvent]) -> ReceivedEvent:
    versions = [RecordVersion.from_data(e.data["record_version"]) for e in events]
    return events[standing_first(versions)[0]]


@dataclass
class ReferenceRegistry:
    """Sends commands; keeps each event it receives once (by event id)."""

    broker_url: str
    topology: Topology
    queue_name: str | None = None  # default: the topology's registry queue, else one of its own
    tls: BrokerTls | None = None  # for an amqps:// broker_url (the hub's broker_tls_* files)
    events: dict[str, ReceivedEvent] = field(default_factory=dict, init=False)
    deliveries: int = field(default=0, init=False)  # including redeliveries of the same event
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def queue(self) -> Queue:
        exchange = Exchange(self.topology.events_exchange.name, type="topic", durable=True)
        ours = self.topology.registry_queue
        name = self.queue_name or (
            ours.name if ours else f"{self.topology.prefix}.reference-registry"
        )
        if ours is None or name != ours.name:
            return Queue(name, exchange, routing_key="#", durable=True)
        # Declared as the topology declares it: the same arguments are no conflict.
        keys = self.topology.registry_bindings
        bindings = [binding(exchange, routing_key=key) for key in keys]
        return Queue(name, bindings=bindings, durable=True, queue_arguments=ours.broker_arguments)

    def send(self, bus: Bus, commands: Sequence[Mapping[str, Any]]) -> None:
        """Publish commands (each a JSON object with ``type`` and ``request_id``)."""
        publish_commands(bus, self.topology, [command_message(c) for c in commands])

    def start(self, timeout: float = 10.0) -> ReferenceRegistry:
        """Start consuming in a background thread; returns once the queue is bound."""
        self._thread = threading.Thread(target=self._consume, name="registry", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ConfigurationError("the reference registry could not bind its queue")
        return self

    def stop(self, *, delete_queue: bool = False) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if delete_queue:
            with (
                contextlib.suppress(Exception),
                open_connection(self.broker_url, self.tls) as connection,
            ):
                self.queue(connection.channel()).delete()

    def __enter__(self) -> ReferenceRegistry:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _consume(self) -> None:
        with (
            open_connection(self.broker_url, self.tls) as connection,
            connection.Consumer(self.queue, callbacks=[self._on_message], accept=None) as consumer,
        ):
            consumer.qos(prefetch_count=500)
            self._ready.set()
            while not self._stop.is_set():
                with contextlib.suppress(socket.timeout, TimeoutError):
                    connection.drain_events(timeout=0.1)

    def _on_message(self, body: Any, message: Any) -> None:
        event = json.loads(message.body)
        with self._lock:
            self.deliveries += 1
            event_id = str(event.get("id") or message.properties.get("message_id"))
            self.events.setdefault(event_id, ReceivedEvent(event, time.monotonic()))
        message.ack()

    # --- reading what arrived ---------------------------------------------------------

    def received(self) -> list[ReceivedEvent]:
        """Every distinct event so far."""
        with self._lock:
            return list(self.events.values())

    def count_by_type(self) -> Counter[str]:
        return Counter(event.type for event in self.received())

    def standing(self) -> dict[str, ReceivedEvent]:
        """For each ZAGS act record, the event about the version that stands, whatever order
        the events came in: a notice may overtake an older one, or an older one come again
        after a newer one; the registry applies the newest version only."""
        return standing_versions(self.received())

    def wait_for(
        self, condition: Callable[[ReferenceRegistry], bool], timeout: float, poll: float = 0.05
    ) -> bool:
        """Wait until ``condition(self)`` holds; False if ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
        return True
