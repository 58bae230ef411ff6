"""PFR contract: every request the hub builds is valid against the official VS00648 schema,
and an answer built as that schema allows becomes the expected event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.adapters.pfr import schemas
from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.translate import translate_snils_response
from hub.canonical.commands import VerifySnils, parse_command
from hub.xml import parse_xml

pytestmark = pytest.mark.contract

PASSPORT = {"kind": "passport", "series": "9204", "number": "123456", "issued_on": "2020-02-03",
            "issuer": "МВД по Республике Татарстан"}  # fmt: skip
CERTIFICATE = {"kind": "birth_certificate", "series": "ІV-ан", "number": "654321",
               "issued_on": "2015-05-01"}  # fmt: skip


def verify(person: dict[str, Any], document: dict[str, Any]) -> VerifySnils:
    data = {"type": "verify_snils", "request_id": "r-1", "person_id": "p-1", "role": "guardian",
            "person": person, "document": document}  # fmt: skip
    command = parse_command(data)
    assert isinstance(command, VerifySnils)
    return command


PEOPLE = {
    "full": {"name": {"last": "Семёнова", "first": "Анна", "middle": "Петровна"},
             "birth_date": "1988-01-30", "sex": "female", "birth_place": "Казань"},
    "no patronymic, no birth place": {"name": {"last": "Ким", "first": "Олег"},
                                      "birth_date": "1990-12-01", "sex": "male"},
}  # fmt: skip


@pytest.mark.parametrize("document", [PASSPORT, CERTIFICATE], ids=["passport", "certificate"])
@pytest.mark.parametrize("person", list(PEOPLE.values()), ids=list(PEOPLE))
def test_every_request_is_valid_against_the_official_schema(
    reference_dir: Path, person: dict[str, Any], document: dict[str, Any]
) -> None:
    request = snils_request(verify(person, document))
    schemas.validate(parse_xml(request.content), reference_dir)


_NAMES = {"FamilyName", "FirstName", "Patronymic"}


def _answer_to(request_content: bytes, snils: str) -> etree._Element:
    """PFR's answer as its schema allows: the request's data, upper case, plus the SNILS."""
    asked = parse_xml(request_content)
    answer = etree.Element(schemas.RESPONSE, nsmap=asked.nsmap)
    for child in asked:
        if etree.QName(child).localname == "BirthDate":
            etree.SubElement(answer, f"{{{schemas.NS}}}Snils").text = snils
        copy = etree.SubElement(answer, child.tag)
        upper = etree.QName(child).localname in _NAMES and child.text
        copy.text = child.text.upper() if upper and child.text else child.text
        copy.extend(_upper(grandchild) for grandchild in child)
    return answer


def _upper(element: etree._Element) -> etree._Element:
    copy = etree.Element(element.tag)
    copy.text = element.text.upper() if element.text and element.text.isalpha() else element.text
    return copy


@pytest.mark.parametrize(
    ("snils", "expected"),
    [("06216093030", "person.snils.verified"), ("11223344595", "person.snils.mismatch")],
)
def test_round_trip_request_answer_event(reference_dir: Path, snils: str, expected: str) -> None:
    person = {**PEOPLE["full"], "snils": "062-160-930 30"}
    request = snils_request(verify(person, PASSPORT))
    answer = _answer_to(request.content, snils)
    schemas.validate(answer, reference_dir)
    [event] = translate_snils_response(answer, request.context)
    assert event.type == expected and event.subject == "person:p-1"
