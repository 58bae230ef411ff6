"""Value objects: normalisation, validation, precise errors without personal data."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.canonical.ids import HUB_NAMESPACE
from hub.canonical.values import (
    ActRecord,
    Address,
    BirthCertificate,
    FullName,
    Guardian,
    InvalidValueError,
    PartialDate,
    PassportRF,
    Person,
    Relation,
    Sex,
    Snils,
    mask,
    normalize_name,
    normalize_series,
    person_key,
    snils_is_valid,
)

pytestmark = pytest.mark.unit


def check_digit(nine: str) -> str:
    total = sum(int(d) * (9 - i) for i, d in enumerate(nine))
    return f"{total % 101 % 100:02d}"


def assert_masked(error: InvalidValueError, secret: str) -> None:
    """Nothing longer than the last two characters of ``secret`` shows in the error."""
    shown = f"{error} {error.as_dict()}"
    bare = "".join(ch for ch in secret if ch.isalnum())
    for start in range(len(bare) - 2):
        assert bare[start : start + 3] not in shown, shown


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Семёнова", "СЕМЕНОВА"),
        ("СЕМЁНОВА", "СЕМЕНОВА"),
        ("семенова", "СЕМЕНОВА"),
        ("  анна   мария ", "АННА МАРИЯ"),
        ("анна\tмария\n", "АННА МАРИЯ"),
        ("Римский-Корсаков", "РИМСКИЙ-КОРСАКОВ"),
        ("Римский - Корсаков", "РИМСКИЙ-КОРСАКОВ"),
        ("Петров\u2010Водкин", "ПЕТРОВ-ВОДКИН"),  # hyphen
        ("Петров\u2011Водкин", "ПЕТРОВ-ВОДКИН"),  # non-breaking hyphen
        ("Петров\u2012Водкин", "ПЕТРОВ-ВОДКИН"),  # figure dash
        ("Петров \u2013 Водкин", "ПЕТРОВ-ВОДКИН"),  # en dash
        ("Салтыков\u2014Щедрин", "САЛТЫКОВ-ЩЕДРИН"),  # em dash
        ("Салтыков\u2015Щедрин", "САЛТЫКОВ-ЩЕДРИН"),  # horizontal bar
        ("Салтыков\u2212Щедрин", "САЛТЫКОВ-ЩЕДРИН"),  # minus sign
        ("Ли", "ЛИ"),
        ("", ""),
    ],
)
def test_names_normalise_for_comparison(given: str, expected: str) -> None:
    assert normalize_name(given) == expected


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (("Семёнова", "Алёна", "Ильинична"), ("СЕМЕНОВА", "алена", "ИЛЬИНИЧНА"), True),
        (("Римский–Корсаков", "Ян", None), ("римский - корсаков", "ЯН", None), True),
        ((" Ли ", "Ян", None), ("Ли", "  Ян", None), True),
        (("Ли", "Ян", None), ("Ли", "Ян", ""), True),  # empty = missing
        (("Ли", "Ян", None), ("Ли", "Ян", "Ович"), False),
        (("Ли", "Ян", "Ович"), ("Ли", "Ян", None), False),
        (("Ли", "Ян", "Ович"), ("Ли", "Ян", "Петрович"), False),
        (("Ли", "Ян", None), ("Ли", "Яна", None), False),
        (("Ли", "Ян", None), ("Лин", "Ян", None), False),
    ],
)
def test_names_match_once_normalised(
    left: tuple[str, str, str | None], right: tuple[str, str, str | None], same: bool
) -> None:
    assert FullName(*left).matches(FullName(*right)) is same
    assert FullName(*right).matches(FullName(*left)) is same


def test_name_key_and_data_keep_the_original_spelling() -> None:
    name = FullName.parse("  Семёнова ", "Алёна", "  ")
    assert name == FullName("Семёнова", "Алёна", None)
    assert name.key() == ("СЕМЕНОВА", "АЛЕНА", "")
    assert name.to_data() == {"last": "Семёнова", "first": "Алёна", "middle": None}
    assert FullName(" Ли ", "Ян ", " Ович").to_data() == {
        "last": "Ли",
        "first": "Ян",
        "middle": "Ович",
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"last": "", "first": "Ян"}, "name.last"),
        ({"last": "  ", "first": "Ян"}, "name.last"),
        ({"first": "Ян"}, "name.last"),
        ({"last": "Ли"}, "name.first"),
        ({"last": "Ли", "first": 7}, "name.first"),
        ({"last": "Ли", "first": "Ян", "middle": 1}, "name.middle"),
        (["Ли", "Ян"], "name"),
        (None, "name"),
    ],
)
def test_bad_names_name_the_field(data: Any, field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        FullName.from_data(data)
    assert caught.value.details["field"] == field
    assert caught.value.code == "INVALID_VALUE"


@given(st.text(alphabet="абвгдеёжзАБВЁЕ -–—", max_size=30))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize_name(text)
    assert normalize_name(once) == once
    assert normalize_name(text.lower()) == normalize_name(text.upper()) == once


# --- partial dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "parts", "iso", "full"),
    [
        ("2015", (2015, None, None), "2015", None),
        ("2015-03", (2015, 3, None), "2015-03", None),
        ("2015-03-01", (2015, 3, 1), "2015-03-01", date(2015, 3, 1)),
        (" 2015-03-01 ", (2015, 3, 1), "2015-03-01", date(2015, 3, 1)),
        ("2016-02-29", (2016, 2, 29), "2016-02-29", date(2016, 2, 29)),
        (date(2015, 3, 1), (2015, 3, 1), "2015-03-01", date(2015, 3, 1)),
    ],
)
def test_partial_dates_parse(
    value: str | date, parts: tuple[int, int | None, int | None], iso: str, full: date | None
) -> None:
    parsed = PartialDate.parse(value)
    assert (parsed.year, parsed.month, parsed.day) == parts
    assert parsed.iso() == iso
    assert parsed.to_date() == full
    assert PartialDate.parse(parsed.iso()) == parsed


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("2015", "2015-03-01", True),
        ("2015", "2015", True),
        ("2015-03", "2015-03-01", True),
        ("2015-03", "2015-03", True),
        ("2015-03-01", "2015-03-01", True),
        ("2015", "2016-03-01", False),
        ("2015-03", "2015-04-01", False),
        ("2015-03", "2015-04", False),
        ("2015-03-01", "2015-03-02", False),
        ("2015-03-01", "2016", False),
    ],
)
def test_partial_dates_match_on_the_parts_both_know(left: str, right: str, same: bool) -> None:
    a, b = PartialDate.parse(left), PartialDate.parse(right)
    assert a.matches(b) is same and b.matches(a) is same


@pytest.mark.parametrize(
    "bad",
    [
        "2015-13",
        "2015-00",
        "2015-02-30",
        "2015-02-29",
        "2015-04-31",
        "2015-03-00",
        "2015-03-32",
        "15-03-01",
        "2015-3-1",
        "01.03.2015",
        "2015-03-01T00:00",
        "",
        "1700",
    ],
)
def test_impossible_dates_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidValueError, match="born") as caught:
        PartialDate.parse(bad, "born")
    assert caught.value.details == {"field": "born"}


@given(st.dates(min_value=date(1800, 1, 1)), st.integers(min_value=0, max_value=2))
def test_partial_date_iso_round_trips(day: date, drop: int) -> None:
    text = day.isoformat()[: (10, 7, 4)[drop]]
    parsed = PartialDate.parse(text)
    assert parsed.iso() == text and parsed.matches(PartialDate.parse(day))


# --- sex -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("male", Sex.MALE),
        ("Male", Sex.MALE),
        ("MALE", Sex.MALE),
        ("М", Sex.MALE),
        ("м", Sex.MALE),
        ("муж", Sex.MALE),
        ("1", Sex.MALE),
        (" 1 ", Sex.MALE),
        ("female", Sex.FEMALE),
        ("Female", Sex.FEMALE),
        ("Ж", Sex.FEMALE),
        ("ж", Sex.FEMALE),
        ("жен", Sex.FEMALE),
        ("2", Sex.FEMALE),
    ],
)
def test_sex_spellings(text: str, sex: Sex) -> None:
    assert Sex.parse(text) is sex


@pytest.mark.parametrize("bad", ["", "3", "unknown", "X"])
def test_unknown_sex_names_the_field(bad: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        Sex.parse(bad, "child.sex")
    assert caught.value.details["field"] == "child.sex"


# --- SNILS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits", "formatted"),
    [
        ("112-233-445 95", "11223344595", "112-233-445 95"),
        ("11223344595", "11223344595", "112-233-445 95"),
        ("127-941-306 66", "12794130666", "127-941-306 66"),
        ("12794130666", "12794130666", "127-941-306 66"),
        ("062-160-930 30", "06216093030", "062-160-930 30"),
        ("06216093030", "06216093030", "062-160-930 30"),
        (" 112 233 445 95 ", "11223344595", "112-233-445 95"),
        ("112–233–445 95", "11223344595", "112-233-445 95"),  # en dashes
    ],
)
def test_valid_snils_both_spellings(text: str, digits: str, formatted: str) -> None:
    snils = Snils.parse(text)
    assert (snils.digits, snils.formatted, str(snils)) == (digits, formatted, formatted)
    assert snils_is_valid(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("112-233-445 96", "check number"),
        ("11223344594", "check number"),
        ("127-941-306 67", "check number"),
        ("06216093031", "check number"),
        ("001-001-999 00", "check number"),  # first number that is checked
        ("1122334459", "11 digits"),
        ("112233445955", "11 digits"),
        ("112-233-445 9x", "11 digits"),
        ("abc", "11 digits"),
        ("", "11 digits"),
    ],
)
def test_invalid_snils_is_refused_without_showing_it(text: str, why: str) -> None:
    with pytest.raises(InvalidValueError, match=why) as caught:
        Snils.parse(text, "person.snils")
    assert caught.value.details == {"field": "person.snils"}
    assert_masked(caught.value, text)
    assert not snils_is_valid(text)


@pytest.mark.parametrize(
    "text", ["000-000-000 00", "001-001-998 00", "00100199812", "000-000-001 99", "001-001-999 65"]
)
def test_numbers_up_to_001_001_998_carry_no_check(text: str) -> None:
    assert snils_is_valid(text)


@given(st.integers(min_value=1_001_999, max_value=999_999_999))
def test_any_number_with_its_check_round_trips(number: int) -> None:
    nine = f"{number:09d}"
    snils = Snils.parse(nine + check_digit(nine))
    assert Snils.parse(snils.formatted) == Snils.parse(snils.digits) == snils
    assert snils.formatted.replace("-", "").replace(" ", "") == snils.digits


@given(st.integers(min_value=1_001_999, max_value=999_999_999), st.integers(1, 99))
def test_any_other_check_number_is_refused(number: int, shift: int) -> None:
    nine = f"{number:09d}"
    wrong = f"{(int(check_digit(nine)) + shift) % 100:02d}"
    assert not snils_is_valid(nine + wrong)


@pytest.mark.parametrize(
    ("value", "masked"), [("11223344595", "*********95"), ("12", "12"), ("7", "7"), ("", "")]
)
def test_mask_keeps_two_characters_at_most(value: str, masked: str) -> None:
    assert mask(value) == masked


# --- birth certificates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        ("IV-АН", "IV-АН"),
        ("ІV-АН", "IV-АН"),  # Cyrillic І
        ("ІV-ан", "IV-АН"),
        ("iv-ан", "IV-АН"),
        ("IV–АН", "IV-АН"),  # en dash
        ("IV—АН", "IV-АН"),  # em dash
        ("IV\u2011АН", "IV-АН"),  # non-breaking hyphen
        ("IV - АН", "IV-АН"),
        ("IV АН", "IV-АН"),  # a space alone separates too
        ("IV-AH", "IV-АН"),  # Latin A, H
        ("iv-ah", "IV-АН"),
        ("XII-аа", "XII-АА"),
        ("ХII-АА", "XII-АА"),  # Cyrillic Х
        ("хii-aa", "XII-АА"),
        ("МСМ-ТЕ", "MCM-ТЕ"),  # Cyrillic М, С
        ("I-ЁЖ", "I-ЁЖ"),
        ("II-BK", "II-ВК"),
    ],
)
def test_certificate_series_in_one_spelling(series: str, expected: str) -> None:
    assert normalize_series(series) == expected
    assert BirthCertificate.parse(series, "123456").series == expected


SERIES, NUMBER = "birth_certificate.series", "birth_certificate.number"


@pytest.mark.parametrize(
    ("series", "number", "field"),
    [
        ("IV-A1", "123456", SERIES),
        ("4-АН", "123456", SERIES),
        ("IV-АНН", "123456", SERIES),
        ("IV-А", "123456", SERIES),
        ("IVАН", "123456", SERIES),
        ("-АН", "123456", SERIES),
        ("IV-", "123456", SERIES),
        ("", "123456", SERIES),
        ("IV-ZZ", "123456", SERIES),  # Latin letters with no Cyrillic twin
        ("IV-АН", "12345", NUMBER),
        ("IV-АН", "1234567", NUMBER),
        ("IV-АН", "12345a", NUMBER),
        ("IV-АН", "", NUMBER),
    ],
)
def test_bad_certificates_name_the_field(series: str, number: str, field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        BirthCertificate.parse(series, number)
    assert caught.value.details == {"field": field}
    assert_masked(caught.value, number)


def test_certificate_data_round_trips() -> None:
    cert = BirthCertificate.parse("ІV–ан", " 123 456 ", "2015-03-10")
    data = cert.to_data()
    assert data == {"series": "IV-АН", "number": "123456", "issued_on": "2015-03-10"}
    assert BirthCertificate.from_data(data) == cert
    assert BirthCertificate.parse("I-АА", "000001").to_data()["issued_on"] is None
    assert BirthCertificate.parse("I-АА", "000001", date(2015, 3, 1)).issued_on == PartialDate(
        2015, 3, 1
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"series": "IV-АН"}, "document.number"),
        ({"number": "123456"}, "document.series"),
        ({"series": "IV-АН", "number": 123456}, "document.number"),
        ({"series": "IV-АН", "number": "123456", "issued_on": "2015-13"}, "document.issued_on"),
        ({"series": "IV-АН", "number": "123456", "issued_on": 2015}, "document.issued_on"),
        ("IV-АН 123456", "document"),
    ],
)
def test_certificate_from_data_names_the_field(data: Any, field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        BirthCertificate.from_data(data, "document")
    assert caught.value.details["field"] == field
    assert_masked(caught.value, "123456")


# --- passports, addresses, act records, guardians -------------------------------------------


@pytest.mark.parametrize(
    ("series", "number", "expected"),
    [
        ("4510", "123456", ("4510", "123456")),
        ("45 10", "123 456", ("4510", "123456")),
        (" 4510 ", " 123456", ("4510", "123456")),
    ],
)
def test_passports_drop_spaces(series: str, number: str, expected: tuple[str, str]) -> None:
    passport = PassportRF.parse(series, number)
    assert (passport.series, passport.number) == expected


@pytest.mark.parametrize(
    ("series", "number", "field"),
    [
        ("451", "123456", "passport.series"),
        ("45100", "123456", "passport.series"),
        ("45АБ", "123456", "passport.series"),
        ("4510", "12345", "passport.number"),
        ("4510", "1234567", "passport.number"),
        ("4510", "12-456", "passport.number"),
    ],
)
def test_bad_passports_name_the_field(series: str, number: str, field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        PassportRF.parse(series, number)
    assert caught.value.details == {"field": field}
    assert_masked(caught.value, number)


def test_passport_data_round_trips() -> None:
    data = {"series": "4510", "number": "123456", "issued_on": "2010-05-01", "issuer": "ОВД"}
    passport = PassportRF.from_data(data)
    assert passport.to_data() == data
    assert PassportRF.from_data({"series": "4510", "number": "123456"}).to_data() == {
        "series": "4510",
        "number": "123456",
        "issued_on": None,
        "issuer": None,
    }


def test_address_act_record_and_guardian_data() -> None:
    assert Address("г. Казань", "16").to_data() == {"text": "г. Казань", "region_code": "16"}
    act = ActRecord.from_data({"number": " 1201500001 ", "date": "2015-03", "office": "ЗАГС"})
    assert act == ActRecord("1201500001", PartialDate(2015, 3), "ЗАГС")
    assert act.to_data() == {"number": "1201500001", "date": "2015-03", "office": "ЗАГС"}
    assert ActRecord("1").to_data() == {"number": "1", "date": None, "office": None}
    mother = Person(FullName("Ли", "Анна"))
    assert Guardian(Relation.MOTHER, mother).to_data() == {
        "relation": "mother",
        "person": mother.to_data(),
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "act_record.number"),
        ({"number": 12}, "act_record.number"),
        ({"number": "1", "date": "2015-02-30"}, "act_record.date"),
        ({"number": "1", "office": ["ЗАГС"]}, "act_record.office"),
        (None, "act_record"),
    ],
)
def test_bad_act_records_name_the_field(data: Any, field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        ActRecord.from_data(data)
    assert caught.value.details["field"] == field


# --- people --------------------------------------------------------------------------------

CHILD: dict[str, Any] = {
    "name": {"last": "Семёнова", "first": "Алёна", "middle": None},
    "birth_date": "2015-03-01",
    "sex": "female",
    "snils": "112-233-445 95",
    "birth_place": "г. Казань",
}


def test_person_data_round_trips() -> None:
    person = Person.from_data(CHILD)
    assert person == Person(
        FullName("Семёнова", "Алёна"),
        PartialDate(2015, 3, 1),
        Sex.FEMALE,
        Snils("11223344595"),
        "г. Казань",
    )
    assert person.to_data() == CHILD
    assert Person.from_data({**CHILD, "snils": "11223344595"}).to_data() == CHILD


def test_a_person_needs_only_a_name() -> None:
    person = Person.from_data({"name": {"last": "Ли", "first": "Ян"}})
    assert person == Person(FullName("Ли", "Ян"))
    assert person.to_data() == {
        "name": {"last": "Ли", "first": "Ян", "middle": None},
        "birth_date": None,
        "sex": None,
        "snils": None,
        "birth_place": None,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "child.name"),
        ({"name": "Ли Ян"}, "child.name"),
        ({"name": {"first": "Ян"}}, "child.name.last"),
        ({"name": {"last": "Ли", "first": " "}}, "child.name.first"),
        ({"name": {"last": "Ли", "first": "Ян", "middle": 5}}, "child.name.middle"),
        ({"birth_date": "2015-02-30"}, "child.birth_date"),
        ({"birth_date": 2015}, "child.birth_date"),
        ({"sex": "unknown"}, "child.sex"),
        ({"sex": 1}, "child.sex"),
        ({"snils": "112-233-445 96"}, "child.snils"),
        ({"snils": "112-233-445"}, "child.snils"),
        ({"snils": 11223344595}, "child.snils"),
        ({"birth_place": {"city": "Казань"}}, "child.birth_place"),
    ],
)
def test_person_errors_carry_the_field_path(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        Person.from_data({**CHILD, **changes}, "child")
    assert caught.value.details["field"] == field
    assert caught.value.message.startswith(field)
    assert_masked(caught.value, "11223344596")


@pytest.mark.parametrize("data", [None, [], "Ли Ян"])
def test_a_person_is_an_object(data: Any) -> None:
    with pytest.raises(InvalidValueError) as caught:
        Person.from_data(data)
    assert caught.value.details["field"] == "person"


def test_person_key_is_stable_and_normalised() -> None:
    one = Person(FullName("Семёнова", "Алёна", None), PartialDate(2015, 3, 1))
    same = Person(FullName(" СЕМЕНОВА", "алена", ""), PartialDate(2015, 3, 1), Sex.FEMALE)
    expected = uuid.uuid5(HUB_NAMESPACE, "person:СЕМЕНОВА|АЛЕНА||2015-03-01")
    assert person_key(one) == person_key(same) == str(expected)
    assert person_key(one) != person_key(Person(FullName("Семёнова", "Алёна"), PartialDate(2015)))
    assert person_key(one) != person_key(Person(FullName("Семёнова", "Алёна", "Ивановна")))


def test_value_objects_are_frozen() -> None:
    snils = Snils.parse("112-233-445 95")
    with pytest.raises(AttributeError):
        snils.digits = "0"  # type: ignore[misc]


@pytest.mark.parametrize(
    "parse",
    [
        lambda: BirthCertificate.parse("IV-АН", "١٢٣٤٥٦"),  # Arabic-Indic digits
        lambda: PassportRF.parse("4510", "१२३४५६"),  # Devanagari
        lambda: Snils.parse("١١٢-٢٣٣-٤٤٥ ٩٥"),
        lambda: PartialDate.parse("٢٠١٥-٠٤-١٢"),
    ],
)
def test_only_ascii_digits_are_digits(parse: Callable[[], object]) -> None:
    # Python's \d and int() take any script's digits; agencies' schemas take 0-9 only.
    with pytest.raises(InvalidValueError):
        parse()
