"""The worker: consume inbound messages and commands, store, process, settle.

Careful path, per batch: store every delivery in the inbox (one transaction) → count an
attempt → process → schedule delayed retries for passing failures → write outcomes (events to
the outbox, failures kept whole; one transaction) → only then ack. A crash anywhere before the
ack means redelivery, which the inbox recognises; the attempt count in the journal stops a
message that crashes the worker from looping forever.

Fast path, for first deliveries: processing is pure, so it runs first, and the message is
stored together with its outcome and one counted attempt (one transaction) → retries
scheduled → ack. A crash before that transaction leaves nothing stored and the message
unacked: it comes back marked redelivered and takes the careful path, so a message that kills
the worker is counted like any other. A first delivery the inbox already holds (an agency's
resend, a scheduled retry) is handed to the careful path.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

from hub.adapters.router import UnknownAgencyError
from hub.canonical.sources import Source
from hub.errors import UNEXPECTED, PermanentError, RetryableError, SignatureError, error_class
from hub.journal.api import Journal
from hub.journal.records import (
    Completion,
    Failure,
    InboundMessage,
    InboxRecord,
    InboxStatus,
    Outcome,
    Received,
)
from hub.metrics import HubMetrics
from hub.routing.api import (
    AGENCY_HEADER,
    ATTEMPTS_HEADER,
    KIND_HEADER,
    SOURCE_HEADER,
    STORED_HEADER,
    Bus,
    Delivery,
    Outgoing,
)
from hub.routing.topology import Topology
from hub.runtime import backoff_forever, retry_until_done
from hub.services.processing import Processor, budget_spent, failure_of
from hub.services.tracing import message_context, of_outcome

log = structlog.get_logger("hub.worker")


class WorkerStoppingError(RetryableError):
    """Asked to stop while a batch waited for the database: the batch goes back unacked."""

    code = "STOPPING"


T = TypeVar("T")


@dataclass(frozen=True)
class WorkerSettings:
    retry_budget: int = 8  # attempts before a passing failure becomes a failed message
    prefetch: int = 200
    max_batch: int = 100
    max_wait: float = 0.002  # a short wait: latency matters more than fuller batches
    sweep_every: float = 60.0
    sweep_age: timedelta = timedelta(minutes=15)  # longer than the longest retry delay


@dataclass
class Worker:
    """Consumes the work queues, the command queue and the dead/unrouted queues."""

    journal: Journal
    bus: Bus
    topology: Topology
    processor: Processor
    settings: WorkerSettings = field(default_factory=WorkerSettings)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    metrics: HubMetrics = field(default_factory=HubMetrics)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    @property
    def queues(self) -> list[str]:
        t = self.topology
        return [
            *(q.name for q in t.work_queues),
            t.commands_queue.name,
            t.unrouted_queue.name,
            # Dead-lettered messages are processed like any other: the journal's attempt
            # count, not the broker's, decides when a message has failed too often.
            t.dead_queue.name,
        ]

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop``; reconnect by itself after broker or database outages."""
        self._stop = stop
        sweeper = threading.Thread(
            target=self._sweep_loop, args=(stop,), name="worker-sweeper", daemon=True
        )
        sweeper.start()
        backoff_forever(lambda: self._consume(stop), stop, "worker")
        sweeper.join(timeout=5)

    def _consume(self, stop: threading.Event) -> None:
        s = self.settings
        self.bus.consume(
            self.queues,
            self.handle_batch,
            stop=stop,
            prefetch=s.prefetch,
            max_batch=s.max_batch,
            max_wait=s.max_wait,
        )

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        """Store, process and settle one batch (see the module's docstring for the order)."""
        fresh = [d for d in deliveries if self._is_fresh(d)]
        stored_before = self._fast_path(fresh) if fresh else []
        careful = [d for d in deliveries if not self._is_fresh(d)] + stored_before
        if careful:
            self._careful_path(careful)
        for delivery in deliveries:
            delivery.ack()

    def _is_fresh(self, delivery: Delivery) -> bool:
        # A first delivery can be processed before it is stored (one write instead of three).
        # A redelivery may be the message that crashed a worker, and a retry has attempts to
        # count: both take the careful path, which counts the attempt before processing.
        t = self.topology
        return not (
            delivery.redelivered
            or ATTEMPTS_HEADER in delivery.headers
            or STORED_HEADER in delivery.headers
            or delivery.queue in (t.unrouted_queue.name, t.dead_queue.name)
        )

    def _fast_path(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Process, then store message and outcome together; the deliveries found already
        stored come back for the careful path."""
        now = self.clock()
        inbound = [self._inbound(d) for d in deliveries]
        by_id = {message.inbox_id: d for message, d in zip(inbound, deliveries, strict=True)}
        records = [message.first_attempt(now) for message in inbound]
        outcomes = [self._outcome_or_none(record, by_id[record.inbox_id]) for record in records]
        pairs = list(zip(inbound, outcomes, strict=True))
        received = self._hold(lambda: self.journal.receive_processed(pairs))
        stored_now = {r.inbox_id for r in received if not r.duplicate}
        self._count_received([r for r in records if r.inbox_id in stored_now])
        retries = [r for r, o in zip(records, outcomes, strict=True) if o is None]
        self._schedule_retries([r for r in retries if r.inbox_id in stored_now], by_id)
        self._count_stored(records, outcomes, received)
        return [d for d, r in zip(deliveries, received, strict=True) if r.duplicate]

    def _outcome_or_none(self, record: InboxRecord, delivery: Delivery) -> Outcome | None:
        with message_context(record):
            try:
                return self.outcome(record, delivery)
            except RetryableError as exc:
                log.warning("retry scheduled", error=str(exc), attempt=1)
                return None

    def _careful_path(self, deliveries: Sequence[Delivery]) -> None:
        inbound = [self._inbound(d) for d in deliveries]
        by_id = {message.inbox_id: d for message, d in zip(inbound, deliveries, strict=True)}
        received = self._hold(lambda: self.journal.receive(inbound))
        self._count_finished_before(inbound, received)
        records = self._hold(lambda: self.journal.start_attempts(list(by_id)))
        self._count_received(records)
        outcomes, retries = self._process(records, by_id)
        self._schedule_retries(retries, by_id)
        if outcomes:
            completions = self._hold(lambda: self.journal.complete(outcomes))
            self._count_completed(records, outcomes, completions)

    def _hold(self, operation: Callable[[], T]) -> T:
        # A database outage is not the messages' fault: keep them (unacked) and wait for the
        # database, rather than hand them back and spend the broker's delivery limit.
        result: list[T] = []
        if not retry_until_done(lambda: result.append(operation()), self._stop, "journal"):
            raise WorkerStoppingError("stopped while waiting for the database")
        return result[0]

    def _process(
        self, records: Sequence[InboxRecord], by_id: Mapping[str, Delivery]
    ) -> tuple[list[Outcome], list[InboxRecord]]:
        outcomes: list[Outcome] = []
        retries: list[InboxRecord] = []
        for record in records:
            with message_context(record):
                try:
                    outcomes.append(self.outcome(record, by_id.get(record.inbox_id)))
                except RetryableError as exc:
                    log.warning("retry scheduled", error=str(exc), attempt=record.attempts)
                    retries.append(record)
        return outcomes, retries

    def outcome(self, record: InboxRecord, delivery: Delivery | None) -> Outcome:
        """The outcome for one record, given where it came from; passing errors propagate."""
        with message_context(record):
            return self._outcome(record, delivery)

    def _outcome(self, record: InboxRecord, delivery: Delivery | None) -> Outcome:
        if record.attempts > self.settings.retry_budget:
            return budget_spent(record, self.settings.retry_budget)
        queue = delivery.queue if delivery is not None else ""
        # Unrouted with no agency: processing says what it is (or handles it after all).
        if queue == self.topology.unrouted_queue.name and record.agency is not None:
            return self._failed(
                record,
                UnknownAgencyError(
                    f"no work queue for agency {record.agency!r}", agency=record.agency
                ),
            )
        return self.processor.process(record)

    @staticmethod
    def _failed(record: InboxRecord, exc: PermanentError) -> Outcome:
        return Outcome(record.inbox_id, failure=failure_of(exc, record))

    def _schedule_retries(
        self, records: Sequence[InboxRecord], by_id: Mapping[str, Delivery]
    ) -> None:
        for record in records:
            delivery = by_id[record.inbox_id]
            exchange = self._exchange_of(delivery)
            message = _retry_message(delivery, record.attempts)
            delay = self.topology.delay_for_attempt(record.attempts)
            self.bus.publish_delayed(exchange, [message], delay)
            agency, kind = self.metrics.labels_of(record.source, record.agency, record.kind)
            self.metrics.retries(agency, f"{delay:g}").inc()
            self.metrics.processed(agency, kind, RETRIED).inc()

    # --- counting: after each write, what it settled ------------------------------------

    def _count_received(self, records: Sequence[InboxRecord]) -> None:
        # Received: counted once per inbox id, right after the write that started its first
        # attempt (0 → 1 in the journal, decided in one transaction). Whoever stored it (this
        # worker, the SMEV client, the HTTP endpoint) and however often it was delivered - a
        # redelivery of a batch that died with a worker included - it counts once.
        received = self.metrics.received
        for r in records:
            if r.attempts == 1:
                received(*self.metrics.labels_of(r.source, r.agency, r.kind)).inc()

    def _count_stored(
        self,
        records: Sequence[InboxRecord],
        outcomes: Sequence[Outcome | None],
        received: Sequence[Received],
    ) -> None:
        now = self.clock()
        for record, outcome, got in zip(records, outcomes, received, strict=True):
            if outcome is not None and not got.duplicate:
                self._count_settled(record, outcome, got.status, now)

    def _count_finished_before(
        self, inbound: Sequence[InboundMessage], received: Sequence[Received]
    ) -> None:
        # A redelivery of a message already settled: acknowledged, nothing done again.
        for message, got in zip(inbound, received, strict=True):
            if got.duplicate and got.status != InboxStatus.RECEIVED:
                agency, kind = self.metrics.labels_of(message.source, message.agency, message.kind)
                self.metrics.processed(agency, kind, InboxStatus.DUPLICATE.value).inc()

    def _count_completed(
        self,
        records: Sequence[InboxRecord],
        outcomes: Sequence[Outcome],
        completions: Sequence[Completion],
    ) -> None:
        now = self.clock()
        by_id = {record.inbox_id: record for record in records}
        for outcome, completion in zip(outcomes, completions, strict=True):
            record = by_id.get(completion.inbox_id)
            if record is not None:
                self._count_settled(record, outcome, completion.status, now)

    def _count_settled(
        self, record: InboxRecord, outcome: Outcome, status: InboxStatus, now: datetime
    ) -> None:
        m = self.metrics
        agency, kind = m.labels_of(record.source, record.agency, record.kind)
        m.processed(agency, kind, status.value).inc()
        if outcome.failure is not None and status == InboxStatus.FAILED:
            m.failures(agency, outcome.failure.error_type[:64]).inc()
            _log_failure(record, outcome.failure)
        m.processing_seconds(agency).observe(max(0.0, (now - record.received_at).total_seconds()))
        if outcome.outbound or outcome.settles:
            with message_context(record, of_outcome(outcome)):
                _log_requests(outcome)

    def _exchange_of(self, delivery: Delivery) -> str:
        if self._is_command(delivery):
            return self.topology.commands_exchange.name
        return self.topology.inbound_exchange.name

    def _is_command(self, delivery: Delivery) -> bool:
        # A dead-lettered message remembers its first queue in RabbitMQ's x-death record.
        queue = delivery.queue
        deaths = delivery.headers.get("x-death")
        if queue == self.topology.dead_queue.name and isinstance(deaths, list) and deaths:
            queue = str(deaths[-1].get("queue", queue))
        return queue == self.topology.commands_queue.name

    def _inbound(self, delivery: Delivery) -> InboundMessage:
        headers = {k: str(v) for k, v in delivery.headers.items() if k.startswith("x-hub-")}
        is_command = self._is_command(delivery)
        source = str(
            delivery.headers.get(SOURCE_HEADER) or (Source.REGISTRY if is_command else Source.AMQP)
        )
        if AGENCY_HEADER in delivery.headers:  # set, and empty when no agency claims it
            agency = delivery.headers[AGENCY_HEADER] or None
        else:
            agency = None if is_command else delivery.routing_key
        return InboundMessage(
            source=source,
            external_id=delivery.message_id or hashlib.sha256(delivery.body).hexdigest(),
            raw=delivery.body,
            agency=str(agency) if agency else None,
            kind=str(delivery.headers.get(KIND_HEADER) or "") or None,
            content_type=delivery.content_type,
            headers=headers,
            received_at=self.clock(),
        )

    # --- the sweeper: messages stored but never finished (crash, in-memory broker lost) ----

    def _sweep_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sweep(self.clock() - self.settings.sweep_age)
            except RetryableError as exc:
                log.warning("sweep postponed", error=str(exc))
            stop.wait(self.settings.sweep_every)

    def sweep(self, older_than: datetime, limit: int = 500) -> int:
        """Process stored messages left unfinished since before ``older_than``."""
        records = self.journal.start_attempts(self.journal.unfinished(older_than, limit))
        self._count_received(records)
        outcomes: list[Outcome] = []
        for record in records:
            try:
                outcomes.append(self.outcome(record, None))
            except RetryableError:
                continue  # the next sweep tries again; the attempt was counted
        if outcomes:
            self._count_completed(records, outcomes, self.journal.complete(outcomes))
        return len(outcomes)


RETRIED = "retried"


def _log_failure(record: InboxRecord, failure: Failure) -> None:
    # One line per message kept as failed, for a SIEM: "signature rejected" (ERROR: a
    # forgery, or a certificate SMEV renewed) or "message failed" (WARNING). Type, code and
    # ids only: the reason may quote what the message says, so it stays in the journal.
    kind = error_class(failure.error_type)
    code = kind.code if kind is not None else UNEXPECTED
    forged = kind is not None and issubclass(kind, SignatureError)
    write = log.error if forged else log.warning
    with message_context(record):  # binds trace_id, inbox_id, agency and kind
        write(
            "signature rejected" if forged else "message failed",
            error_type=failure.error_type[:64],
            error_code=code,
            source=record.source,
        )


def _log_requests(outcome: Outcome) -> None:
    # Once written. Ids only: the trace id, inbox id, agency and kind are bound by the caller.
    for request in outcome.outbound:
        log.info(
            "agency request prepared",
            request_id=request.request_id,
            smev_message_id=request.smev_message_id,
            request_kind=request.kind,
        )
    if outcome.settles is not None:
        log.info(
            "agency request settled",
            request_id=outcome.settles.request_id,
            state=outcome.settles.state.value,
        )


def _retry_message(delivery: Delivery, attempts: int) -> Outgoing:
    headers: dict[str, Any] = dict(delivery.headers)
    headers[ATTEMPTS_HEADER] = attempts
    return Outgoing(
        delivery.body, delivery.routing_key, headers, delivery.message_id, delivery.content_type
    )
