"""The hub's SMEV client: sends the hub's requests and answers, and takes what SMEV holds for it.

Taking, per round and queue (GetRequest: requests to the hub; GetResponse: answers to its
requests): take up to a batch → store every message in the inbox (one transaction) → hand the
new ones to the worker over the inbound exchange (publisher confirms) → only then Ack:
``accepted="true"``, or ``"false"`` when SMEV's own signature over the message does not hold
(checked before the Ack when signatures are required; the message is stored all the same and
fails in the worker). SMEV's asynchronous rejection of a message the hub sent (SMEV-403 in an
AsyncProcessingStatus) is a message like any other; read from GetStatus, it is stored too
(nothing to Ack). A poll or send round that fails, for any of the hub's errors, is counted
and backed off: the client never stops for a fault. A crash
before the Ack means SMEV delivers again after its visibility timeout; the inbox knows the
MessageID, so nothing is processed twice, and several hub processes may poll at once.

Sending: the journal hands each sender its own requests (``claim_outbound``); each goes
signed, under the MessageID it was given when processing asked for it, so a resend after a
broken connection is the same message. SMEV's answer decides what happens:

=======================================  ===============================================
accepted (MessageMetadata)                ACCEPTED
MessageIsAlreadySent                      ACCEPTED (an earlier try went through)
StaleMessageId                            a new MessageID, sent again at once
QuoteLimitExceeded                        SMEV dropped it: a new MessageID at once, sent
                                          later (after ``resend_after``) as a new message
SMEVFailure, a plain or unknown           sent again later (after ``resend_after``)
``soap:Server`` fault, no answer
SenderIsNotRegistered, the hub's          the round fails (counted, backed off, alerted);
certificate expired or unknown            sent again later
any other fault (permanent)               kept in the inbox whole; the worker turns it into
                                          ``request.rejected`` and REJECTED
=======================================  ===============================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from lxml import etree

from hub.adapters.router import Router
from hub.canonical.ids import inbox_id_for
from hub.canonical.sources import Source
from hub.errors import HubError, PermanentError, RetryableError, SignatureError
from hub.journal.api import Journal
from hub.journal.records import (
    InboundMessage,
    InboxRecord,
    OutboundRequest,
    OutboundState,
)
from hub.metrics import HubMetrics
from hub.routing.api import (
    Bus,
)
from hub.routing.topology import Topology
from hub.services import tracing
from hub.services.ingress import hand_over
from hub.services.ratelimit import RateLimiter
from hub.services.trust import TrustPolicy
from hub.smev.build import (
    Ack,
    ElementSigner,
    Selector,
    SendRequest,
    SendResponse,
    build_ack,
    build_get_request,
    build_get_response,
    build_get_status,
    build_send_request,
    build_send_response,
    new_message_id,
    serialize,
)
from hub.smev.faults import (
    MessageIsAlreadySentError,
    QuoteLimitExceededError,
    SmevFaultError,
    StaleMessageIdError,
)
from hub.smev.read import SmevMessage
from hub.smev.transport import SmevReply, Transport
from hub.xml import XmlLimits, parse_xml

log = structlog.get_logger("hub.smev.client")

REFUSAL_CONTENT_TYPE = "application/vnd.hub.smev-refusal+json"

Queue = Literal["requests", "responses"]
# SMEV's asynchronous refusal of a message the hub sent (in GetResponse or GetStatus).
REJECTED_BY_SMEV = frozenset({"requestIsRejectedBySmev", "responseIsRejectedBySmev"})
# ``SmevClient.stats`` keys of each loop's failed rounds.
FAILED_ROUNDS = {"send": "failed send rounds", "poll": "failed rounds"}


class SmevPassingFaultError(RetryableError):
    """SMEV answered with a fault that passes (SMEVFailure, DestinationOverflow): later."""

    code = "SMEV_PASSING_FAULT"


@dataclass(frozen=True)
class SmevClientSettings:
    version: str = "1.3"
    node_id: str | None = None
    # SMEV's TransactionCode for the hub's requests, when one was assigned; None: not sent
    # (genuine 1.2 traffic carries none either, see hub.smev.build).
    transaction_code: str | None = None
    batch: int = 50
    poll_interval: float = 1.0
    resend_after: timedelta = timedelta(seconds=30)
    status_every: float = 10.0  # seconds between reads of SMEV's delivery statuses; 0: never
    rate_wait: float = 5.0  # longest wait for a rate limit before leaving a request for later


@dataclass(frozen=True, slots=True)
class Round:
    """What one round did: messages sent, taken from each queue, statuses read."""

    sent: int = 0
    taken: int = 0
    statuses: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.taken)


@dataclass
class SmevClient:
    """Polls SMEV for the hub and sends what the hub has to send."""

    journal: Journal
    bus: Bus
    topology: Topology
    router: Router
    transport: Transport
    signer: ElementSigner | None
    settings: SmevClientSettings = field(default_factory=SmevClientSettings)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter({}))
    limits: XmlLimits = field(default_factory=XmlLimits)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    metrics: HubMetrics = field(default_factory=HubMetrics)
    # SMEV's own signature is checked before each Ack (None: signatures not required).
    trust: TrustPolicy | None = None
    _next_status_read: float = field(default=0.0, init=False, repr=False)
    # What happened so far, for the demo and the benchmark: rounds failed, calls that failed
    # in passing, duplicate deliveries recognised, resends, refusals.
    stats: Counter[str] = field(default_factory=Counter, init=False)

    def run(self, stop: threading.Event) -> None:
        """Send and poll until ``stop``, each in its own thread: a call waiting for SMEV
        never holds up the other direction (on two cores that is a quarter more round trips
        per second). Each waits ``poll_interval`` when it had nothing to do, and backs off by
        itself while SMEV, the broker or the database is away. A round that fails with any of
        the hub's errors, passing or not (a fault SMEV will repeat until an operator acts), is
        counted and backed off, never the end of the client (metrics and ``hub health`` say it
        is failing); only a bug ends both loops and is raised here (the supervisor restarts
        the process)."""
        halt = threading.Event()  # ``stop``, or a loop that crashed
        crashed: list[Exception] = []
        loops = [
            threading.Thread(target=self._loop, args=(halt, crashed, key, step), daemon=True)
            for key, step in (("send", self.send_pending), ("poll", self._take_all))
        ]
        for loop in loops:
            loop.start()
        while not (stop.wait(0.2) or halt.is_set()):
            pass
        halt.set()
        for loop in loops:
            loop.join()
        if crashed:
            raise crashed[0]

    def _loop(
        self, halt: threading.Event, crashed: list[Exception], loop: str, step: Callable[[], int]
    ) -> None:
        try:
            self._repeat(halt, loop, step)
        except Exception as exc:  # raised again by ``run``, in its thread
            crashed.append(exc)
            halt.set()

    def _repeat(self, halt: threading.Event, loop: str, step: Callable[[], int]) -> None:
        failures = 0
        self.metrics.smev_failing_rounds(loop).set(0)  # a restarted client starts healthy
        while not halt.is_set():
            try:
                busy = step() > 0
            except HubError as exc:
                failures += 1
                self._failed_round(loop, exc, failures)
                halt.wait(_backoff(failures))
                continue
            if failures:  # one good round: a later failure starts the back-off afresh
                failures = 0
                self.metrics.smev_failing_rounds(loop).set(0)
            if not busy:
                halt.wait(self.settings.poll_interval)

    def _failed_round(self, loop: str, error: HubError, failures: int) -> None:
        # Each loop its own stats key: no update lost between the two threads.
        self.stats[FAILED_ROUNDS[loop]] += 1
        self.metrics.smev_failed_rounds(loop, type(error).__name__[:64]).inc()
        self.metrics.smev_failing_rounds(loop).set(failures)
        # A fault that will not pass by itself (SMEV refusing the hub's polls) needs an
        # operator: said louder than an outage that will.
        say = log.warning if error.retryable else log.error
        say(
            "smev round failed",
            loop=loop,
            error=str(error),
            error_type=type(error).__name__,
            failures=failures,
        )

    def _take_all(self) -> int:
        taken = self.take("responses") + self.take("requests")
        if self._statuses_due():
            self.read_statuses()
        return taken

    def round(self) -> Round:
        """One round: send what is due, then take from both queues (and read statuses)."""
        sent = self.send_pending()
        taken = self.take("responses") + self.take("requests")
        statuses = self.read_statuses() if self._statuses_due() else 0
        return Round(sent, taken, statuses)

    def _statuses_due(self) -> bool:
        # Statuses only inform (refusals also come through GetResponse): read them now and
        # then, not every round, where they would double the calls to SMEV.
        every, now = self.settings.status_every, time.monotonic()
        if not every or now < self._next_status_read:
            return False
        self._next_status_read = now + every
        return True

    # --- taking ---------------------------------------------------------------------------

    def take(self, queue: Queue) -> int:
        """Take up to a batch from one queue: store, hand to the worker, then Ack."""
        replies = self._take_batch(queue)
        if replies:
            self._keep(replies)
            self.metrics.smev_taken(queue).inc(len(replies))
        return len(replies)

    def _take_batch(self, queue: Queue) -> list[SmevReply]:
        """Up to a batch of distinct messages. It ends at an empty queue, at a failure
        (what came before is kept), and at a MessageID it already holds: SMEV may hand out
        its head message again until it is acked, so a batch never holds one twice."""
        taken: dict[str, SmevReply] = {}
        while len(taken) < self.settings.batch:
            try:
                reply = self._poll(queue)
            except HubError:
                if not taken:
                    raise
                break  # keep what came before the failure; the next round goes on
            if reply.message.kind == "empty":
                break
            delivery = _delivery_id(reply.message)
            if delivery in taken:
                self.stats["repeated in a batch"] += 1
                break
            taken[delivery] = reply
        return list(taken.values())

    def _poll(self, queue: Queue) -> SmevReply:
        build = build_get_request if queue == "requests" else build_get_response
        method = "GetRequest" if queue == "requests" else "GetResponse"
        selector = Selector(node_id=self.settings.node_id)
        return self._call(build(selector, self.settings.version, self.signer), method)

    def _keep(self, replies: Sequence[SmevReply]) -> None:
        messages = [self._inbound(reply) for reply in replies]
        pairs = zip(replies, messages, strict=True)
        signed = [self._signed_by_smev(reply.message, m.received_at) for reply, m in pairs]
        # Stored whatever SMEV's signature: a rejected one fails in the worker's full check
        # and is kept there for an operator.
        received = self.journal.receive(messages)
        self.stats["taken"] += len(messages)
        self.stats["duplicate deliveries"] += sum(1 for r in received if r.duplicate)
        hand_over(self.bus, self.topology, messages, received)
        for reply, accepted in zip(replies, signed, strict=True):
            self._ack(reply.message, accepted=accepted)

    def _signed_by_smev(self, message: SmevMessage, received_at: datetime | None) -> bool:
        """Whether SMEV's own signature holds (always, when signatures are not required):
        what the Ack says (``accepted="false"``: SMEV's signature rejected, message ignored)."""
        if self.trust is None:
            return True
        try:
            self.trust.check_smev(message, received_at or self.clock())
        except SignatureError as exc:
            self.stats["SMEV signatures rejected"] += 1
            log.warning(
                "SMEV's signature rejected",
                message_id=_delivery_id(message),
                error=exc.code,
                reason=str(exc),
            )
            return False
        return True

    def _inbound(self, reply: SmevReply) -> InboundMessage:
        message = reply.message
        return InboundMessage(
            source=Source.SMEV,
            external_id=_delivery_id(message),
            raw=reply.body,
            agency=self._agency(message),
            kind=message.content_name or message.kind,
            content_type=reply.content_type,
            headers={"x-hub-smev-queue": message.operation},
            received_at=self.clock(),
        )

    def _agency(self, message: SmevMessage) -> str | None:
        if message.kind == "cancel":  # goes where the request it cancels went
            cancelled = stored_request(self.journal, message.original_message_id or "")
            return cancelled.agency if cancelled is not None else None
        agency = self.router.agency_of(message.content_name)
        if agency is None and message.original_message_id:
            request = self.journal.outbound_by_message_id(message.original_message_id)
            agency = request.agency if request is not None else None
        return agency

    def _ack(self, message: SmevMessage, *, accepted: bool = True) -> None:
        try:
            acked = Ack(_delivery_id(message), accepted=accepted)
            ack = build_ack(acked, self.settings.version, self.signer)
            self._call(ack, "Ack")
        except (RetryableError, SmevFaultError) as exc:
            # Stored already: SMEV delivers it again later, and the inbox knows it by then.
            log.warning("ack failed", message_id=message.message_id, error=str(exc))

    def read_statuses(self) -> int:
        """Read SMEV's delivery statuses of the hub's messages (up to a batch): logged, and
        SMEV's rejection of a message kept in the inbox, where the worker settles its request
        (a status has no MessageID of its own: nothing to Ack)."""
        read = 0
        while read < self.settings.batch:
            envelope = build_get_status(version=self.settings.version, signer=self.signer)
            reply = self._call(envelope, "GetStatus")
            message = reply.message
            if message.kind == "empty":
                break
            log.debug(
                "smev status",
                message_id=message.original_message_id,
                category=message.status_category,
            )
            if message.status_category in REJECTED_BY_SMEV:
                self._keep_rejection(reply)
            read += 1
        return read

    def _keep_rejection(self, reply: SmevReply) -> None:
        status = dataclasses.replace(self._inbound(reply), external_id=_status_id(reply.message))
        self.stats["rejections by SMEV"] += 1
        hand_over(self.bus, self.topology, [status], self.journal.receive([status]))

    # --- sending --------------------------------------------------------------------------

    def send_pending(self) -> int:
        """Send the requests and answers due now (one batch); how many were tried."""
        claimed = self.journal.claim_outbound(self.settings.batch, self.settings.resend_after)
        self.stats["resends"] += sum(1 for r in claimed if r.attempts > 1)
        accepted: list[str] = []
        try:
            accepted.extend(r.request_id for r in claimed if self._send(r))
        finally:  # a round that fails half-way keeps what SMEV took before
            if accepted:
                self.journal.mark_accepted(accepted)
        return len(claimed)

    def _send(self, request: OutboundRequest) -> bool:
        """Send one; True when SMEV has it. Passing failures leave it for a later round."""
        allowed = self.limiter.acquire(request.agency, request.kind, self.settings.rate_wait)
        if not allowed:
            return False
        # The command's trace id in every line logged about this request.
        with tracing.bound(trace_id=tracing.of_request(request), request_id=request.request_id):
            return self._attempt(request)

    def _attempt(self, request: OutboundRequest) -> bool:
        try:
            self._submit(request, request.smev_message_id)
        except MessageIsAlreadySentError:
            return True
        except StaleMessageIdError:
            return self._send_renewed(request)
        except QuoteLimitExceededError as exc:
            self._dropped_for_quota(request, exc)
            return False
        except RetryableError as exc:
            self.stats["sends postponed"] += 1
            log.warning("send postponed", request_id=request.request_id, error=str(exc))
            return False
        except (SmevFaultError, PermanentError) as exc:
            if isinstance(exc, SmevFaultError) and refuses_the_hub(exc):
                raise  # the round fails (counted, backed off, alerted); the request waits
            # SMEV refused it for good, or it cannot even be built (unreadable payload):
            # sending it again would change nothing.
            self._refused(request, exc)
            return False
        log.info(
            "request sent",
            smev_message_id=request.smev_message_id,
            agency=request.agency,
            request_kind=request.kind,
        )
        return True

    def _send_renewed(self, request: OutboundRequest) -> bool:
        # SMEV no longer takes the old MessageID: the same content under a new one.
        renewed = self.journal.transition_outbound(
            request.request_id, OutboundState.SENT, smev_message_id=new_message_id()
        )
        return self._send(renewed)

    def _dropped_for_quota(self, request: OutboundRequest, error: QuoteLimitExceededError) -> None:
        """SMEV dropped the message: its attachments exceed what is left of SMEV's quota
        (the faults XSD). The schema wants a *new* message once the quota allows, never the
        same one again: a new MessageID now, sent after ``resend_after`` like any request
        SMEV has not taken. The configured rate limits are a separate matter, untouched."""
        self.journal.transition_outbound(
            request.request_id, OutboundState.SENT, smev_message_id=new_message_id()
        )
        self.stats["dropped by SMEV's quota"] += 1
        log.warning(
            "request dropped by SMEV's attachment quota",
            request_id=request.request_id,
            remained_bytes=error.fault.extra.get("RemainedTotalQuoteSize"),
            attachment_bytes=error.fault.extra.get("RealTotalAttachmentSize"),
        )

    def _submit(self, request: OutboundRequest, message_id: str) -> None:
        content = parse_xml(request.payload, self.limits)
        if request.reply_to is None:
            built = build_send_request(
                SendRequest(
                    content,
                    message_id,
                    transaction_code=self.settings.transaction_code,
                    node_id=self.settings.node_id,
                ),
                self.settings.version,
                self.signer,
            )
        else:
            built = build_send_response(
                SendResponse(request.reply_to, content, message_id=message_id),
                self.settings.version,
                self.signer,
            )
        self._call(built, "SendRequest" if request.reply_to is None else "SendResponse")

    def _refused(self, request: OutboundRequest, error: HubError) -> None:
        """Keep SMEV's refusal whole in the inbox; the worker settles the request from it."""
        refusal = InboundMessage(
            source=Source.SMEV_REFUSAL,
            external_id=request.smev_message_id,
            raw=json.dumps(refusal_record(request, error), ensure_ascii=False).encode(),
            agency=request.agency,
            kind="refusal",
            content_type=REFUSAL_CONTENT_TYPE,
            received_at=self.clock(),
        )
        self.stats["refused by SMEV"] += 1
        hand_over(self.bus, self.topology, [refusal], self.journal.receive([refusal]))
        log.warning("request refused by SMEV", request_id=request.request_id, error=error.code)

    def _call(self, envelope: etree._Element, method: str) -> SmevReply:
        started = time.perf_counter()
        try:
            reply = self.transport.call_raw(serialize(envelope))
        except SmevFaultError as exc:
            self._count_call(method, type(exc).__name__, started)
            if exc.retryable:
                raise SmevPassingFaultError(str(exc), smev_fault=exc.fault.type) from exc
            raise
        except HubError as exc:
            self._count_call(method, type(exc).__name__, started)
            raise
        self._count_call(method, "ok", started)
        return reply

    def _count_call(self, method: str, result: str, started: float) -> None:
        self.metrics.smev_seconds(method).observe(time.perf_counter() - started)
        self.metrics.smev_calls(method, result[:64]).inc()

    def close(self) -> None:
        self.transport.close()


# Faults that refuse the hub itself, not the message: its registration, or the certificate
# of its signature. Every message would get them until an operator acts; rejecting the
# registry's requests for them would lose requests that are not at fault.
_HUB_FAULTS = frozenset({"SenderIsNotRegistered"})
_HUB_CERTIFICATE = frozenset({"CertificateIsExpired", "CertificateIsNotFound"})


def refuses_the_hub(error: SmevFaultError) -> bool:
    """Whether SMEV's fault is about the hub (its registration or certificate), so that a
    send must wait, not be rejected."""
    fault = error.fault
    if fault.type in _HUB_FAULTS:
        return True
    return fault.type == "SignatureVerificationFault" and fault.sub_type in _HUB_CERTIFICATE


def _backoff(failures: int) -> float:
    # Exponential with full jitter, 0.1 s after the first failure up to 15 s.
    ceiling = min(15.0, 0.1 * 2 ** min(failures - 1, 8))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def refusal_record(request: OutboundRequest, error: HubError) -> dict[str, object]:
    """What the inbox keeps of a refusal: the request refused, and SMEV's fault (or, for a
    request that could not be built, the hub's error)."""
    fault = (
        error.fault.to_dict()
        if isinstance(error, SmevFaultError)
        else {"type": type(error).__name__, "code": error.code, "description": str(error)}
    )
    return {
        "request_id": request.request_id,
        "smev_message_id": request.smev_message_id,
        "agency": request.agency,
        "kind": request.kind,
        "fault": fault,
    }


def _status_id(message: SmevMessage) -> str:
    # One per message and category: a status SMEV repeats is recognised in the inbox.
    return f"status:{message.original_message_id}:{message.status_category}"


def stored_request(journal: Journal, message_id: str) -> InboxRecord | None:
    """The inbox record of the message the client took from SMEV under ``message_id`` (the
    sender's MessageID), if it took one: what a Cancel names."""
    return journal.inbox(inbox_id_for(Source.SMEV, message_id)) if message_id else None


def _delivery_id(message: SmevMessage) -> str:
    # The MessageID SMEV delivered the message under: what Ack names, and what a redelivery
    # repeats, so the inbox recognises it.
    found = message.message_id or (message.metadata.message_id if message.metadata else None)
    return found or hashlib.sha256(etree.tostring(message.root)).hexdigest()
