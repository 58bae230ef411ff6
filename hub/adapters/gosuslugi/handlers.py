"""The thin functions the router calls: glue between its messages and the pure parts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from hub.adapters.gosuslugi.requests import (
    ReplyTarget,
    application_refused,
    order_id,
    order_status_request,
)
from hub.adapters.gosuslugi.schemas import NS
from hub.adapters.gosuslugi.translate import (
    translate_application,
    translate_cancel,
    translate_status_response,
    translate_withdrawal,
)
from hub.adapters.router import AgencyRequest, AnsweredRequest, Translation, TranslationError
from hub.canonical.commands import (
    REPORT_ENROLLMENT_STATUS,
    InvalidCommandError,
    ReportEnrollmentStatus,
    parse_command,
)
from hub.canonical.events import AttachmentRef
from hub.journal.records import InboxRecord
from hub.smev.read import SmevMessage

COMMAND = REPORT_ENROLLMENT_STATUS


def application(message: SmevMessage, record: InboxRecord) -> Translation:
    """An ``ApplicationRequest`` → ``enrollment.application.received`` (with a reference to
    each document in SMEV's file store) and the hub's ``ApplicationAccepted`` to its ReplyTo
    (no answer when the request has no ReplyTo)."""
    documents = file_store_refs(message)

    def translate(content: etree._Element, reply: ReplyTarget | None) -> Translation:
        return translate_application(content, reply, documents)

    return _inbound(message, record, translate)


def file_store_refs(message: SmevMessage) -> list[AttachmentRef]:
    """The message's documents in SMEV's file store, as references: the credentials SMEV
    gave for them (FSAttachmentsList) stay in the stored message."""
    return [
        AttachmentRef(a.id, a.file_name, a.hash, a.mime_type)
        for a in message.attachments
        if a.kind == "filestore"
    ]


def cancellation(message: SmevMessage, record: InboxRecord) -> Translation:
    """A ``CancelRequest`` → ``enrollment.application.cancelled`` and the hub's answer."""
    return _inbound(message, record, translate_cancel)


def withdrawn_application(application: SmevMessage, record: InboxRecord) -> Translation:
    """SMEV's Cancel of an ``ApplicationRequest`` (``application``, as the hub stored it) →
    ``enrollment.application.cancelled`` for its order; nothing is sent back."""
    if application.content is None:
        raise TranslationError("the cancelled Gosuslugi request carries no business content")
    return translate_withdrawal(application.content)


def refused_application(message: SmevMessage, record: InboxRecord) -> list[AgencyRequest]:
    """What the applicant is told when the hub refuses an application or a cancellation at
    its intake gate: status 15 (correction needed) for the order, if the order number can be
    read at all (without it there is no account to tell)."""
    content = message.content
    number = order_id(content.findtext(f"{{{NS}}}orderId") if content is not None else None)
    if number is None:
        return []
    return [application_refused(number, record.inbox_id, record.received_at)]


def report_enrollment_status(command: Mapping[str, Any], record: InboxRecord) -> Translation:
    """A ``report_enrollment_status`` command → one ``orderStatusEvent`` to EPGU, stamped
    with the time the command was received. A command that does not parse (an unknown status
    code among others) raises its ``PermanentError`` and sends nothing."""
    parsed = parse_command(command)
    if not isinstance(parsed, ReportEnrollmentStatus):
        raise InvalidCommandError(f"type: expected {COMMAND!r}", field="type")
    return Translation(requests=[order_status_request(parsed, record.received_at)])


def order_status_answer(message: SmevMessage, request: AnsweredRequest) -> Translation:
    """EPGU's ``orderStatusEventResponse`` → ``enrollment.status.delivered`` (or, for a
    refusing code, ``agency.request.rejected``), settling the hub's request."""
    if message.content is None:
        raise TranslationError(
            "EPGU's answer carries no orderStatusEventResponse", request_id=request.request_id
        )
    return translate_status_response(message.content, request)


def _inbound(
    message: SmevMessage,
    record: InboxRecord,
    translate: Callable[[etree._Element, ReplyTarget | None], Translation],
) -> Translation:
    if message.content is None:
        raise TranslationError("the Gosuslugi request carries no business content")
    reply = None
    if message.reply_to is not None:
        reply = ReplyTarget(record.inbox_id, message.reply_to, record.received_at)
    return translate(message.content, reply)
