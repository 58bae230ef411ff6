"""A reference event consumer (deduplicating by event id), over kombu."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from types import TracebackType
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from hub.bootstrap import Hub
from hub.routing.bus import delete_topology


class EventCollector:
    """Binds a queue to the events exchange and records every event it receives."""

    def __init__(self, hub: Hub, binding: str = "#") -> None:
        self.url = hub.settings.broker_url.get_secret_value()
        name = f"{hub.topology.prefix}.test-events"
        exchange = Exchange(hub.topology.events_exchange.name, type="topic", durable=True)
        self.queue = Queue(name, exchange, routing_key=binding, durable=False, auto_delete=False)
        self.received: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._consume, daemon=True)

    def __enter__(self) -> EventCollector:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("event consumer did not start")
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        with Connection(self.url) as connection, contextlib.suppress(Exception):
            self.queue(connection.channel()).delete()

    def _consume(self) -> None:
        with (
            Connection(self.url) as connection,
            connection.Consumer(self.queue, callbacks=[self._on_message], accept=None),
        ):
            self.ready.set()
            while not self.stop.is_set():
                with contextlib.suppress(socket.timeout, TimeoutError):
                    connection.drain_events(timeout=0.1)

    def _on_message(self, body: Any, message: Any) -> None:
        event = json.loads(message.body)
        event["seq"] = int(message.headers.get("x-hub-subject-seq", 0))
        event["event_id"] = message.properties.get("message_id")
        self.received.append(event)
        message.ack()

    def unique(self) -> dict[str, dict[str, Any]]:
        """Events by id, as a deduplicating consumer sees them."""
        return {e["id"]: e for e in list(self.received)}


__all__ = ["EventCollector", "delete_topology"]
