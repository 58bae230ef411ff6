"""PFR contract against the official VS00648 schema (``<reference_dir>/agencies/pfr``): every
request the hub builds is valid; an answer built as the schema allows (validated too) becomes
the expected event, and that event matches its published JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
from lxml import etree

from contract_tests.agency_contract import Broken, OfficialSchemaContract
from hub.adapters.pfr import schemas
from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.translate import translate_snils_response
from hub.canonical.commands import VerifySnils, parse_command
from hub.canonical.jsonschemas import validate_event
from hub.errors import SchemaValidationError
from hub.xml import parse_xml

pytestmark = pytest.mark.contract

PASSPORT = {
    "kind": "passport",
    "series": "9204",
    "number": "123456",
    "issued_on": "2020-02-03",
    "issuer": "МВД по Республике Татарстан",
}
CERTIFICATE = {
    "kind": "birth_certificate",
    "series": "ІV-ан",
    "number": "654321",
    "issued_on": "2015-05-01",
}
DOCUMENTS = {
    "passport": PASSPORT,
    "birth certificate": CERTIFICATE,
    "passport, issue date and issuer unknown": {**PASSPORT, "issued_on": None, "issuer": None},
    "passport, issuer the schema cannot carry": {**PASSPORT, "issuer": "ОВД (р-н) №2"},
    "birth certificate, issued in some month": {**CERTIFICATE, "issued_on": "2015-05"},
    "birth certificate, series the schema cannot carry": {**CERTIFICATE, "series": "XVIII-АН"},
}
PEOPLE = {
    "full": {
        "name": {"last": "Семёнова", "first": "Анна", "middle": "Петровна"},
        "birth_date": "1988-01-30",
        "sex": "female",
        "birth_place": "г. Казань",
        "snils": "062-160-930 30",
    },
    "without patronymic": {
        "name": {"last": "Ким", "first": "Олег"},
        "birth_date": "1990-12-01",
        "sex": "male",
        "birth_place": "Казань",
    },
    "without birth place": {
        "name": {"last": "Ли", "first": "Ян", "middle": "Сергеевич"},
        "birth_date": "2015-04-12",
        "sex": "male",
    },
    "double-barrelled, long birth place": {
        "name": {"last": "Римская – Корсакова", "first": "Анна-Мария", "middle": "Д'Артаньян"},
        "birth_date": "2016-02-29",
        "sex": "female",
        "birth_place": "с. Большие Кайбицы Кайбицкого района Республики Татарстан",
    },
}


def verify(person: dict[str, Any], document: dict[str, Any]) -> VerifySnils:
    data = {
        "type": "verify_snils",
        "request_id": "r-1",
        "person_id": "p-1",
        "role": "guardian",
        "person": person,
        "document": document,
    }
    command = parse_command(data)
    assert isinstance(command, VerifySnils)
    return command


class TestPfrContract(OfficialSchemaContract):
    """PFR answers against its official VS00648 schema."""

    agency = "pfr"
    schemas = schemas

    def valid_and_invalid(self) -> list[tuple[etree._Element, bool]]:
        good = parse_xml(snils_request(verify(PEOPLE["full"], PASSPORT)).content)
        bad = parse_xml(snils_request(verify(PEOPLE["full"], PASSPORT)).content)
        bad[0].text = "Smith"
        return [(good, True), (bad, False)]

    def broken(self) -> Broken:
        root = parse_xml(snils_request(verify(PEOPLE["full"], PASSPORT)).content)
        root[0].text = "Smith"  # FamilyName: Cyrillic only
        return Broken(root, ("FamilyName",), ("Smith",))


envelope = TestPfrContract.envelope


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS)
@pytest.mark.parametrize("person", PEOPLE.values(), ids=PEOPLE)
def test_every_request_is_valid_against_the_official_schema(
    reference_dir: Path, person: dict[str, Any], document: dict[str, Any]
) -> None:
    request = snils_request(verify(person, document))
    schemas.validate(parse_xml(request.content), reference_dir)


# --- round trip: request → answer as the schema allows → event ---------------------------

_NAMES = {"FamilyName", "FirstName", "Patronymic"}
_UNKNOWN = {"IssueDate": "0001-01-01", "Issuer": "НЕТ ДАННЫХ"}


def answer_to(request: bytes, snils: str, *, placeholders: bool = False, **names: str) -> Any:
    """PFR's answer: the request's data in upper case, Snils before BirthDate; with
    ``placeholders`` the document's issue date and issuer as PFR writes unknown ones."""
    asked = parse_xml(request)
    answer = etree.Element(schemas.RESPONSE, nsmap=asked.nsmap)
    for child in asked:
        name = etree.QName(child).localname
        if name == "BirthDate":
            etree.SubElement(answer, f"{{{schemas.NS}}}Snils").text = snils
        copy = etree.SubElement(answer, child.tag)
        copy.text = names.get(name, (child.text or "").upper()) if name in _NAMES else child.text
        for part in child:
            text = _UNKNOWN.get(etree.QName(part).localname) if placeholders else None
            etree.SubElement(copy, part.tag).text = text or (part.text or "").upper()
    return answer


class RoundTrip(NamedTuple):
    person: str
    document: dict[str, Any]
    snils: str  # what PFR answers
    names: dict[str, str]  # names PFR writes otherwise than asked
    expected: str
    fields: list[str]


ROUND_TRIPS = {
    "same snils": RoundTrip("full", PASSPORT, "06216093030", {}, "person.snils.verified", []),
    "registry without snils": RoundTrip(
        "without patronymic", CERTIFICATE, "11223344595", {}, "person.snils.verified", []
    ),
    "Е for Ё": RoundTrip(
        "full", PASSPORT, "06216093030", {"FamilyName": "СЕМЕНОВА"}, "person.snils.verified", []
    ),
    "another snils": RoundTrip(
        "full", PASSPORT, "11223344595", {}, "person.snils.mismatch", ["snils"]
    ),
    "another family name": RoundTrip(
        "without birth place",
        CERTIFICATE,
        "11223344595",
        {"FamilyName": "ЛЮ"},
        "person.snils.mismatch",
        ["name.last"],
    ),
    "double-barrelled": RoundTrip(
        "double-barrelled, long birth place",
        CERTIFICATE,
        "12794130666",
        {},
        "person.snils.verified",
        [],
    ),
}


@pytest.mark.parametrize("placeholders", [False, True], ids=["echoed", "placeholders"])
@pytest.mark.parametrize("case", ROUND_TRIPS.values(), ids=ROUND_TRIPS)
def test_round_trip_request_answer_event(
    reference_dir: Path, case: RoundTrip, placeholders: bool
) -> None:
    request = snils_request(verify(PEOPLE[case.person], case.document))
    answer = answer_to(request.content, case.snils, placeholders=placeholders, **case.names)
    schemas.validate(answer, reference_dir)
    [event] = translate_snils_response(answer, request.context)
    assert (event.type, event.subject) == (case.expected, "person:p-1")
    assert [d["field"] for d in event.data.get("differences", [])] == case.fields
    validate_event(envelope(event))


def test_not_found_is_an_empty_snils_the_schema_itself_does_not_allow(
    reference_dir: Path,
) -> None:
    """The schema requires 11 digits, but PFR says "nobody" with an empty Snils: the hub reads
    answers leniently and makes that person.snils.not_found."""
    request = snils_request(verify(PEOPLE["full"], PASSPORT))
    answer = answer_to(request.content, "")
    with pytest.raises(SchemaValidationError):
        schemas.validate(answer, reference_dir)
    [event] = translate_snils_response(answer, request.context)
    assert event.type == "person.snils.not_found"
    validate_event(envelope(event))
