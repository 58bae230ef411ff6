"""The Gosuslugi routes, driven through the Processor with no journal: an application or a
cancellation becomes its event and an answer to its ReplyTo; a report_enrollment_status
command sends an orderStatusEvent and EPGU's response settles it; what cannot be used fails,
sends nothing and shows no personal data."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from lxml import etree

from hub.adapters.gosuslugi import register, schemas
from hub.adapters.gosuslugi.handlers import (
    application,
    cancellation,
    order_status_answer,
    report_enrollment_status,
    withdrawn_application,
)
from hub.adapters.gosuslugi.requests import REFUSED_COMMENT
from hub.adapters.gosuslugi.translate import SMEV_CANCEL_REASON
from hub.adapters.router import AnsweredRequest, Router, TranslationError
from hub.canonical.events import APPLICATION_CANCELLED
from hub.config import Settings
from hub.errors import PermanentError
from hub.journal.records import InboxRecord, NewOutbound, OutboundRequest, OutboundState
from hub.services.processing import Processor
from hub.smev.read import read_message
from hub.xml import parse_xml
from tests.adapters.test_gosuslugi_translate import ORDER, cancel, status_response
from tests.adapters.test_gosuslugi_translate import application as application_xml
from tests.support.adapters import (
    adapter_processor,
    asked_by,
    command_record,
    inbox_record,
    unwrapped,
)
from tests.support.smev import get_cancel, get_request, get_response

pytestmark = pytest.mark.unit

REPLY_TO = "eyJzaWQiOjEsIm1uZW1vbmljIjoiRVBHVSJ9"
COMMAND = {
    "type": "report_enrollment_status",
    "request_id": "req-status-1",
    "order_number": ORDER,
    "status_code": 3,
    "comment": "Зачислен",
}


def smev_request(element: etree._Element, reply_to: str | None = REPLY_TO) -> bytes:
    return get_request(etree.tostring(element, encoding="UTF-8"), reply_to=reply_to)


def inbox(raw: bytes, source: str = "smev", agency: str | None = "gosuslugi") -> InboxRecord:
    return inbox_record(raw, source, agency)


def processor(asked: OutboundRequest | None = None) -> Processor:
    return adapter_processor(register, "gosuslugi", asked)


def test_register_routes_the_requests_the_command_and_the_answer() -> None:
    router = Router(Settings())
    register(router)
    assert unwrapped(router.inbound) == {
        schemas.APPLICATION: application,
        schemas.CANCEL: cancellation,
    }
    assert unwrapped(router.cancels) == {schemas.APPLICATION: withdrawn_application}
    assert router.commands == {"report_enrollment_status": report_enrollment_status}
    assert unwrapped(router.answers) == {schemas.STATUS_RESPONSE: order_status_answer}
    assert set(router.gates) == {schemas.APPLICATION, schemas.CANCEL, schemas.STATUS_RESPONSE}


# --- applications and cancellations --------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "expected", "key"),
    [
        (
            application_xml(),
            "enrollment.application.received",
            f"gosuslugi:order:{ORDER}:received:",
        ),
        (cancel(), "enrollment.application.cancelled", f"gosuslugi:order:{ORDER}:cancelled"),
    ],
    ids=["application", "cancellation"],
)
def test_a_request_becomes_its_event_and_the_acceptance_to_its_reply_to(
    element: etree._Element, expected: str, key: str
) -> None:
    message = inbox(smev_request(element))
    outcome = processor().process(message)
    assert outcome.failure is None and outcome.settles is None
    [event] = outcome.events
    assert (event.routing_key, event.subject) == (expected, f"application:{ORDER}")
    assert outcome.business_key is not None and outcome.business_key.startswith(key)
    [reply] = outcome.outbound
    assert (reply.request_id, reply.agency, reply.kind, reply.reply_to) == (
        f"reply:{message.inbox_id}",
        "gosuslugi",
        "application-accepted",
        REPLY_TO,
    )
    answer = parse_xml(reply.payload)
    assert answer.tag == schemas.ACCEPTED
    assert answer.findtext(f"{{{schemas.NS}}}orderId") == ORDER
    assert answer.findtext(f"{{{schemas.NS}}}AcceptedAt") == "2026-03-01T00:00:00+00:00"


@pytest.mark.parametrize("element", [application_xml(), cancel()], ids=["application", "cancel"])
def test_a_test_request_is_answered_and_changes_nothing(element: etree._Element) -> None:
    # TestMessage: "the provider's system must guarantee that its data are not changed".
    record = inbox(get_request(etree.tostring(element, encoding="UTF-8"), test_message=True))
    outcome = processor().process(record)
    assert outcome.failure is None and not outcome.events and outcome.settles is None
    [reply] = outcome.outbound  # the sender is answered as usual (SendResponse)
    assert (reply.request_id, reply.reply_to) == (f"reply:{record.inbox_id}", REPLY_TO)
    # Its key is its own: a real application of the same content is no duplicate of it.
    real = processor().process(inbox(smev_request(element)))
    assert outcome.business_key and real.business_key
    assert outcome.business_key != real.business_key


def test_a_test_application_refused_at_the_gate_tells_the_applicants_account_nothing() -> None:
    bad = application_xml({"ChildInfo/ChildSNILS": "112-233-445 96"})
    record = inbox(get_request(etree.tostring(bad, encoding="UTF-8"), test_message=True))
    outcome = processor().process(record)
    # The orderStatusEvent a real one gets is a new request that changes EPGU's data.
    assert outcome.failure is not None and not outcome.outbound and not outcome.events


def cancelling(*stored: InboxRecord) -> Processor:
    """A processor whose journal holds ``stored`` (requests taken from SMEV, by MessageID)."""
    by_message_id = {r.external_id: r for r in stored}
    return dataclasses.replace(processor(), cancelled=by_message_id.get)


def stored_request(element: etree._Element, message_id: str, **fields: Any) -> InboxRecord:
    raw = get_request(etree.tostring(element, encoding="UTF-8"), message_id=message_id, **fields)
    return dataclasses.replace(inbox(raw), external_id=message_id, scope="mo-1/school-7")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_smevs_cancel_of_an_application_is_its_cancellation(version: str) -> None:
    application_id = str(uuid.uuid1())
    original = stored_request(application_xml(), application_id)
    cancel_record = inbox(get_cancel(application_id, version=version), agency="gosuslugi")
    outcome = cancelling(original).process(cancel_record)
    assert outcome.failure is None
    [event] = outcome.events
    assert (event.routing_key, event.subject) == (APPLICATION_CANCELLED, f"application:{ORDER}")
    assert json.loads(event.payload)["data"] == {
        "order_number": ORDER,
        "reason": SMEV_CANCEL_REASON,
    }
    # The same fact as a CancelRequest of that order, in the application's scope; no answer.
    cancel_request = processor().process(inbox(smev_request(cancel())))
    assert outcome.business_key == cancel_request.business_key
    assert outcome.scope == "mo-1/school-7" and not outcome.outbound


def test_a_cancel_of_a_request_the_hub_never_took_is_kept_for_an_operator() -> None:
    outcome = cancelling().process(inbox(get_cancel(str(uuid.uuid1()))))
    assert outcome.failure is not None and not outcome.events and not outcome.outbound
    assert outcome.failure.error_type == "CancelTargetUnknownError"


def test_a_cancel_of_a_cancellation_undoes_nothing_and_is_kept_for_an_operator() -> None:
    cancel_id = str(uuid.uuid1())
    outcome = cancelling(stored_request(cancel(), cancel_id)).process(inbox(get_cancel(cancel_id)))
    assert outcome.failure is not None and outcome.failure.error_type == "UnknownKindError"


def test_a_cancel_of_a_test_application_publishes_nothing() -> None:
    application_id = str(uuid.uuid1())
    original = stored_request(application_xml(), application_id, test_message=True)
    outcome = cancelling(original).process(inbox(get_cancel(application_id)))
    assert outcome.failure is None and not outcome.events


def test_a_resend_under_a_new_message_id_has_the_same_key_and_its_own_answer() -> None:
    first, again = (inbox(smev_request(application_xml())) for _ in range(2))
    one, other = processor().process(first), processor().process(again)
    assert one.business_key == other.business_key  # the journal keeps the second a duplicate
    assert [r.request_id for r in (*one.outbound, *other.outbound)] == [
        f"reply:{first.inbox_id}",
        f"reply:{again.inbox_id}",
    ]


def test_a_request_without_reply_to_is_kept_without_answer() -> None:
    outcome = processor().process(inbox(smev_request(application_xml(), reply_to=None)))
    assert outcome.failure is None and len(outcome.events) == 1 and not outcome.outbound


def test_an_application_with_an_invalid_snils_fails_tells_the_applicant_shows_nothing() -> None:
    bad = application_xml({"ChildInfo/ChildSNILS": "112-233-445 96"})
    record = inbox(smev_request(bad))
    outcome = processor().process(record)
    assert outcome.failure is not None and outcome.failure.error_type == "GosuslugiContentError"
    assert "ApplicationRequest/ChildInfo/ChildSNILS" in outcome.failure.reason
    assert "check number" in outcome.failure.reason
    assert not outcome.events and outcome.business_key is None
    [status] = outcome.outbound  # the applicant's account: correction needed, not silence
    assert_correction_needed(status, record)
    shown = outcome.failure.reason + outcome.failure.traceback
    for value in ("112-233-445", "Семёнова", "Алёна", "123456"):
        assert value not in shown
    for value in ("112-233-445", "Семёнова", "Алёна", "ChildSNILS"):  # no internal detail
        assert value not in status.payload.decode()


def assert_correction_needed(status: NewOutbound, record: InboxRecord) -> None:
    """The refusal the applicant's account gets: EPGU status 15 for the order, in plain
    words, under an id made from the refused message (a replay asks nothing new)."""
    assert (status.request_id, status.agency, status.kind) == (
        f"refused:{record.inbox_id}",
        "gosuslugi",
        schemas.STATUS_KIND,
    )
    content = parse_xml(status.payload)
    schemas.validate(content)
    assert content.findtext(f"{{{schemas.EVENT_NS}}}orderId") == ORDER
    assert content.findtext(f".//{{{schemas.EVENT_NS}}}techCode") == "15"
    assert content.findtext(f"{{{schemas.EVENT_NS}}}eventComment") == REFUSED_COMMENT
    assert status.context["status_code"] == 15 and status.reply_to is None


def test_an_application_without_a_readable_order_number_is_refused_telling_no_one() -> None:
    bad = application_xml({"orderId": "не номер"})
    outcome = processor().process(inbox(smev_request(bad)))
    assert outcome.failure is not None and not outcome.events and not outcome.outbound


def test_a_refused_cancellation_tells_the_applicant_too() -> None:
    bad = cancel(reason="х" * 5000)
    record = inbox(smev_request(bad))
    outcome = processor().process(record)
    assert outcome.failure is not None and outcome.failure.error_type == "AgencySchemaError"
    [status] = outcome.outbound
    assert_correction_needed(status, record)


def test_an_answer_failing_its_gate_sends_nothing_back() -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    answer = etree.tostring(status_response(None, "принято"), encoding="UTF-8")
    outcome = processor(asked).process(inbox(get_response(asked.smev_message_id, answer)))
    assert outcome.failure is not None and not outcome.outbound  # EPGU is not answered twice


def test_an_application_missing_required_data_fails_naming_it() -> None:
    bad = application_xml({"ChildInfo/ChildBirthDocRF": None})
    record = inbox(smev_request(bad))
    outcome = processor().process(record)
    assert outcome.failure is not None and not outcome.events
    assert outcome.failure.error_type == "AgencySchemaError"
    [status] = outcome.outbound
    assert_correction_needed(status, record)
    assert "ChildBirthDocRF" in outcome.failure.reason and "line " in outcome.failure.reason


def test_a_request_without_content_is_a_translation_error() -> None:
    message = read_message(get_response(str(uuid.uuid1()), rejection=("NO_DATA", "нет")))
    for handler in (application, cancellation):
        with pytest.raises(TranslationError, match="no business content"):
            handler(message, inbox(b""))


# --- report_enrollment_status and EPGU's response ------------------------------------------


def test_a_command_becomes_one_pending_status_event_and_no_event() -> None:
    outcome = processor().process(command_record(COMMAND))
    assert outcome.failure is None and not outcome.events
    [request] = outcome.outbound
    assert (request.request_id, request.agency, request.kind, request.reply_to) == (
        "req-status-1",
        "gosuslugi",
        "order-status",
        None,
    )
    trace_id = request.context["hub_trace_id"]  # the command's trace follows the request
    assert request.context == {
        "request_id": "req-status-1",
        "order_number": ORDER,
        "status_code": 3,
        "hub_trace_id": trace_id,
    }
    assert trace_id and "req-status-1" not in trace_id
    sent = parse_xml(request.payload)
    assert sent.tag == schemas.STATUS_EVENT
    assert sent.findtext(f"{{{schemas.EVENT_NS}}}eventDate") == "2026-03-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status_code": 5}, "status_code"),
        ({"status_code": "3"}, "status_code"),
        ({"order_number": "ЕПГУ-17"}, "order_number"),
        ({"order_number": None}, "order_number"),
        ({"comment": "я" * 2049}, "comment"),
    ],
    ids=["unknown code", "code as text", "order not a number", "no order", "long comment"],
)
def test_a_bad_command_fails_and_sends_nothing(changes: dict[str, Any], field: str) -> None:
    bad = {**COMMAND, **changes}
    with pytest.raises(PermanentError) as caught:
        report_enrollment_status(bad, command_record(bad))
    assert caught.value.details["field"] == field
    outcome = processor().process(command_record(bad))
    assert outcome.failure is not None and not outcome.outbound and not outcome.events
    assert field in outcome.failure.reason


def test_a_command_of_another_type_is_refused() -> None:
    other = {
        "type": "verify_snils",
        "request_id": "r",
        "person_id": "p",
        "role": "guardian",
        "person": {"name": {"last": "Ли", "first": "Ян"}},
        "document": {"kind": "passport", "series": "9204", "number": "123456"},
    }
    with pytest.raises(PermanentError, match="report_enrollment_status"):
        report_enrollment_status(other, command_record(other))


@pytest.mark.parametrize(
    ("code", "expected", "state"),
    [
        ("0", "enrollment.status.delivered", OutboundState.ANSWERED),
        ("3", "agency.request.rejected", OutboundState.REJECTED),
    ],
    ids=["taken", "refused"],
)
def test_epgus_response_becomes_the_event_and_settles_the_request(
    code: str, expected: str, state: OutboundState
) -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    answer = etree.tostring(status_response(code), encoding="UTF-8")
    outcome = processor(asked).process(inbox(get_response(asked.smev_message_id, answer)))
    assert outcome.failure is None and not outcome.outbound
    [event] = outcome.events
    assert event.routing_key == expected
    assert outcome.settles is not None and outcome.settles.request_id == "req-status-1"
    assert outcome.settles.state == state


def test_delivered_names_the_order_and_the_status() -> None:
    asked = asked_by(processor().process(command_record({**COMMAND, "order_number": "007"})))
    answer = etree.tostring(status_response("0"), encoding="UTF-8")
    [event] = processor(asked).process(inbox(get_response(asked.smev_message_id, answer))).events
    envelope = json.loads(event.payload)
    assert (envelope["subject"], envelope["data"]) == (
        "application:7",
        {"request_id": "req-status-1", "order_number": "7", "status_code": 3, "status": "executed"},
    )


def test_smevs_rejection_of_the_status_event_is_agency_request_rejected() -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    refusal = get_response(asked.smev_message_id, rejection=("NO_DATA", "заявление не найдено"))
    outcome = processor(asked).process(inbox(refusal))
    [event] = outcome.events
    data = json.loads(event.payload)["data"]
    assert (event.routing_key, data["code"], data["kind"]) == (
        "agency.request.rejected",
        "NO_DATA",
        "order-status",
    )
    assert outcome.settles is not None and outcome.settles.state == OutboundState.REJECTED


def test_a_response_to_a_request_the_hub_did_not_send_fails() -> None:
    answer = etree.tostring(status_response("0"), encoding="UTF-8")
    stranger = str(uuid.uuid1())
    outcome = processor().process(inbox(get_response(stranger, answer)))
    assert outcome.failure is not None and outcome.failure.error_type == "UnknownRequestError"
    assert stranger in outcome.failure.reason
    assert not outcome.events and outcome.settles is None


def test_a_response_with_no_code_fails_and_settles_nothing() -> None:
    asked = asked_by(processor().process(command_record(COMMAND)))
    answer = etree.tostring(status_response(None, "принято"), encoding="UTF-8")
    outcome = processor(asked).process(inbox(get_response(asked.smev_message_id, answer)))
    assert outcome.failure is not None and outcome.failure.error_type == "AgencySchemaError"
    reason = outcome.failure.reason
    assert "orderStatusEventResponse" in reason and "}code" in reason
    assert not outcome.events and outcome.settles is None


def test_an_answer_without_content_is_a_translation_error() -> None:
    message = read_message(get_response(str(uuid.uuid1()), rejection=("NO_DATA", "нет")))
    request = AnsweredRequest("req-1", "gosuslugi", "order-status", {}, "m-1")
    with pytest.raises(TranslationError, match="no orderStatusEventResponse"):
        order_status_answer(message, request)


# --- documents in SMEV's file store --------------------------------------------------------

FILE_ID = "5a0e6b4c-1f7d-11f1-9f3b-0242ac110002"
FTP_USER, FTP_PASSWORD = "fs-user-4711", "Kx9-secret-pass"
DOCUMENT_REFS = (
    "<RefAttachmentHeaderList><RefAttachmentHeader>"
    f"<uuid>{FILE_ID}</uuid><FileName>scan.pdf</FileName><Hash>aGFzaA==</Hash>"
    "<MimeType>application/pdf</MimeType></RefAttachmentHeader></RefAttachmentHeaderList>"
)
DOCUMENT_ACCESS = (
    f"<FSAttachmentsList><FSAttachment><uuid>{FILE_ID}</uuid><UserName>{FTP_USER}</UserName>"
    f"<Password>{FTP_PASSWORD}</Password><FileName>scan.pdf</FileName></FSAttachment>"
    "</FSAttachmentsList>"
)


def with_document(raw: bytes) -> bytes:
    """``raw`` (a GetRequestResponse) as SMEV delivers a request with one document in its
    file store: the sender's header, and SMEV's credentials for fetching it."""
    end = "</ns2:SenderProvidedRequestData>"
    return raw.decode().replace(end, DOCUMENT_REFS + end + DOCUMENT_ACCESS).encode()


def test_an_application_carries_its_documents_references_never_their_credentials() -> None:
    outcome = processor().process(inbox(with_document(smev_request(application_xml()))))
    [event] = outcome.events
    body = json.loads(event.payload)
    assert body["schemaversion"] == "2"
    assert body["data"]["attachments"] == [
        {
            "uuid": FILE_ID,
            "file_name": "scan.pdf",
            "hash": "aGFzaA==",
            "mime_type": "application/pdf",
        },
    ]
    written = event.payload.decode() + repr(outcome)
    assert FTP_USER not in written and FTP_PASSWORD not in written
