"""The shapes of the canonical events' ``data`` and of the registry commands, from which
``schemas/canonical/`` is made.

These models are the single source of the published JSON Schemas (``hub schemas export``
writes them; a test fails when a file is out of date). The builders in ``events`` make the
data; the tests validate every event they make against these schemas, and hold the command
schemas to what ``commands.parse_command`` accepts.

Every string and list of an event is bounded (``maxLength`` and ``pattern``, ``maxItems``),
with the canonical bounds the values hold (``hub.canonical.bounds``): the registry reads in
the published schemas the same bounds the hub enforces (a contract test walks them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from hub.canonical import bounds
from hub.canonical.commands import (
    EPGU_STATUS_CODES,
    REPORT_ENROLLMENT_STATUS,
    VERIFY_BIRTH_RECORD,
    VERIFY_SNILS,
)
from hub.canonical.personal import PERSONAL_KEY, Personal


def _personal(kind: Personal) -> Any:
    # The one mark of a personal field: masking reads it from the published JSON Schema.
    return Field(json_schema_extra={PERSONAL_KEY: kind.value})


def _bounded(bound: bounds.TextBound, shortest: int = 0) -> Any:
    # One canonical bound, as JSON Schema states it (its source: hub.canonical.bounds).
    return Field(min_length=shortest or None, max_length=bound.longest, pattern=bound.pattern)


def _fixed(pattern: str, longest: int) -> Any:
    return Field(max_length=longest, pattern=pattern)


PartialDateText = Annotated[str, _fixed(r"^\d{4}(-\d{2}(-\d{2})?)?$", 10)]
SnilsText = Annotated[str, _fixed(r"^\d{3}-\d{3}-\d{3} \d{2}$", 14)]
NamePart = Annotated[str, _bounded(bounds.NAME_PART), _personal(Personal.NAME)]
PersonalDate = Annotated[PartialDateText, _personal(Personal.DATE)]
OptionalPersonalDate = Annotated[PartialDateText | None, _personal(Personal.DATE)]
PersonalSnils = Annotated[SnilsText, _personal(Personal.SNILS)]
OptionalPersonalSnils = Annotated[SnilsText | None, _personal(Personal.SNILS)]
PersonalText = Annotated[str, _personal(Personal.OTHER)]
OptionalPersonalText = Annotated[str | None, _personal(Personal.OTHER)]
Role = Literal["student", "guardian"]
RelationText = Literal["mother", "father", "legal_representative"]
RegistryId = Annotated[str, _bounded(bounds.REGISTRY_ID, 1)]  # the registry's, from its command
HubName = Annotated[str, _fixed(r"^[0-9A-Za-z_.:-]{1,64}$", 64)]  # an agency, a request kind
# The fields a difference may name: what the adapters compare.
DifferenceField = Literal[
    "birth_certificate.series",
    "birth_certificate.number",
    "name.last",
    "name.first",
    "name.middle",
    "birth_date",
    "snils",
    "sex",
]
DIFFERENCE_FIELDS: tuple[str, ...] = get_args(DifferenceField)
ConsentKey = Literal["personal_data", "data_accuracy", "charter_acknowledged", "adapted_program"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Name(Strict):
    last: NamePart
    first: NamePart
    middle: Annotated[Annotated[str, _bounded(bounds.NAME_PART)] | None, _personal(Personal.NAME)]


class PersonData(Strict):
    name: Name
    birth_date: OptionalPersonalDate
    sex: Literal["male", "female"] | None
    snils: OptionalPersonalSnils
    birth_place: Annotated[Annotated[str, _bounded(bounds.PLACE)] | None, _personal(Personal.OTHER)]


_SERIES_NUMERALS = bounds.SERIES_NUMERALS


class BirthCertificateData(Strict):
    series: Annotated[
        str,
        _fixed(rf"^[IVXLCDM]{{1,{_SERIES_NUMERALS}}}-[А-ЯЁ]{{2}}$", _SERIES_NUMERALS + 3),
        _personal(Personal.OTHER),
    ]
    number: Annotated[str, _fixed(r"^\d{6}$", 6), _personal(Personal.OTHER)]
    issued_on: OptionalPersonalDate


class PassportData(Strict):
    series: Annotated[str, _fixed(r"^\d{4}$", 4), _personal(Personal.OTHER)]
    number: Annotated[str, _fixed(r"^\d{6}$", 6), _personal(Personal.OTHER)]
    issued_on: OptionalPersonalDate
    issuer: Annotated[Annotated[str, _bounded(bounds.ISSUER)] | None, _personal(Personal.OTHER)]


class ActRecordData(Strict):
    # with the office, the number finds the person's civil record
    number: Annotated[str, _bounded(bounds.ACT_NUMBER), _personal(Personal.OTHER)]
    date: OptionalPersonalDate
    office: Annotated[str, _bounded(bounds.OFFICE)] | None


StateCode = Annotated[
    str,
    _bounded(bounds.STATE_CODE, 1),
    Field(
        description="КодСостСтат: the record's state and status, a code of ZAGS's СОСТАГС "
        "list (not published): passed on as ZAGS gives it, never interpreted.",
    ),
]


class RecordVersionData(Strict):
    """Which version of a ZAGS act record an event comes from: each correction makes a new
    version, and the highest number (on a tie, the latest date) is the record as it stands.
    Consumers order facts about one act record (``act_record.number``) by it."""

    # not "number"/"date": those keys are personal wherever else they stand (act records,
    # documents), and the masking's free-text net relies on that
    version_number: Annotated[str, _bounded(bounds.VERSION_NUMBER, 1)] | None  # НомерВерс
    version_date: Annotated[str, _fixed(r"^\d{4}-\d{2}-\d{2}$", 10)] | None  # ДатаВерс
    state_code: StateCode | None


class GuardianData(Strict):
    relation: RelationText
    person: PersonData


class DifferenceData(Strict):
    field: DifferenceField  # what differs, never a value
    registry: Annotated[Annotated[str, _bounded(bounds.COMPARED)] | None, _personal(Personal.OTHER)]
    agency: Annotated[Annotated[str, _bounded(bounds.COMPARED)] | None, _personal(Personal.OTHER)]


Differences = Annotated[
    list[DifferenceData], Field(min_length=1, max_length=len(DIFFERENCE_FIELDS))
]
Reason = Annotated[str, _bounded(bounds.REASON)]


class BirthVerified(Strict):
    """ZAGS holds the birth record the registry has."""

    request_id: RegistryId
    student_id: RegistryId
    child: PersonData
    act_record: ActRecordData
    record_version: RecordVersionData  # the current version, the one compared
    birth_certificate: BirthCertificateData
    parents: Annotated[list[GuardianData], Field(max_length=bounds.PARENTS.most)]


class BirthMismatch(Strict):
    """ZAGS's birth record differs from the registry's in the fields listed."""

    request_id: RegistryId
    student_id: RegistryId
    differences: Differences
    act_record: ActRecordData | None
    record_version: RecordVersionData | None  # the current version, the one compared
    matched_superseded_version: Annotated[
        RecordVersionData | None,
        Field(
            description="A version a correction superseded that the registry's data does "
            "match: the registry holds the record as it was before that correction."
        ),
    ]
    birth_certificate: BirthCertificateData | None


class BirthNotFound(Strict):
    """ZAGS has no birth record for the child."""

    request_id: RegistryId
    student_id: RegistryId
    reason: Reason


class SnilsVerified(Strict):
    """PFR confirms the person's SNILS."""

    request_id: RegistryId
    person_id: RegistryId
    role: Role
    snils: PersonalSnils


class SnilsMismatch(Strict):
    """PFR's answer differs from what the registry holds."""

    request_id: RegistryId
    person_id: RegistryId
    role: Role
    registry_snils: OptionalPersonalSnils
    agency_snils: OptionalPersonalSnils
    differences: Differences


class SnilsNotFound(Strict):
    """PFR found no SNILS for the person."""

    request_id: RegistryId
    person_id: RegistryId
    role: Role
    reason: Reason


class NameChanged(Strict):
    """ZAGS registered a change of name."""

    record_id: Annotated[str, _bounded(bounds.RECORD_ID, 1)]
    act_record: ActRecordData
    record_version: RecordVersionData  # order notices about one act record by it
    person: PersonData
    old_name: Name
    new_name: Name


class DeathRegistered(Strict):
    """ZAGS registered a death."""

    record_id: Annotated[str, _bounded(bounds.RECORD_ID, 1)]
    act_record: ActRecordData
    record_version: RecordVersionData  # order notices about one act record by it
    person: PersonData
    death_date: PersonalDate


class PaternityEstablished(Strict):
    """ZAGS registered paternity: a father linked to the child."""

    record_id: Annotated[str, _bounded(bounds.RECORD_ID, 1)]
    act_record: ActRecordData
    record_version: RecordVersionData  # order notices about one act record by it
    child: PersonData
    father: PersonData


class ApplicantData(Strict):
    person: PersonData
    relation: RelationText
    passport: PassportData | None
    phone: Annotated[Annotated[str, _bounded(bounds.PHONE)] | None, _personal(Personal.OTHER)]
    email: Annotated[Annotated[str, _bounded(bounds.EMAIL)] | None, _personal(Personal.OTHER)]


class School(Strict):
    code: Annotated[str, _bounded(bounds.SCHOOL_CODE, 1)]
    name: Annotated[str, _bounded(bounds.SCHOOL_NAME)] | None


OrderNumber = Annotated[str, _bounded(bounds.ORDER_NUMBER, 1)]


MAX_ATTACHMENTS = 100  # documents one application may carry; more is refused whole


class AttachmentData(Strict):
    """A document attached to the message in SMEV's file store (its RefAttachmentHeader):
    the reference only. The file is fetched on demand (``hub attachments fetch``) with the
    credentials SMEV gave, which never leave the stored message. The hash, as the sender
    declared it: base64 of the file's GOST R 34.11-2012 (Streebog-256) digest; none when SMEV
    gave no header."""

    uuid: Annotated[str, _bounded(bounds.ATTACHMENT_ID, 1)]
    file_name: Annotated[str | None, _bounded(bounds.FILE_NAME), _personal(Personal.OTHER)]
    hash: Annotated[str | None, _bounded(bounds.ATTACHMENT_HASH)]
    mime_type: Annotated[str | None, _bounded(bounds.MIME_TYPE)]


class ApplicationReceived(Strict):
    """A school-enrollment application arrived from Gosuslugi."""

    order_number: OrderNumber
    submitted_at: Annotated[str, _fixed(r"^\d{4}-\d{2}-\d{2}T[0-9:.+Z-]+$", 40)]
    child: PersonData
    child_birth_certificate: BirthCertificateData
    applicant: ApplicantData
    other_guardians: Annotated[list[GuardianData], Field(max_length=bounds.OTHER_GUARDIANS.most)]
    school: School
    grade: Annotated[int, Field(ge=1, le=11)]
    requested_date: PartialDateText
    # a benefit's category may tell of health or family
    benefits: Annotated[
        list[Annotated[str, _bounded(bounds.BENEFIT), _personal(Personal.OTHER)]],
        Field(max_length=bounds.BENEFITS.most),
    ]
    consents: dict[ConsentKey, bool]
    attachments: Annotated[list[AttachmentData], Field(max_length=MAX_ATTACHMENTS)] = []


class ApplicationCancelled(Strict):
    """The applicant withdrew the application."""

    order_number: OrderNumber
    reason: Annotated[
        str, _bounded(bounds.CANCEL_REASON), _personal(Personal.OTHER)
    ]  # the applicant's own words


class RequestRejected(Strict):
    """An agency (or SMEV) refused the hub's request."""

    request_id: RegistryId
    agency: HubName
    kind: HubName
    code: Literal["ACCESS_DENIED", "NO_DATA", "UNKNOWN_REQUEST_DESCRIPTION", "FAILURE"]
    reason: Reason


class StatusDelivered(Strict):
    """Gosuslugi took the application's new status."""

    request_id: RegistryId
    order_number: RegistryId  # as the registry's command gave it
    status_code: int
    status: Annotated[str, _fixed(r"^[a-z_]{1,40}$", 40)]  # events.EPGU_STATUSES, or unknown


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
# An event type whose data changes shape gets the next schema version: the envelope's
# ``schemaversion`` and the schema's ``$id`` carry it, so a consumer tells the shapes apart
# (the data are Strict: a member the consumer's schema lacks is refused, so even an added
# member is a new version). Types not listed are at version 1.
SCHEMA_VERSIONS: dict[str, str] = {
    "student.birth.verified": "2",  # 2: + record_version
    "student.birth.mismatch": "2",  # 2: + record_version, matched_superseded_version
    "person.name.changed": "2",  # 2: + record_version
    "person.death.registered": "2",  # 2: + record_version
    "person.paternity.established": "2",  # 2: + record_version
    "enrollment.application.received": "2",  # 2: + attachments (file-store references)
}


def schema_version(event_type: str) -> str:
    """The current schema version of an event type."""
    return SCHEMA_VERSIONS.get(event_type, "1")


SUBJECT_PATTERNS = {
    "student": r"^student:.+$",
    "person": r"^person:.+$",
    "enrollment": r"^application:.+$",
    "agency": r"^request:.+$",
}


# --- registry commands ------------------------------------------------------------------
# These describe what ``parse_command`` accepts, before it normalises: the spellings it
# reads (certificate series with look-alike letters, SNILS with any separators, "м" for
# male, an empty string for "none"), so a command the hub takes always validates. Unknown
# members are ignored by the hub, so the schemas allow them. Checks beyond JSON Schema's
# reach (SNILS check number, 30 February) are the parser's alone.

_DASHES = r"\u2010-\u2015\u2212\-"  # every dash the value objects treat as a hyphen
_NUMERALS = "IVXLCDMivxlcdmІіХхСсМм"  # Roman numerals and their Cyrillic look-alikes
_LETTERS = "А-ЯЁа-яёABEKMHOPCTXYabekmhopctxy"  # Cyrillic and the Latin letters like them
_YEAR, _MONTH, _DAY = (
    r"(?:1[89][0-9]{2}|[2-9][0-9]{3})",
    r"(?:0[1-9]|1[0-2])",
    r"(?:0[1-9]|[12][0-9]|3[01])",
)
SEX_SPELLINGS = ("male", "m", "м", "муж", "мужской", "1", "female", "f", "ж", "жен", "женский", "2")


def _any_case(word: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c != c.upper() else c for c in word)


def _digits(count: int) -> str:
    return rf"^\s*(?:[0-9]\s*){{{count}}}$"


def _or_empty(pattern: str) -> str:
    return rf"^(?:\s*{pattern}\s*)?$"


Text = Annotated[str, Field(pattern=r"\S", description="text, not blank")]
OptionalText = str | None
DateInput = Annotated[str | None, Field(pattern=_or_empty(rf"{_YEAR}(?:-{_MONTH}(?:-{_DAY})?)?"))]
SexInput = Annotated[
    str | None,
    Field(pattern=_or_empty(f"(?:{'|'.join(_any_case(w) for w in SEX_SPELLINGS)})")),
]
SnilsInput = Annotated[
    str | None, Field(pattern=rf"^(?:[\s{_DASHES}]*(?:[0-9][\s{_DASHES}]*){{11}})?$")
]
SeriesInput = Annotated[
    str,
    Field(
        pattern=rf"^\s*(?:(?:[{_NUMERALS}]\s*)+[{_DASHES}]|[{_NUMERALS}]+\s)"
        rf"\s*[{_LETTERS}]\s*[{_LETTERS}]\s*$",
        description="Roman numeral (Latin or Cyrillic look-alikes), dash or space, 2 letters",
    ),
]


NameInputPart = Annotated[
    Text, Field(max_length=bounds.NAME_PART.longest), _personal(Personal.NAME)
]
IdInput = Annotated[Text, Field(max_length=bounds.REGISTRY_ID.longest)]
PersonalDateInput = Annotated[DateInput, _personal(Personal.DATE)]
PersonalNumber = Annotated[str, _personal(Personal.OTHER)]


class NameInput(BaseModel):
    last: NameInputPart
    first: NameInputPart
    middle: Annotated[
        Annotated[str, Field(max_length=bounds.NAME_PART.longest)] | None,
        _personal(Personal.NAME),
    ] = None


class PersonInput(BaseModel):
    name: NameInput
    birth_date: PersonalDateInput = None
    sex: SexInput = None
    snils: Annotated[SnilsInput, _personal(Personal.SNILS)] = None
    birth_place: OptionalPersonalText = None


class BirthCertificateInput(BaseModel):
    series: Annotated[SeriesInput, _personal(Personal.OTHER)]
    number: Annotated[PersonalNumber, Field(pattern=_digits(6))]
    issued_on: PersonalDateInput = None


class PassportInput(BaseModel):
    series: Annotated[PersonalNumber, Field(pattern=_digits(4))]
    number: Annotated[PersonalNumber, Field(pattern=_digits(6))]
    issued_on: PersonalDateInput = None
    issuer: OptionalPersonalText = None


class ActRecordInput(BaseModel):
    number: Annotated[Text, _personal(Personal.OTHER)]
    date: PersonalDateInput = None
    office: OptionalText = None


class BirthCertificateDocument(BirthCertificateInput):
    kind: Literal["birth_certificate"]


class PassportDocument(PassportInput):
    kind: Literal["passport"]


RequestId = Annotated[
    str,
    Field(
        pattern=r"\S",
        max_length=bounds.REGISTRY_ID.longest,
        description="The registry's id of this request: the idempotency key. A command sent "
        "again with the same request_id (also as the AMQP message_id) sends nothing new; the "
        "events that answer it carry it as data.request_id.",
    ),
]


ScopeInput = Annotated[
    str | None,
    Field(
        pattern=r"^\s*[0-9A-Za-z_-]{1,40}(?:/[0-9A-Za-z_-]{1,40})?\s*$",
        description="Where in the region the request belongs: a municipality (OKTMO) or "
        "'MUNICIPALITY/SCHOOL' (the school's organisation code). The hub's answer and any "
        "failure carry it, and only operators of that scope (or wider) see them; none: the "
        "region's operators alone.",
    ),
]


class VerifyBirthRecordCommand(BaseModel):
    """Ask ZAGS whether it holds the birth record the registry has for a student."""

    type: Literal["verify_birth_record"]
    request_id: RequestId
    student_id: IdInput
    child: PersonInput
    birth_certificate: BirthCertificateInput
    act_record: ActRecordInput | None = None
    identity_document: PassportInput | None = None
    scope: ScopeInput = None


class VerifySnilsCommand(BaseModel):
    """Ask PFR for (or to confirm) the SNILS of a student or a guardian."""

    type: Literal["verify_snils"]
    request_id: RequestId
    person_id: IdInput
    role: Role
    person: PersonInput
    document: BirthCertificateDocument | PassportDocument
    scope: ScopeInput = None


class ReportEnrollmentStatusCommand(BaseModel):
    """Send an enrollment application's new status back to Gosuslugi (EPGU status code)."""

    type: Literal["report_enrollment_status"]
    request_id: RequestId
    order_number: IdInput
    status_code: Annotated[
        int, WithJsonSchema({"type": "integer", "enum": sorted(EPGU_STATUS_CODES)})
    ]
    comment: OptionalPersonalText = None  # written to the parent: may name the child
    scope: ScopeInput = None


COMMAND_DATA: dict[str, type[BaseModel]] = {
    VERIFY_BIRTH_RECORD: VerifyBirthRecordCommand,
    VERIFY_SNILS: VerifySnilsCommand,
    REPORT_ENROLLMENT_STATUS: ReportEnrollmentStatusCommand,
}
