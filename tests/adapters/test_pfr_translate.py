"""PFR answers → SNILS events: hand-built SnilsByAdditionalDataResponse for each outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from hub.adapters.pfr.requests import snils_context
from hub.adapters.pfr.schemas import COMMONS_NS, NS, RESPONSE
from hub.adapters.pfr.translate import UntrustedAnswerError, translate_snils_response
from hub.adapters.router import TranslationError
from hub.canonical.commands import VerifySnils, parse_command
from hub.canonical.drafts import EventDraft
from hub.canonical.ids import event_id_for
from hub.canonical.jsonschemas import validate_event
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event

pytestmark = pytest.mark.unit

REGISTRY_SNILS = "112-233-445 95"
OTHER_SNILS = "12794130666"  # valid, someone else's


def context(**person: Any) -> dict[str, Any]:
    """The context the request leaves for its answer; ``person`` overrides the registry's."""
    data = {
        "type": "verify_snils",
        "request_id": "r-1",
        "person_id": "p-1",
        "role": "student",
        "person": {
            "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
            "birth_date": "2015-04-12",
            "sex": "female",
            "snils": REGISTRY_SNILS,
            **person,
        },
        "document": {"kind": "birth_certificate", "series": "IV-АН", "number": "123456"},
    }
    command = parse_command(data)
    assert isinstance(command, VerifySnils)
    return snils_context(command)


def answer(snils: str | None = "11223344595", **fields: str | None) -> etree._Element:
    """PFR's answer as it writes them: upper case, the request's data, a document with
    placeholders. ``fields`` replace (or, given None, drop) children by local name."""
    values: dict[str, str | None] = {
        "FamilyName": "СЕМЕНОВА",
        "FirstName": "АЛЕНА",
        "Patronymic": "ИГОРЕВНА",
        "Snils": snils,
        "BirthDate": "2015-04-12",
        "Gender": "Female",
        **fields,
    }
    root = etree.Element(RESPONSE, nsmap={"tns": NS, "smev": COMMONS_NS})
    for tag in ("FamilyName", "FirstName", "Patronymic", "Snils", "BirthDate", "Gender"):
        if values[tag] is not None:
            ns = COMMONS_NS if tag in {"FamilyName", "FirstName", "Patronymic"} else NS
            etree.SubElement(root, f"{{{ns}}}{tag}").text = values[tag]
    document = etree.SubElement(root, f"{{{COMMONS_NS}}}BirthCertificate")
    for tag, text in (
        ("Series", "IV-АН"),
        ("Number", "123456"),
        ("IssueDate", "0001-01-01"),
        ("Issuer", "Нет данных"),
    ):
        etree.SubElement(document, f"{{{COMMONS_NS}}}{tag}").text = text
    return root


def envelope(draft: EventDraft) -> dict[str, Any]:
    record = InboxRecord(
        "6f1d2c7e-0000-5000-8000-000000000001",
        "smev",
        "m-1",
        b"",
        "pfr",
        None,
        None,
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )
    return cloud_event(event_id_for(record.inbox_id, 0), record, draft, datetime.now(UTC))


VERIFIED, MISMATCH = "person.snils.verified", "person.snils.mismatch"
NOT_FOUND = "person.snils.not_found"

CASES = {
    # verified: the registry has the same SNILS or none, names and birth date agree
    "same snils, upper case, Е for Ё": (answer(), {}, VERIFIED, []),
    "registry has no snils": (answer(), {"snils": None}, VERIFIED, []),
    "mixed case with Ё": (answer(FamilyName="Семёнова", FirstName="алёна"), {}, VERIFIED, []),
    "other dash, extra spaces": (
        answer(FamilyName="ИВАНОВА — ПЕТРОВА"),
        {"name": {"last": "Иванова-Петрова", "first": "Алёна", "middle": "Игоревна"}},
        VERIFIED,
        [],
    ),
    "formatted snils in the answer": (answer("112-233-445 95"), {}, VERIFIED, []),
    "snils at or below 001-001-998 carries no check": (
        answer("00100199800"),
        {"snils": None},
        VERIFIED,
        [],
    ),
    # placeholders are absence, never data
    "birth date placeholder": (answer(BirthDate="0001-01-01"), {}, VERIFIED, []),
    "patronymic placeholder, registry has none": (
        answer(Patronymic="НЕТ ДАННЫХ"),
        {"name": {"last": "Семёнова", "first": "Алёна"}},
        VERIFIED,
        [],
    ),
    "patronymic placeholder, lower case": (
        answer(Patronymic="Нет данных"),
        {"name": {"last": "Семёнова", "first": "Алёна"}},
        VERIFIED,
        [],
    ),
    "gender placeholder": (answer(Gender="Нет данных"), {}, VERIFIED, []),
    # mismatch: one Difference per field
    "different snils": (answer(OTHER_SNILS), {}, MISMATCH, ["snils"]),
    "different family name": (answer(FamilyName="ПЕТРОВА"), {}, MISMATCH, ["name.last"]),
    "different first name": (answer(FirstName="АННА"), {}, MISMATCH, ["name.first"]),
    "patronymic placeholder, registry has one": (
        answer(Patronymic="НЕТ ДАННЫХ"),
        {},
        MISMATCH,
        ["name.middle"],
    ),
    "patronymic missing, registry has one": (
        answer(Patronymic=None),
        {},
        MISMATCH,
        ["name.middle"],
    ),
    "different birth date": (answer(BirthDate="2015-04-13"), {}, MISMATCH, ["birth_date"]),
    "different sex": (answer(Gender="MALE"), {}, MISMATCH, ["sex"]),
    "everything differs": (
        answer(OTHER_SNILS, FamilyName="ПЕТРОВА", BirthDate="2014-04-12"),
        {},
        MISMATCH,
        ["snils", "name.last", "birth_date"],
    ),
    "other snils, registry has none, name differs": (
        answer(FirstName="АЛИНА"),
        {"snils": None},
        MISMATCH,
        ["name.first"],
    ),
    # not found: the schema requires Snils, PFR sends it empty when it found nobody
    "empty snils": (answer(""), {}, NOT_FOUND, []),
    "blank snils": (answer("  \n "), {}, NOT_FOUND, []),
    "no snils": (answer(None), {}, NOT_FOUND, []),
    "all-zero snils": (answer("00000000000"), {}, NOT_FOUND, []),
    "snils placeholder": (answer("Нет данных"), {}, NOT_FOUND, []),
}


@pytest.mark.parametrize(("given", "registry", "expected", "fields"), CASES.values(), ids=CASES)
def test_an_answer_becomes_one_snils_event(
    given: etree._Element, registry: dict[str, Any], expected: str, fields: list[str]
) -> None:
    [event] = translate_snils_response(given, context(**registry))
    assert (event.type, event.subject) == (expected, "person:p-1")
    assert [d["field"] for d in event.data.get("differences", [])] == fields
    assert (event.data["request_id"], event.data["role"]) == ("r-1", "student")
    validate_event(envelope(event))  # what the registry gets matches the published schema


def test_verified_carries_the_snils_the_canonical_way() -> None:
    [event] = translate_snils_response(answer(), context())
    assert event.data["snils"] == REGISTRY_SNILS


def test_a_mismatch_shows_both_sides_of_every_difference() -> None:
    given = answer(OTHER_SNILS, FamilyName="ПЕТРОВА", BirthDate="2015-04-13", Gender="Male")
    [event] = translate_snils_response(given, context())
    assert (event.data["registry_snils"], event.data["agency_snils"]) == (
        REGISTRY_SNILS,
        "127-941-306 66",
    )
    assert event.data["differences"] == [
        {"field": "snils", "registry": REGISTRY_SNILS, "agency": "127-941-306 66"},
        {"field": "name.last", "registry": "Семёнова", "agency": "ПЕТРОВА"},
        {"field": "birth_date", "registry": "2015-04-12", "agency": "2015-04-13"},
        {"field": "sex", "registry": "female", "agency": "male"},
    ]


def test_a_placeholder_is_reported_as_absent_not_as_a_value() -> None:
    [event] = translate_snils_response(answer(Patronymic="НЕТ ДАННЫХ"), context())
    assert event.data["differences"] == [
        {"field": "name.middle", "registry": "Игоревна", "agency": None}
    ]


def test_not_found_says_why() -> None:
    [event] = translate_snils_response(answer(""), context())
    assert event.data["reason"] and set(event.data) == {"request_id", "person_id", "role", "reason"}


@pytest.mark.parametrize("snils", ["11223344596", "1122334459", "112233445950", "СНИЛС"])
def test_a_returned_snils_failing_its_check_is_not_trusted(snils: str) -> None:
    with pytest.raises(UntrustedAnswerError) as caught:
        translate_snils_response(answer(snils), context())
    error = caught.value
    assert error.details["field"] == "Snils" and "Snils" in str(error)
    assert "112233445" not in str(error) and "445 9" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # the number stays out
    assert error.code == "PFR_UNTRUSTED_ANSWER" and not error.retryable


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"BirthDate": "12.04.2015"}, "BirthDate"), ({"Gender": "X"}, "Gender")],
)
def test_other_values_that_are_not_what_they_say_are_not_trusted(
    fields: dict[str, str], field: str
) -> None:
    with pytest.raises(UntrustedAnswerError) as caught:
        translate_snils_response(answer(**fields), context())
    assert caught.value.details["field"] == field and "12.04" not in str(caught.value)


def test_a_birth_date_with_a_timezone_is_read() -> None:
    [event] = translate_snils_response(answer(BirthDate="2015-04-12+03:00"), context())
    assert event.type == VERIFIED


def test_children_are_found_by_local_name_whatever_their_namespace() -> None:
    given = answer()
    for child in given:
        child.tag = f"{{{NS}}}{etree.QName(child).localname}"
    [event] = translate_snils_response(given, context())
    assert event.type == VERIFIED


def test_another_element_or_a_broken_context_is_a_translation_error() -> None:
    with pytest.raises(TranslationError, match="SnilsByAdditionalDataResponse"):
        translate_snils_response(etree.Element(f"{{{NS}}}SnilsByAdditionalDataRequest"), context())
    with pytest.raises(TranslationError, match="person_id"):
        translate_snils_response(answer(), {"request_id": "r-1", "role": "student", "person": {}})
