"""The ZAGS routes, driven through the Processor with no journal: a verify_birth_record command
asks ZAGS, ZAGS's answer becomes the event and settles the request; a change notification
becomes its events and an answer to its ReplyTo; what cannot be used fails and sends nothing."""

from __future__ import annotations

import uuid

import pytest
from lxml import etree
from pydantic import ValidationError

from hub.adapters.router import AnsweredRequest, Router, TranslationError
from hub.adapters.zags import register, schemas
from hub.adapters.zags.handlers import rogdinf_answer, verify_birth_record, zags_notification
from hub.adapters.zags.schemas import KINDS, RESPONSE, Notice
from hub.config import Settings
from hub.errors import PermanentError
from hub.journal.records import InboxRecord, OutboundRequest, OutboundState
from hub.services.processing import Processor
from hub.smev.read import read_message
from hub.xml import parse_xml
from tests.adapters.test_zags_notifications import RECORD_ID, notification, record, wrap
from tests.adapters.test_zags_translate import answer
from tests.adapters.test_zags_translate import record as birth_record
from tests.support.adapters import (
    adapter_processor,
    asked_by,
    command_record,
    inbox_record,
    unwrapped,
)
from tests.support.smev import get_request as smev_get_request
from tests.support.smev import get_response

pytestmark = pytest.mark.unit

BASE = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types"
REPLY_TO = "eyJzaWQiOjEsIm1uZW1vbmljIjoiRk5TIn0="
COMMAND = {
    "type": "verify_birth_record",
    "request_id": "req-1",
    "student_id": "s-1",
    "child": {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "2015-04-12",
    },
    "birth_certificate": {"series": "IV-АН", "number": "123456"},
}


def get_request(content: etree._Element, reply_to: str | None = REPLY_TO) -> bytes:
    """A GetRequestResponse (1.3) carrying ``content``, as FNS's notifications arrive."""
    business = etree.tostring(content, encoding="UTF-8").decode()
    reply = f"<ns2:ReplyTo>{reply_to}</ns2:ReplyTo>" if reply_to else ""
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ns2:GetRequestResponse xmlns:ns2="{BASE}/1.3" xmlns="{BASE}/basic/1.3">'
        '<ns2:RequestMessage><ns2:Request Id="SIGNED_BY_SMEV">'
        '<ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">'
        f"<ns2:MessageID>{uuid.uuid1()}</ns2:MessageID>"
        f"<MessagePrimaryContent>{business}</MessagePrimaryContent>"
        f"</ns2:SenderProvidedRequestData>{reply}</ns2:Request></ns2:RequestMessage>"
        "</ns2:GetRequestResponse></soap:Body></soap:Envelope>"
    ).encode()


def inbox(raw: bytes, source: str = "smev", agency: str | None = "zags") -> InboxRecord:
    return inbox_record(raw, source, agency)


def processor(asked: OutboundRequest | None = None) -> Processor:
    return adapter_processor(register, "zags", asked)


def test_register_routes_the_command_the_answer_and_the_notifications() -> None:
    router = Router(Settings())
    register(router)
    assert set(router.commands) == {"verify_birth_record"}
    assert unwrapped(router.answers) == {RESPONSE: rogdinf_answer}
    roots = {kind.root for kind in KINDS.values()} | {schemas.REGISTRY}
    assert unwrapped(router.inbound) == dict.fromkeys(roots, zags_notification)


def test_a_command_becomes_one_pending_request_and_no_event() -> None:
    outcome = processor().process(command_record(COMMAND))
    assert outcome.failure is None and not outcome.events
    [request] = outcome.outbound
    assert (request.request_id, request.agency, request.kind, request.reply_to) == (
        "req-1",
        "zags",
        "rogdinf",
        None,
    )
    assert parse_xml(request.payload).tag == schemas.REQUEST


@pytest.mark.parametrize(
    ("document", "cited"),
    [(None, ("07", None)), ("Соглашение № 12", ("07", "Соглашение № 12"))],
)
def test_the_command_cites_the_legal_basis_from_settings(
    document: str | None, cited: tuple[str, str | None]
) -> None:
    router = Router(Settings(zags_basis_code="07", zags_basis_document=document))
    register(router)
    translation = router.command_handler("verify_birth_record")(COMMAND, command_record(COMMAND))
    [request] = translation.requests
    basis = parse_xml(request.content).find(f"{{{schemas.NS}}}СведОсн")
    assert basis is not None
    found = basis.findtext(f"{{{schemas.NS}}}СведДокОсн")
    assert (basis.get("КодНормОсн"), found) == cited


def test_a_basis_code_the_schema_cannot_carry_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="zags_basis_code"):
        Settings(zags_basis_code="123")


def test_a_bad_command_fails_and_asks_nothing() -> None:
    bad = {**COMMAND, "birth_certificate": {"series": "IV-АН", "number": "12345"}}
    with pytest.raises(PermanentError) as caught:
        verify_birth_record(bad, command_record(bad))
    assert caught.value.details["field"] == "birth_certificate.number"
    outcome = processor().process(command_record(bad))
    assert outcome.failure is not None and not outcome.outbound and not outcome.events
    assert "12345" not in outcome.failure.reason


def test_a_command_of_another_type_is_refused() -> None:
    other = {
        "type": "report_enrollment_status",
        "request_id": "r",
        "order_number": "1",
        "status_code": 3,
    }
    with pytest.raises(PermanentError, match="verify_birth_record"):
        verify_birth_record(other, command_record(other))


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (answer(birth_record()), "student.birth.verified"),
        (answer(birth_record(birth="2014-04-12")), "student.birth.mismatch"),
        (answer(code="2"), "student.birth.not_found"),
    ],
    ids=["verified", "mismatch", "not found"],
)
def test_the_answer_becomes_the_event_and_settles_the_request(
    element: etree._Element, expected: str
) -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    raw = get_response(asked.smev_message_id, etree.tostring(element, encoding="UTF-8"))
    outcome = processor(asked).process(inbox(raw))
    assert outcome.failure is None and not outcome.outbound
    [event] = outcome.events
    assert (event.routing_key, event.subject) == (expected, "student:s-1")
    assert outcome.settles is not None and outcome.settles.request_id == "req-1"
    assert outcome.settles.state == OutboundState.ANSWERED


def test_an_answer_without_content_is_a_translation_error() -> None:
    message = read_message(get_response(str(uuid.uuid1()), rejection=("NO_DATA", "нет")))
    with pytest.raises(TranslationError):
        rogdinf_answer(message, AnsweredRequest("req-1", "zags", "rogdinf", {}, "m-1"))


@pytest.mark.parametrize(
    ("notice", "types"),
    [
        (Notice.BIRTH, []),
        (Notice.DEATH, ["person.death.registered"]),
        (Notice.NAME_CHANGE, ["person.name.changed"]),
        (Notice.PATERNITY, ["person.paternity.established", "person.name.changed"]),
    ],
)
def test_a_notification_becomes_its_events_and_an_answer(notice: Notice, types: list[str]) -> None:
    message = inbox(get_request(notification(notice)))
    outcome = processor().process(message)
    assert outcome.failure is None
    assert [e.routing_key for e in outcome.events] == types
    assert outcome.business_key == f"zags:{RECORD_ID}:2"
    [reply] = outcome.outbound
    assert (reply.request_id, reply.agency, reply.kind, reply.reply_to) == (
        f"reply:{message.inbox_id}",
        "zags",
        "zags-notification-ack",
        REPLY_TO,
    )
    answer_ = parse_xml(reply.payload)
    assert answer_.tag == f"{{{KINDS[notice].namespace}}}{KINDS[notice].answer}"
    assert (answer_.get("ИдСвед"), answer_.get("КодОбр")) == (RECORD_ID, "1")


def test_a_test_notification_is_answered_and_publishes_nothing() -> None:
    # FNS's TestMessage: the subscriber must change no data; ZAGS still gets its answer.
    content = etree.tostring(notification(Notice.DEATH), encoding="UTF-8")
    message = inbox(smev_get_request(content, reply_to=REPLY_TO, test_message=True))
    outcome = processor().process(message)
    assert outcome.failure is None and not outcome.events
    assert outcome.business_key == f"test:zags:{RECORD_ID}:2"
    [reply] = outcome.outbound
    assert (reply.request_id, reply.reply_to) == (f"reply:{message.inbox_id}", REPLY_TO)


def test_a_bare_registry_is_routed_too() -> None:
    outcome = processor().process(inbox(get_request(notification(Notice.DEATH)[0])))
    assert outcome.failure is None
    assert [e.routing_key for e in outcome.events] == ["person.death.registered"]


def test_a_notification_without_reply_to_is_kept_without_answer() -> None:
    outcome = processor().process(inbox(get_request(notification(Notice.DEATH), reply_to=None)))
    assert outcome.failure is None and len(outcome.events) == 1 and not outcome.outbound


def test_an_unusable_notification_fails_sends_nothing_and_shows_no_personal_data() -> None:
    unusable = wrap(record(Notice.DEATH, name=("Семёнова", None, None)))
    outcome = processor().process(inbox(get_request(unusable)))
    assert outcome.failure is not None and outcome.failure.error_type == "ZagsContentError"
    assert not outcome.events and not outcome.outbound and outcome.business_key is None
    assert "Семёнова" not in outcome.failure.reason + outcome.failure.traceback
