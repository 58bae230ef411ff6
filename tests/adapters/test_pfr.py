"""PFR: commands become requests, answers become SNILS events (pure functions, hand-built XML)."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.schemas import COMMONS_NS, NS
from hub.adapters.pfr.translate import UntrustedAnswerError, translate_snils_response
from hub.canonical.commands import InvalidCommandError, parse_command
from hub.canonical.values import InvalidValueError
from hub.xml import parse_xml

pytestmark = pytest.mark.unit


def command(**changes: Any) -> dict[str, Any]:
    person = {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "2015-04-12",
        "sex": "female",
        "snils": "112-233-445 95",
        "birth_place": "Казань",
    }
    document = {"kind": "birth_certificate", "series": "IV-АН", "number": "123456",
                "issued_on": "2015-05-01"}  # fmt: skip
    data = {"type": "verify_snils", "request_id": "r-1", "person_id": "p-1", "role": "student",
            "person": person, "document": document}  # fmt: skip
    for key, value in changes.items():
        target, _, name = key.rpartition("__")
        (data[target] if target else data)[name] = value  # type: ignore[index]
    return data


def answer(snils: str | None = "11223344595", **fields: str | None) -> etree._Element:
    values = {"FamilyName": "СЕМЕНОВА", "FirstName": "АЛЕНА", "Patronymic": "ИГОРЕВНА",
              "BirthDate": "2015-04-12", **fields}  # fmt: skip
    root = etree.Element(f"{{{NS}}}SnilsByAdditionalDataResponse")
    for tag in ("FamilyName", "FirstName", "Patronymic"):
        if values[tag] is not None:
            etree.SubElement(root, f"{{{COMMONS_NS}}}{tag}").text = values[tag]
    if snils is not None:
        etree.SubElement(root, f"{{{NS}}}Snils").text = snils
    etree.SubElement(root, f"{{{NS}}}BirthDate").text = values["BirthDate"]
    etree.SubElement(root, f"{{{NS}}}Gender").text = "Female"
    return root


def context(**changes: Any) -> dict[str, Any]:
    return dict(snils_request(parse_command(command(**changes))).context)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "registry", "expected_type", "fields"),
    [
        (answer(), {}, "person.snils.verified", []),
        (answer(), {"person__snils": None}, "person.snils.verified", []),
        (answer(FamilyName="Семенова"), {}, "person.snils.verified", []),  # Ё ≡ Е, case
        (answer(Patronymic="НЕТ ДАННЫХ"), {}, "person.snils.mismatch", ["name.middle"]),
        (answer("12794130666"), {}, "person.snils.mismatch", ["snils"]),
        (answer(FamilyName="ПЕТРОВА"), {}, "person.snils.mismatch", ["name.last"]),
        (answer(BirthDate="2015-04-13"), {}, "person.snils.mismatch", ["birth_date"]),
        (answer(BirthDate="0001-01-01"), {}, "person.snils.verified", []),  # a placeholder
        (answer(None), {}, "person.snils.not_found", []),
        (answer(""), {}, "person.snils.not_found", []),
    ],
)
def test_answers_become_one_snils_event(
    given: etree._Element, registry: dict[str, Any], expected_type: str, fields: list[str]
) -> None:
    [event] = translate_snils_response(given, context(**registry))
    assert (event.type, event.subject) == (expected_type, "person:p-1")
    assert [d["field"] for d in event.data.get("differences", [])] == fields
    assert event.data["request_id"] == "r-1" and event.data["role"] == "student"


def test_a_verified_snils_is_written_the_canonical_way() -> None:
    [event] = translate_snils_response(answer(), context())
    assert event.data["snils"] == "112-233-445 95"


def test_a_mismatch_shows_both_values() -> None:
    [event] = translate_snils_response(answer("12794130666"), context())
    assert event.data["registry_snils"] == "112-233-445 95"
    assert event.data["agency_snils"] == "127-941-306 66"
    assert event.data["differences"] == [
        {"field": "snils", "registry": "112-233-445 95", "agency": "127-941-306 66"}
    ]


def test_a_snils_failing_its_check_is_not_trusted() -> None:
    with pytest.raises(UntrustedAnswerError, match="check number") as caught:
        translate_snils_response(answer("11223344596"), context())
    assert "11223344596" not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"person__snils": "112-233-445 96"}, "person.snils"),
        ({"person__birth_date": "2015-04"}, "person.birth_date"),
        ({"person__sex": None}, "person.sex"),
        ({"document__issued_on": None}, "document.issued_on"),
        ({"document__series": "IV-A1"}, "document.series"),
        ({"role": "teacher"}, "role"),
    ],
)
def test_bad_commands_ask_nothing(changes: dict[str, Any], field: str) -> None:
    with pytest.raises((InvalidCommandError, InvalidValueError)) as caught:
        snils_request(parse_command(command(**changes)))  # type: ignore[arg-type]
    assert caught.value.details["field"] == field
    assert "445 96" not in str(caught.value)


def test_the_request_carries_the_document_and_no_empty_patronymic() -> None:
    data = command(person__name={"last": "Ли", "first": "Ян", "middle": None})
    request = snils_request(parse_command(data))  # type: ignore[arg-type]
    root = parse_xml(request.content)
    assert root.find(f"{{{COMMONS_NS}}}Patronymic") is None
    assert root.findtext(f"{{{COMMONS_NS}}}BirthCertificate/{{{COMMONS_NS}}}Series") == "IV-АН"
    assert (request.agency, request.kind, request.request_id) == (
        "pfr", "snils-by-additional-data", "r-1"
    )  # fmt: skip
