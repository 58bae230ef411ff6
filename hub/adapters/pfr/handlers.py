"""The glue the router calls: registry command in, agency answer in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.translate import translate_snils_response
from hub.canonical.commands import InvalidCommandError, VerifySnils, parse_command
from hub.journal.api import InboxRecord
from hub.routing.router import AnsweredRequest, Translation, TranslationError
from hub.smev.read import SmevMessage


def verify_snils(command: Mapping[str, Any], _record: InboxRecord) -> Translation:
    """``verify_snils`` → a SnilsByAdditionalDataRequest to PFR."""
    parsed = parse_command(command)
    if not isinstance(parsed, VerifySnils):
        raise InvalidCommandError("type: expected verify_snils", field="type")
    return Translation(requests=[snils_request(parsed)])


def snils_answer(message: SmevMessage, request: AnsweredRequest) -> Translation:
    """PFR's answer → the SNILS event, settling the request."""
    if message.content is None:
        raise TranslationError("PFR's answer carries no SnilsByAdditionalDataResponse")
    events = translate_snils_response(message.content, request.context)
    return Translation(events, answers=request.request_id)
