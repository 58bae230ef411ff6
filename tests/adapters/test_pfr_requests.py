"""verify_snils commands → SnilsByAdditionalDataRequest (pure; the XSD check is a contract test)."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.schemas import COMMONS_NS, NS, PFR_NS, REQUEST
from hub.canonical.commands import VerifySnils, parse_command
from hub.errors import PermanentError
from hub.xml import parse_xml

pytestmark = pytest.mark.unit

PASSPORT = {
    "kind": "passport",
    "series": "92 04",
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


def command(document: dict[str, Any] | None = None, **person: Any) -> VerifySnils:
    data = {
        "type": "verify_snils",
        "request_id": "r-1",
        "person_id": "p-1",
        "role": "guardian",
        "person": {
            "name": {"last": "Семёнова", "first": "Анна", "middle": "Петровна"},
            "birth_date": "1988-01-30",
            "sex": "female",
            "snils": "062-160-930 30",
            "birth_place": "г. Казань",
            **person,
        },
        "document": document or PASSPORT,
    }
    parsed = parse_command(data)
    assert isinstance(parsed, VerifySnils)
    return parsed


def built(cmd: VerifySnils) -> etree._Element:
    return parse_xml(snils_request(cmd).content)


def children(element: etree._Element | None) -> list[tuple[str, str | None]]:
    assert element is not None
    return [(child.tag, child.text) for child in element]


def c(name: str) -> str:
    return f"{{{COMMONS_NS}}}{name}"


def t(name: str) -> str:
    return f"{{{NS}}}{name}"


def test_a_passport_request_in_schema_order() -> None:
    root = built(command())
    assert root.tag == REQUEST
    assert [child.tag for child in root] == [
        c("FamilyName"),
        c("FirstName"),
        c("Patronymic"),
        t("BirthDate"),
        t("Gender"),
        t("BirthPlace"),
        c("PassportRF"),
    ]
    assert [child.text for child in root][:5] == [
        "Семёнова",
        "Анна",
        "Петровна",
        "1988-01-30",
        "Female",
    ]
    assert children(root.find(c("PassportRF"))) == [
        (c("Series"), "9204"),
        (c("Number"), "123456"),
        (c("IssueDate"), "2020-02-03"),
        (c("Issuer"), "МВД по Республике Татарстан"),
    ]


def test_a_birth_certificate_with_its_normalized_series_and_an_unknown_issuer() -> None:
    root = built(command(CERTIFICATE, sex="male"))
    assert root.findtext(t("Gender")) == "Male"
    assert children(root.find(c("BirthCertificate"))) == [
        (c("Series"), "IV-АН"),
        (c("Number"), "654321"),
        (c("IssueDate"), "2015-05-01"),
        (c("Issuer"), "Нет данных"),
    ]


def test_a_free_text_birth_place_is_pfrs_special_kind() -> None:
    place = built(command()).find(t("BirthPlace"))
    assert children(place) == [
        (f"{{{PFR_NS}}}PlaceType", "ОСОБОЕ"),
        (f"{{{PFR_NS}}}Settlement", "г. Казань"),
    ]


@pytest.mark.parametrize(
    ("changes", "absent"),
    [
        ({"name": {"last": "Ли", "first": "Ян"}}, c("Patronymic")),
        ({"birth_place": None}, t("BirthPlace")),
        ({"birth_place": "   "}, t("BirthPlace")),
        (
            {"birth_place": "с. Большие Кайбицы Кайбицкого района Республики Татарстан"},
            t("BirthPlace"),
        ),  # over 50 characters: left out, never cut short
    ],
)
def test_optional_parts_the_hub_does_not_have_are_left_out(
    changes: dict[str, Any], absent: str
) -> None:
    assert built(command(**changes)).find(absent) is None


@pytest.mark.parametrize(
    ("document", "issue_date", "issuer"),
    [
        ({**PASSPORT, "issued_on": None}, "0001-01-01", "МВД по Республике Татарстан"),
        ({**PASSPORT, "issued_on": "2020-02"}, "0001-01-01", "МВД по Республике Татарстан"),
        ({**PASSPORT, "issuer": None}, "2020-02-03", "Нет данных"),
        ({**PASSPORT, "issuer": "ОВД (Вахитовский р-н) №2"}, "2020-02-03", "Нет данных"),
        ({**PASSPORT, "issuer": "UFMS"}, "2020-02-03", "Нет данных"),
        ({**PASSPORT, "issuer": "ОВД   Вахитовского р–на"}, "2020-02-03", "ОВД Вахитовского р-на"),
        ({**CERTIFICATE, "issued_on": None}, "0001-01-01", "Нет данных"),
    ],
)
def test_an_unknown_issue_date_or_issuer_is_sent_as_pfrs_own_placeholder(
    document: dict[str, Any], issue_date: str, issuer: str
) -> None:
    root = built(command(document))
    holder = root[-1]
    assert (holder.findtext(c("IssueDate")), holder.findtext(c("Issuer"))) == (issue_date, issuer)


@pytest.mark.parametrize("series", ["VIII-АН", "XVIII-АН", "IV-ЁЖ"])
def test_a_series_pfrs_schema_cannot_carry_leaves_the_document_out(series: str) -> None:
    root = built(command({**CERTIFICATE, "series": series}))
    assert root.find(c("BirthCertificate")) is None and root[-1].tag == t("BirthPlace")


def test_names_are_sent_as_spelled_with_one_kind_of_hyphen_and_apostrophe() -> None:
    name = {"last": "Римская – Корсакова", "first": "Анна-Мария", "middle": "Д’Артаньян"}
    root = built(command(name=name))
    assert [root.findtext(c(tag)) for tag in ("FamilyName", "FirstName", "Patronymic")] == [
        "Римская-Корсакова",
        "Анна-Мария",
        "Д'Артаньян",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": "1988-01"}, "person.birth_date"),
        ({"birth_date": None}, "person.birth_date"),
        ({"sex": None}, "person.sex"),
        ({"name": {"last": "Smith", "first": "Анна"}}, "person.name.last"),
        ({"name": {"last": "Семёнова", "first": "Анна2"}}, "person.name.first"),
        ({"name": {"last": "Ким", "first": "Анна", "middle": "П" * 101}}, "person.name.middle"),
    ],
)
def test_a_person_pfr_cannot_be_asked_about_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(PermanentError) as caught:  # the request's refusal, or the command's
        snils_request(command(**changes))
    assert caught.value.details["field"] == field
    assert "Smith" not in str(caught.value) and "Анна" not in str(caught.value)


def test_the_request_names_agency_kind_and_id() -> None:
    request = snils_request(command())
    assert (request.request_id, request.agency, request.kind, request.reply_to) == (
        "r-1",
        "pfr",
        "snils-by-additional-data",
        None,
    )
    assert not request.content.startswith(b"<?xml")


def test_the_context_holds_only_what_the_answer_is_compared_with() -> None:
    assert snils_request(command()).context == {
        "request_id": "r-1",
        "person_id": "p-1",
        "role": "guardian",
        "person": {
            "name": {"last": "Семёнова", "first": "Анна", "middle": "Петровна"},
            "birth_date": "1988-01-30",
            "sex": "female",
            "snils": "062-160-930 30",
        },
    }


def test_a_registry_snils_failing_its_check_never_becomes_a_request() -> None:
    data = {
        "type": "verify_snils",
        "request_id": "r-1",
        "person_id": "p-1",
        "role": "student",
        "person": {
            "name": {"last": "Ли", "first": "Ян"},
            "birth_date": "2015-01-01",
            "sex": "male",
            "snils": "062-160-930 31",
        },
        "document": CERTIFICATE,
    }
    with pytest.raises(PermanentError) as caught:
        parse_command(data)
    assert caught.value.details["field"] == "person.snils"
    assert "062-160-930" not in str(caught.value) and "06216093031" not in str(caught.value)
