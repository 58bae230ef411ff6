"""Registry commands: parsing all three types, and a precise field path for each bad input."""

from __future__ import annotations

from typing import Any

import pytest

from hub.canonical.commands import (
    COMMAND_TYPES,
    InvalidCommandError,
    ReportEnrollmentStatus,
    VerifyBirthRecord,
    VerifySnils,
    parse_command,
)
from hub.canonical.values import (
    ActRecord,
    BirthCertificate,
    FullName,
    InvalidValueError,
    PartialDate,
    PassportRF,
    Person,
    Sex,
    Snils,
)
from hub.errors import PermanentError

pytestmark = pytest.mark.unit

CHILD: dict[str, Any] = {
    "name": {"last": "Ли", "first": "Ян", "middle": None},
    "birth_date": "2015-03",
    "sex": "male",
    "snils": None,
    "birth_place": None,
}
BIRTH: dict[str, Any] = {
    "type": "verify_birth_record",
    "request_id": "req-1",
    "student_id": "stu-1",
    "child": CHILD,
    "birth_certificate": {"series": "I-АН", "number": "123456", "issued_on": None},
}
SNILS: dict[str, Any] = {
    "type": "verify_snils",
    "request_id": "req-2",
    "person_id": "per-1",
    "role": "guardian",
    "person": {**CHILD, "snils": "112-233-445 95"},
    "document": {"kind": "passport", "series": "4510", "number": "654321"},
}
STATUS: dict[str, Any] = {
    "type": "report_enrollment_status",
    "request_id": "req-3",
    "order_number": "1234567890",
    "status_code": 3,
    "comment": "Зачислен",
}
CHILD_PERSON = Person(FullName("Ли", "Ян"), PartialDate(2015, 3), Sex.MALE)


def test_command_types() -> None:
    assert COMMAND_TYPES == ("verify_birth_record", "verify_snils", "report_enrollment_status")


def test_verify_birth_record_parses() -> None:
    assert parse_command(BIRTH) == VerifyBirthRecord(
        "req-1", "stu-1", CHILD_PERSON, BirthCertificate("I-АН", "123456"), None, None
    )


def test_verify_birth_record_with_act_record_and_identity_document() -> None:
    command = parse_command(
        {
            **BIRTH,
            "birth_certificate": {"series": "ІV–ан", "number": "123456", "issued_on": "2015-03"},
            "act_record": {"number": "120150001", "date": "2015-03-05", "office": "ЗАГС №1"},
            "identity_document": {"series": "4510", "number": "654321"},
        }
    )
    assert isinstance(command, VerifyBirthRecord)
    assert command.birth_certificate == BirthCertificate("IV-АН", "123456", PartialDate(2015, 3))
    assert command.act_record == ActRecord("120150001", PartialDate(2015, 3, 5), "ЗАГС №1")
    assert command.identity_document == PassportRF("4510", "654321")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"kind": "passport", "series": "45 10", "number": "654321", "issuer": "ОВД"},
            PassportRF("4510", "654321", None, "ОВД"),
        ),
        (
            {"kind": "birth_certificate", "series": "IV-AH", "number": "123456"},
            BirthCertificate("IV-АН", "123456"),
        ),
    ],
)
def test_verify_snils_parses(document: dict[str, Any], expected: object) -> None:
    command = parse_command({**SNILS, "document": document})
    assert command == VerifySnils(
        "req-2",
        "per-1",
        "guardian",
        Person(FullName("Ли", "Ян"), PartialDate(2015, 3), Sex.MALE, Snils("11223344595")),
        expected,  # type: ignore[arg-type]
    )


def test_verify_snils_without_a_registry_snils() -> None:
    command = parse_command({**SNILS, "role": "student", "person": CHILD})
    assert isinstance(command, VerifySnils)
    assert command.role == "student" and command.person.snils is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ReportEnrollmentStatus("req-3", "1234567890", 3, "Зачислен")),
        ({"comment": None}, ReportEnrollmentStatus("req-3", "1234567890", 3, None)),
        ({"comment": ""}, ReportEnrollmentStatus("req-3", "1234567890", 3, None)),
        ({"status_code": 15}, ReportEnrollmentStatus("req-3", "1234567890", 15, "Зачислен")),
    ],
)
def test_report_enrollment_status_parses(
    changes: dict[str, Any], expected: ReportEnrollmentStatus
) -> None:
    assert parse_command({**STATUS, **changes}) == expected


def test_report_enrollment_status_without_comment() -> None:
    data = {key: value for key, value in STATUS.items() if key != "comment"}
    assert parse_command(data) == ReportEnrollmentStatus("req-3", "1234567890", 3, None)


@pytest.mark.parametrize("code", [1, 2, 3, 4, 6, 7, 9, 10, 11, 12, 14, 15])
def test_every_epgu_status_code_is_accepted(code: int) -> None:
    command = parse_command({**STATUS, "status_code": code})
    assert isinstance(command, ReportEnrollmentStatus) and command.status_code == code


def without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


CMD, VAL = InvalidCommandError, InvalidValueError


@pytest.mark.parametrize(
    ("data", "error", "field"),
    [
        # the envelope
        ({**BIRTH, "type": "teleport"}, CMD, "type"),
        ({**BIRTH, "type": 1}, CMD, "type"),
        (without(BIRTH, "type"), CMD, "type"),
        # verify_birth_record
        (without(BIRTH, "request_id"), CMD, "request_id"),
        ({**BIRTH, "request_id": ""}, CMD, "request_id"),
        ({**BIRTH, "request_id": 17}, CMD, "request_id"),
        (without(BIRTH, "student_id"), CMD, "student_id"),
        ({**BIRTH, "student_id": ["s"]}, CMD, "student_id"),
        (without(BIRTH, "child"), VAL, "child"),
        ({**BIRTH, "child": "Ли Ян"}, VAL, "child"),
        ({**BIRTH, "child": {**CHILD, "name": {"first": "Ян"}}}, VAL, "child.name.last"),
        ({**BIRTH, "child": {**CHILD, "birth_date": "2015-13"}}, VAL, "child.birth_date"),
        ({**BIRTH, "child": {**CHILD, "sex": "?"}}, VAL, "child.sex"),
        ({**BIRTH, "child": {**CHILD, "snils": "112-233-445 96"}}, VAL, "child.snils"),
        (without(BIRTH, "birth_certificate"), VAL, "birth_certificate"),
        ({**BIRTH, "birth_certificate": {"series": "I-АН"}}, VAL, "birth_certificate.number"),
        (
            {**BIRTH, "birth_certificate": {"series": "I-АН", "number": 123456}},
            VAL,
            "birth_certificate.number",
        ),
        (
            {**BIRTH, "birth_certificate": {"series": "1-АН", "number": "123456"}},
            VAL,
            "birth_certificate.series",
        ),
        ({**BIRTH, "act_record": "120150001"}, VAL, "act_record"),
        ({**BIRTH, "act_record": {"date": "2015"}}, VAL, "act_record.number"),
        ({**BIRTH, "act_record": {"number": "1", "date": "2015-1"}}, VAL, "act_record.date"),
        ({**BIRTH, "identity_document": {"series": "45"}}, VAL, "identity_document.number"),
        # verify_snils
        (without(SNILS, "person_id"), CMD, "person_id"),
        ({**SNILS, "person_id": 5}, CMD, "person_id"),
        (without(SNILS, "role"), CMD, "role"),
        ({**SNILS, "role": "teacher"}, CMD, "role"),
        ({**SNILS, "role": ["student"]}, CMD, "role"),
        (without(SNILS, "person"), VAL, "person"),
        ({**SNILS, "person": {**CHILD, "snils": "112-233-445 96"}}, VAL, "person.snils"),
        ({**SNILS, "person": {**CHILD, "snils": "11223344595000"}}, VAL, "person.snils"),
        ({**SNILS, "person": {**CHILD, "snils": 11223344595}}, VAL, "person.snils"),
        (without(SNILS, "document"), CMD, "document.kind"),
        ({**SNILS, "document": "4510 654321"}, CMD, "document.kind"),
        ({**SNILS, "document": {"kind": "visa"}}, CMD, "document.kind"),
        ({**SNILS, "document": {"series": "4510", "number": "654321"}}, CMD, "document.kind"),
        (
            {**SNILS, "document": {"kind": "passport", "series": "4510", "number": "65432"}},
            VAL,
            "document.number",
        ),
        (
            {**SNILS, "document": {"kind": "passport", "number": "654321"}},
            VAL,
            "document.series",
        ),
        (
            {**SNILS, "document": {"kind": "birth_certificate", "series": "IV", "number": "1"}},
            VAL,
            "document.series",
        ),
        # report_enrollment_status
        (without(STATUS, "request_id"), CMD, "request_id"),
        (without(STATUS, "order_number"), CMD, "order_number"),
        ({**STATUS, "order_number": 1234567890}, CMD, "order_number"),
        (without(STATUS, "status_code"), CMD, "status_code"),
        ({**STATUS, "status_code": "3"}, CMD, "status_code"),
        ({**STATUS, "status_code": 3.0}, CMD, "status_code"),
        ({**STATUS, "status_code": True}, CMD, "status_code"),
        ({**STATUS, "status_code": 5}, CMD, "status_code"),
        ({**STATUS, "status_code": 8}, CMD, "status_code"),
        ({**STATUS, "status_code": 13}, CMD, "status_code"),
        ({**STATUS, "status_code": 0}, CMD, "status_code"),
        ({**STATUS, "status_code": -1}, CMD, "status_code"),
        ({**STATUS, "comment": 42}, CMD, "comment"),
    ],
)
def test_bad_commands_name_the_field(
    data: dict[str, Any], error: type[PermanentError], field: str
) -> None:
    with pytest.raises(error) as caught:
        parse_command(data)
    assert type(caught.value) is error
    assert caught.value.details["field"] == field
    assert caught.value.message.startswith(field)
    assert not caught.value.retryable


def test_command_errors_have_their_codes() -> None:
    with pytest.raises(InvalidCommandError) as command:
        parse_command({**STATUS, "status_code": 5})
    with pytest.raises(InvalidValueError) as value:
        parse_command({**SNILS, "person": {**CHILD, "snils": "112-233-445 96"}})
    assert (command.value.code, value.value.code) == ("INVALID_COMMAND", "INVALID_VALUE")
    assert command.value.as_dict()["details"] == {"field": "status_code"}


@pytest.mark.parametrize("data", [None, [], "verify_snils", 3])
def test_a_command_is_an_object(data: Any) -> None:
    with pytest.raises(InvalidCommandError) as caught:
        parse_command(data)
    assert caught.value.details["field"] == "$"


SECRETS = ("11223344596", "654329", "123457")


@pytest.mark.parametrize(
    "data",
    [
        {**SNILS, "person": {**CHILD, "snils": "112-233-445 96"}},
        {**SNILS, "person": {**CHILD, "snils": "1122334459"}},
        {**SNILS, "document": {"kind": "passport", "series": "4510", "number": "6543290"}},
        {**SNILS, "document": {"kind": "birth_certificate", "series": "I", "number": "123457"}},
        {**BIRTH, "birth_certificate": {"series": "I-АН", "number": "1234570"}},
        {**BIRTH, "type": "11223344596"},
    ],
)
def test_errors_never_show_a_full_number(data: dict[str, Any]) -> None:
    with pytest.raises(PermanentError) as caught:
        parse_command(data)
    shown = f"{caught.value} {caught.value.as_dict()}"
    for secret in SECRETS:
        for start in range(len(secret) - 2):
            assert secret[start : start + 3] not in shown, shown
