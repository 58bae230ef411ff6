"""Processing one stored message: parse, check, route, translate; the result is an Outcome.

Pure apart from the adapters it calls: no journal or broker here, so the same code serves
the worker, replay and ``--dry-run``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from hub.access.categories import data_category
from hub.access.scopes import REGION, UNKNOWN, InvalidScopeError, school_scope
from hub.adapters.router import (
    AgencyRequest,
    AnsweredRequest,
    Router,
    Translation,
    UnknownAgencyError,
)
from hub.canonical.commands import command_scope
from hub.canonical.drafts import EventDraft
from hub.canonical.events import request_rejected
from hub.canonical.ids import event_id_for
from hub.canonical.sources import Source, poster_of
from hub.crypto.xmldsig import XmlVerifier
from hub.errors import HubError, IntakeError, PermanentError, RetryableError
from hub.journal.records import (
    Failure,
    InboxRecord,
    NewEvent,
    NewOutbound,
    OutboundRequest,
    OutboundState,
    Outcome,
    Settlement,
)
from hub.protection.masking import mask_text
from hub.services import tracing
from hub.services.smev_client import REJECTED_BY_SMEV
from hub.services.trust import TrustPolicy
from hub.smev.build import new_message_id
from hub.smev.read import SmevMessage, read_message
from hub.xml import XmlLimits, parse_message

log = structlog.get_logger("hub.processing")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"\d+")


class CommandFormatError(PermanentError):
    """A registry command that is not the JSON object the hub expects."""

    code = "COMMAND_FORMAT"


class UnknownRequestError(PermanentError):
    """An answer whose OriginalMessageId matches no request the hub sent."""

    code = "UNKNOWN_REQUEST"


class CancelTargetUnknownError(PermanentError):
    """A SMEV Cancel naming a request the hub has not stored: kept for an operator, who may
    replay it once the request is in (a Cancel is only delivered after its request)."""

    code = "CANCEL_TARGET_UNKNOWN"


class RetryBudgetSpentError(PermanentError):
    code = "RETRY_BUDGET_SPENT"


@dataclass(frozen=True, slots=True)
class _Read:
    """A stored message read and checked, with its scope when known before translation."""

    command: Mapping[str, Any] | None = None  # a registry command
    message: SmevMessage | None = None  # an SMEV message
    request: OutboundRequest | None = None  # the hub's request it answers or refuses
    cancelled: SmevMessage | None = None  # the request to the hub a SMEV Cancel cancels
    scope: str | None = None
    answers_hub: bool = False  # a response to a request of the hub's, found or not


@dataclass(frozen=True)
class Processor:
    """Turns an inbox record into events, or into a failure that keeps it for an operator."""

    router: Router
    verifier: XmlVerifier | None
    limits: XmlLimits
    agencies: frozenset[str]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # The hub's own requests by SMEV MessageID, to read an answer against what was asked.
    lookup: Callable[[str], OutboundRequest | None] = field(default=lambda _message_id: None)
    # Fingerprints of the certificates whose signatures count; None: any valid signature.
    trusted: frozenset[str] | None = None
    # A posting system's own signing certificates by principal id (None: it names none).
    signers_for: Callable[[str], frozenset[str] | None] = field(default=lambda _principal: None)
    # Requests to the hub as stored, by their SMEV MessageID: what a Cancel cancels.
    cancelled: Callable[[str], InboxRecord | None] = field(default=lambda _message_id: None)

    @tracing.traced  # trace id, inbox id, agency, kind in every log line while processing
    def process(self, record: InboxRecord) -> Outcome:
        """Events or a permanent failure; a ``RetryableError`` propagates to the caller.

        The outcome carries the message's scope: a command's ``scope`` field, the scope of
        the hub's request an answer settles, the school an application is for, else the scope
        it arrived with; else "" (the region's alone). A failure carries it too once known."""
        scope: str | None = None
        verified: _Read | None = None
        try:
            read = self._read(record)
            scope = read.scope  # known before any check: a refused answer stays its school's
            self._verify(record, read)
            verified = read
            tracing.adopt(record, read.command, read.request)  # the trace of what it answers
            translation = _harmless(read, self._translate(record, read))
            return self._outcome(record, translation, self._scope(record, read, translation))
        except RetryableError:
            raise
        except Exception as exc:
            replies = self._refusals(record, verified, exc, scope or record.scope or UNKNOWN)
            failure = failure_of(exc, record)
            return Outcome(record.inbox_id, failure=failure, outbound=replies, scope=scope)

    def _refusals(
        self, record: InboxRecord, verified: _Read | None, exc: Exception, scope: str
    ) -> list[NewOutbound]:
        """What the sender is told of a message refused at its intake gate: only for a message
        whose signatures held (no answer to a forgery) and whose adapter says what to send."""
        if not isinstance(exc, IntakeError) or verified is None or verified.message is None:
            return []
        if verified.message.test_message:
            return []  # the refusal is a new request to the agency: it would change its data
        refused = self.router.refusals.get(verified.message.content_name or "")
        if refused is None:
            return []
        try:
            requests = refused(verified.message, record)
        except Exception as cause:
            log.warning("refusal reply not made", error_type=type(cause).__name__)
            return []
        return [_outbound(request, scope) for request in requests]

    def _outcome(self, record: InboxRecord, translation: Translation, scope: str) -> Outcome:
        return Outcome(
            record.inbox_id,
            self._events(record, translation.events, scope),
            translation.business_key,
            outbound=[_outbound(request, scope) for request in translation.requests],
            settles=_settlement(translation),
            scope=scope,
        )

    def _read(self, record: InboxRecord) -> _Read:
        if record.agency is not None and record.agency not in self.agencies:
            raise UnknownAgencyError(
                f"message addressed to unknown agency {record.agency!r}", agency=record.agency
            )
        if record.source == Source.REGISTRY:
            command = _command(record.raw)
            return _Read(command=command, scope=command_scope(command))
        if record.source == Source.SMEV_REFUSAL:  # kept under the refused request's MessageID
            return _inherit(self.lookup(record.external_id))
        message = read_message(parse_message(record.raw, record.content_type, self.limits))
        if message.kind == "cancel":
            return self._cancel(message)
        if message.original_message_id and _answers_the_hub(message, self.router):
            # Matched by OriginalMessageId before any check (it needs no signature), so that
            # a failure is kept where the request came from; trusted only once verified.
            request = self.lookup(message.original_message_id)
            return dataclasses.replace(_inherit(request), message=message, answers_hub=True)
        return _Read(message=message)

    def _cancel(self, message: SmevMessage) -> _Read:
        """A SMEV Cancel with the request it names, as stored, in that request's scope."""
        reference = message.original_message_id or ""
        original = self.cancelled(reference)
        if original is None:
            raise CancelTargetUnknownError(
                f"SMEV Cancel of a request the hub never took (MessageReference {reference})",
                message_reference=reference,
            )
        request = read_message(parse_message(original.raw, original.content_type, self.limits))
        return _Read(message=message, cancelled=request, scope=original.scope or None)

    def _verify(self, record: InboxRecord, read: _Read) -> None:
        if read.message is None:
            return
        if self.verifier is not None:
            policy = TrustPolicy(self.verifier, self.trusted)
            policy.check(read.message, record.received_at, self._bound_signers(record))
        if read.answers_hub and read.request is None:
            original = read.message.original_message_id or ""
            raise UnknownRequestError(
                f"response to a request the hub did not send (OriginalMessageId {original})",
                original_message_id=original,
            )

    def _bound_signers(self, record: InboxRecord) -> frozenset[str] | None:
        # A system posting over HTTP may be bound to its own signing certificates.
        principal_id = poster_of(record.source)
        return self.signers_for(principal_id) if principal_id else None

    def _translate(self, record: InboxRecord, read: _Read) -> Translation:
        if read.command is not None:
            return self.router.command_handler(read.command.get("type"))(read.command, record)
        if read.message is None:
            return _refusal(record.raw)
        if read.request is not None:
            return self._answer(read.message, read.request)
        if read.cancelled is not None:
            handler = self.router.cancel_handler(read.cancelled.content_name)
            return handler(read.cancelled, record)
        return self.router.inbound_handler(read.message.content_name)(read.message, record)

    def _scope(self, record: InboxRecord, read: _Read, translation: Translation) -> str:
        if read.scope is not None:
            return read.scope
        if translation.school is not None:
            municipality = self.router.settings.school_municipalities.get(translation.school)
            try:
                return school_scope(municipality, translation.school)
            except InvalidScopeError:  # a code that cannot name a scope: as if none were given
                pass
        return record.scope or UNKNOWN  # what it was given on arrival, if anything

    def _answer(self, message: SmevMessage, found: OutboundRequest) -> Translation:
        request = AnsweredRequest(
            found.request_id, found.agency, found.kind, found.context, found.smev_message_id
        )
        if message.rejections or _smev_status(message):
            return _rejection(message, request)
        return self.router.answers[message.content_name or ""](message, request)

    def _events(
        self, record: InboxRecord, drafts: Sequence[EventDraft], scope: str
    ) -> list[NewEvent]:
        return [
            self._event(record, position, draft, scope) for position, draft in enumerate(drafts)
        ]

    def _event(self, record: InboxRecord, position: int, draft: EventDraft, scope: str) -> NewEvent:
        event_id = event_id_for(record.inbox_id, position)
        envelope = cloud_event(event_id, record, draft, self.clock(), scope)
        headers = {
            "x-hub-inbox-id": record.inbox_id,
            "x-hub-subject": draft.subject,
            "x-hub-data-category": envelope["datacategory"],
            "x-hub-scope": envelope["hubscope"],
            tracing.TRACE_HEADER: envelope["hubtraceid"],
        }
        payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return NewEvent(event_id, draft.routing_key, draft.subject, payload, headers)


def cloud_event(
    event_id: str, record: InboxRecord, draft: EventDraft, time: datetime, scope: str = UNKNOWN
) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode envelope for a canonical event, tagged with its data
    category (``datacategory``) and scope (``hubscope``; ``*``: the region's alone)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"urn:hub:{record.agency or record.source}",
        "type": draft.type,
        "subject": draft.subject,
        "time": time.isoformat(),
        "datacontenttype": "application/json",
        "schemaversion": draft.schema_version,
        "hubinboxid": record.inbox_id,
        "datacategory": data_category(draft.type).value,
        "hubscope": scope or REGION,
        "hubtraceid": tracing.trace_for(record),
        "data": dict(draft.data),
    }


TEST_KEY_PREFIX = "test:"


def _harmless(read: _Read, translation: Translation) -> Translation:
    """What is left of a test request (SMEV's TestMessage: "the provider's system must
    guarantee that its data are not changed"): its answers to the sender (SendResponse), as
    the protocol asks; no event for the registry and no new request to any agency. Its key
    is its own, so a real message with the same content is not taken for its duplicate."""
    tests = (read.message, read.cancelled)  # a Cancel of a test request undoes nothing real
    if not any(m is not None and m.test_message for m in tests):
        return translation
    key = translation.business_key
    log.info("test message: answered, nothing published", events_dropped=len(translation.events))
    return dataclasses.replace(
        translation,
        events=(),
        business_key=f"{TEST_KEY_PREFIX}{key}" if key else None,
        requests=[r for r in translation.requests if r.reply_to is not None],
    )


_REJECTED_BY_SMEV = frozenset({"requestIsRejectedBySmev", "responseIsRejectedBySmev"})


def _answers_the_hub(message: SmevMessage, router: Router) -> bool:
    """A response (content, rejection or SMEV's asynchronous rejection) to the hub's request."""
    if _smev_status(message):
        return message.status_category in REJECTED_BY_SMEV
    return bool(message.rejections) or message.content_name in router.answers


def _smev_status(message: SmevMessage) -> bool:
    # SMEV's own AsyncProcessingStatus: in the response queue, or read by GetStatus.
    return message.kind == "async_status" or message.operation == "GetStatusResponse"


def _rejection(message: SmevMessage, request: AnsweredRequest) -> Translation:
    if message.rejections:
        code, reason = message.rejections[0].code, message.rejections[0].description
        key = None
    else:  # SMEV itself refused the request (e.g. SMEV-403: payload against its schema)
        code, reason = "FAILURE", _smev_reason(message)
        # Once per request: the same refusal may come through GetResponse and GetStatus.
        key = f"smev-rejected:{request.smev_message_id}"
    draft = request_rejected(request.request_id, request.agency, request.kind, code, reason)
    return Translation([draft], business_key=key, answers=request.request_id, rejected=True)


def _smev_reason(message: SmevMessage) -> str:
    """SMEV's words: its error number and fault type, its description (else the status's
    details) and the validation errors it lists."""
    fault = message.fault
    if fault is None:
        return message.status_details or str(message.status_category)
    said = fault.description or message.status_details or fault.type
    head = " ".join(p for p in (fault.smev_error, fault.type) if p)
    errors = [e.message for e in fault.validation_errors]
    return "; ".join([f"{head}: {said}", *errors])


def _refusal(raw: bytes) -> Translation:
    """SMEV refused a message the hub sent, for good (see ``hub.services.smev_client``)."""
    try:
        refusal = json.loads(raw)
        fault = refusal["fault"]
        code = str(fault.get("code") or fault.get("type") or "SMEV")
        reason = str(fault.get("description") or fault.get("faultstring") or fault.get("type"))
        request_id, agency, kind = refusal["request_id"], refusal["agency"], refusal["kind"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CommandFormatError(f"unreadable SMEV refusal record ({exc!r})") from exc
    draft = request_rejected(request_id, agency, kind, code, reason)
    return Translation([draft], answers=request_id, rejected=True)


def _inherit(request: OutboundRequest | None) -> _Read:
    # An answer (or SMEV's refusal) belongs where the hub's request did.
    return _Read(request=request, scope=request.scope if request is not None else None)


def _outbound(request: AgencyRequest, scope: str) -> NewOutbound:
    return NewOutbound(
        request.request_id,
        request.agency,
        request.kind,
        request.content,
        new_message_id(),  # kept for good: a resend uses it again (see OutboundState)
        tracing.stamped(request.context),  # the trace id comes back with the answer
        request.reply_to,
        scope=scope,
    )


def _settlement(translation: Translation) -> Settlement | None:
    if translation.answers is None:
        return None
    state = OutboundState.REJECTED if translation.rejected else OutboundState.ANSWERED
    return Settlement(translation.answers, state)


def _command(raw: bytes) -> Mapping[str, Any]:
    try:
        command = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandFormatError(f"registry command is not JSON: {exc}") from exc
    if not isinstance(command, dict) or not isinstance(command.get("type"), str):
        raise CommandFormatError("registry command must be a JSON object with a string 'type'")
    return command


def failure_of(exc: BaseException, record: InboxRecord) -> Failure:
    """A failure record for ``exc``: type, short reason, traceback and a grouping key."""
    error_type = type(exc).__name__
    # The hub's own errors name fields, never values; a bug's message may quote a value it
    # choked on, and so may any traceback: those are masked before they are stored.
    reason = str(exc) if isinstance(exc, HubError) else mask_text(f"unexpected {error_type}: {exc}")
    trace = mask_text("".join(traceback.format_exception(exc)))
    return Failure(error_type, reason[:1000], trace, fingerprint(error_type, record, reason))


def fingerprint(error_type: str, record: InboxRecord, reason: str) -> str:
    """Groups failures of one cause: ids, numbers and personal data do not split a group."""
    shape = _NUMBER.sub("#", _UUID.sub("<id>", mask_text(reason)))
    key = "\x1f".join((error_type, record.agency or "", record.kind or "", shape))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def budget_spent(record: InboxRecord, budget: int) -> Outcome:
    """The failure for a message that kept failing for passing reasons."""
    exc = RetryBudgetSpentError(
        f"gave up after {record.attempts - 1} attempts (retry budget {budget})",
        attempts=record.attempts - 1,
    )
    return Outcome(record.inbox_id, failure=failure_of(exc, record))
