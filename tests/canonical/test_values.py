"""Value objects: normalisation, validation, precise errors without personal data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.canonical.commands import InvalidCommandError, parse_command
from hub.canonical.values import (
    BirthCertificate,
    FullName,
    InvalidValueError,
    PartialDate,
    PassportRF,
    Person,
    Sex,
    Snils,
    normalize_name,
    snils_is_valid,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Семёнова", "СЕМЕНОВА"),
        ("  анна   мария ", "АННА МАРИЯ"),
        ("Римский – Корсаков", "РИМСКИЙ-КОРСАКОВ"),
        ("Салтыков—Щедрин", "САЛТЫКОВ-ЩЕДРИН"),
        ("Петров‐Водкин", "ПЕТРОВ-ВОДКИН"),
    ],
)
def test_names_normalise_for_comparison(given: str, expected: str) -> None:
    assert normalize_name(given) == expected


def test_a_missing_patronymic_matches_only_a_missing_one() -> None:
    assert FullName("Ли", "Ян").matches(FullName("ЛИ", "ян", None))
    assert not FullName("Ли", "Ян").matches(FullName("Ли", "Ян", "Ович"))
    assert FullName("Семёнова", "Алёна", "Ильинична").matches(
        FullName("СЕМЕНОВА", "АЛЕНА", "ИЛЬИНИЧНА")
    )


@pytest.mark.parametrize(
    ("text", "iso", "full"),
    [("2015", "2015", None), ("2015-03", "2015-03", None), ("2015-03-01", "2015-03-01", True)],
)
def test_partial_dates(text: str, iso: str, full: bool | None) -> None:
    value = PartialDate.parse(text)
    assert value.iso() == iso and (value.to_date() is not None) == bool(full)
    assert value.matches(PartialDate.parse("2015-03-01"))
    assert not value.matches(PartialDate.parse("2016-03-01"))


@pytest.mark.parametrize("bad", ["2015-13", "2015-02-30", "15-03-01", "", "1700"])
def test_impossible_dates_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidValueError, match="born"):
        PartialDate.parse(bad, "born")


@pytest.mark.parametrize(
    ("text", "sex"), [("Male", Sex.MALE), ("Ж", Sex.FEMALE), ("2", Sex.FEMALE), ("м", Sex.MALE)]
)
def test_sex_spellings(text: str, sex: Sex) -> None:
    assert Sex.parse(text) == sex


@pytest.mark.parametrize("text", ["112-233-445 95", "11223344595", "127-941-306 66", "06216093030"])
def test_valid_snils_both_spellings(text: str) -> None:
    snils = Snils.parse(text)
    assert Snils.parse(snils.formatted) == Snils.parse(snils.digits) == snils


@pytest.mark.parametrize("text", ["112-233-445 96", "1122334459", "abc", "112-233-445 9x"])
def test_invalid_snils_is_refused_without_showing_it(text: str) -> None:
    with pytest.raises(InvalidValueError, match="snils") as caught:
        Snils.parse(text)
    assert "233-445" not in str(caught.value) and "2334459" not in str(caught.value)
    assert not snils_is_valid(text)


def test_small_numbers_carry_no_check() -> None:
    assert snils_is_valid("001-001-998 00") and snils_is_valid("00100199812")


@given(st.integers(min_value=1_001_999, max_value=999_999_999))
def test_any_number_with_its_check_round_trips(number: int) -> None:
    digits = f"{number:09d}"
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits))
    snils = Snils.parse(f"{digits}{total % 101 % 100:02d}")
    assert Snils.parse(snils.formatted) == snils


@pytest.mark.parametrize(
    ("series", "expected"),
    [("IV-АН", "IV-АН"), ("ІV-ан", "IV-АН"), ("IV–АН", "IV-АН"), ("iv - AH", "IV-АН"),
     ("ХII-АА", "XII-АА"), ("МСМ-ТЕ", "MCM-ТЕ")],
)  # fmt: skip
def test_certificate_series_in_one_spelling(series: str, expected: str) -> None:
    assert BirthCertificate.parse(series, "123456").series == expected


SERIES, NUMBER = "birth_certificate.series", "birth_certificate.number"


@pytest.mark.parametrize(
    ("series", "number", "field"),
    [("IV-A1", "123456", SERIES), ("4-АН", "123456", SERIES),
     ("IV-АН", "12345", NUMBER), ("IV-АН", "1234567", NUMBER)],
)  # fmt: skip
def test_bad_certificates_name_the_field(series: str, number: str, field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        BirthCertificate.parse(series, number)
    assert caught.value.details["field"] == field and "12345" not in str(caught.value)


def test_passport_and_person_from_json() -> None:
    passport = PassportRF.from_data({"series": "92 04", "number": "123456"})
    assert (passport.series, passport.number) == ("9204", "123456")
    with pytest.raises(InvalidValueError, match=r"guardian\.name\.first"):
        Person.from_data({"name": {"last": "Ли", "first": " "}}, "guardian")


BIRTH = {"type": "verify_birth_record", "request_id": "r", "student_id": "s",
         "child": {"name": {"last": "Ли", "first": "Ян"}, "birth_date": "2015-03"},
         "birth_certificate": {"series": "I-АН", "number": "123456"}}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"type": "teleport"}, "type"), ({"request_id": ""}, "request_id"),
     ({"child": None}, "child"), ({"birth_certificate": {"series": "I-АН"}}, NUMBER),
     ({"type": "report_enrollment_status", "order_number": "1", "status_code": 5}, "status_code"),
     ({"type": "verify_snils", "person_id": "p", "role": "student",
       "person": BIRTH["child"], "document": {"kind": "visa"}}, "document.kind")],
)  # fmt: skip
def test_bad_commands_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises((InvalidCommandError, InvalidValueError)) as caught:
        parse_command({**BIRTH, **changes})
    assert caught.value.details["field"] == field


def test_commands_parse() -> None:
    command = parse_command(BIRTH)
    assert command.request_id == "r"
    status = parse_command({"type": "report_enrollment_status", "request_id": "r",
                            "order_number": "7", "status_code": 3})  # fmt: skip
    assert status.status_code == 3  # type: ignore[union-attr]
