"""The registry commands' JSON Schemas agree with ``parse_command``: what it takes validates,
what it refuses the schemas refuse (where JSON Schema can say so), and both require the same
fields at every level."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from hub.canonical.commands import COMMAND_TYPES, EPGU_STATUS_CODES, parse_command
from hub.canonical.jsonschemas import command_schema, command_schema_path, schema_files
from hub.canonical.models import COMMAND_DATA, SEX_SPELLINGS
from hub.canonical.values import Sex
from hub.errors import PermanentError

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "canonical"
VALIDATORS = {t: Draft202012Validator(command_schema(t)) for t in COMMAND_TYPES}

CHILD: dict[str, Any] = {
    "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
    "birth_date": "2015-04-12",
    "sex": "female",
    "snils": "112-233-445 95",
    "birth_place": "Казань",
}
BIRTH: dict[str, Any] = {
    "type": "verify_birth_record",
    "request_id": "req-1",
    "student_id": "stu-1",
    "child": CHILD,
    "birth_certificate": {"series": "IV-АН", "number": "123456", "issued_on": "2015-04-20"},
    "act_record": {"number": "120159160001500012001", "date": "2015-04-20", "office": "ЗАГС"},
    "identity_document": {
        "series": "9204",
        "number": "123456",
        "issued_on": "2019-04-20",
        "issuer": "МВД",
    },
}
SNILS: dict[str, Any] = {
    "type": "verify_snils",
    "request_id": "req-2",
    "person_id": "per-1",
    "role": "guardian",
    "person": CHILD,
    "document": {
        "kind": "passport",
        "series": "9204",
        "number": "123456",
        "issued_on": "2020-02-03",
        "issuer": "МВД",
    },
}
STATUS: dict[str, Any] = {
    "type": "report_enrollment_status",
    "request_id": "req-3",
    "order_number": "1234567890",
    "status_code": 3,
    "comment": "Зачислен",
}
FULL = {"verify_birth_record": BIRTH, "verify_snils": SNILS, "report_enrollment_status": STATUS}


def parser_accepts(command: Any) -> bool:
    try:
        parse_command(command)
    except PermanentError:
        return False
    return True


def schema_accepts(command: Any) -> bool:
    return any(validator.is_valid(command) for validator in VALIDATORS.values())


def changed(command: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy with the member at dotted ``path`` set to ``value`` (``DROP``: removed)."""
    result = copy.deepcopy(command)
    *parents, last = path.split(".")
    target = result
    for key in parents:
        target = target[key]
    if value is DROP:
        del target[last]
    else:
        target[last] = value
    return result


DROP = object()


def child(**changes: Any) -> dict[str, Any]:
    return {**BIRTH, "child": {**CHILD, **changes}}


def certificate(**changes: Any) -> dict[str, Any]:
    return {**BIRTH, "birth_certificate": {**BIRTH["birth_certificate"], **changes}}


def document(**changes: Any) -> dict[str, Any]:
    return {**SNILS, "document": {**SNILS["document"], **changes}}


ACCEPTED = [
    pytest.param(BIRTH, id="birth, every member"),
    pytest.param(
        {k: BIRTH[k] for k in ("type", "request_id", "student_id", "child")}
        | {"birth_certificate": {"series": "I-АН", "number": "123456"}},
        id="birth, required members only",
    ),
    pytest.param({**BIRTH, "act_record": None, "identity_document": None}, id="birth, nulls"),
    pytest.param({**BIRTH, "registry_note": 1}, id="unknown members are ignored"),
    pytest.param(child(name={"last": " Ли ", "first": "Ян"}), id="no middle name"),
    pytest.param(child(name={"last": "Ли", "first": "Ян", "middle": "  "}), id="blank middle"),
    pytest.param(child(birth_date="2015"), id="year only"),
    pytest.param(child(birth_date=" 2015-03 "), id="year and month, spaces"),
    pytest.param(child(birth_date="", sex="", snils=""), id="empty means none"),
    pytest.param(child(birth_date=None, sex=None, snils=None, birth_place=None), id="nulls"),
    pytest.param(child(snils="11223344595"), id="SNILS bare digits"),
    pytest.param(child(snils=" 112 233 445\u201395 "), id="SNILS spaces and en dash"),
    pytest.param(child(snils="001-001-998 00"), id="SNILS below the checked range"),
    pytest.param(certificate(series="ІV–ан"), id="series: Cyrillic І, en dash, lower case"),
    pytest.param(certificate(series="iv - ah"), id="series: Latin look-alike letters"),
    pytest.param(certificate(series="IV АН"), id="series: space for the dash"),
    pytest.param(certificate(series=" IV А Н "), id="series: letters apart"),
    pytest.param(certificate(series="I V\u2014АН"), id="series: numeral apart, em dash"),
    pytest.param(certificate(series="XМ-ЁЖ"), id="series: Cyrillic М numeral, Ё"),
    pytest.param(certificate(number="12 34 56", issued_on=""), id="number with spaces"),
    pytest.param({**BIRTH, "identity_document": {"series": "92 04", "number": "123456"}}, id="ID"),
    pytest.param({**BIRTH, "act_record": {"number": "1"}}, id="act record number only"),
    pytest.param({**SNILS, "role": "student", "person": {"name": CHILD["name"]}}, id="snils"),
    pytest.param(
        document(kind="birth_certificate", series="II-ЖЕ", number="654321", issuer=None),
        id="snils by birth certificate",
    ),
    pytest.param({**STATUS, "comment": None}, id="status, null comment"),
    pytest.param({**STATUS, "comment": ""}, id="status, empty comment"),
    pytest.param({k: v for k, v in STATUS.items() if k != "comment"}, id="status, no comment"),
]


@pytest.mark.parametrize("command", ACCEPTED)
def test_what_the_parser_accepts_validates(command: dict[str, Any]) -> None:
    parse_command(command)
    errors = list(VALIDATORS[command["type"]].iter_errors(command))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("spelling", [*SEX_SPELLINGS, "М", "Мужской", " F ", "FEMALE"])
def test_every_sex_spelling_the_parser_knows_validates(spelling: str) -> None:
    Sex.parse(spelling)
    assert VALIDATORS["verify_birth_record"].is_valid(child(sex=spelling))


@pytest.mark.parametrize("code", sorted(EPGU_STATUS_CODES))
def test_every_epgu_status_code_validates(code: int) -> None:
    assert parser_accepts({**STATUS, "status_code": code})
    assert VALIDATORS["report_enrollment_status"].is_valid({**STATUS, "status_code": code})


REFUSED = [
    pytest.param([BIRTH], id="not an object"),
    pytest.param({**BIRTH, "type": "teleport"}, id="unknown type"),
    pytest.param({**BIRTH, "request_id": "  "}, id="blank request id"),
    pytest.param({**BIRTH, "request_id": 17}, id="numeric request id"),
    pytest.param({**BIRTH, "child": "Ли Ян"}, id="child not an object"),
    pytest.param(child(name={"last": "", "first": "Ян"}), id="empty last name"),
    pytest.param(child(name={"last": "Ли", "first": "Ян", "middle": 1}), id="numeric middle"),
    pytest.param(child(birth_date="2015-13"), id="month 13"),
    pytest.param(child(birth_date="2015-02-32"), id="day 32"),
    pytest.param(child(birth_date="1799"), id="before 1800"),
    pytest.param(child(birth_date="12.04.2015"), id="dotted date"),
    pytest.param(child(birth_date="2015-4"), id="one-digit month"),
    pytest.param(child(birth_date=" "), id="blank date"),
    pytest.param(child(sex="мальчик"), id="unknown sex"),
    pytest.param(child(sex=" "), id="blank sex"),
    pytest.param(child(snils="112-233-445 9"), id="SNILS of 10 digits"),
    pytest.param(child(snils="112-233-445 95 0"), id="SNILS of 12 digits"),
    pytest.param(child(snils="112.233.445 95"), id="SNILS with dots"),
    pytest.param(child(snils=11223344595), id="SNILS as a number"),
    pytest.param(child(birth_place=5), id="numeric birth place"),
    pytest.param(certificate(series="IVАН"), id="series without separator"),
    pytest.param(certificate(series="I V АН"), id="numeral apart without a dash"),
    pytest.param(certificate(series="IV-А"), id="one letter"),
    pytest.param(certificate(series="IV-АНН"), id="three letters"),
    pytest.param(certificate(series="IV-А-Н"), id="two dashes"),
    pytest.param(certificate(series="4-АН"), id="Arabic numeral"),
    pytest.param(certificate(series="IV-ДZ"), id="Latin letter without a Cyrillic twin"),
    pytest.param(certificate(number="12345"), id="5-digit number"),
    pytest.param(certificate(number="1234567"), id="7-digit number"),
    pytest.param(certificate(number=123456), id="numeric number"),
    pytest.param(certificate(issued_on="2015-04-20T00:00"), id="date with time"),
    pytest.param({**BIRTH, "act_record": []}, id="act record not an object"),
    pytest.param({**BIRTH, "act_record": {"number": " "}}, id="blank act record number"),
    pytest.param({**BIRTH, "identity_document": "9204 123456"}, id="ID not an object"),
    pytest.param({**BIRTH, "identity_document": {"series": "920", "number": "123456"}}, id="ID"),
    pytest.param({**SNILS, "role": "teacher"}, id="unknown role"),
    pytest.param(document(kind="snils"), id="unknown document kind"),
    pytest.param(document(kind="birth_certificate"), id="a passport called a certificate"),
    pytest.param(document(number="65432"), id="5-digit passport number"),
    pytest.param({**SNILS, "document": "9204 123456"}, id="document not an object"),
    pytest.param({**STATUS, "status_code": 5}, id="status 5 is not EPGU's"),
    pytest.param({**STATUS, "status_code": 16}, id="status 16"),
    pytest.param({**STATUS, "status_code": "3"}, id="status as text"),
    pytest.param({**STATUS, "status_code": True}, id="status as boolean"),
    pytest.param({**STATUS, "comment": 5}, id="numeric comment"),
    pytest.param({**STATUS, "order_number": ""}, id="empty order number"),
]


@pytest.mark.parametrize("command", REFUSED)
def test_what_the_parser_refuses_the_schemas_refuse(command: Any) -> None:
    assert not parser_accepts(command)
    assert not schema_accepts(command)


# JSON Schema cannot say these: the parser alone refuses them. Listed so that a change on
# either side is noticed.
BEYOND_JSON_SCHEMA = [
    pytest.param(child(snils="112-233-445 96"), id="SNILS check number"),
    pytest.param(child(birth_date="2015-02-30"), id="30 February"),
    pytest.param(child(birth_date="2015-02-29"), id="29 February, not a leap year"),
    pytest.param({**STATUS, "status_code": 3.0}, id="3.0 is the integer 3 to JSON Schema"),
]


@pytest.mark.parametrize("command", BEYOND_JSON_SCHEMA)
def test_what_only_the_parser_can_refuse(command: dict[str, Any]) -> None:
    assert not parser_accepts(command)
    assert schema_accepts(command)


def member_paths(data: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in data.items():
        yield f"{prefix}{key}"
        if isinstance(value, dict):
            yield from member_paths(value, f"{prefix}{key}.")


CASES = [(t, path) for t, command in FULL.items() for path in member_paths(command)]


@pytest.mark.parametrize(("command_type", "path"), CASES, ids=[f"{t}:{p}" for t, p in CASES])
@pytest.mark.parametrize("value", [DROP, None], ids=["missing", "null"])
def test_schema_and_parser_require_the_same_members(
    command_type: str, path: str, value: Any
) -> None:
    command = changed(FULL[command_type], path, value)
    assert parser_accepts(command) == schema_accepts(command)


def test_the_agreement_above_covers_required_and_optional_members() -> None:
    dropped = {path: parser_accepts(changed(FULL[t], path, DROP)) for t, path in CASES}
    assert {p for p, ok in dropped.items() if ok} >= {"comment", "act_record", "child.sex"}
    assert {p for p, ok in dropped.items() if not ok} >= {"type", "request_id", "document.kind"}


def test_every_command_type_has_a_schema_naming_it() -> None:
    assert set(COMMAND_DATA) == set(COMMAND_TYPES)
    for command_type in COMMAND_TYPES:
        schema = command_schema(command_type)
        Draft202012Validator.check_schema(schema)
        Draft7Validator.check_schema(schema)  # AsyncAPI's default schema format
        assert schema["properties"]["type"]["const"] == command_type
        assert {"type", "request_id"} <= set(schema["required"])


def test_the_published_command_schemas_are_up_to_date() -> None:
    files = schema_files(SCHEMAS)
    for command_type in COMMAND_TYPES:
        path = command_schema_path(SCHEMAS, command_type)
        assert path == SCHEMAS / "commands" / f"{command_type}.schema.json"
        assert path.is_file(), f"{path.name} missing: run hub schemas export"
        assert path.read_text("utf-8") == files[path], f"{path.name} is stale"
        assert json.loads(files[path]) == command_schema(command_type)
