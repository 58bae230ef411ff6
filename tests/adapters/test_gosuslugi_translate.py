"""Gosuslugi applications, cancellations and EPGU's response to an order-status event →
canonical events: hand-built XML for each outcome.

``application``/``cancel``/``status_response`` build messages as the hub's own schemas allow
(the contract suite validates them), so one builder serves both suites; ``changes`` turn them
into what EPGU may really send (upper case, look-alike letters, parts left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from hub.adapters.gosuslugi.requests import ReplyTarget, status_context
from hub.adapters.gosuslugi.schemas import (
    ACCEPTED,
    APPLICATION,
    CANCEL,
    EVENT_NS,
    NS,
    STATUS_RESPONSE,
)
from hub.adapters.gosuslugi.translate import (
    GosuslugiContentError,
    read_application,
    translate_application,
    translate_cancel,
    translate_status_response,
)
from hub.adapters.router import AnsweredRequest, TranslationError
from hub.canonical.commands import ReportEnrollmentStatus
from hub.canonical.drafts import EventDraft
from hub.canonical.events import AttachmentRef
from hub.canonical.ids import event_id_for
from hub.canonical.jsonschemas import validate_event
from hub.canonical.models import MAX_ATTACHMENTS
from hub.journal.records import InboxRecord, InboxStatus
from hub.protection.masking import mask_text
from hub.services.processing import cloud_event
from hub.xml import parse_xml

pytestmark = pytest.mark.unit

ORDER = "1234567890"
SNILS_CHILD, SNILS_MOTHER, SNILS_FATHER = "112-233-445 95", "062-160-930 30", "127-941-306 66"
Spec = tuple[tuple[str, "str | Spec"], ...]
APPLICANT: Spec = (
    ("PersonSurname", "Семёнова"),
    ("PersonName", "Ольга"),
    ("PersonMiddleName", "Петровна"),
    ("PersonBirthDate", "1988-01-30"),
    ("PersonSex", "Female"),
    ("PersonSNILS", SNILS_MOTHER),
    ("PersonPhone", "+7 (843) 123-45-67"),
    ("PersonEmail", "olga@example.ru"),
    (
        "PersonIdentityDocInfo",
        (
            ("IdentityDocSeries", "9204"),
            ("IdentityDocNumber", "654321"),
            ("IdentityDocIssueDate", "2020-02-03"),
            ("IdentityDocIssued", "МВД по Республике Татарстан"),
        ),
    ),
    ("PersonType", "Mother"),
)
FATHER: Spec = (
    ("PersonSurname", "Семёнов"),
    ("PersonName", "Игорь"),
    ("PersonMiddleName", "Викторович"),
    ("PersonBirthDate", "1985-06-01"),
    ("PersonSex", "Male"),
    ("PersonSNILS", SNILS_FATHER),
    ("PersonType", "Father"),
)
CHILD: Spec = (
    ("ChildSurname", "Семёнова"),
    ("ChildName", "Алёна"),
    ("ChildMiddleName", "Игоревна"),
    ("ChildBirthDate", "2019-04-12"),
    ("ChildSex", "Female"),
    ("ChildSNILS", SNILS_CHILD),
    (
        "ChildBirthDocRF",
        (
            ("ChildBirthDocSeries", "IV-АН"),
            ("ChildBirthDocNumber", "123456"),
            ("ChildBirthDocIssueDate", "2019-05-01"),
            ("ChildBirthDocActNumber", "170"),
            ("ChildBirthDocActDate", "2019-05-01"),
            ("ChildBirthDocIssued", "Отдел ЗАГС Кировского района г. Казани"),
        ),
    ),
)
APPLICATION_PARTS: Spec = (
    ("orderId", ORDER),
    ("FilingDate", "2026-03-01T10:15:00+03:00"),
    ("PersonInfo", APPLICANT),
    ("OtherRepresentative", FATHER),
    ("ChildInfo", CHILD),
    ("EduOrganization", (("Code", "16-0001"), ("Name", "МБОУ «Школа № 1»"))),
    ("EntryParams", (("Grade", "1"), ("EntryDate", "2026-09-01"))),
    ("BenefitInfo", (("BenefitCategory", "101"),)),
    ("BenefitInfo", (("BenefitCategory", "205"),)),
    (
        "Consents",
        (
            ("PersonalDataConsent", "true"),
            ("DataAccuracyConfirmed", "true"),
            ("CharterAcknowledged", "true"),
            ("AdaptedProgramConsent", "false"),
        ),
    ),
)
Changes = Mapping[str, str | None]


# --- builders ------------------------------------------------------------------------------


def _tree(parent: etree._Element, spec: Spec, ns: str) -> None:
    for tag, value in spec:
        element = etree.SubElement(parent, f"{{{ns}}}{tag}")
        if isinstance(value, str):
            element.text = value
        else:
            _tree(element, value, ns)


def change(root: etree._Element, changes: Changes) -> etree._Element:
    """Set the text at each path (local names joined by ``/``, ``[n]`` for the n-th of a
    kind) or, for ``None``, remove the element there; in the order given."""
    ns = etree.QName(root).namespace
    for path, text in changes.items():
        found = root.find("/".join(f"{{{ns}}}{part}" for part in path.split("/")))
        assert found is not None, path
        if text is None:
            parent = found.getparent()
            assert parent is not None
            parent.remove(found)
        else:
            found.text = text
    return root


def application(changes: Changes | None = None, *, nsmap: Any = None) -> etree._Element:
    """An ``ApplicationRequest`` with every optional part there, then ``changes``."""
    root = etree.Element(APPLICATION, nsmap=nsmap or {"se": NS})
    _tree(root, APPLICATION_PARTS, NS)
    return change(root, changes or {})


MINIMAL: Changes = {
    "PersonInfo/PersonMiddleName": None,
    "PersonInfo/PersonBirthDate": None,
    "PersonInfo/PersonSex": None,
    "PersonInfo/PersonSNILS": None,
    "PersonInfo/PersonPhone": None,
    "PersonInfo/PersonEmail": None,
    "PersonInfo/PersonIdentityDocInfo": None,
    "OtherRepresentative": None,
    "ChildInfo/ChildMiddleName": None,
    "ChildInfo/ChildSNILS": None,
    "ChildInfo/ChildBirthDocRF/ChildBirthDocIssueDate": None,
    "ChildInfo/ChildBirthDocRF/ChildBirthDocActNumber": None,
    "ChildInfo/ChildBirthDocRF/ChildBirthDocActDate": None,
    "ChildInfo/ChildBirthDocRF/ChildBirthDocIssued": None,
    "EduOrganization/Name": None,
    "BenefitInfo[2]": None,
    "BenefitInfo[1]": None,
    "Consents/DataAccuracyConfirmed": None,
    "Consents/CharterAcknowledged": None,
    "Consents/AdaptedProgramConsent": None,
}
"""What the schema lets EPGU leave out."""


def cancel(order: str = ORDER, reason: str = "Заявление подано ошибочно") -> etree._Element:
    root = etree.Element(CANCEL, nsmap={"se": NS})
    _tree(root, (("orderId", order), ("Reason", reason)), NS)
    return root


def status_response(code: str | None = "0", message: str | None = None) -> etree._Element:
    """EPGU's ``orderStatusEventResponse``: ``code`` 0 takes the event, another refuses it."""
    root = etree.Element(STATUS_RESPONSE, nsmap={"ev": EVENT_NS})
    parts = (("code", code), ("message", message))
    _tree(root, tuple((tag, text) for tag, text in parts if text is not None), EVENT_NS)
    return root


def asked(status_code: int = 3, order: str = ORDER) -> AnsweredRequest:
    """The hub's order-status request EPGU's response answers."""
    command = ReportEnrollmentStatus("req-status-1", order, status_code)
    return AnsweredRequest(
        "req-status-1", "gosuslugi", "order-status", status_context(command), "m-1"
    )


def envelope(draft: EventDraft) -> dict[str, Any]:
    inbox = InboxRecord(
        "6f1d2c7e-0000-5000-8000-000000000001",
        "smev",
        "m-1",
        b"",
        "gosuslugi",
        None,
        None,
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )
    return cloud_event(event_id_for(inbox.inbox_id, 0), inbox, draft, datetime.now(UTC))


def received(changes: Changes | None = None) -> EventDraft:
    [event] = translate_application(application(changes)).events
    validate_event(envelope(event))
    return event


def at(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


NOW = datetime(2026, 3, 1, 7, 15, 30, 250, tzinfo=UTC)
REPLY = ReplyTarget("6f1d2c7e-0000-5000-8000-0000000000aa", "eyJzaWQiOjF9", NOW)


# --- the application -----------------------------------------------------------------------


def test_an_application_becomes_application_received() -> None:
    translation = translate_application(application())
    [event] = translation.events
    assert (event.type, event.subject) == (
        "enrollment.application.received",
        f"application:{ORDER}",
    )
    assert translation.business_key is not None
    assert translation.business_key.startswith(f"gosuslugi:order:{ORDER}:received:")
    assert not translation.requests and translation.answers is None
    person = {"birth_place": None}
    assert event.data == {
        "order_number": ORDER,
        "submitted_at": "2026-03-01T10:15:00+03:00",
        "child": {
            **person,
            "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
            "birth_date": "2019-04-12",
            "sex": "female",
            "snils": SNILS_CHILD,
        },
        "child_birth_certificate": {
            "series": "IV-АН",
            "number": "123456",
            "issued_on": "2019-05-01",
        },
        "applicant": {
            "person": {
                **person,
                "name": {"last": "Семёнова", "first": "Ольга", "middle": "Петровна"},
                "birth_date": "1988-01-30",
                "sex": "female",
                "snils": SNILS_MOTHER,
            },
            "relation": "mother",
            "passport": {
                "series": "9204",
                "number": "654321",
                "issued_on": "2020-02-03",
                "issuer": "МВД по Республике Татарстан",
            },
            "phone": "+7 (843) 123-45-67",
            "email": "olga@example.ru",
        },
        "other_guardians": [
            {
                "relation": "father",
                "person": {
                    **person,
                    "name": {"last": "Семёнов", "first": "Игорь", "middle": "Викторович"},
                    "birth_date": "1985-06-01",
                    "sex": "male",
                    "snils": SNILS_FATHER,
                },
            }
        ],
        "school": {"code": "16-0001", "name": "МБОУ «Школа № 1»"},
        "grade": 1,
        "requested_date": "2026-09-01",
        "benefits": ["101", "205"],
        "consents": {
            "personal_data": True,
            "data_accuracy": True,
            "charter_acknowledged": True,
            "adapted_program": False,
        },
        "attachments": [],
    }
    assert event.schema_version == "2"
    validate_event(envelope(event))


SCAN = AttachmentRef(
    "5a0e6b4c-1f7d-11f1-9f3b-0242ac110002",
    "свидетельство.pdf",
    "mFgA1bkxXxpGoT0G1uHBtT9tHuTLQpSbLs7HZYVPb1Q=",
    "application/pdf",
)


def test_documents_in_the_file_store_are_carried_as_references() -> None:
    [event] = translate_application(application(), None, [SCAN]).events
    assert event.data["attachments"] == [
        {
            "uuid": SCAN.uuid,
            "file_name": "свидетельство.pdf",
            "hash": SCAN.hash,
            "mime_type": "application/pdf",
        },
    ]
    validate_event(envelope(event))


def test_the_same_documents_uploaded_again_are_the_same_application() -> None:
    first = translate_application(application(), None, [SCAN])
    again = translate_application(application(), None, [replace(SCAN, uuid="another-upload")])
    other = translate_application(application(), None, [replace(SCAN, hash="b3RoZXI=")])
    assert first.business_key == again.business_key != other.business_key


def test_more_documents_than_the_model_holds_are_refused_naming_the_list() -> None:
    with pytest.raises(GosuslugiContentError) as raised:
        translate_application(application(), None, [SCAN] * (MAX_ATTACHMENTS + 1))
    assert raised.value.details["field"] == "RefAttachmentHeaderList"


def test_with_a_reply_target_it_is_answered_application_accepted() -> None:
    translation = translate_application(application(), REPLY)
    [answer] = translation.requests
    assert (answer.request_id, answer.agency, answer.kind, answer.reply_to) == (
        f"reply:{REPLY.inbox_id}",
        "gosuslugi",
        "application-accepted",
        REPLY.reply_to,
    )
    assert answer.context == {}
    root = parse_xml(answer.content)
    assert root.tag == ACCEPTED
    assert [(etree.QName(c).localname, c.text) for c in root.iter() if c is not root] == [
        ("orderId", ORDER),
        ("AcceptedAt", "2026-03-01T07:15:30+00:00"),
        ("statusCode", None),
        ("techCode", "1"),
    ]


def test_what_the_schema_lets_out_is_absent_in_the_event() -> None:
    data = received(MINIMAL).data
    assert data["child"]["name"]["middle"] is None and data["child"]["snils"] is None
    assert data["child_birth_certificate"] == {
        "series": "IV-АН",
        "number": "123456",
        "issued_on": None,
    }
    applicant = data["applicant"]
    assert (applicant["passport"], applicant["phone"], applicant["email"]) == (None, None, None)
    assert applicant["person"]["sex"] is None and applicant["person"]["birth_date"] is None
    assert data["other_guardians"] == [] and data["benefits"] == []
    assert data["school"] == {"code": "16-0001", "name": None}
    assert data["consents"] == {"personal_data": True}


NORMALISED: dict[str, tuple[Changes, str, Any]] = {
    "missing patronymic of the child": (
        {"ChildInfo/ChildMiddleName": None},
        "child.name.middle",
        None,
    ),
    "missing patronymic of the applicant": (
        {"PersonInfo/PersonMiddleName": None},
        "applicant.person.name.middle",
        None,
    ),
    "empty patronymic": ({"ChildInfo/ChildMiddleName": " "}, "child.name.middle", None),
    "upper-case names kept as written": (
        {"ChildInfo/ChildSurname": "СЕМЁНОВА"},
        "child.name.last",
        "СЕМЁНОВА",
    ),
    "spaces collapsed": (
        {"ChildInfo/ChildSurname": "  Римская   Корсакова "},
        "child.name.last",
        "Римская Корсакова",
    ),
    "upper-case sex": ({"ChildInfo/ChildSex": "FEMALE"}, "child.sex", "female"),
    "upper-case relation": ({"PersonInfo/PersonType": "MOTHER"}, "applicant.relation", "mother"),
    "relation with underscore": (
        {"PersonInfo/PersonType": "Legal_Representative"},
        "applicant.relation",
        "legal_representative",
    ),
    "upper-case consent": (
        {"Consents/PersonalDataConsent": "TRUE"},
        "consents.personal_data",
        True,
    ),
    "consent as 0": ({"Consents/AdaptedProgramConsent": "0"}, "consents.adapted_program", False),
    "personal-data consent refused is passed on": (
        {"Consents/PersonalDataConsent": "false"},
        "consents.personal_data",
        False,
    ),
    "Cyrillic look-alike numeral in the series": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "ІV-АН"},
        "child_birth_certificate.series",
        "IV-АН",
    ),
    "Cyrillic Х, І and an en dash, lower-case letters": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "ХІІ–аа"},
        "child_birth_certificate.series",
        "XII-АА",
    ),
    "Latin look-alike letters": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "IV-AH"},
        "child_birth_certificate.series",
        "IV-АН",
    ),
    "series split by a space": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocSeries": "IV АН"},
        "child_birth_certificate.series",
        "IV-АН",
    ),
    "certificate number with a space": (
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocNumber": "123 456"},
        "child_birth_certificate.number",
        "123456",
    ),
    "bare SNILS": ({"ChildInfo/ChildSNILS": "11223344595"}, "child.snils", SNILS_CHILD),
    "SNILS with another dash": (
        {"PersonInfo/PersonSNILS": "062–160–930 30"},
        "applicant.person.snils",
        SNILS_MOTHER,
    ),
    "passport series with a space": (
        {"PersonInfo/PersonIdentityDocInfo/IdentityDocSeries": "92 04"},
        "applicant.passport.series",
        "9204",
    ),
    "order number with leading zeros": ({"orderId": "000123"}, "order_number", "123"),
    "date of birth with a zone": (
        {"ChildInfo/ChildBirthDate": "2019-04-12+03:00"},
        "child.birth_date",
        "2019-04-12",
    ),
    "filing time in UTC": (
        {"FilingDate": "2026-03-01T07:15:00Z"},
        "submitted_at",
        "2026-03-01T07:15:00+00:00",
    ),
    "grade 11": ({"EntryParams/Grade": "11"}, "grade", 11),
    "a benefit twice is one benefit": (
        {"BenefitInfo[2]/BenefitCategory": "101"},
        "benefits",
        ["101"],
    ),
    "other representative: guardian": (
        {"OtherRepresentative/PersonType": "LegalRepresentative"},
        "other_guardians.0.relation",
        "legal_representative",
    ),
}


@pytest.mark.parametrize(("changes", "path", "expected"), NORMALISED.values(), ids=NORMALISED)
def test_what_epgu_sends_is_read_and_normalised(changes: Changes, path: str, expected: Any) -> None:
    assert at(received(changes).data, path) == expected


def test_the_subject_is_the_order_in_its_one_spelling() -> None:
    event = received({"orderId": "+000123"})
    assert event.subject == "application:123"


# --- resends and corrections ---------------------------------------------------------------


def test_a_resend_has_the_same_key_whatever_its_prefixes_and_spacing() -> None:
    first = translate_application(application())
    other = application(nsmap={None: NS})
    spaced = parse_xml(etree.tostring(other, pretty_print=True, encoding="UTF-8"))
    again = translate_application(spaced, REPLY)
    assert again.business_key == first.business_key
    assert again.events[0].data == first.events[0].data


@pytest.mark.parametrize(
    "changes",
    [
        {"EntryParams/Grade": "2"},
        {"ChildInfo/ChildBirthDocRF/ChildBirthDocNumber": "123457"},
        {"BenefitInfo[2]": None},
    ],
    ids=["another grade", "another certificate number", "a benefit less"],
)
def test_an_application_corrected_under_the_same_order_is_a_new_fact(changes: Changes) -> None:
    first = translate_application(application()).business_key
    corrected = translate_application(application(changes)).business_key
    assert first is not None and corrected is not None and corrected != first
    assert corrected.startswith(f"gosuslugi:order:{ORDER}:received:")


# --- bad input: a precise PermanentError naming the element, never a wrong event -----------

CHILD_DOC = "ChildInfo/ChildBirthDocRF"
W = "ApplicationRequest"
REFUSED: dict[str, tuple[Changes, str, str]] = {
    "invalid child SNILS": (
        {"ChildInfo/ChildSNILS": "112-233-445 96"},
        f"{W}/ChildInfo/ChildSNILS",
        "check number",
    ),
    "child SNILS of 10 digits": (
        {"ChildInfo/ChildSNILS": "112-233-445 9"},
        f"{W}/ChildInfo/ChildSNILS",
        "11 digits",
    ),
    "invalid applicant SNILS": (
        {"PersonInfo/PersonSNILS": "06216093031"},
        f"{W}/PersonInfo/PersonSNILS",
        "check number",
    ),
    "invalid SNILS of the other representative": (
        {"OtherRepresentative/PersonSNILS": "127-941-306 67"},
        f"{W}/OtherRepresentative[1]/PersonSNILS",
        "check number",
    ),
    "no order number": ({"orderId": None}, f"{W}/orderId", "missing"),
    "order number zero": ({"orderId": "0"}, f"{W}/orderId", "positive whole number"),
    "order number negative": ({"orderId": "-5"}, f"{W}/orderId", "positive whole number"),
    "order number not a number": ({"orderId": "A-17"}, f"{W}/orderId", "positive whole number"),
    "order number beyond xs:long": (
        {"orderId": "9223372036854775808"},
        f"{W}/orderId",
        "positive whole number",
    ),
    "order number in Arabic-Indic digits": (
        {"orderId": "١٢٣"},
        f"{W}/orderId",
        "positive whole number",
    ),
    "no filing date": ({"FilingDate": None}, f"{W}/FilingDate", "missing"),
    "filing date not a date": (
        {"FilingDate": "01.03.2026 10:15"},
        f"{W}/FilingDate",
        "not a date and time",
    ),
    "no applicant": ({"PersonInfo": None}, f"{W}/PersonInfo", "missing"),
    "applicant without family name": (
        {"PersonInfo/PersonSurname": None},
        f"{W}/PersonInfo/PersonSurname",
        "missing",
    ),
    "applicant's relation unknown": (
        {"PersonInfo/PersonType": "Grandmother"},
        f"{W}/PersonInfo/PersonType",
        "not Mother, Father or LegalRepresentative",
    ),
    "applicant's sex unknown": (
        {"PersonInfo/PersonSex": "Unknown"},
        f"{W}/PersonInfo/PersonSex",
        "neither Male",
    ),
    "passport number of 5 digits": (
        {"PersonInfo/PersonIdentityDocInfo/IdentityDocNumber": "65432"},
        f"{W}/PersonInfo/PersonIdentityDocInfo/IdentityDocNumber",
        "6 digits",
    ),
    "passport without series": (
        {"PersonInfo/PersonIdentityDocInfo/IdentityDocSeries": None},
        f"{W}/PersonInfo/PersonIdentityDocInfo/IdentityDocSeries",
        "missing",
    ),
    "identity document left empty": (
        {
            "PersonInfo/PersonIdentityDocInfo/IdentityDocSeries": None,
            "PersonInfo/PersonIdentityDocInfo/IdentityDocNumber": None,
            "PersonInfo/PersonIdentityDocInfo/IdentityDocIssueDate": None,
            "PersonInfo/PersonIdentityDocInfo/IdentityDocIssued": None,
        },
        f"{W}/PersonInfo/PersonIdentityDocInfo/IdentityDocSeries",
        "missing",
    ),
    "representative without relation": (
        {"OtherRepresentative/PersonType": None},
        f"{W}/OtherRepresentative[1]/PersonType",
        "missing",
    ),
    "no child": ({"ChildInfo": None}, f"{W}/ChildInfo", "missing"),
    "child without first name": (
        {"ChildInfo/ChildName": " "},
        f"{W}/ChildInfo/ChildName",
        "missing",
    ),
    "child without date of birth": (
        {"ChildInfo/ChildBirthDate": None},
        f"{W}/ChildInfo/ChildBirthDate",
        "missing",
    ),
    "child's date of birth not a date": (
        {"ChildInfo/ChildBirthDate": "12.04.2019"},
        f"{W}/ChildInfo/ChildBirthDate",
        "not a date",
    ),
    "child's date of birth that does not exist": (
        {"ChildInfo/ChildBirthDate": "2019-02-30"},
        f"{W}/ChildInfo/ChildBirthDate",
        "not a date",
    ),
    "no birth certificate": ({CHILD_DOC: None}, f"{W}/{CHILD_DOC}", "missing"),
    "series that cannot be normalised": (
        {f"{CHILD_DOC}/ChildBirthDocSeries": "АБ-12"},
        f"{W}/{CHILD_DOC}/ChildBirthDocSeries",
        "Roman numeral",
    ),
    "series without letters": (
        {f"{CHILD_DOC}/ChildBirthDocSeries": "IV"},
        f"{W}/{CHILD_DOC}/ChildBirthDocSeries",
        "Roman numeral",
    ),
    "certificate number of 7 digits": (
        {f"{CHILD_DOC}/ChildBirthDocNumber": "1234567"},
        f"{W}/{CHILD_DOC}/ChildBirthDocNumber",
        "6 digits",
    ),
    "certificate issue date not a date": (
        {f"{CHILD_DOC}/ChildBirthDocIssueDate": "май 2019"},
        f"{W}/{CHILD_DOC}/ChildBirthDocIssueDate",
        "not a date",
    ),
    "no school": ({"EduOrganization": None}, f"{W}/EduOrganization", "missing"),
    "school without code": ({"EduOrganization/Code": None}, f"{W}/EduOrganization/Code", "missing"),
    "grade 12": ({"EntryParams/Grade": "12"}, f"{W}/EntryParams/Grade", "from 1 to 11"),
    "grade 0": ({"EntryParams/Grade": "0"}, f"{W}/EntryParams/Grade", "from 1 to 11"),
    "grade in words": ({"EntryParams/Grade": "первый"}, f"{W}/EntryParams/Grade", "from 1 to 11"),
    "grade in superscript": ({"EntryParams/Grade": "²"}, f"{W}/EntryParams/Grade", "from 1 to 11"),
    "no requested date": ({"EntryParams/EntryDate": None}, f"{W}/EntryParams/EntryDate", "missing"),
    "no consents": ({"Consents": None}, f"{W}/Consents", "missing"),
    "personal-data consent left out": (
        {"Consents/PersonalDataConsent": None},
        f"{W}/Consents/PersonalDataConsent",
        "missing",
    ),
    "personal-data consent empty": (
        {"Consents/PersonalDataConsent": ""},
        f"{W}/Consents/PersonalDataConsent",
        "missing",
    ),
    "consent neither true nor false": (
        {"Consents/DataAccuracyConfirmed": "да"},
        f"{W}/Consents/DataAccuracyConfirmed",
        "neither true nor false",
    ),
}
SHOWN = (
    "Семёнова",
    "Алёна",
    "Ольга",
    "112-233-445",
    "11223344596",
    "062-160-930",
    "06216093031",
    "127-941-306",
    "654321",
    "65432",
    "1234567",
    "12.04.2019",
)


@pytest.mark.parametrize(("changes", "field", "why"), REFUSED.values(), ids=REFUSED)
def test_bad_input_is_refused_precisely(changes: Changes, field: str, why: str) -> None:
    with pytest.raises(GosuslugiContentError) as caught:
        translate_application(application(changes), REPLY)
    error = caught.value
    assert error.details["field"] == field and why in str(error)
    assert str(error).startswith(field)
    assert error.code == "GOSUSLUGI_CONTENT" and not error.retryable
    for value in SHOWN:
        assert value not in str(error)
    # Nothing personal in it, so masking keeps it whole: the failure's stored reason is this.
    assert mask_text(str(error)) == str(error)


def test_another_root_is_a_translation_error() -> None:
    with pytest.raises(TranslationError, match="expected ApplicationRequest, got CancelRequest"):
        read_application(cancel())


# --- the cancellation ----------------------------------------------------------------------


def test_a_cancellation_becomes_application_cancelled_and_is_answered() -> None:
    translation = translate_cancel(cancel("00042"), REPLY)
    [event] = translation.events
    assert (event.type, event.subject) == ("enrollment.application.cancelled", "application:42")
    assert event.data == {"order_number": "42", "reason": "Заявление подано ошибочно"}
    assert translation.business_key == "gosuslugi:order:42:cancelled"
    [answer] = translation.requests
    assert answer.request_id == f"reply:{REPLY.inbox_id}" and answer.reply_to == REPLY.reply_to
    assert parse_xml(answer.content).findtext(f"{{{NS}}}orderId") == "42"
    validate_event(envelope(event))
    assert not translate_cancel(cancel()).requests


@pytest.mark.parametrize(
    ("element", "field"),
    [
        (change(cancel(), {"Reason": None}), "CancelRequest/Reason"),
        (change(cancel(), {"Reason": "  "}), "CancelRequest/Reason"),
        (cancel(order="номер"), "CancelRequest/orderId"),
        (change(cancel(), {"orderId": None}), "CancelRequest/orderId"),
    ],
    ids=["no reason", "blank reason", "order not a number", "no order"],
)
def test_a_cancellation_lacking_what_the_hub_needs_is_refused(
    element: etree._Element, field: str
) -> None:
    with pytest.raises(GosuslugiContentError) as caught:
        translate_cancel(element, REPLY)
    assert caught.value.details["field"] == field
    assert mask_text(str(caught.value)) == str(caught.value)


def test_a_cancellation_is_not_read_as_an_application_nor_the_reverse() -> None:
    with pytest.raises(TranslationError):
        translate_cancel(application())
    with pytest.raises(TranslationError):
        translate_application(cancel())


# --- EPGU's response to the hub's order-status event ---------------------------------------

STATUSES = {
    1: "registered",
    2: "sent_not_registered",
    3: "executed",
    4: "rejected",
    6: "received",
    7: "intermediate",
    9: "cancelled_by_applicant",
    10: "declined_by_applicant",
    11: "declined_by_executor",
    12: "message_from_executor",
    14: "waiting_for_applicant",
    15: "correction_needed",
}


@pytest.mark.parametrize(("code", "status"), STATUSES.items(), ids=STATUSES.values())
def test_code_0_delivers_the_status_asked_for(code: int, status: str) -> None:
    translation = translate_status_response(status_response("0"), asked(code))
    [event] = translation.events
    assert (event.type, event.subject) == ("enrollment.status.delivered", f"application:{ORDER}")
    assert event.data == {
        "request_id": "req-status-1",
        "order_number": ORDER,
        "status_code": code,
        "status": status,
    }
    assert translation.answers == "req-status-1" and not translation.rejected
    assert translation.business_key is None and not translation.requests
    validate_event(envelope(event))


@pytest.mark.parametrize(
    ("element", "code"),
    [
        (status_response("0", "Событие принято"), None),
        (status_response(" +0 "), None),
        (status_response("1", "Заявление не найдено"), "1"),
        (status_response("-1"), "-1"),
        (status_response("127"), "127"),
    ],
    ids=["0 with message", "0 spelled otherwise", "1", "-1", "127"],
)
def test_another_code_is_epgu_refusing_the_event(element: etree._Element, code: str | None) -> None:
    translation = translate_status_response(element, asked())
    [event] = translation.events
    validate_event(envelope(event))
    assert translation.answers == "req-status-1"
    if code is None:
        assert event.type == "enrollment.status.delivered" and not translation.rejected
        return
    assert (event.type, event.subject) == ("agency.request.rejected", "request:req-status-1")
    assert translation.rejected
    reason = f"EPGU refused the order status event (code {code})"
    assert event.data == {
        "request_id": "req-status-1",
        "agency": "gosuslugi",
        "kind": "order-status",
        "code": "FAILURE",
        "reason": reason,
    }


@pytest.mark.parametrize("code", [None, "", "ok", "1000", "٠"], ids=repr)
def test_a_response_without_a_code_is_refused(code: str | None) -> None:
    with pytest.raises(GosuslugiContentError) as caught:
        translate_status_response(status_response(code), asked())
    assert caught.value.details["field"] == "orderStatusEventResponse/code"
    assert mask_text(str(caught.value)) == str(caught.value)


def test_a_response_read_against_a_request_of_another_kind_is_a_translation_error() -> None:
    other = AnsweredRequest("req-1", "zags", "rogdinf", {"request_id": "req-1"}, "m-1")
    with pytest.raises(TranslationError, match="order_number or status_code"):
        translate_status_response(status_response("0"), other)


def test_another_root_is_not_a_status_response() -> None:
    with pytest.raises(TranslationError, match="expected orderStatusEventResponse"):
        translate_status_response(cancel(), asked())


def test_times_keep_their_zone_in_the_answer() -> None:
    moscow = timezone(timedelta(hours=3))
    target = ReplyTarget("i-1", "eyJ9", datetime(2026, 3, 1, 10, 15, 30, 999, tzinfo=moscow))
    [answer] = translate_application(application(), target).requests
    assert parse_xml(answer.content).findtext(f"{{{NS}}}AcceptedAt") == "2026-03-01T10:15:30+03:00"
