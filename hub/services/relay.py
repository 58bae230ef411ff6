"""The relay: publishes the outbox to the events exchange with confirms, then marks it.

A crash between publishing and marking republishes those events on restart: consumers see
the same event ids again and deduplicate. Events leave in the order they were written, so
events about one subject keep their sequence: one relay per journal publishes (a database
lock decides which), the others wait as standbys. On PostgreSQL the leader sleeps until a
transaction that wrote events notifies it (LISTEN/NOTIFY); on SQLite it polls.

An event is marked published only once the broker holds it in a queue: one bound for it or,
when nobody is bound for its type, the parking queue. The leader offers parked events to the
events exchange again every ``replay_every`` seconds (backing off while nobody is bound for
them), so they reach a consumer that binds later; they arrive after newer events of their
subject that found a queue at once, and ``x-hub-subject-seq`` tells the order.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from hub.canonical.drafts import EVENT_CONTENT_TYPE
from hub.journal.api import Journal
from hub.journal.lease import Lease
from hub.journal.records import OutboxEvent
from hub.metrics import HubMetrics
from hub.routing.api import Bus, Outgoing, ParkedReplay
from hub.routing.topology import Topology
from hub.runtime import backoff_forever

log = structlog.get_logger("hub.relay")


@dataclass
class Relay:
    journal: Journal
    bus: Bus
    topology: Topology
    batch: int = 500
    idle_wait: float = 0.01  # nothing to publish, no notifications (SQLite): poll again
    notified_wait: float = 0.5  # with notifications (PostgreSQL): a safety net only

    check_lead_every: float = 1.0
    # Longest back-off between attempts to lead: after a failover the new primary holds no
    # lock, and a relay asleep in a long back-off would leave the journal without a relay
    # past the two seconds the README promises. An attempt costs one connection.
    lead_backoff: float = 1.0
    metrics: HubMetrics = field(default_factory=HubMetrics)
    retention: timedelta | None = None  # processed messages older than this are purged
    purge_every: float = 3600.0
    replay_every: float = 10.0  # parked events are offered to the queues bound now this often
    replay_max_every: float = 300.0  # ... backing off to this while nobody is bound for them
    replay_limit: int = 5000  # parked events per pass (the relay publishes nothing meanwhile)
    _replay_wait: float = field(default=0.0, init=False, repr=False)

    def run(self, stop: threading.Event) -> None:
        """Publish while this relay leads, until ``stop``; wait as a standby while another
        leads; reconnect by itself after outages."""
        backoff_forever(lambda: self._lead(stop), stop, "relay", self.lead_backoff)

    def _lead(self, stop: threading.Event) -> None:
        with self.journal.lead("relay", stop) as lease:
            if lease is not None:
                log.info("relay leading")
                self._loop(stop, lease)

    def _loop(self, stop: threading.Event, lease: Lease) -> None:
        checked = time.monotonic()
        purged = checked - self.purge_every  # the leader purges once when it starts leading
        replay_at = checked  # and looks at the parking queue at once
        while not stop.is_set():
            if time.monotonic() - checked > self.check_lead_every:
                lease.check()  # lost the lock: stop publishing at once
                checked = time.monotonic()
            if time.monotonic() - purged > self.purge_every:
                self.purge_expired()
                purged = time.monotonic()
            if time.monotonic() >= replay_at:
                replay_at = time.monotonic() + self._next_replay(self.replay_parked())
            if self.publish_once() == 0:
                wait = self.notified_wait if lease.notified else self.idle_wait
                lease.wait_for_events(stop, wait)

    def publish_once(self) -> int:
        """Publish one batch of pending events; how many went out."""
        events = self.journal.pending_events(self.batch)
        if not events:
            return 0
        started = time.perf_counter()
        self.bus.publish(self.topology.events_exchange.name, [_message(e) for e in events])
        self.journal.mark_published([e.event_id for e in events])
        self._count(events, time.perf_counter() - started)
        return len(events)

    def _count(self, events: list[OutboxEvent], seconds: float) -> None:
        m = self.metrics
        m.publish_seconds.observe(seconds)
        for event_type, number in Counter(e.routing_key for e in events).items():
            m.published(event_type[:64]).inc(number)
        now = datetime.now(UTC)
        delay = m.publish_delay
        for event in events:
            delay.observe(max(0.0, (now - event.created_at).total_seconds()))

    def replay_parked(self) -> ParkedReplay:
        """Offer parked events to the queues bound now (at most ``replay_limit``)."""
        replay = self.bus.replay_parked(self.replay_limit)
        if replay.taken:
            log.info("parked events replayed", delivered=replay.delivered, parked=replay.parked)
        return replay

    def _next_replay(self, replay: ParkedReplay) -> float:
        """Seconds until the next pass: at once while a full pass delivered, doubling up to
        ``replay_max_every`` while nothing parked finds a queue."""
        if replay.taken == 0 or replay.delivered:
            self._replay_wait = self.replay_every
            return 0.0 if replay.taken >= self.replay_limit else self.replay_every
        doubled = max(self._replay_wait, self.replay_every) * 2
        self._replay_wait = min(doubled, self.replay_max_every)
        return self._replay_wait

    def purge_expired(self) -> int:
        """Apply the retention period (only the leading relay does: one purge per journal)."""
        if self.retention is None:
            return 0
        cutoff = datetime.now(UTC) - self.retention
        deleted = self.journal.purge_processed(cutoff, "hub relay (retention)")
        log.info("retention applied", deleted=deleted, older_than=cutoff.isoformat())
        return deleted


def _message(event: OutboxEvent) -> Outgoing:
    headers = {
        **event.headers,
        "x-hub-event-id": event.event_id,
        "x-hub-subject-seq": event.subject_seq,
    }
    return Outgoing(event.payload, event.routing_key, headers, event.event_id, EVENT_CONTENT_TYPE)
