"""Gosuslugi applications and cancellations → canonical events; EPGU's response to an
order-status event → ``enrollment.status.delivered`` (pure).

An ``ApplicationRequest`` (``schemas/gosuslugi/school-enrollment-1.0.0.xsd``) becomes
``enrollment.application.received``, keyed ``gosuslugi:order:{orderId}:received:{digest}``
(a digest of the application as read: a resend under a new MessageID is a duplicate, an
application corrected under the same orderId is not); a ``CancelRequest`` becomes
``enrollment.application.cancelled``, keyed ``gosuslugi:order:{orderId}:cancelled``, and
so does SMEV's Cancel (1.1/1.2) of the request that carried an application. Given where
to answer (``ReplyTarget``), each also yields the hub's ``ApplicationAccepted``.

Messages are read leniently (children by local name, in any namespace: what SMEV delivered
has passed its checks), and normalised: the birth-certificate series to its one spelling
(Cyrillic look-alikes of the numeral, other dashes), order numbers without leading zeros.
What the hub cannot pass on (a missing required element, a SNILS failing its check number,
a date that is not one) raises ``GosuslugiContentError`` naming the element, never showing
its value: no event is made from a message that has one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from lxml import etree

from hub.adapters.gosuslugi.requests import ReplyTarget, application_accepted, order_id
from hub.adapters.router import AnsweredRequest, Translation, TranslationError
from hub.canonical.drafts import EventDraft
from hub.canonical.events import (
    Applicant,
    AttachmentRef,
    EnrollmentApplication,
    application_cancelled,
    application_received,
    request_rejected,
    status_delivered,
)
from hub.canonical.models import MAX_ATTACHMENTS
from hub.canonical.values import (
    BirthCertificate,
    FullName,
    Guardian,
    InvalidValueError,
    PartialDate,
    PassportRF,
    Person,
    Relation,
    Sex,
    Snils,
    squeeze,
)
from hub.errors import IntakeError
from hub.xml.navigate import XS_DATE

DELIVERED = 0  # orderStatusEventResponse/code: EPGU took the event
# The reason of a cancellation that came as SMEV's Cancel (which carries none of its own).
SMEV_CANCEL_REASON = "Заявление отозвано: запрос отменён в СМЭВ (Cancel)"
CONSENTS = {
    "PersonalDataConsent": "personal_data",
    "DataAccuracyConfirmed": "data_accuracy",
    "CharterAcknowledged": "charter_acknowledged",
    "AdaptedProgramConsent": "adapted_program",
}
RELATIONS = {
    "mother": Relation.MOTHER,
    "father": Relation.FATHER,
    "legalrepresentative": Relation.LEGAL_REPRESENTATIVE,
}
_SEX = {"male": Sex.MALE, "female": Sex.FEMALE}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_CERTIFICATE_PARTS = {
    "series": "ChildBirthDocSeries",
    "number": "ChildBirthDocNumber",
    "issued_on": "ChildBirthDocIssueDate",
}
_PASSPORT_PARTS = {
    "series": "IdentityDocSeries",
    "number": "IdentityDocNumber",
    "issued_on": "IdentityDocIssueDate",
}
# The canonical field a bound names → the element it was read from (``_document``).
_APPLICATION_PARTS = {
    "order_number": "orderId",
    "submitted_at": "FilingDate",
    "code": "EduOrganization/Code",
    "name": "EduOrganization/Name",
    "requested_date": "EntryParams/EntryDate",
    "other_guardians": "OtherRepresentative",
    "benefits": "BenefitInfo",
    "benefits[]": "BenefitInfo/BenefitCategory",
}
_PERSON_PARTS = {"birth_date": "PersonBirthDate", "phone": "PersonPhone", "email": "PersonEmail"}
_SPACES = re.compile(r"\s+")
_T = TypeVar("_T")


class GosuslugiContentError(IntakeError):
    """An application, cancellation or EPGU response that lacks what the hub needs or holds
    a value that is not one; the element is named (``field``), the value never shown."""

    code = "GOSUSLUGI_CONTENT"


# --- applications --------------------------------------------------------------------------


def read_application(element: etree._Element) -> EnrollmentApplication:
    """The application an ``ApplicationRequest`` carries, validated and normalised."""
    root = _root(element, "ApplicationRequest")
    child = _required(root, "ChildInfo", "ApplicationRequest")
    school = _required(root, "EduOrganization", "ApplicationRequest")
    entry = _required(root, "EntryParams", "ApplicationRequest")
    return _document(
        lambda: _application(root, child, school, entry), "ApplicationRequest", _APPLICATION_PARTS
    )


def _application(
    root: _Fields, child: _Fields, school: _Fields, entry: _Fields
) -> EnrollmentApplication:
    return EnrollmentApplication(
        order_number=_order(root, "ApplicationRequest"),
        submitted_at=_datetime(root, "FilingDate", "ApplicationRequest"),
        child=_child_person(child),
        child_birth_certificate=_certificate(child),
        applicant=_applicant(_required(root, "PersonInfo", "ApplicationRequest")),
        school_code=_required_text(school, "Code", "ApplicationRequest/EduOrganization"),
        school_name=_text(school, "Name"),
        grade=_grade(entry),
        requested_date=_date(entry, "EntryDate", "ApplicationRequest/EntryParams"),
        other_guardians=tuple(_guardians(root)),
        benefits=tuple(_benefits(root)),
        consents=_consents(_required(root, "Consents", "ApplicationRequest")),
    )


def translate_application(
    element: etree._Element,
    reply: ReplyTarget | None = None,
    attachments: Sequence[AttachmentRef] = (),
) -> Translation:
    """``enrollment.application.received`` for an ``ApplicationRequest``, keyed by its order
    number and what it says, and the hub's ``ApplicationAccepted`` when ``reply`` says where
    to send it. ``attachments``: the documents SMEV's file store holds for it."""
    if len(attachments) > MAX_ATTACHMENTS:
        raise GosuslugiContentError(
            f"RefAttachmentHeaderList: more than {MAX_ATTACHMENTS} documents",
            field="RefAttachmentHeaderList",
        )
    application = replace(read_application(element), attachments=tuple(attachments))
    number, event = application.order_number, application_received(application)
    return Translation(
        [event],
        f"gosuslugi:order:{number}:received:{_digest(event.data)}",
        requests=[application_accepted(number, reply)] if reply is not None else [],
        school=application.school_code,  # the application belongs to the school's scope
    )


def _digest(data: Mapping[str, Any]) -> str:
    # Of the application as read, not of its bytes: a resend with other prefixes or spacing
    # is the same fact; one corrected after status 15 (same orderId) is a new one. A resend
    # uploads its documents again under new file-store ids: the same documents (by hash) are
    # the same fact.
    documents = [{**a, "uuid": None} for a in data.get("attachments", ())]
    text = json.dumps(
        {**data, "attachments": documents},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def translate_cancel(element: etree._Element, reply: ReplyTarget | None = None) -> Translation:
    """``enrollment.application.cancelled`` for a ``CancelRequest``, keyed by its order
    number, and the hub's ``ApplicationAccepted`` when ``reply`` says where to send it."""
    root = _root(element, "CancelRequest")
    number = _order(root, "CancelRequest")
    reason = _required_text(root, "Reason", "CancelRequest")
    cancelled = _document(
        lambda: application_cancelled(number, reason), "CancelRequest", {"reason": "Reason"}
    )
    return Translation(
        [cancelled],
        f"gosuslugi:order:{number}:cancelled",
        requests=[application_accepted(number, reply)] if reply is not None else [],
    )


def translate_withdrawal(application: etree._Element) -> Translation:
    """``enrollment.application.cancelled`` for SMEV's Cancel of the request that carried
    ``application`` (an ``ApplicationRequest``): keyed as a ``CancelRequest`` of that order is,
    since both are the one fact. A Cancel carries no reason and no ReplyTo: a fixed reason,
    and no answer."""
    number = _order(_root(application, "ApplicationRequest"), "ApplicationRequest")
    return Translation(
        [application_cancelled(number, SMEV_CANCEL_REASON)],
        f"gosuslugi:order:{number}:cancelled",
    )


def _applicant(holder: _Fields) -> Applicant:
    where = "ApplicationRequest/PersonInfo"
    document = "PersonIdentityDocInfo"
    person, relation = _person(holder, where), _relation(holder, where)
    passport = _passport(_optional(holder, document), f"{where}/{document}")
    phone, email = _text(holder, "PersonPhone"), _text(holder, "PersonEmail")
    return _document(
        lambda: Applicant(person, relation, passport, phone, email), where, _PERSON_PARTS
    )


def _guardians(root: _Fields) -> list[Guardian]:
    found = []
    for index, element in enumerate(_children(root, "OtherRepresentative"), start=1):
        where, holder = f"ApplicationRequest/OtherRepresentative[{index}]", _Fields(element)
        found.append(Guardian(_relation(holder, where), _person(holder, where)))
    return found


def _person(holder: _Fields, where: str) -> Person:
    """A PersonInfo-style person: PersonSurname, PersonName, PersonMiddleName, …"""
    name = _name(holder, where, ("PersonSurname", "PersonName", "PersonMiddleName"))
    born = _optional_date(holder, "PersonBirthDate", where)
    sex, snils = _sex(holder, "PersonSex", where), _snils(holder, "PersonSNILS", where)
    return _document(lambda: Person(name, born, sex, snils), where, _PERSON_PARTS)


def _name(holder: _Fields, where: str, tags: tuple[str, str, str]) -> FullName:
    last, first, middle = tags
    parts = {"last": last, "first": first, "middle": middle}
    texts = (_required_text(holder, last, where), _required_text(holder, first, where))
    return _document(lambda: FullName.parse(*texts, _text(holder, middle)), where, parts)


def _child_person(holder: _Fields) -> Person:
    where = "ApplicationRequest/ChildInfo"
    name = _name(holder, where, ("ChildSurname", "ChildName", "ChildMiddleName"))
    born = _date(holder, "ChildBirthDate", where)
    sex, snils = _sex(holder, "ChildSex", where), _snils(holder, "ChildSNILS", where)
    return _document(
        lambda: Person(name, born, sex, snils), where, {"birth_date": "ChildBirthDate"}
    )


def _certificate(child: _Fields) -> BirthCertificate:
    where = "ApplicationRequest/ChildInfo/ChildBirthDocRF"
    holder = _required(child, "ChildBirthDocRF", "ApplicationRequest/ChildInfo")
    series = _required_text(holder, "ChildBirthDocSeries", where)
    number = _required_text(holder, "ChildBirthDocNumber", where)
    issued = _optional_date(holder, "ChildBirthDocIssueDate", where)
    return _document(
        lambda: BirthCertificate.parse(series, number, issued), where, _CERTIFICATE_PARTS
    )


def _passport(holder: _Fields | None, where: str) -> PassportRF | None:
    if holder is None:
        return None  # the applicant may give none; an empty one lacks its series
    series = _required_text(holder, "IdentityDocSeries", where)
    number = _required_text(holder, "IdentityDocNumber", where)
    issued = _optional_date(holder, "IdentityDocIssueDate", where)
    issuer = _text(holder, "IdentityDocIssued")
    return _document(
        lambda: PassportRF.parse(series, number, issued, issuer), where, _PASSPORT_PARTS
    )


def _document(parse: Callable[[], _T], where: str, parts: Mapping[str, str]) -> _T:
    try:
        return parse()
    except InvalidValueError as exc:
        part = str(exc.details.get("field", "")).rpartition(".")[2]
        field = f"{where}/{parts.get(part, part)}"
        raise _refused(field, f"is not valid: {_reason(exc)}") from None


def _relation(holder: _Fields, where: str) -> Relation:
    text = _required_text(holder, "PersonType", where)
    relation = RELATIONS.get(re.sub(r"[\s_-]", "", text).lower())
    if relation is None:
        field = f"{where}/PersonType"
        raise _refused(field, "is not Mother, Father or LegalRepresentative")
    return relation


def _sex(holder: _Fields, name: str, where: str) -> Sex | None:
    text = _text(holder, name)
    if text is None:
        return None
    sex = _SEX.get(text.lower())
    if sex is None:
        try:
            sex = Sex.parse(text)
        except InvalidValueError:
            field = f"{where}/{name}"
            raise _refused(field, "is neither Male nor Female") from None
    return sex


def _snils(holder: _Fields, name: str, where: str) -> Snils | None:
    text = _text(holder, name)
    if text is None:
        return None
    field = f"{where}/{name}"
    try:
        return Snils.parse(text, field)
    except InvalidValueError as exc:
        raise _refused(field, f"is not valid: {_reason(exc)}") from None


def _grade(entry: _Fields) -> int:
    where = "ApplicationRequest/EntryParams"
    text = _required_text(entry, "Grade", where)
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses
    grade = int(text) if re.fullmatch(r"\+?[0-9]{1,2}", text) else 0
    if not 1 <= grade <= 11:
        field = f"{where}/Grade"
        raise _refused(field, "is not a grade (a number from 1 to 11)")
    return grade


def _benefits(root: _Fields) -> list[str]:
    codes = (_text(_Fields(info), "BenefitCategory") for info in _children(root, "BenefitInfo"))
    return list(dict.fromkeys(code for code in codes if code))


def _consents(holder: _Fields) -> dict[str, bool]:
    where = "ApplicationRequest/Consents"
    _required_text(holder, "PersonalDataConsent", where)  # 152-FZ: said either way, never unsaid
    found = {}
    for name, key in CONSENTS.items():
        text = _text(holder, name)
        if text is not None:
            found[key] = _boolean(text, f"{where}/{name}")
    return found


def _boolean(text: str, field: str) -> bool:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise _refused(field, "is neither true nor false")
    return value


# --- EPGU's response to an order-status event ----------------------------------------------


def translate_status_response(element: etree._Element, request: AnsweredRequest) -> Translation:
    """EPGU's ``orderStatusEventResponse`` to the hub's ``orderStatusEvent``: code 0 makes
    ``enrollment.status.delivered``; another code means EPGU refused the event and makes
    ``agency.request.rejected`` (code FAILURE). Either settles the hub's request."""
    root = _root(element, "orderStatusEventResponse")
    text = _required_text(root, "code", "orderStatusEventResponse")
    code = int(text) if re.fullmatch(r"[+-]?[0-9]{1,3}", text) else None
    if code is None:
        field = "orderStatusEventResponse/code"
        raise _refused(field, "is not a number")
    if code != DELIVERED:
        reason = f"EPGU refused the order status event (code {code})"
        draft = request_rejected(
            request.request_id, request.agency, request.kind, "FAILURE", reason
        )
        return Translation([draft], answers=request.request_id, rejected=True)
    return Translation([_delivered(request)], answers=request.request_id)


def _delivered(request: AnsweredRequest) -> EventDraft:
    context: Mapping[str, Any] = request.context
    number, status = context.get("order_number"), context.get("status_code")
    if not isinstance(number, str) or not isinstance(status, int):
        raise TranslationError(
            "the order-status request's context lacks order_number or status_code",
            request_id=request.request_id,
        )
    return status_delivered(request.request_id, number, status)


# --- reading -------------------------------------------------------------------------------


def _root(element: etree._Element, name: str) -> _Fields:
    found = etree.QName(element).localname
    if found != name:
        raise TranslationError(f"expected {name}, got {found}", element=found)
    return _Fields(element)


def _order(root: _Fields, where: str) -> str:
    number = order_id(_required_text(root, "orderId", where))
    if number is None:
        field = f"{where}/orderId"
        raise _refused(field, "is not an EPGU order number (a positive whole number)")
    return number


def _datetime(holder: _Fields, name: str, where: str) -> datetime:
    text = _required_text(holder, name, where)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        field = f"{where}/{name}"
        raise _refused(field, "is not a date and time") from None


def _date(holder: _Fields, name: str, where: str) -> PartialDate:
    found = _optional_date(holder, name, where)
    if found is None:
        raise _missing(where, name)
    return found


def _optional_date(holder: _Fields, name: str, where: str) -> PartialDate | None:
    text = _text(holder, name)
    if text is None:
        return None
    found = XS_DATE.fullmatch(text)
    field = f"{where}/{name}"
    try:
        return PartialDate.parse(found.group(1) if found else "", field)
    except InvalidValueError:
        raise _refused(field, "is not a date") from None


def _required(holder: _Fields, name: str, where: str) -> _Fields:
    found = _child(holder, name)
    if found is None:
        raise _missing(where, name)
    return _Fields(found)


def _optional(holder: _Fields, name: str) -> _Fields | None:
    found = _child(holder, name)
    return None if found is None else _Fields(found)


def _required_text(holder: _Fields, name: str, where: str) -> str:
    text = _text(holder, name)
    if text is None:
        raise _missing(where, name)
    return text


def _missing(where: str, name: str) -> GosuslugiContentError:
    return _refused(f"{where}/{name}", "is missing or empty")


def _refused(field: str, why: str) -> GosuslugiContentError:
    # "<field> is …", never "<field>: …": a failure's reason is masked as free text, and there
    # a colon after a name like ChildSNILS or ChildBirthDate marks what follows as its value.
    return GosuslugiContentError(f"{field} {why}", field=field)


def _reason(exc: InvalidValueError) -> str:
    # The canonical value's reason, already masked; the field is named by the caller.
    return exc.message.partition(": ")[2] or "not a valid value"


def _child(holder: _Fields, name: str) -> etree._Element | None:
    found = holder.get(name)
    return found[0] if found else None


def _children(holder: _Fields, name: str) -> list[etree._Element]:
    return holder.get(name, [])


def _text(holder: _Fields, name: str) -> str | None:
    # A direct child's text, spaces collapsed; None when missing or empty.
    found = holder.get(name)
    return squeeze(found[0].text or "") or None if found else None


class _Fields(dict[str, list[etree._Element]]):
    """An element's child elements by local name, read once: looking each field up among the
    children again was a third of the translation's time."""

    def __init__(self, element: etree._Element) -> None:
        super().__init__()
        for child in element.iterchildren(etree.Element):
            self.setdefault(child.tag.rpartition("}")[2], []).append(child)
