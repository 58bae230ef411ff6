"""``hub translate``: what the hub would make of a message, without storing or sending it.

The same router and adapters as the worker; a whole SMEV message or a bare business payload;
for an answer, the registry command it answers gives the request it is read against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from hub.adapters.router import AgencyRequest, AnsweredRequest, Router, Translation
from hub.canonical.ids import event_id_for, inbox_id_for
from hub.canonical.sources import Source
from hub.errors import PermanentError
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event
from hub.smev.read import SmevMessage, read_message
from hub.xml import XmlLimits, parse_message

SOAP_LOCAL_NAME = "Envelope"


class NothingToAnswerError(PermanentError):
    """``--command`` was given, but the command asks no agency anything."""

    code = "NOTHING_TO_ANSWER"


@dataclass(frozen=True)
class Preview:
    """The events a message becomes, as CloudEvents, and the requests it would send."""

    events: list[dict[str, Any]]
    requests: list[AgencyRequest]


def preview(
    raw: bytes,
    router: Router,
    limits: XmlLimits,
    *,
    command: Mapping[str, Any] | None = None,
    content_type: str | None = None,
) -> Preview:
    """Translate ``raw`` (a SMEV message or a business payload); errors propagate as raised."""
    record = _record(raw, content_type)
    message = _message(raw, content_type, limits)
    if command is not None:
        translation = _answer(message, _asked(command, router, record), router)
    else:
        translation = router.inbound_handler(message.content_name)(message, record)
    return _preview(record, translation)


def preview_command(command: Mapping[str, Any], router: Router) -> Preview:
    """What a registry command becomes (the requests it sends, any events)."""
    raw = json.dumps(command, ensure_ascii=False).encode()
    record = _record(raw, "application/json", source=Source.REGISTRY)
    return _preview(record, router.command_handler(command.get("type"))(command, record))


def _preview(record: InboxRecord, translation: Translation) -> Preview:
    now = datetime.now(UTC)
    events = [
        cloud_event(event_id_for(record.inbox_id, position), record, draft, now)
        for position, draft in enumerate(translation.events)
    ]
    return Preview(events, list(translation.requests))


def _asked(command: Mapping[str, Any], router: Router, record: InboxRecord) -> AnsweredRequest:
    translation = router.command_handler(command.get("type"))(command, record)
    if not translation.requests:
        raise NothingToAnswerError(f"command {command.get('type')!r} sends no agency request")
    asked = translation.requests[0]
    return AnsweredRequest(asked.request_id, asked.agency, asked.kind, asked.context, "preview")


def _answer(message: SmevMessage, asked: AnsweredRequest, router: Router) -> Translation:
    handler = router.answers.get(message.content_name or "")
    if handler is None:
        raise PermanentError(
            f"no adapter reads {message.content_name or '(no content)'} as an answer",
            content=message.content_name,
            known=sorted(router.answers),
        )
    return handler(message, asked)


def _message(raw: bytes, content_type: str | None, limits: XmlLimits) -> SmevMessage:
    document = parse_message(raw, content_type, limits)
    root = document.root
    if etree.QName(root).localname == SOAP_LOCAL_NAME:
        return read_message(document)
    # A bare business payload: the content of a message that would carry it.
    return SmevMessage(
        version=None,
        operation="payload",
        kind="request",
        root=root,
        message_id=None,
        content=root,
        content_name=root.tag,
    )


def _record(raw: bytes, content_type: str | None, source: str = Source.CLI) -> InboxRecord:
    external_id = hashlib.sha256(raw).hexdigest()
    return InboxRecord(
        inbox_id=inbox_id_for(source, external_id),
        source=source,
        external_id=external_id,
        raw=raw,
        agency=None,
        kind=None,
        content_type=content_type,
        headers={},
        received_at=datetime.now(UTC),
        status=InboxStatus.RECEIVED,
        attempts=1,
    )
