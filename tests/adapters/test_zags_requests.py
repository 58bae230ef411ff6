"""verify_birth_record → ROGDINFRequest: what is sent, in the schema's order and namespaces
(validity against the official schema itself: the contract suite)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from lxml import etree

from hub.adapters.zags.requests import LegalBasis, request_key, rogdinf_request
from hub.adapters.zags.schemas import NS, REQUEST, TYPES_NS
from hub.canonical.commands import VerifyBirthRecord, parse_command
from hub.errors import PermanentError
from hub.xml import parse_xml

pytestmark = pytest.mark.unit

CHILD = {
    "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
    "birth_date": "2015-04-12",
    "sex": "female",
}
CERTIFICATE = {"series": "IV-АН", "number": "123456"}
COMMAND = {
    "type": "verify_birth_record",
    "request_id": "r-1",
    "student_id": "s-1",
    "child": CHILD,
    "birth_certificate": CERTIFICATE,
}
ACT = {"number": "170", "date": "2015-05-01", "office": "Отдел ЗАГС Кировского района"}
PASSPORT = {"series": "4510", "number": "123456", "issued_on": "2019-05-01", "issuer": "МВД"}


def command(**changes: Any) -> VerifyBirthRecord:
    """``changes`` replace top-level fields; ``child_…`` ones replace the child's."""
    child = {**CHILD, **{k[6:]: v for k, v in changes.items() if k.startswith("child_")}}
    data = {**COMMAND, "child": child}
    data.update({k: v for k, v in changes.items() if not k.startswith("child_")})
    parsed = parse_command(data)
    assert isinstance(parsed, VerifyBirthRecord)
    return parsed


def sent(**changes: Any) -> etree._Element:
    return parse_xml(rogdinf_request(command(**changes)).content)


def names(element: etree._Element | None) -> list[str]:
    assert element is not None
    return [etree.QName(child).localname for child in element]


def find(element: etree._Element, path: str) -> etree._Element:
    found = element.find(path, {"r": NS, "t": TYPES_NS})
    assert found is not None, path
    return found


def test_the_request_in_the_schemas_order() -> None:
    root = sent(act_record=ACT)
    assert root.tag == REQUEST
    assert (root.get("ИдЗапрос"), root.get("КолДок"), root.get("ТипАГС")) == ("r-1", "1", "01")
    assert names(root) == ["СведОсн", "СведЗапрос"]
    assert find(root, "r:СведОсн").get("КодНормОсн") == "01"
    assert names(find(root, "r:СведОсн")) == ["ПрСведДокОсн"]
    query = find(root, "r:СведЗапрос")
    assert names(query) == ["СведАГС", "СведФЛ", "ПрРегионРегАГС"]
    assert uuid.UUID(query.get("ИдДок") or "")
    person = find(query, "r:СведФЛ")
    assert person.get("ТипУчАЗ") == "1" and person.get("СНИЛС") is None
    assert names(person) == ["ФИО", "ДатаРождКаленд"]
    assert find(person, "r:ДатаРождКаленд").text == "2015-04-12"


def test_name_parts_are_in_the_types_namespace_with_absent_flags() -> None:
    fio = find(sent(child_name={"last": " Римская –  Корсакова ", "first": "Анна"}), ".//r:ФИО")
    assert [(c.tag, c.text) for c in fio] == [
        (f"{{{TYPES_NS}}}Фамилия", "Римская – Корсакова"),  # spaces collapsed, spelling kept
        (f"{{{TYPES_NS}}}Имя", "Анна"),
        (f"{{{TYPES_NS}}}ПрОтчество", "1"),
    ]


@pytest.mark.parametrize(
    ("born", "tag", "parts"),
    [
        ("2015-04-12", "ДатаРождКаленд", []),
        ("2015-04", "ДатаРождДок", [("ПрДень", "1"), ("Месяц", "4"), ("Год", "2015")]),
        ("2015", "ДатаРождДок", [("ПрДень", "1"), ("ПрМесяц", "1"), ("Год", "2015")]),
        (None, "ПрДатаРожд", []),
    ],
)
def test_date_of_birth_full_partial_or_absent(
    born: str | None, tag: str, parts: list[tuple[str, str]]
) -> None:
    person = find(sent(child_birth_date=born), ".//r:СведФЛ")
    date = person[1]
    assert etree.QName(date).localname == tag
    assert [(etree.QName(c).localname, c.text) for c in date] == parts
    assert all(etree.QName(c).namespace == TYPES_NS for c in date)


def test_the_act_record_with_its_date_and_office() -> None:
    act = find(sent(act_record=ACT), ".//r:СведАГС")
    assert act.get("НомерЗапис") == "170"
    assert names(act) == ["ДатаЗапис", "ОрганЗАГС"]
    assert find(act, "r:ОрганЗАГС").get("НаимЗАГС") == ACT["office"]
    partial = find(sent(act_record={**ACT, "date": "2015-05"}), ".//r:СведАГС")
    assert names(partial) == ["ДатаЗаписДок", "ОрганЗАГС"]


@pytest.mark.parametrize(
    "act",
    [{**ACT, "date": None}, {**ACT, "office": None}, None],
    ids=["no date", "no office", "none"],
)
def test_an_act_record_the_schema_cannot_take_is_left_out(act: dict[str, Any] | None) -> None:
    assert names(find(sent(act_record=act), "r:СведЗапрос")) == ["СведФЛ", "ПрРегионРегАГС"]


def test_the_childs_passport_and_snils() -> None:
    person = find(sent(identity_document=PASSPORT, child_snils="112-233-445 95"), ".//r:СведФЛ")
    assert person.get("СНИЛС") == "112-233-445 95"
    document = find(person, "r:УдЛичнФЛ")
    assert dict(document.attrib) == {
        "КодВидДок": "21",
        "СерДок": "45 10",
        "НомДок": "123456",
        "ДатаДок": "2019-05-01",
        "ВыдДок": "МВД",
    }
    bare = find(
        sent(identity_document={**PASSPORT, "issued_on": None, "issuer": None}), ".//r:УдЛичнФЛ"
    )
    assert set(bare.attrib) == {"КодВидДок", "СерДок", "НомДок"}


def test_a_basis_document_replaces_the_absent_flag() -> None:
    request = rogdinf_request(command(), LegalBasis("05", "Приказ № 12"))
    basis = find(parse_xml(request.content), "r:СведОсн")
    assert basis.get("КодНормОсн") == "05"
    assert [(etree.QName(c).localname, c.text) for c in basis] == [("СведДокОсн", "Приказ № 12")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"child_name": {"last": "А" * 61, "first": "Анна"}}, "child.name.last"),
        ({"child_name": {"last": "Ли", "first": "Анна", "middle": "Б" * 61}}, "child.name.middle"),
        ({"child_birth_date": "1825-01-01"}, "child.birth_date"),
        # beyond the canonical bounds (hub.canonical.bounds) already: refused as it is read
        ({"act_record": {**ACT, "number": "1" * 23}}, "act_record.number"),
    ],
)
def test_what_the_schema_cannot_carry_is_refused_by_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(PermanentError) as caught:  # the request's refusal, or the command's
        rogdinf_request(command(**changes))
    assert caught.value.details["field"] == field
    assert "ААА" not in str(caught.value)


def test_the_request_and_its_context() -> None:
    request = rogdinf_request(command(identity_document=PASSPORT))
    assert (request.request_id, request.agency, request.kind, request.reply_to) == (
        "r-1",
        "zags",
        "rogdinf",
        None,
    )
    assert request.context == {
        "request_id": "r-1",
        "student_id": "s-1",
        "child": {"name": CHILD["name"], "birth_date": "2015-04-12"},
        "birth_certificate": {"series": "IV-АН", "number": "123456", "issued_on": None},
    }
    json.dumps(request.context)  # stored with the request
    assert rogdinf_request(command(identity_document=PASSPORT)).content == request.content


def test_a_long_request_id_becomes_a_stable_uuid() -> None:
    assert request_key("r-1") == "r-1"
    long_id = "registry-request-" + "x" * 40
    assert request_key(long_id) == request_key(long_id) == str(uuid.UUID(request_key(long_id)))
    assert sent(request_id=long_id).get("ИдЗапрос") == request_key(long_id)
