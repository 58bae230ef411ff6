"""ZAGS birth-record answers → birth events: hand-built ROGDINFResponse for each outcome.

``answer``/``record`` build answers as the official schema allows (the contract suite
validates them), so one builder serves both suites.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from hub.adapters.router import TranslationError
from hub.adapters.zags.requests import rogdinf_context
from hub.adapters.zags.schemas import NS, RESPONSE, TYPES_NS
from hub.adapters.zags.translate import ZagsContentError, translate_rogdinf_response
from hub.canonical.commands import VerifyBirthRecord, parse_command
from hub.canonical.drafts import EventDraft
from hub.canonical.ids import event_id_for
from hub.canonical.jsonschemas import validate_event
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event

pytestmark = pytest.mark.unit

ACT_NUMBER = "120150000000000170001"  # 21 characters, as ЕГР ЗАГС numbers its records
OTHER_ACT = "120150000000000170002"
OFFICE = "Отдел ЗАГС Кировского района г. Казани"
COMMAND = {
    "type": "verify_birth_record",
    "request_id": "r-1",
    "student_id": "s-1",
    "child": {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "2015-04-12",
        "sex": "female",
    },
    "birth_certificate": {"series": "IV-АН", "number": "123456"},
}
MOTHER = ("СЕМЕНОВА", "ОЛЬГА", "ПЕТРОВНА")
FATHER = ("СЕМЕНОВ", "ИГОРЬ", "ВИКТОРОВИЧ")


def command(**changes: Any) -> VerifyBirthRecord:
    """The registry's command; ``changes`` replace its ``child`` fields or certificate."""
    child = {**COMMAND["child"], **{k: v for k, v in changes.items() if k != "certificate"}}  # type: ignore[dict-item]
    data = {**COMMAND, "child": child}
    if "certificate" in changes:
        data["birth_certificate"] = changes["certificate"]
    parsed = parse_command(data)
    assert isinstance(parsed, VerifyBirthRecord)
    return parsed


def context(**changes: Any) -> dict[str, Any]:
    return rogdinf_context(command(**changes))


# --- builders ------------------------------------------------------------------------------


def _add(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    element.text = text
    return element


def _name(parent: etree._Element, ns: str, tag: str, parts: tuple[str | None, ...]) -> None:
    holder = _add(parent, ns, tag)
    for part, value in zip(("Фамилия", "Имя", "Отчество"), parts, strict=True):
        _add(holder, TYPES_NS, part if value else f"Пр{part}", value or "1")


def _date(parent: etree._Element, ns: str, prefix: str, iso: str | None) -> None:
    """``iso`` "YYYY-MM-DD" → …Календ; "YYYY-MM"/"YYYY" → …Док with flags; None → Пр…."""
    if iso is None:
        _add(parent, ns, f"Пр{prefix}", "1")
    elif len(iso) == 10:
        _add(parent, ns, f"{prefix}Календ", iso)
    else:
        parts = _add(parent, ns, f"{prefix}Док")
        year, _, month = iso.partition("-")
        _add(parts, TYPES_NS, "ПрДень", "1")
        _add(parts, TYPES_NS, "Месяц" if month else "ПрМесяц", str(int(month)) if month else "1")
        _add(parts, TYPES_NS, "Год", year)


def _parent(parent: etree._Element, tag: str, parts: tuple[str, ...] | None) -> None:
    if parts is None:
        _add(parent, NS, f"Пр{tag.removeprefix('Свед')}", "1")
        return
    holder = _add(parent, NS, tag)
    _add(holder, TYPES_NS, "ПрГражданство", "1")
    _name(holder, TYPES_NS, "ФИО", parts)
    _add(holder, TYPES_NS, "ДатаРождКаленд", "1988-01-30")
    _add(holder, TYPES_NS, "ПрМестоРожден", "1")
    _add(holder, TYPES_NS, "ПрУдЛичнФЛ", "1")
    _add(holder, TYPES_NS, "ПрАдрМЖ", "1")


def record(
    name: tuple[str | None, ...] = ("СЕМЕНОВА", "АЛЕНА", "ИГОРЕВНА"),
    birth: str | None = "2015-04-12",
    certificates: tuple[tuple[str | None, str | None], ...] = (("IV-АН", "123456"),),
    *,
    mother: tuple[str, ...] | None = MOTHER,
    father: tuple[str, ...] | None = FATHER,
    snils: str | None = "112-233-445 95",
    act_number: str = ACT_NUMBER,
    version: tuple[str | None, str | None, str | None] = ("1", "2015-05-01", "0101"),
) -> etree._Element:
    """One СведРегРожд as the official schema has it (root-schema elements in NS, the parts
    of its types in TYPES_NS); ``version``: НомерВерс, ДатаВерс, КодСостСтат (None: left
    out)."""
    found = etree.Element(f"{{{NS}}}СведРегРожд")
    number, dated, state = version
    attributes = {
        "РазделЕГР": "1",
        "НомерЗаписЕГР": act_number,
        "НомАГССвид": "170",
        "НомерВерс": number,
        "ДатаВерс": dated,
        "КодСостСтат": state,
    }
    for key, value in attributes.items():
        if value is not None:
            found.set(key, value)
    _add(found, NS, "ДатаЗапис", "2015-05-01")
    office = _add(found, NS, "ОрганЗАГС")
    office.set("НаимЗАГС", OFFICE)
    office.set("КодЗАГС", "92701000")
    for series, number in certificates:
        certificate = _add(found, NS, "СвидетРожд")
        certificate.set("ТипСвидет", "1")
        _add(certificate, TYPES_NS, "СерияСвидет" if series else "ПрСерияСвидет", series or "1")
        _add(certificate, TYPES_NS, "НомерСвидет" if number else "ПрНомерСвидет", number or "1")
        _add(certificate, TYPES_NS, "ДатаВыдСвидет", "2015-05-01")
    details = _add(found, NS, "ПрдСведРег")
    _add(details, NS, "ПрСчетМатер", "1")
    born = _add(details, NS, "СведРодившемся")
    if snils:
        born.set("СНИЛС", snils)
    _add(born, NS, "ПрЖивМертв", "1")
    _add(born, NS, "Пол", "2")
    _name(born, NS, "ФИОРожд", name)
    _date(born, NS, "ДатаРожд", birth)
    place = _add(born, NS, "МестоРожден")
    place.set("ПризнМесто", "1")
    place.set("МестоТекст", "г. Казань")
    _parent(details, "СведМать", mother)
    _parent(details, "СведОтец", father)
    _add(details, NS, "ПрСведДокОснОтец", "1")
    _add(details, NS, "ПрСведДокРод", "1")
    return found


def answer(*records: etree._Element, code: str = "1", request_id: str = "r-1") -> etree._Element:
    """A ROGDINFResponse with one СведОтветАГС holding ``records``."""
    root = etree.Element(RESPONSE, nsmap={"tns": NS, "fnst": TYPES_NS})
    for key, value in (
        ("ИдЗапрос", request_id),
        ("ДатаСвед", "2026-03-01"),
        ("КолДок", "1"),
        ("ТипАГСЗапрос", "01"),
    ):
        root.set(key, value)
    holder = _add(root, NS, "СведОтветАГС")
    holder.set("ИдДок", "d-1")
    holder.set("РезОбраб", code)
    holder.extend(records)
    return root


def envelope(draft: EventDraft) -> dict[str, Any]:
    record_ = InboxRecord(
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
    return cloud_event(event_id_for(record_.inbox_id, 0), record_, draft, datetime.now(UTC))


# --- outcomes ------------------------------------------------------------------------------

VERIFIED, MISMATCH = "student.birth.verified", "student.birth.mismatch"
NOT_FOUND = "student.birth.not_found"
NO_MIDDLE = {"name": {"last": "Семёнова", "first": "Алёна"}}
SERIES, NUMBER = "birth_certificate.series", "birth_certificate.number"


def certified(*certificates: tuple[str | None, str | None]) -> etree._Element:
    return answer(record(certificates=certificates))


def named(*parts: str | None) -> etree._Element:
    return answer(record(parts))


# fmt: off
CASES = {
    # verified: the same record, however ZAGS spells it
    "same record, upper case, Е for Ё": (answer(record()), {}, VERIFIED, []),
    "mixed case with Ё": (named("Семёнова", "алёна", "Игоревна"), {}, VERIFIED, []),
    "series with a Cyrillic numeral": (certified(("ІV-АН", "123456")), {}, VERIFIED, []),
    "series in Latin, en dash": (certified(("IV–AH", "123456")), {}, VERIFIED, []),
    "registry series in look-alikes": (
        answer(record()), {"certificate": {"series": "ІV-ан", "number": "123456"}}, VERIFIED, []),
    "number with a space": (certified(("IV-АН", "123 456")), {}, VERIFIED, []),
    "no patronymic on either side": (named("СЕМЕНОВА", "АЛЕНА", None), NO_MIDDLE, VERIFIED, []),
    "registry knows only the month": (answer(record()), {"birth_date": "2015-04"}, VERIFIED, []),
    "ZAGS knows only the month": (answer(record(birth="2015-04")), {}, VERIFIED, []),
    "ZAGS knows only the year": (answer(record(birth="2015")), {}, VERIFIED, []),
    "ZAGS has no date of birth": (answer(record(birth=None)), {}, VERIFIED, []),
    "a re-issued certificate matches": (
        certified(("II-АН", "000001"), ("IV-АН", "123456")), {}, VERIFIED, []),
    "the second record matches": (
        answer(record(("ИВАНОВА", "АЛЕНА", "ИГОРЕВНА"), act_number=OTHER_ACT), record()), {},
        VERIFIED, []),
    # mismatch: one Difference per field
    "another certificate number": (certified(("IV-АН", "654321")), {}, MISMATCH, [NUMBER]),
    "another certificate series": (certified(("V-АН", "123456")), {}, MISMATCH, [SERIES]),
    "no certificate in the record": (certified(), {}, MISMATCH, [SERIES, NUMBER]),
    "certificate number absent": (certified(("IV-АН", None)), {}, MISMATCH, [NUMBER]),
    "another family name": (named("ПЕТРОВА", "АЛЕНА", "ИГОРЕВНА"), {}, MISMATCH, ["name.last"]),
    "another first name": (named("СЕМЕНОВА", "АННА", "ИГОРЕВНА"), {}, MISMATCH, ["name.first"]),
    "patronymic absent in ZAGS only": (
        named("СЕМЕНОВА", "АЛЕНА", None), {}, MISMATCH, ["name.middle"]),
    "patronymic in ZAGS only": (answer(record()), NO_MIDDLE, MISMATCH, ["name.middle"]),
    "another birth date": (answer(record(birth="2015-04-13")), {}, MISMATCH, ["birth_date"]),
    "another month, ZAGS partial": (answer(record(birth="2015-05")), {}, MISMATCH, ["birth_date"]),
    "another year, ZAGS partial": (answer(record(birth="2014")), {}, MISMATCH, ["birth_date"]),
    "everything differs": (
        answer(record(("ПЕТРОВА", "АЛЕНА", "ИГОРЕВНА"), "2014-04-12", (("V-АН", "654321"),))),
        {}, MISMATCH, [SERIES, NUMBER, "name.last", "birth_date"]),
    "the closest of two records": (
        answer(record(("ПЕТРОВА", "АННА", "ИГОРЕВНА")),
               record(birth="2015-04-13", act_number=OTHER_ACT)),
        {}, MISMATCH, ["birth_date"]),
    "the closest of two records, either order": (
        answer(record(birth="2015-04-13", act_number=OTHER_ACT),
               record(("ПЕТРОВА", "АННА", "ИГОРЕВНА"))),
        {}, MISMATCH, ["birth_date"]),
    # not found
    "no record (result code 2)": (answer(code="2"), {}, NOT_FOUND, []),
    "no record, another result code": (answer(code="3"), {}, NOT_FOUND, []),
}
# fmt: on


@pytest.mark.parametrize(("element", "changes", "expected", "fields"), CASES.values(), ids=CASES)
def test_each_outcome(
    element: etree._Element, changes: dict[str, Any], expected: str, fields: list[str]
) -> None:
    [event] = translate_rogdinf_response(element, context(**changes))
    assert (event.type, event.subject) == (expected, "student:s-1")
    assert [d["field"] for d in event.data.get("differences", [])] == fields
    assert event.data["request_id"] == "r-1"
    validate_event(envelope(event))


def test_verified_carries_zags_record_certificate_and_parents() -> None:
    [event] = translate_rogdinf_response(answer(record()), context())
    data = event.data
    assert data["act_record"] == {"number": ACT_NUMBER, "date": "2015-05-01", "office": OFFICE}
    assert data["birth_certificate"] == {
        "series": "IV-АН",
        "number": "123456",
        "issued_on": "2015-05-01",
    }
    assert data["child"] == {
        "name": {"last": "СЕМЕНОВА", "first": "АЛЕНА", "middle": "ИГОРЕВНА"},
        "birth_date": "2015-04-12",
        "sex": "female",
        "snils": "112-233-445 95",
        "birth_place": "г. Казань",
    }
    relations = [(p["relation"], p["person"]["name"]["first"]) for p in data["parents"]]
    assert relations == [("mother", "ОЛЬГА"), ("father", "ИГОРЬ")]
    assert data["parents"][0]["person"]["birth_date"] == "1988-01-30"


@pytest.mark.parametrize(
    ("mother", "father", "relations"),
    [
        (None, FATHER, ["father"]),
        (MOTHER, None, ["mother"]),
        (None, None, []),
        (("СЕМЕНОВА", None, None), FATHER, ["father"]),
    ],  # a parent without a first name
)
def test_parents_are_those_the_record_names(
    mother: tuple[str, ...] | None, father: tuple[str, ...] | None, relations: list[str]
) -> None:
    [event] = translate_rogdinf_response(answer(record(mother=mother, father=father)), context())
    assert [p["relation"] for p in event.data["parents"]] == relations


def test_a_snils_failing_its_check_number_is_left_out() -> None:
    [event] = translate_rogdinf_response(answer(record(snils="112-233-445 96")), context())
    assert event.type == VERIFIED and event.data["child"]["snils"] is None


def test_mismatch_carries_what_zags_holds() -> None:
    element = answer(record(certificates=(("ІV–ан", "654321"),)))
    [event] = translate_rogdinf_response(element, context())
    assert event.data["differences"] == [
        {"field": NUMBER, "registry": "123456", "agency": "654321"}
    ]
    assert event.data["birth_certificate"]["series"] == "IV-АН"  # normalised
    assert event.data["act_record"]["number"] == ACT_NUMBER


def test_a_certificate_the_model_cannot_hold_is_a_mismatch_without_certificate() -> None:
    [event] = translate_rogdinf_response(answer(record(certificates=(("АБ", "12"),))), context())
    assert event.type == MISMATCH and event.data["birth_certificate"] is None
    assert [(d["field"], d["agency"]) for d in event.data["differences"]] == [
        (SERIES, "АБ"),
        (NUMBER, "12"),
    ]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("2", "ZAGS holds no birth record for the child's data"),
        ("1", "ZAGS holds no birth record for the child's data"),
        ("4", "ZAGS answered without a birth record (result code 4)"),
    ],
)
def test_not_found_says_why(code: str, reason: str) -> None:
    [event] = translate_rogdinf_response(answer(code=code), context())
    assert (event.type, event.data["reason"]) == (NOT_FOUND, reason)


def test_a_date_that_is_not_one_is_refused_without_showing_it() -> None:
    element = answer(record())
    born = element.find(f".//{{{NS}}}ДатаРождКаленд")
    assert born is not None
    born.text = "2015-13-45"
    with pytest.raises(ZagsContentError) as caught:
        translate_rogdinf_response(element, context())
    assert caught.value.details["field"].endswith("ДатаРождКаленд")
    assert "2015-13-45" not in str(caught.value)


def test_a_record_without_act_record_number_is_refused() -> None:
    element = answer(record())
    found = element.find(f".//{{{NS}}}СведРегРожд")
    assert found is not None
    del found.attrib["НомерЗаписЕГР"], found.attrib["НомАГССвид"]
    with pytest.raises(ZagsContentError, match="act-record number"):
        translate_rogdinf_response(element, context())


def test_another_element_or_a_broken_context_is_a_translation_error() -> None:
    with pytest.raises(TranslationError, match="ROGDINFResponse"):
        translate_rogdinf_response(record(), context())
    with pytest.raises(TranslationError, match="birth_certificate"):
        translate_rogdinf_response(
            answer(record()), {"request_id": "r", "student_id": "s", "child": {}}
        )


# --- versions of one act record ------------------------------------------------------------
# A correction makes a new version of the act record (same НомерЗаписЕГР): the highest
# НомерВерс (on a tie, the latest ДатаВерс) is the record as it stands. Version 1 below holds
# the registry's certificate, version 2 the corrected one.

V1 = ("1", "2015-05-01", "0101")
V2 = ("2", "2019-06-03", "0102")
CORRECTED = (("IV-АН", "654321"),)


def _version(data: dict[str, Any], key: str = "record_version") -> tuple[str, str, str]:
    version = data[key]
    return version["version_number"], version["version_date"], version["state_code"]


@pytest.mark.parametrize("order", ["old first", "new first"])
def test_data_matching_only_a_superseded_version_is_a_mismatch(order: str) -> None:
    old, new = record(version=V1), record(certificates=CORRECTED, version=V2)
    element = answer(old, new) if order == "old first" else answer(new, old)
    [event] = translate_rogdinf_response(element, context())
    assert event.type == MISMATCH
    assert event.data["differences"] == [
        {"field": NUMBER, "registry": "123456", "agency": "654321"}
    ]  # found against the current version: what the school must change
    assert _version(event.data) == V2
    assert _version(event.data, "matched_superseded_version") == V1
    assert event.data["birth_certificate"]["number"] == "654321"
    assert event.schema_version == "2"
    validate_event(envelope(event))


@pytest.mark.parametrize("order", ["old first", "new first"])
def test_data_matching_the_current_version_is_verified_with_it(order: str) -> None:
    old, new = record(certificates=CORRECTED, version=V1), record(version=V2)
    element = answer(old, new) if order == "old first" else answer(new, old)
    [event] = translate_rogdinf_response(element, context())
    assert event.type == VERIFIED
    assert _version(event.data) == V2  # number, date and КодСостСтат as ZAGS gives them
    validate_event(envelope(event))


def test_a_single_version_is_reported_and_nothing_superseded() -> None:
    [verified] = translate_rogdinf_response(answer(record()), context())
    [mismatch] = translate_rogdinf_response(answer(record(certificates=CORRECTED)), context())
    assert _version(verified.data) == _version(mismatch.data) == V1
    assert mismatch.data["matched_superseded_version"] is None


def test_versions_are_ordered_as_numbers_not_as_text() -> None:
    ninth = record(version=("9", "2018-01-10", "0101"))
    tenth = record(certificates=CORRECTED, version=("10", "2017-01-10", "0102"))
    [event] = translate_rogdinf_response(answer(tenth, ninth), context())
    assert event.type == MISMATCH  # 10 > 9, whatever the dates or "10" < "9" as text say
    assert _version(event.data) == ("10", "2017-01-10", "0102")
    assert _version(event.data, "matched_superseded_version")[0] == "9"


def test_equal_numbers_the_latest_date_is_current() -> None:
    for later_first in (False, True):
        earlier = record(version=("2", "2019-06-03", "0101"))
        later = record(certificates=CORRECTED, version=("2", "2020-02-11", "0102"))
        element = answer(later, earlier) if later_first else answer(earlier, later)
        [event] = translate_rogdinf_response(element, context())
        assert event.type == MISMATCH
        assert _version(event.data) == ("2", "2020-02-11", "0102")
        assert _version(event.data, "matched_superseded_version") == ("2", "2019-06-03", "0101")


@pytest.mark.parametrize("number", [None, "2a"])
def test_without_a_usable_number_the_dates_decide(number: str | None) -> None:
    # НомерВерс is required text (1-3 characters): when the schema gate is off, a version
    # without one, or with one that is no number, cannot be placed by number.
    older = record(version=("5", "2016-01-01", "0101"))
    newer = record(certificates=CORRECTED, version=(number, "2020-02-11", "0102"))
    [event] = translate_rogdinf_response(answer(older, newer), context())
    assert event.type == MISMATCH
    assert _version(event.data) == (number, "2020-02-11", "0102")
    validate_event(envelope(event))


def test_versions_of_other_act_records_are_not_history() -> None:
    # another act record that matches is current in its own right: verified by it
    other = record(act_number=OTHER_ACT, version=V1)
    [event] = translate_rogdinf_response(answer(record(certificates=CORRECTED), other), context())
    assert event.type == VERIFIED and event.data["act_record"]["number"] == OTHER_ACT


def test_the_superseded_version_names_its_own_act_record() -> None:
    # the registry's data match version 1 of one record; another record is closer otherwise
    close = record(act_number=OTHER_ACT, certificates=CORRECTED)
    old = record(version=V1)
    new = record(("ПЕТРОВА", "АННА", "ИГОРЕВНА"), certificates=CORRECTED, version=V2)
    [event] = translate_rogdinf_response(answer(close, new, old), context())
    assert event.data["act_record"]["number"] == ACT_NUMBER
    assert _version(event.data) == V2
    assert _version(event.data, "matched_superseded_version") == V1
    assert [d["field"] for d in event.data["differences"]] == [NUMBER, "name.last", "name.first"]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("ДатаВерс", "2019-13-40"), ("КодСостСтат", "01020"), ("НомерВерс", "1000")],
)
def test_a_version_the_hub_cannot_carry_is_refused_without_showing_it(
    attribute: str, value: str
) -> None:
    element = answer(record())
    found = element.find(f".//{{{NS}}}СведРегРожд")
    assert found is not None
    found.set(attribute, value)
    with pytest.raises(ZagsContentError) as caught:
        translate_rogdinf_response(element, context())
    assert caught.value.details["field"] == f"СведРегРожд/@{attribute}"
    assert value not in str(caught.value)
