"""Every canonical event validates against its published schema; the schema files are up to
date; the fields the registry relies on stay required."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.canonical import events as ev
from hub.canonical.drafts import EventDraft
from hub.canonical.events import RecordVersion, standing_first
from hub.canonical.ids import event_id_for
from hub.canonical.jsonschemas import (
    EVENT_TYPES,
    EventSchemaError,
    event_schema,
    schema_files,
    validate_event,
)
from hub.canonical.values import (
    ActRecord,
    BirthCertificate,
    FullName,
    Guardian,
    PartialDate,
    PassportRF,
    Person,
    Relation,
    Sex,
    Snils,
)
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "canonical"
CHILD = Person(
    FullName("Семёнова", "Алёна", None),
    PartialDate(2015, 4, 12),
    Sex.FEMALE,
    Snils("11223344595"),
    "Казань",
)
MOTHER = Person(FullName("Семёнова", "Анна", "Петровна"), PartialDate(1988))
ACT = ActRecord("120159160001500012001", PartialDate(2015, 4, 20), "Отдел ЗАГС Казани")
CERT = BirthCertificate.parse("ІV-ан", "123456", "2015-04-20")
DIFF = ev.Difference("birth_certificate.number", "123456", "123457")
V1 = ev.RecordVersion("1", "2015-04-20", "0101")
V2 = ev.RecordVersion("2", "2019-06-03", "0102")
NOTICED = ev.NoticedRecord("z-1", ACT, V2)
APPLICATION = ev.EnrollmentApplication(
    order_number="1234567890",
    submitted_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC),
    child=CHILD,
    child_birth_certificate=CERT,
    applicant=ev.Applicant(
        MOTHER,
        Relation.MOTHER,
        PassportRF.parse("9204", "123456"),
        "+79001234567",
        "anna@example.ru",
    ),
    school_code="1650001234",
    grade=1,
    requested_date=PartialDate(2026, 9, 1),
    school_name="МБОУ СОШ № 1",
    other_guardians=[Guardian(Relation.FATHER, MOTHER)],
    benefits=["large_family"],
    consents={"personal_data": True},
)
SNILS = Snils("11223344595")
DRAFTS: dict[str, EventDraft] = {
    d.type: d
    for d in (
        ev.birth_verified("r-1", "s-1", CHILD, ACT, V2, CERT, [Guardian(Relation.MOTHER, MOTHER)]),
        ev.birth_mismatch("r-1", "s-1", [DIFF], ev.ComparedRecord(ACT, V2, V1), CERT),
        ev.birth_not_found("r-1", "s-1", "no record"),
        ev.snils_verified("r-2", "p-1", "student", SNILS),
        ev.snils_mismatch("r-2", "p-1", "guardian", None, SNILS, [DIFF]),
        ev.snils_not_found("r-2", "p-1", "student", "none"),
        ev.name_changed(NOTICED, MOTHER, MOTHER.name, FullName("Иванова", "Анна", "Петровна")),
        ev.death_registered(NOTICED, MOTHER, PartialDate(2026, 1)),
        ev.paternity_established(NOTICED, CHILD, MOTHER),
        ev.application_received(APPLICATION),
        ev.application_cancelled("1234567890", "передумали"),
        ev.request_rejected("r-3", "pfr", "snils-by-additional-data", "NO_DATA", "нет данных"),
        ev.status_delivered("r-4", "1234567890", 3),
    )
}


def envelope(draft: EventDraft) -> dict[str, Any]:
    record = InboxRecord(
        "6f1d2c7e-0000-5000-8000-000000000001",
        "smev",
        "m-1",
        b"",
        "zags",
        None,
        None,
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )
    return cloud_event(event_id_for(record.inbox_id, 0), record, draft, datetime.now(UTC))


def test_every_event_type_has_a_builder_and_a_schema() -> None:
    assert set(DRAFTS) == set(EVENT_TYPES) == set(ev.EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_built_event_validates(event_type: str) -> None:
    validate_event(envelope(DRAFTS[event_type]))


@pytest.mark.parametrize(
    ("event_type", "breakage", "path"),
    [
        ("person.snils.verified", lambda d: d.pop("snils"), "data"),
        ("person.snils.verified", lambda d: d.update(snils="11223344595"), "data/snils"),
        ("student.birth.verified", lambda d: d.update(studentId=d.pop("student_id")), "data"),
        ("student.birth.mismatch", lambda d: d.update(differences=[]), "data/differences"),
        ("enrollment.application.received", lambda d: d.update(grade="1"), "data/grade"),
        ("agency.request.rejected", lambda d: d.update(code="OOPS"), "data/code"),
    ],
)
def test_a_broken_event_fails_with_its_path(event_type: str, breakage: Any, path: str) -> None:
    event = envelope(DRAFTS[event_type])
    breakage(event["data"])
    with pytest.raises(EventSchemaError, match=event_type) as caught:
        validate_event(event)
    assert caught.value.details["path"] == path


def test_the_published_schema_files_are_up_to_date() -> None:
    for path, text in schema_files(SCHEMAS).items():
        assert path.is_file(), f"{path.name} missing: run hub schemas export"
        assert path.read_text("utf-8") == text, f"{path.name} is stale: run hub schemas export"


# The registry's consumer-driven contract: the fields it reads, per event type. Renaming or
# dropping one (in the models, hence the schemas) fails here.
RELIED_ON = {
    "student.birth.verified": [
        "request_id",
        "student_id",
        "child.name.last",
        "child.birth_date",
        "birth_certificate.series",
        "birth_certificate.number",
        "act_record.number",
        "act_record.date",
        "parents",
    ],
    "student.birth.mismatch": ["request_id", "student_id", "differences"],
    "student.birth.not_found": ["request_id", "student_id", "reason"],
    "person.snils.verified": ["request_id", "person_id", "role", "snils"],
    "person.snils.mismatch": ["request_id", "person_id", "agency_snils", "differences"],
    "person.snils.not_found": ["request_id", "person_id"],
    "person.name.changed": ["record_id", "old_name.last", "new_name.last", "person.birth_date"],
    "person.death.registered": ["record_id", "person.name.last", "death_date"],
    "person.paternity.established": ["record_id", "child.name.last", "father.name.last"],
    "enrollment.application.received": [
        "order_number",
        "child.name.last",
        "child.snils",
        "child_birth_certificate.number",
        "school.code",
        "grade",
        "requested_date",
        "applicant.relation",
    ],
    "enrollment.application.cancelled": ["order_number"],
    "agency.request.rejected": ["request_id", "agency", "code", "reason"],
    "enrollment.status.delivered": ["request_id", "order_number", "status_code"],
}


def _required(schema: dict[str, Any], node: dict[str, Any], dotted: str) -> bool:
    head, _, rest = dotted.partition(".")
    node = _resolve(schema, node)
    if head not in node.get("required", []):
        return False
    return not rest or _required(schema, node["properties"][head], rest)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    return _resolve(schema, options[0]) if options else node


@pytest.mark.parametrize("event_type", list(RELIED_ON))
def test_the_fields_the_registry_relies_on_stay_required(event_type: str) -> None:
    schema = event_schema(event_type)
    data = schema["properties"]["data"]
    for field in RELIED_ON[event_type]:
        assert _required(schema, data, field), f"{event_type}: data.{field} is not required"


@pytest.mark.parametrize(
    ("versions", "order"),
    [
        ([("9", "2020-01-01"), ("10", "2019-01-01")], [1, 0]),  # numbers, not text
        ([("2", "2020-01-01"), ("2", "2021-01-01")], [1, 0]),  # a tie goes by date
        ([("a", "2021-01-01"), ("3", "2020-01-01")], [0, 1]),  # not all numbers: dates
        ([(None, "2020-01-01"), ("3", "2020-01-01")], [1, 0]),  # a full tie: the later
    ],
)
def test_the_version_that_stands_comes_first(
    versions: list[tuple[str | None, str]], order: list[int]
) -> None:
    read = [RecordVersion(number, date, "0101") for number, date in versions]
    assert standing_first(read) == order


def test_a_refusal_naming_a_fault_is_a_failure_with_the_fault_in_its_reason() -> None:
    draft = ev.request_rejected("r-1", "zags", "rogdinf", "XML_MALFORMED", "malformed XML")
    assert (draft.data["code"], draft.data["reason"]) == ("FAILURE", "XML_MALFORMED: malformed XML")
    validate_event(envelope(draft))
