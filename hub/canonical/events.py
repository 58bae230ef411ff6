"""The canonical events the registry consumes: one builder per event type.

Each builder returns an ``EventDraft`` (type = routing key, subject, data); the processor
gives it a deterministic id and the CloudEvents envelope. Every event type has a JSON Schema
in ``schemas/canonical/`` (``hub.canonical.jsonschemas``). The parts an event is made of hold
the canonical bounds (``hub.canonical.bounds``) when made, as the values do: a text an agency
wrote that is too long or in the wrong alphabet, too many guardians, a date out of range raise
``InvalidValueError`` naming the field, and no event is drafted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.canonical import bounds
from hub.canonical.drafts import EventDraft
from hub.canonical.models import DIFFERENCE_FIELDS, schema_version
from hub.canonical.values import (
    ActRecord,
    BirthCertificate,
    FullName,
    Guardian,
    PartialDate,
    PassportRF,
    Person,
    Relation,
    Snils,
    person_key,
)

BIRTH_VERIFIED = "student.birth.verified"
BIRTH_MISMATCH = "student.birth.mismatch"
BIRTH_NOT_FOUND = "student.birth.not_found"
SNILS_VERIFIED = "person.snils.verified"
SNILS_MISMATCH = "person.snils.mismatch"
SNILS_NOT_FOUND = "person.snils.not_found"
NAME_CHANGED = "person.name.changed"
DEATH_REGISTERED = "person.death.registered"
PATERNITY_ESTABLISHED = "person.paternity.established"
APPLICATION_RECEIVED = "enrollment.application.received"
APPLICATION_CANCELLED = "enrollment.application.cancelled"
REQUEST_REJECTED = "agency.request.rejected"
STATUS_DELIVERED = "enrollment.status.delivered"
EVENT_TYPES = (
    BIRTH_VERIFIED,
    BIRTH_MISMATCH,
    BIRTH_NOT_FOUND,
    SNILS_VERIFIED,
    SNILS_MISMATCH,
    SNILS_NOT_FOUND,
    NAME_CHANGED,
    DEATH_REGISTERED,
    PATERNITY_ESTABLISHED,
    APPLICATION_RECEIVED,
    APPLICATION_CANCELLED,
    REQUEST_REJECTED,
    STATUS_DELIVERED,
)

EPGU_STATUSES: Mapping[int, str] = {
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


# A compared value holds the bound of what it is (a name part, a series as written).
_COMPARED = {
    "name.last": bounds.NAME_PART,
    "name.first": bounds.NAME_PART,
    "name.middle": bounds.NAME_PART,
    "birth_certificate.series": bounds.RAW_SERIES,
    "birth_certificate.number": bounds.RAW_CERTIFICATE_NUMBER,
}


@dataclass(frozen=True, slots=True)
class Difference:
    """One field the agency's record gives differently from the registry."""

    field: str  # dotted path, e.g. "birth_certificate.number"
    registry: Any
    agency: Any

    def __post_init__(self) -> None:
        if self.field not in DIFFERENCE_FIELDS:
            raise bounds.invalid("differences.field", "no field the hub compares")
        bound = _COMPARED.get(self.field, bounds.COMPARED)
        for side, value in (("registry", self.registry), ("agency", self.agency)):
            if value is not None and not isinstance(value, str):
                raise bounds.invalid(f"{self.field} ({side})", "expected text")
            bound.optional(value, f"{self.field} ({side})")
            if value is not None and self.field == "birth_date":
                born = PartialDate.parse(value, f"birth_date ({side})")
                _in_range(born, bounds.BIRTH, f"birth_date ({side})")

    def to_data(self) -> dict[str, Any]:
        return {"field": self.field, "registry": self.registry, "agency": self.agency}


_VERSION_NUMBER = re.compile(r"[0-9]+")  # НомерВерс is text: only these order as numbers


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One version of a ZAGS act record (НомерВерс, ДатаВерс, КодСостСтат), as ZAGS gives
    it: the state code is carried, never interpreted (its list is not published)."""

    number: str | None
    date: str | None  # YYYY-MM-DD
    state_code: str | None

    def __post_init__(self) -> None:
        bounds.VERSION_NUMBER.optional(self.number, "record_version.version_number")
        bounds.STATE_CODE.optional(self.state_code, "record_version.state_code")
        if self.date is not None:
            when = PartialDate.parse(self.date, "record_version.version_date")
            _in_range(when, bounds.EVENT_DATE, "record_version.version_date")

    def to_data(self) -> dict[str, Any]:
        return {
            "version_number": self.number,
            "version_date": self.date,
            "state_code": self.state_code,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RecordVersion:
        return cls(data.get("version_number"), data.get("version_date"), data.get("state_code"))


def standing_first(versions: Sequence[RecordVersion]) -> list[int]:
    """Positions of ``versions`` (of one act record) from the record as it stands to the
    oldest: the highest number, the latest date on a tie; the dates alone when a number is
    missing or not a number; on a full tie, the later position (nothing else tells them
    apart). The one rule for ZAGS answers, notices and their consumers."""
    numbered = all(_VERSION_NUMBER.fullmatch(v.number or "") for v in versions)

    def key(position: int) -> tuple[int, str, int]:
        version = versions[position]
        number = int(version.number or 0) if numbered else 0
        return number, version.date or "", position

    return sorted(range(len(versions)), key=key, reverse=True)


@dataclass(frozen=True, slots=True)
class Applicant:
    person: Person
    relation: Relation
    passport: PassportRF | None = None
    phone: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        bounds.PHONE.optional(self.phone, "applicant.phone")
        bounds.EMAIL.optional(self.email, "applicant.email")

    def to_data(self) -> dict[str, Any]:
        return {
            "person": self.person.to_data(),
            "relation": self.relation.value,
            "passport": self.passport.to_data() if self.passport else None,
            "phone": self.phone,
            "email": self.email,
        }


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """A document in SMEV's file store, as the message's RefAttachmentHeader names it: what
    an event may carry. The store's credentials (FSAttachmentsList) never come here."""

    uuid: str
    file_name: str | None = None
    hash: str | None = None  # base64 Streebog-256 of the file, as the sender declared it
    mime_type: str | None = None

    def __post_init__(self) -> None:
        bounds.ATTACHMENT_ID.check(self.uuid, "attachments.uuid")
        bounds.FILE_NAME.optional(self.file_name, "attachments.file_name")
        bounds.ATTACHMENT_HASH.optional(self.hash, "attachments.hash")
        bounds.MIME_TYPE.optional(self.mime_type, "attachments.mime_type")

    def to_data(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "file_name": self.file_name,
            "hash": self.hash,
            "mime_type": self.mime_type,
        }


@dataclass(frozen=True, slots=True)
class EnrollmentApplication:
    """A parent's school-enrollment application as Gosuslugi sends it."""

    order_number: str
    submitted_at: datetime
    child: Person
    child_birth_certificate: BirthCertificate
    applicant: Applicant
    school_code: str
    grade: int
    requested_date: PartialDate
    school_name: str | None = None
    other_guardians: Sequence[Guardian] = ()
    benefits: Sequence[str] = ()
    consents: Mapping[str, bool] = field(default_factory=dict)
    attachments: Sequence[AttachmentRef] = ()  # documents in SMEV's file store

    def __post_init__(self) -> None:
        bounds.ORDER_NUMBER.check(self.order_number, "order_number")
        day = self.submitted_at.date()
        bounds.EVENT_DATE.check(day.year, day.month, day.day, "submitted_at")
        bounds.SCHOOL_CODE.check(self.school_code, "school.code")
        bounds.SCHOOL_NAME.optional(self.school_name, "school.name")
        _in_range(self.requested_date, bounds.ENTRY, "requested_date")
        bounds.OTHER_GUARDIANS.check(len(self.other_guardians), "other_guardians")
        bounds.BENEFITS.check(len(self.benefits), "benefits")
        for benefit in self.benefits:
            bounds.BENEFIT.check(benefit, "benefits[]")


def _in_range(when: PartialDate | None, dates: bounds.DateRange, field: str) -> None:
    if when is not None:
        dates.check(when.year, when.month, when.day, field)


def _subject_student(student_id: str) -> str:
    return f"student:{student_id}"


def _subject_person(person_id: str) -> str:
    return f"person:{person_id}"


def _draft(event_type: str, subject: str, data: dict[str, Any]) -> EventDraft:
    return EventDraft(event_type, subject, data, schema_version(event_type))


def birth_verified(  # noqa: PLR0917 - the event's parts, each named
    request_id: str,
    student_id: str,
    child: Person,
    act_record: ActRecord,
    version: RecordVersion,
    certificate: BirthCertificate,
    parents: Sequence[Guardian],
) -> EventDraft:
    """ZAGS holds the birth record the registry has, as it stands (``version``)."""
    bounds.PARENTS.check(len(parents), "parents")
    data = {
        "request_id": request_id,
        "student_id": student_id,
        "child": child.to_data(),
        "act_record": act_record.to_data(),
        "record_version": version.to_data(),
        "birth_certificate": certificate.to_data(),
        "parents": [p.to_data() for p in parents],
    }
    return _draft(BIRTH_VERIFIED, _subject_student(student_id), data)


@dataclass(frozen=True, slots=True)
class ComparedRecord:
    """The act record a mismatch was found against: its current version, and a version a
    correction superseded that the registry's data match, if one does."""

    act_record: ActRecord
    version: RecordVersion
    matched_superseded: RecordVersion | None = None


def birth_mismatch(
    request_id: str,
    student_id: str,
    differences: Sequence[Difference],
    compared: ComparedRecord | None,
    certificate: BirthCertificate | None,
) -> EventDraft:
    """ZAGS's record, as it stands, differs from the registry's in the fields listed."""
    superseded = compared.matched_superseded if compared else None
    data = {
        "request_id": request_id,
        "student_id": student_id,
        "differences": [d.to_data() for d in differences],
        "act_record": compared.act_record.to_data() if compared else None,
        "record_version": compared.version.to_data() if compared else None,
        "matched_superseded_version": superseded.to_data() if superseded else None,
        "birth_certificate": certificate.to_data() if certificate else None,
    }
    return _draft(BIRTH_MISMATCH, _subject_student(student_id), data)


def birth_not_found(request_id: str, student_id: str, reason: str) -> EventDraft:
    """ZAGS has no birth record for the child."""
    bounds.REASON.check(reason, "reason")
    data = {"request_id": request_id, "student_id": student_id, "reason": reason}
    return EventDraft(BIRTH_NOT_FOUND, _subject_student(student_id), data)


def snils_verified(request_id: str, person_id: str, role: str, snils: Snils) -> EventDraft:
    """PFR confirms the person's SNILS."""
    data = {
        "request_id": request_id,
        "person_id": person_id,
        "role": role,
        "snils": snils.formatted,
    }
    return EventDraft(SNILS_VERIFIED, _subject_person(person_id), data)


def snils_mismatch(  # noqa: PLR0917 - the event's parts, each named
    request_id: str,
    person_id: str,
    role: str,
    registry_snils: Snils | None,
    agency_snils: Snils | None,
    differences: Sequence[Difference],
) -> EventDraft:
    """PFR's answer differs from what the registry holds."""
    data = {
        "request_id": request_id,
        "person_id": person_id,
        "role": role,
        "registry_snils": registry_snils.formatted if registry_snils else None,
        "agency_snils": agency_snils.formatted if agency_snils else None,
        "differences": [d.to_data() for d in differences],
    }
    return EventDraft(SNILS_MISMATCH, _subject_person(person_id), data)


def snils_not_found(request_id: str, person_id: str, role: str, reason: str) -> EventDraft:
    """PFR found no SNILS for the person."""
    bounds.REASON.check(reason, "reason")
    data = {"request_id": request_id, "person_id": person_id, "role": role, "reason": reason}
    return EventDraft(SNILS_NOT_FOUND, _subject_person(person_id), data)


@dataclass(frozen=True, slots=True)
class NoticedRecord:
    """What a ZAGS change notification is about: its id in ZAGS's feed, the act record and
    the version of it the notice carries."""

    record_id: str
    act_record: ActRecord
    version: RecordVersion

    def __post_init__(self) -> None:
        bounds.RECORD_ID.check(self.record_id, "record_id")

    def to_data(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "act_record": self.act_record.to_data(),
            "record_version": self.version.to_data(),
        }


def name_changed(
    noticed: NoticedRecord, person: Person, old_name: FullName, new_name: FullName
) -> EventDraft:
    """ZAGS registered a change of name (subject: the person under the old name)."""
    data = {
        **noticed.to_data(),
        "person": person.to_data(),
        "old_name": old_name.to_data(),
        "new_name": new_name.to_data(),
    }
    return _draft(NAME_CHANGED, _subject_person(person_key(person)), data)


def death_registered(noticed: NoticedRecord, person: Person, death_date: PartialDate) -> EventDraft:
    """ZAGS registered a death."""
    _in_range(death_date, bounds.EVENT_DATE, "death_date")
    data = {
        **noticed.to_data(),
        "person": person.to_data(),
        "death_date": death_date.iso(),
    }
    return _draft(DEATH_REGISTERED, _subject_person(person_key(person)), data)


def paternity_established(noticed: NoticedRecord, child: Person, father: Person) -> EventDraft:
    """ZAGS registered paternity: a father linked to the child (subject: the child)."""
    data = {
        **noticed.to_data(),
        "child": child.to_data(),
        "father": father.to_data(),
    }
    return _draft(PATERNITY_ESTABLISHED, _subject_person(person_key(child)), data)


def application_received(app: EnrollmentApplication) -> EventDraft:
    """A school-enrollment application arrived from Gosuslugi."""
    data = {
        "order_number": app.order_number,
        "submitted_at": app.submitted_at.isoformat(),
        "child": app.child.to_data(),
        "child_birth_certificate": app.child_birth_certificate.to_data(),
        "applicant": app.applicant.to_data(),
        "other_guardians": [g.to_data() for g in app.other_guardians],
        "school": {"code": app.school_code, "name": app.school_name},
        "grade": app.grade,
        "requested_date": app.requested_date.iso(),
        "benefits": list(app.benefits),
        "consents": dict(app.consents),
        "attachments": [a.to_data() for a in app.attachments],
    }
    return _draft(APPLICATION_RECEIVED, f"application:{app.order_number}", data)


def application_cancelled(order_number: str, reason: str) -> EventDraft:
    """The applicant withdrew the application."""
    bounds.ORDER_NUMBER.check(order_number, "order_number")
    bounds.CANCEL_REASON.check(reason, "reason")
    data = {"order_number": order_number, "reason": reason}
    return EventDraft(APPLICATION_CANCELLED, f"application:{order_number}", data)


# The rejection codes of SMEV's RequestRejected (RejectionReasonCode), as the event says them.
REJECTION_CODES = frozenset({"ACCESS_DENIED", "NO_DATA", "UNKNOWN_REQUEST_DESCRIPTION", "FAILURE"})


def request_rejected(request_id: str, agency: str, kind: str, code: str, reason: str) -> EventDraft:
    """An agency (or SMEV) refused the hub's request. The reason only informs: it is made to
    fit its bound rather than refused, so the refusal still settles the request."""
    if code not in REJECTION_CODES:  # SMEV's own refusals name a fault, not a rejection code
        code, reason = "FAILURE", f"{code}: {reason}"
    data = {
        "request_id": request_id,
        "agency": agency,
        "kind": kind,
        "code": code,
        "reason": bounds.REASON.clipped(reason),
    }
    return EventDraft(REQUEST_REJECTED, f"request:{request_id}", data)


def status_delivered(request_id: str, order_number: str, status_code: int) -> EventDraft:
    """Gosuslugi took the application's new status."""
    data = {
        "request_id": request_id,
        "order_number": order_number,
        "status_code": status_code,
        "status": EPGU_STATUSES.get(status_code, "unknown"),
    }
    return EventDraft(STATUS_DELIVERED, f"application:{order_number}", data)
