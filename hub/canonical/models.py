"""The shapes of the canonical events' ``data``, from which ``schemas/canonical/`` is made.

These models are the single source of the published JSON Schemas (``hub schemas export``
writes them; a test fails when a file is out of date). The builders in ``events`` make the
data; the tests validate every event they make against these schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PartialDateText = Annotated[str, Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]
SnilsText = Annotated[str, Field(pattern=r"^\d{3}-\d{3}-\d{3} \d{2}$")]
Role = Literal["student", "guardian"]
RelationText = Literal["mother", "father", "legal_representative"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Name(Strict):
    last: str
    first: str
    middle: str | None


class PersonData(Strict):
    name: Name
    birth_date: PartialDateText | None
    sex: Literal["male", "female"] | None
    snils: SnilsText | None
    birth_place: str | None


class BirthCertificateData(Strict):
    series: Annotated[str, Field(pattern=r"^[IVXLCDM]+-[А-ЯЁ]{2}$")]
    number: Annotated[str, Field(pattern=r"^\d{6}$")]
    issued_on: PartialDateText | None


class PassportData(Strict):
    series: Annotated[str, Field(pattern=r"^\d{4}$")]
    number: Annotated[str, Field(pattern=r"^\d{6}$")]
    issued_on: PartialDateText | None
    issuer: str | None


class ActRecordData(Strict):
    number: str
    date: PartialDateText | None
    office: str | None


class GuardianData(Strict):
    relation: RelationText
    person: PersonData


class DifferenceData(Strict):
    field: str
    registry: Any
    agency: Any


class BirthVerified(Strict):
    """ZAGS holds the birth record the registry has."""

    request_id: str
    student_id: str
    child: PersonData
    act_record: ActRecordData
    birth_certificate: BirthCertificateData
    parents: list[GuardianData]


class BirthMismatch(Strict):
    """ZAGS's birth record differs from the registry's in the fields listed."""

    request_id: str
    student_id: str
    differences: Annotated[list[DifferenceData], Field(min_length=1)]
    act_record: ActRecordData | None
    birth_certificate: BirthCertificateData | None


class BirthNotFound(Strict):
    """ZAGS has no birth record for the child."""

    request_id: str
    student_id: str
    reason: str


class SnilsVerified(Strict):
    """PFR confirms the person's SNILS."""

    request_id: str
    person_id: str
    role: Role
    snils: SnilsText


class SnilsMismatch(Strict):
    """PFR's answer differs from what the registry holds."""

    request_id: str
    person_id: str
    role: Role
    registry_snils: SnilsText | None
    agency_snils: SnilsText | None
    differences: Annotated[list[DifferenceData], Field(min_length=1)]


class SnilsNotFound(Strict):
    """PFR found no SNILS for the person."""

    request_id: str
    person_id: str
    role: Role
    reason: str


class NameChanged(Strict):
    """ZAGS registered a change of name."""

    record_id: str
    act_record: ActRecordData
    person: PersonData
    old_name: Name
    new_name: Name


class DeathRegistered(Strict):
    """ZAGS registered a death."""

    record_id: str
    act_record: ActRecordData
    person: PersonData
    death_date: PartialDateText


class PaternityEstablished(Strict):
    """ZAGS registered paternity: a father linked to the child."""

    record_id: str
    act_record: ActRecordData
    child: PersonData
    father: PersonData


class ApplicantData(Strict):
    person: PersonData
    relation: RelationText
    passport: PassportData | None
    phone: str | None
    email: str | None


class School(Strict):
    code: str
    name: str | None


class ApplicationReceived(Strict):
    """A school-enrollment application arrived from Gosuslugi."""

    order_number: str
    submitted_at: str
    child: PersonData
    child_birth_certificate: BirthCertificateData
    applicant: ApplicantData
    other_guardians: list[GuardianData]
    school: School
    grade: Annotated[int, Field(ge=1, le=11)]
    requested_date: PartialDateText
    benefits: list[str]
    consents: dict[str, bool]


class ApplicationCancelled(Strict):
    """The applicant withdrew the application."""

    order_number: str
    reason: str


class RequestRejected(Strict):
    """An agency (or SMEV) refused the hub's request."""

    request_id: str
    agency: str
    kind: str
    code: Literal["ACCESS_DENIED", "NO_DATA", "UNKNOWN_REQUEST_DESCRIPTION", "FAILURE"]
    reason: str


class StatusDelivered(Strict):
    """Gosuslugi took the application's new status."""

    request_id: str
    order_number: str
    status_code: int
    status: str


EVENT_DATA: dict[str, type[Strict]] = {
    "student.birth.verified": BirthVerified,
    "student.birth.mismatch": BirthMismatch,
    "student.birth.not_found": BirthNotFound,
    "person.snils.verified": SnilsVerified,
    "person.snils.mismatch": SnilsMismatch,
    "person.snils.not_found": SnilsNotFound,
    "person.name.changed": NameChanged,
    "person.death.registered": DeathRegistered,
    "person.paternity.established": PaternityEstablished,
    "enrollment.application.received": ApplicationReceived,
    "enrollment.application.cancelled": ApplicationCancelled,
    "agency.request.rejected": RequestRejected,
    "enrollment.status.delivered": StatusDelivered,
}
SUBJECT_PATTERNS = {
    "student": r"^student:.+$",
    "person": r"^person:.+$",
    "enrollment": r"^application:.+$",
    "agency": r"^request:.+$",
}
