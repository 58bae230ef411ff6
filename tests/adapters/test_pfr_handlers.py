"""The PFR routes: a verify_snils command asks PFR, PFR's answer becomes the event and settles
the request; a bad command asks nothing. Driven through the Processor, with no journal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hub.adapters.pfr import register
from hub.adapters.pfr.handlers import snils_answer, verify_snils
from hub.adapters.pfr.schemas import RESPONSE
from hub.adapters.router import AnsweredRequest, Router, TranslationError
from hub.config import Settings
from hub.errors import PermanentError
from hub.journal.records import InboxRecord, OutboundRequest, OutboundState
from hub.services.processing import Processor
from hub.smev.read import read_message
from tests.support.adapters import (
    adapter_processor,
    asked_by,
    command_record,
    inbox_record,
    unwrapped,
)
from tests.support.smev import get_response

pytestmark = pytest.mark.unit

COMMAND = {
    "type": "verify_snils",
    "request_id": "req-1",
    "person_id": "p-1",
    "role": "guardian",
    "person": {
        "name": {"last": "Семёнова", "first": "Анна", "middle": "Петровна"},
        "birth_date": "1988-01-30",
        "sex": "female",
        "snils": "062-160-930 30",
    },
    "document": {
        "kind": "passport",
        "series": "9204",
        "number": "123456",
        "issued_on": "2020-02-03",
        "issuer": "МВД",
    },
}
ANSWER = (
    '<p:SnilsByAdditionalDataResponse xmlns:p="http://kvs.pfr.com/snils-by-additionalData/1.0.1"'
    ' xmlns:c="urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1">'
    "<c:FamilyName>СЕМЕНОВА</c:FamilyName><c:FirstName>АННА</c:FirstName>"
    "<c:Patronymic>ПЕТРОВНА</c:Patronymic><p:Snils>{snils}</p:Snils>"
    "<p:BirthDate>1988-01-30</p:BirthDate><p:Gender>Female</p:Gender>"
    "<c:PassportRF><c:Series>9204</c:Series><c:Number>123456</c:Number>"
    "<c:IssueDate>0001-01-01</c:IssueDate><c:Issuer>НЕТ ДАННЫХ</c:Issuer></c:PassportRF>"
    "</p:SnilsByAdditionalDataResponse>"
)


def record(raw: bytes, source: str = "smev", agency: str | None = "pfr") -> InboxRecord:
    return inbox_record(raw, source, agency)


def processor(asked: OutboundRequest | None = None) -> Processor:
    return adapter_processor(register, "pfr", asked)


def test_register_routes_the_command_and_the_answer() -> None:
    router = Router(Settings())
    register(router)
    assert router.commands == {"verify_snils": verify_snils}
    assert unwrapped(router.answers) == {RESPONSE: snils_answer}


def test_a_command_becomes_one_pending_request_and_no_event() -> None:
    outcome = processor().process(command_record(COMMAND))
    assert outcome.failure is None and not outcome.events
    [request] = outcome.outbound
    assert (request.request_id, request.agency, request.kind) == (
        "req-1",
        "pfr",
        "snils-by-additional-data",
    )
    assert b"SnilsByAdditionalDataRequest" in request.payload


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"snils": "062-160-930 31"}, "person.snils"),  # fails its check number
        ({"snils": "06216093031"}, "person.snils"),
        ({"sex": None}, "person.sex"),
    ],
)
def test_a_bad_command_fails_and_asks_nothing(changes: dict[str, Any], field: str) -> None:
    bad = {**COMMAND, "person": {**COMMAND["person"], **changes}}  # type: ignore[dict-item]
    with pytest.raises(PermanentError) as caught:
        verify_snils(bad, command_record(bad))
    assert caught.value.details["field"] == field
    outcome = processor().process(command_record(bad))
    assert outcome.failure is not None and not outcome.outbound and not outcome.events
    reason = outcome.failure.reason
    assert "062-160-930" not in reason and "06216093031" not in reason


def test_a_command_of_another_type_is_refused() -> None:
    other = {
        "type": "report_enrollment_status",
        "request_id": "r",
        "order_number": "1",
        "status_code": 3,
    }
    with pytest.raises(PermanentError, match="verify_snils"):
        verify_snils(other, command_record(other))


@pytest.mark.parametrize(
    ("snils", "expected"),
    [
        ("06216093030", "person.snils.verified"),
        ("11223344595", "person.snils.mismatch"),
        ("00000000000", "person.snils.not_found"),
    ],
)
def test_the_answer_becomes_the_event_and_settles_the_request(snils: str, expected: str) -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    answer = get_response(asked.smev_message_id, ANSWER.format(snils=snils).encode())
    outcome = processor(asked).process(record(answer))
    assert outcome.failure is None and not outcome.outbound
    [event] = outcome.events
    assert (event.routing_key, event.subject) == (expected, "person:p-1")
    assert outcome.settles is not None and outcome.settles.request_id == "req-1"
    assert outcome.settles.state == OutboundState.ANSWERED


def test_an_untrusted_snils_fails_the_answer_without_showing_it() -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    answer = get_response(asked.smev_message_id, ANSWER.format(snils="06216093031").encode())
    outcome = processor(asked).process(record(answer))
    assert outcome.failure is not None and outcome.failure.error_type == "UntrustedAnswerError"
    assert "06216093031" not in outcome.failure.reason + outcome.failure.traceback
    assert not outcome.events and outcome.settles is None


def test_an_answer_without_content_is_a_translation_error() -> None:
    message = read_message(get_response(str(uuid.uuid1()), rejection=("NO_DATA", "нет")))
    request = AnsweredRequest("req-1", "pfr", "snils-by-additional-data", {}, "m-1")
    with pytest.raises(TranslationError):
        snils_answer(message, request)


def test_answer_handler_returns_events_and_the_request_it_answers() -> None:
    message = read_message(get_response(str(uuid.uuid1()), ANSWER.format(snils="").encode()))
    context = {
        "request_id": "req-1",
        "person_id": "p-1",
        "role": "guardian",
        "person": COMMAND["person"],
    }
    translation = snils_answer(message, AnsweredRequest("req-1", "pfr", "k", context, "m-1"))
    assert translation.answers == "req-1" and not translation.rejected
    assert [e.type for e in translation.events] == ["person.snils.not_found"]
