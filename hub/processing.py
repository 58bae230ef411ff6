"""Processing one stored message: parse, check, route, translate; the result is an Outcome.

Pure apart from the adapters it calls: no journal or broker here, so the same code serves
the worker, replay and ``--dry-run``.
"""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.crypto.xmldsig import XmlVerifier
from hub.errors import HubError, PermanentError, RetryableError, SignatureError
from hub.journal.api import Failure, InboxRecord, NewEvent, Outcome, event_id_for
from hub.logging import mask_text
from hub.routing.router import EventDraft, Router, Translation, UnknownAgencyError
from hub.smev.read import SmevMessage, read_message
from hub.xml import XmlLimits, parse_message

REGISTRY_SOURCE = "registry"
EVENT_CONTENT_TYPE = "application/cloudevents+json"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"\d+")


class CommandFormatError(PermanentError):
    """A registry command that is not the JSON object the hub expects."""

    code = "COMMAND_FORMAT"


class RetryBudgetSpentError(PermanentError):
    code = "RETRY_BUDGET_SPENT"


@dataclass(frozen=True)
class Processor:
    """Turns an inbox record into events, or into a failure that keeps it for an operator."""

    router: Router
    verifier: XmlVerifier | None
    limits: XmlLimits
    agencies: frozenset[str]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def process(self, record: InboxRecord) -> Outcome:
        """Events or a permanent failure; a ``RetryableError`` propagates to the caller."""
        try:
            translation = self._translate(record)
            return Outcome(
                record.inbox_id, self._events(record, translation.events), translation.business_key
            )
        except RetryableError:
            raise
        except Exception as exc:
            return Outcome(record.inbox_id, failure=failure_of(exc, record))

    def _translate(self, record: InboxRecord) -> Translation:
        if record.agency is not None and record.agency not in self.agencies:
            raise UnknownAgencyError(
                f"message addressed to unknown agency {record.agency!r}", agency=record.agency
            )
        if record.source == REGISTRY_SOURCE:
            command = _command(record.raw)
            return self.router.command_handler(command.get("type"))(command, record)
        message = self._smev_message(record)
        return self.router.inbound_handler(message.content_name)(message, record)

    def _smev_message(self, record: InboxRecord) -> SmevMessage:
        document = parse_message(record.raw, record.content_type, self.limits)
        message = read_message(document)
        if self.verifier is not None:
            _check_signatures(self.verifier, message)
        return message

    def _events(self, record: InboxRecord, drafts: Sequence[EventDraft]) -> list[NewEvent]:
        return [self._event(record, position, draft) for position, draft in enumerate(drafts)]

    def _event(self, record: InboxRecord, position: int, draft: EventDraft) -> NewEvent:
        event_id = event_id_for(record.inbox_id, position)
        envelope = cloud_event(event_id, record, draft, self.clock())
        headers = {"x-hub-inbox-id": record.inbox_id, "x-hub-subject": draft.subject}
        payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return NewEvent(event_id, draft.routing_key, draft.subject, payload, headers)


def cloud_event(
    event_id: str, record: InboxRecord, draft: EventDraft, time: datetime
) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode envelope for a canonical event."""
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
        "data": dict(draft.data),
    }


def _command(raw: bytes) -> Mapping[str, Any]:
    try:
        command = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandFormatError(f"registry command is not JSON: {exc}") from exc
    if not isinstance(command, dict) or not isinstance(command.get("type"), str):
        raise CommandFormatError("registry command must be a JSON object with a string 'type'")
    return command


def _check_signatures(verifier: XmlVerifier, message: SmevMessage) -> None:
    reports = verifier.verify_all(message.root)
    if not reports:
        raise SignatureError("message carries no signature (SMEV messages must be signed)")
    for report in reports:
        if not report.valid:
            reason = report.error or (
                f"digest valid: {report.digest_valid}, signature valid: {report.signature_valid}"
            )
            raise SignatureError(
                f"signature over {report.reference} is invalid ({reason})",
                reference=report.reference,
            )


def failure_of(exc: BaseException, record: InboxRecord) -> Failure:
    """A failure record for ``exc``: type, short reason, traceback and a grouping key."""
    error_type = type(exc).__name__
    reason = str(exc) if isinstance(exc, HubError) else f"unexpected {error_type}: {exc}"
    trace = "".join(traceback.format_exception(exc))
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
