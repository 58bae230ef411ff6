"""The thin functions the router calls: glue between its messages and the pure parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.translate import translate_snils_response
from hub.adapters.router import AnsweredRequest, Translation, TranslationError
from hub.canonical.commands import InvalidCommandError, VerifySnils, parse_command
from hub.journal.records import InboxRecord
from hub.smev.read import SmevMessage

COMMAND = "verify_snils"


def verify_snils(command: Mapping[str, Any], _record: InboxRecord) -> Translation:
    """A ``verify_snils`` command → one SnilsByAdditionalDataRequest to PFR.

    A command that does not parse (a registry SNILS failing its check number among others)
    raises its ``PermanentError`` and asks PFR nothing.
    """
    parsed = parse_command(command)
    if not isinstance(parsed, VerifySnils):
        raise InvalidCommandError(f"type: expected {COMMAND!r}", field="type")
    return Translation(requests=[snils_request(parsed)])


def snils_answer(message: SmevMessage, request: AnsweredRequest) -> Translation:
    """PFR's answer → its SNILS event, settling the hub's request."""
    if message.content is None:
        raise TranslationError(
            "PFR's answer carries no SnilsByAdditionalDataResponse", request_id=request.request_id
        )
    events = translate_snils_response(message.content, request.context)
    return Translation(events=events, answers=request.request_id)
