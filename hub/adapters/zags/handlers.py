"""The thin functions the router calls: glue between its messages and the pure parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from hub.adapters.router import AgencyRequest, AnsweredRequest, Translation, TranslationError
from hub.adapters.zags.requests import (
    ACCEPTED,
    REFUSED,
    LegalBasis,
    ResultCode,
    notices_answer,
    rogdinf_request,
)
from hub.adapters.zags.schemas import ACK_KIND, AGENCY
from hub.adapters.zags.translate import NoticeBatch, read_notices, translate_rogdinf_response
from hub.canonical.commands import (
    VERIFY_BIRTH_RECORD,
    InvalidCommandError,
    VerifyBirthRecord,
    parse_command,
)
from hub.journal.records import InboxRecord
from hub.smev.read import SmevMessage

log = structlog.get_logger("hub.adapters.zags")

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
    """A change notice → the events of each of its records, keyed by the records' ids and
    versions, and the answer to send back (a SendResponse to its ReplyTo; none without
    one): each record accepted, or refused (КодОбр 2) when the hub cannot use it. The good
    records of a notice are never held back by a bad one; a notice with no usable record
    at all is a failed message."""
    if message.content is None:
        raise TranslationError("the ZAGS notification carries no business content")
    batch = read_notices(message.content)
    for failure in batch.failures:
        # Field and position only: the record's values are personal data.
        log.warning(
            "zags notice record refused",
            inbox_id=record.inbox_id,
            position=failure.position,
            field=failure.error.details.get("field"),
            reason=failure.error.code,
        )
    replies = []
    if message.reply_to is not None:
        answer = notices_answer(_results(batch), kind=batch.records[0].kind)
        reply_id = f"reply:{record.inbox_id}"
        replies.append(AgencyRequest(reply_id, AGENCY, ACK_KIND, answer, {}, message.reply_to))
    return Translation(batch.events, batch.business_key, requests=replies)


def _results(batch: NoticeBatch) -> list[tuple[str, ResultCode]]:
    """Each record's id and result code, in the notice's order."""
    results = [
        (r.record_id, ACCEPTED, p) for p, r in zip(_positions(batch), batch.records, strict=True)
    ]
    results += [(f.record_id, REFUSED, f.position) for f in batch.failures]
    return [(rid, code) for rid, code, _ in sorted(results, key=lambda item: item[2])]


def _positions(batch: NoticeBatch) -> list[int]:
    refused = {f.position for f in batch.failures}
    total = len(batch.records) + len(refused)
    return [p for p in range(1, total + 1) if p not in refused]
