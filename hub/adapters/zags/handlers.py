"""The thin functions the router calls: glue between its messages and the pure parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.adapters.zags.requests import ACCEPTED, LegalBasis, notification_answer, rogdinf_request
from hub.adapters.zags.schemas import ACK_KIND, AGENCY
from hub.adapters.zags.translate import read_notification, translate_rogdinf_response
from hub.canonical.commands import (
    VERIFY_BIRTH_RECORD,
    InvalidCommandError,
    VerifyBirthRecord,
    parse_command,
)
from hub.journal.api import InboxRecord
from hub.routing.router import AgencyRequest, AnsweredRequest, Translation, TranslationError
from hub.smev.read import SmevMessage

COMMAND = VERIFY_BIRTH_RECORD


def verify_birth_record(
    command: Mapping[str, Any], _record: InboxRecord, basis: LegalBasis | None = None
) -> Translation:
    """A ``verify_birth_record`` command → one ROGDINFRequest to ZAGS, citing ``basis``.

    A command that does not parse raises its ``PermanentError`` and asks ZAGS nothing.
    """
    parsed = parse_command(command)
    if not isinstance(parsed, VerifyBirthRecord):
        raise InvalidCommandError(f"type: expected {COMMAND!r}", field="type")
    return Translation(requests=[rogdinf_request(parsed, basis)])


def rogdinf_answer(message: SmevMessage, request: AnsweredRequest) -> Translation:
    """ZAGS's answer → its birth event, settling the hub's request."""
    if message.content is None:
        raise TranslationError(
            "ZAGS's answer carries no ROGDINFResponse", request_id=request.request_id
        )
    events = translate_rogdinf_response(message.content, request.context)
    return Translation(events=events, answers=request.request_id)


def zags_notification(message: SmevMessage, record: InboxRecord) -> Translation:
    """A change notification → its events, keyed by record id and version, and the answer
    to send back (a SendResponse to its ReplyTo; none when the request has no ReplyTo)."""
    if message.content is None:
        raise TranslationError("the ZAGS notification carries no business content")
    notification = read_notification(message.content)
    replies = []
    if message.reply_to is not None:
        answer = notification_answer(notification.record_id, ACCEPTED, kind=notification.kind)
        reply_id = f"reply:{record.inbox_id}"
        replies.append(AgencyRequest(reply_id, AGENCY, ACK_KIND, answer, {}, message.reply_to))
    return Translation(notification.events, notification.business_key, requests=replies)
