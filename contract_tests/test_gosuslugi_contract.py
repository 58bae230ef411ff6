"""Gosuslugi contract against the hub's own schemas (``schemas/gosuslugi``): applications and
cancellations built as the schema allows (validated) become the expected events; every answer
and order-status event the hub sends is valid; round trips: registry command → the hub's
``orderStatusEvent`` → EPGU's response as the schema allows → the expected event; every event
matches its published JSON Schema; bad input is refused precisely, never a wrong event."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

import pytest
from lxml import etree

from contract_tests.agency_contract import AgencyContract, Broken, Validator
from hub.adapters.gate import AgencySchemaError
from hub.adapters.gosuslugi import schemas
from hub.adapters.gosuslugi.requests import (
    COMMENT_MAX,
    ReplyTarget,
    application_accepted,
    order_status_request,
)
from hub.adapters.gosuslugi.translate import (
    GosuslugiContentError,
    translate_application,
    translate_cancel,
    translate_status_response,
)
from hub.adapters.router import AgencyRequest, AnsweredRequest
from hub.canonical.commands import EPGU_STATUS_CODES, ReportEnrollmentStatus, parse_command
from hub.canonical.jsonschemas import validate_event
from hub.errors import SchemaValidationError
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.xml import parse_xml
from tests.adapters.test_gosuslugi_translate import (
    MINIMAL,
    ORDER,
    Changes,
    application,
    cancel,
    change,
    status_response,
)

pytestmark = pytest.mark.contract

AT = datetime(2026, 3, 1, 7, 15, 30, 250, tzinfo=UTC)
REPLY = ReplyTarget("6f1d2c7e-0000-5000-8000-0000000000aa", "eyJzaWQiOjF9", AT)


class TestGosuslugiContract(AgencyContract):
    """Gosuslugi's schemas are the hub's own (``schemas/gosuslugi``), not the reference's."""

    agency = "gosuslugi"

    @pytest.fixture
    def validator(self) -> Validator:
        return schemas.validate

    def valid_and_invalid(self) -> list[tuple[etree._Element, bool]]:
        good = as_sent(application())
        bad = as_sent(application({"EntryParams/Grade": "0"}))
        event = parse_xml(order_status_request(status(3), AT).content)
        return [(good, True), (bad, False), (event, True)]

    def broken(self) -> Broken:
        changes = {"ChildInfo/ChildSurname": "Smith", "ChildInfo/ChildSNILS": "112"}
        fields, values = ("ChildSurname", "ChildSNILS"), ("Smith", "'112'")
        return Broken(as_sent(application(changes)), fields, values)


envelope = TestGosuslugiContract.envelope


def as_sent(element: etree._Element) -> etree._Element:
    """The element as it travels: serialized and parsed again (with line numbers)."""
    return parse_xml(etree.tostring(element, encoding="UTF-8"))


def repeated(root: etree._Element, tag: str, times: int) -> etree._Element:
    """``root`` with the first ``tag`` element ``times`` times over (as many as allowed)."""
    first = root.find(f"{{{schemas.NS}}}{tag}")
    assert first is not None
    for _ in range(times - 1):
        first.addnext(copy.deepcopy(first))
    return root


# --- applications and cancellations: valid as built, and their events -----------------------

APPLICATIONS: dict[str, etree._Element] = {
    "everything": application(),
    "what the schema lets out": application(MINIMAL),
    "no patronymics": application(
        {
            "ChildInfo/ChildMiddleName": None,
            "PersonInfo/PersonMiddleName": None,
            "OtherRepresentative/PersonMiddleName": None,
        }
    ),
    "double-barrelled names": application(
        {
            "ChildInfo/ChildSurname": "Римская-Корсакова",
            "ChildInfo/ChildName": "Анна-Мария",
            "ChildInfo/ChildMiddleName": "Д'Артаньян",
        }
    ),
    "a legal representative applies": application(
        {"PersonInfo/PersonType": "LegalRepresentative", "PersonInfo/PersonSex": "Male"}
    ),
    "four other representatives": repeated(application(), "OtherRepresentative", 4),
    "twenty benefits": repeated(application({"BenefitInfo[2]": None}), "BenefitInfo", 20),
    "grade 11, consents as 1 and 0": application(
        {
            "EntryParams/Grade": "11",
            "Consents/PersonalDataConsent": "1",
            "Consents/AdaptedProgramConsent": "0",
        }
    ),
    "SNILS below the checked range": application({"ChildInfo/ChildSNILS": "001-001-998 00"}),
    "dates with zones": application(
        {"ChildInfo/ChildBirthDate": "2019-04-12+03:00", "FilingDate": "2026-03-01T07:15:00Z"}
    ),
    "largest order number": application({"orderId": "9223372036854775807"}),
}


@pytest.mark.parametrize("element", APPLICATIONS.values(), ids=APPLICATIONS)
def test_every_application_as_the_schema_allows_becomes_its_event(
    element: etree._Element,
) -> None:
    received = as_sent(element)
    schemas.validate(received)
    translation = translate_application(received, REPLY)
    [event] = translation.events
    assert event.type == "enrollment.application.received"
    assert event.data["order_number"] == received.findtext(f"{{{schemas.NS}}}orderId")
    validate_event(envelope(event))
    [answer] = translation.requests
    schemas.validate(parse_xml(answer.content))  # the hub's answer, as it sends it


def test_the_minimal_application_loses_nothing_the_schema_requires() -> None:
    data = translate_application(as_sent(application(MINIMAL))).events[0].data
    assert data["child"]["name"] == {"last": "Семёнова", "first": "Алёна", "middle": None}
    assert data["child_birth_certificate"]["series"] == "IV-АН"
    assert (data["grade"], data["requested_date"]) == (1, "2026-09-01")
    assert data["applicant"]["relation"] == "mother" and data["consents"] == {"personal_data": True}


@pytest.mark.parametrize("order", ["1", "000123", "9223372036854775807"])
def test_every_cancellation_and_its_answer_are_valid(order: str) -> None:
    received = as_sent(cancel(order))
    schemas.validate(received)
    translation = translate_cancel(received, REPLY)
    [event] = translation.events
    assert event.type == "enrollment.application.cancelled"
    assert event.data["order_number"] == str(int(order))
    validate_event(envelope(event))
    schemas.validate(parse_xml(translation.requests[0].content))


@pytest.mark.parametrize(
    "received_at",
    [AT, datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=3)))],
    ids=["UTC", "Moscow"],
)
def test_every_acceptance_is_valid(received_at: datetime) -> None:
    target = ReplyTarget("i-1", "eyJ9", received_at)
    schemas.validate(parse_xml(application_accepted("9223372036854775807", target).content))


# --- what people type: the schema admits the series as typed, the hub reads one spelling ----

TYPED: dict[str, tuple[Changes, str, Any]] = {
    "Cyrillic look-alike numeral": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "ІV-АН"},
        "child_birth_certificate",
        "IV-АН",
    ),
    "lower-case letters, en dash": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "XII–аа"},
        "child_birth_certificate",
        "XII-АА",
    ),
    "space for the dash": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "XII АА"},
        "child_birth_certificate",
        "XII-АА",
    ),
}


@pytest.mark.parametrize(("changes", "part", "expected"), TYPED.values(), ids=TYPED)
def test_a_series_as_people_type_it_passes_the_gate_and_is_read_into_one_spelling(
    changes: Changes, part: str, expected: Any
) -> None:
    received = as_sent(application(changes))
    schemas.enrollment_gate(PROJECT_SCHEMAS_DIR)(received)
    [event] = translate_application(received).events
    assert expected in event.data[part].values()
    validate_event(envelope(event))


# Fields EPGU's form fills itself (a masked SNILS input, a choice of sex) come in one shape;
# anything else did not come from the form, and the gate refuses it before any event.
MACHINE_MADE: dict[str, Changes] = {
    "bare SNILS": {"ChildInfo/ChildSNILS": "11223344595"},
    "upper-case sex": {"ChildInfo/ChildSex": "FEMALE"},
}


@pytest.mark.parametrize("changes", MACHINE_MADE.values(), ids=MACHINE_MADE)
def test_a_form_field_in_another_shape_is_refused_by_the_gate(changes: Changes) -> None:
    received = as_sent(application(changes))
    with pytest.raises(AgencySchemaError) as refused:
        schemas.enrollment_gate(PROJECT_SCHEMAS_DIR)(received)
    assert refused.value.retryable is False
    assert "11223344595" not in str(refused.value) and "FEMALE" not in str(refused.value)


# --- bad input: refused precisely, whether the schema can tell or not -----------------------

W = "ApplicationRequest"
BAD: dict[str, tuple[Changes, str, bool]] = {
    # the schema checks only the shape of a SNILS: its check number is the hub's to check
    "child SNILS failing its check number": (
        {"ChildInfo/ChildSNILS": "112-233-445 96"},
        f"{W}/ChildInfo/ChildSNILS",
        True,
    ),
    "applicant SNILS failing its check number": (
        {"PersonInfo/PersonSNILS": "062-160-930 31"},
        f"{W}/PersonInfo/PersonSNILS",
        True,
    ),
    "a date of birth that does not exist": (
        {"ChildInfo/ChildBirthDate": "2019-02-29"},
        f"{W}/ChildInfo/ChildBirthDate",
        False,
    ),
    "no child": ({"ChildInfo": None}, f"{W}/ChildInfo", False),
    "no birth certificate": (
        {"ChildInfo/ChildBirthDocRF": None},
        f"{W}/ChildInfo/ChildBirthDocRF",
        False,
    ),
    "certificate series the hub cannot normalise": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "АБ-12"},
        f"{W}/ChildInfo/ChildBirthDocRF/ChildBirthDocSeries",
        False,
    ),
    "no order number": ({"orderId": None}, f"{W}/orderId", False),
    "grade 12": ({"EntryParams/Grade": "12"}, f"{W}/EntryParams/Grade", False),
    "no personal-data consent": (
        {"Consents/PersonalDataConsent": None},
        f"{W}/Consents/PersonalDataConsent",
        False,
    ),
}


@pytest.mark.parametrize(("changes", "field", "schema_valid"), BAD.values(), ids=BAD)
def test_bad_input_is_refused_with_a_precise_reason(
    changes: Changes, field: str, schema_valid: bool
) -> None:
    received = as_sent(application(changes))
    if schema_valid:
        schemas.validate(received)
    else:
        with pytest.raises(SchemaValidationError):
            schemas.validate(received)
    with pytest.raises(GosuslugiContentError) as caught:
        translate_application(received, REPLY)
    assert caught.value.details["field"] == field


# --- the order-status event and EPGU's response -------------------------------------------

COMMENTS = {
    "no comment": None,
    "Cyrillic with lines": "Ребёнок зачислен в 1 «А» класс.\nПриказ № 12 от 01.03.2026",
    "as long as EPGU takes": "я" * COMMENT_MAX,
}
ORDERS = {"small": "1", "leading zeros": "000123", "largest": "9223372036854775807"}


def status(code: int, order: str = ORDER, comment: str | None = None) -> ReportEnrollmentStatus:
    data = {
        "type": "report_enrollment_status",
        "request_id": "req-status-1",
        "order_number": order,
        "status_code": code,
        "comment": comment,
    }
    command = parse_command(data)
    assert isinstance(command, ReportEnrollmentStatus)
    return command


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS)
@pytest.mark.parametrize("comment", COMMENTS.values(), ids=COMMENTS)
@pytest.mark.parametrize("code", sorted(EPGU_STATUS_CODES))
def test_every_order_status_event_is_valid(code: int, comment: str | None, order: str) -> None:
    request = order_status_request(status(code, order, comment), AT)
    schemas.validate(parse_xml(request.content))


def asked_by(request: AgencyRequest) -> AnsweredRequest:
    return AnsweredRequest(request.request_id, request.agency, request.kind, request.context, "m-1")


class RoundTrip(NamedTuple):
    code: int  # the registry's status
    response: etree._Element  # EPGU's response
    expected: str


ROUND_TRIPS = {
    "executed, taken": RoundTrip(3, status_response("0"), "enrollment.status.delivered"),
    "correction needed, taken with a message": RoundTrip(
        15, status_response("0", "Событие принято"), "enrollment.status.delivered"
    ),
    "registered, taken with a long message": RoundTrip(
        1, status_response("0", "ж" * 256), "enrollment.status.delivered"
    ),
    "rejected, refused by EPGU": RoundTrip(
        4, status_response("2", "Заявление не найдено"), "agency.request.rejected"
    ),
    "cancelled by applicant, refused by EPGU": RoundTrip(
        9, status_response("-128"), "agency.request.rejected"
    ),
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS)
@pytest.mark.parametrize("case", ROUND_TRIPS.values(), ids=ROUND_TRIPS)
def test_round_trip_command_status_event_response_event(case: RoundTrip, order: str) -> None:
    request = order_status_request(status(case.code, order), AT)
    sent = parse_xml(request.content)
    schemas.validate(sent)
    response = as_sent(case.response)
    schemas.validate(response)
    translation = translate_status_response(response, asked_by(request))
    [event] = translation.events
    assert event.type == case.expected and translation.answers == "req-status-1"
    validate_event(envelope(event))
    if case.expected == "enrollment.status.delivered":
        # correlated by order number: the event names the order the hub's event carried
        number = sent.findtext(f"{{{schemas.EVENT_NS}}}orderId")
        assert (event.subject, event.data["order_number"]) == (f"application:{number}", number)
        assert event.data["status_code"] == case.code


def test_a_response_the_schema_refuses_is_refused_by_the_hub_too() -> None:
    response = as_sent(change(status_response("0"), {"code": "принято"}))
    with pytest.raises(SchemaValidationError):
        schemas.validate(response)
    with pytest.raises(GosuslugiContentError):
        translate_status_response(response, asked_by(order_status_request(status(3), AT)))
