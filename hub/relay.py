"""The relay: publishes the outbox to the events exchange with confirms, then marks it.

A crash between publishing and marking republishes those events on restart: consumers see
the same event ids again and deduplicate. Events leave in the order they were written, so
events about one subject keep their sequence; run one relay per journal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import structlog

from hub.journal.api import Journal, OutboxEvent
from hub.processing import EVENT_CONTENT_TYPE
from hub.routing.api import Bus, Outgoing
from hub.routing.topology import Topology
from hub.runtime import backoff_forever

log = structlog.get_logger("hub.relay")


@dataclass
class Relay:
    journal: Journal
    bus: Bus
    topology: Topology
    batch: int = 500
    idle_wait: float = 0.01

    def run(self, stop: threading.Event) -> None:
        """Publish until ``stop``; reconnect by itself after outages."""
        backoff_forever(lambda: self._loop(stop), stop, "relay")

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.publish_once() == 0:
                stop.wait(self.idle_wait)

    def publish_once(self) -> int:
        """Publish one batch of pending events; how many went out."""
        events = self.journal.pending_events(self.batch)
        if not events:
            return 0
        self.bus.publish(self.topology.events_exchange.name, [_message(e) for e in events])
        self.journal.mark_published([e.event_id for e in events])
        return len(events)

    def drain(self) -> int:
        """Publish everything pending now (tests, replay, shutdown)."""
        total = 0
        while count := self.publish_once():
            total += count
        return total


def _message(event: OutboxEvent) -> Outgoing:
    headers = {
        **event.headers,
        "x-hub-event-id": event.event_id,
        "x-hub-subject-seq": event.subject_seq,
    }
    return Outgoing(event.payload, event.routing_key, headers, event.event_id, EVENT_CONTENT_TYPE)
