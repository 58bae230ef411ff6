"""Value objects of the canonical model: names, dates, documents, people.

Each is validated and normalised when made (``parse``/``from_data``); bad input raises
``InvalidValueError`` naming the field and why, with document numbers masked. Every value also
holds the canonical model's bounds (``hub.canonical.bounds``: lengths, alphabets, dates in
range) however it is made: each checks them in ``__post_init__``, so no adapter can build one
that breaks them.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from hub.canonical import bounds
from hub.canonical.bounds import InvalidValueError as InvalidValueError  # noqa: PLC0414 - re-exported
from hub.canonical.ids import HUB_NAMESPACE

_DASH_CHARS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\\-"
_DASHES = re.compile(rf"\s*[{_DASH_CHARS}]\s*")
_SNILS_SEPARATORS = re.compile(rf"[\s{_DASH_CHARS}]")
_ROMAN_LOOKALIKES = str.maketrans("ІіХхСсМмVvIiXxLlCcDdMm", "IIXXCCMMVVIIXXLLCCDDMM")
_CYRILLIC_LOOKALIKES = str.maketrans("ABEKMHOPCTXY", "АВЕКМНОРСТХУ")
_SERIES = re.compile(rf"^[IVXLCDM]{{1,{bounds.SERIES_NUMERALS}}}-[А-ЯЁ]{{2}}$")
_SNILS_DIGITS = re.compile(r"[0-9]{11}")
_SNILS_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, 1)  # of the first nine digits, in order
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_FOUR_DIGITS = re.compile(r"[0-9]{4}")
_PARTIAL_DATE = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")


def mask(value: str) -> str:
    """A document number or SNILS as it may appear in an error: all but the last 2 hidden."""
    return "*" * max(len(value) - 2, 0) + value[-2:]


def _invalid(field: str, why: str) -> InvalidValueError:
    return InvalidValueError(f"{field}: {why}", field=field)


def _renamed(exc: InvalidValueError, default: str, field: str) -> InvalidValueError:
    """``exc`` (raised under a value's ``default`` field name) for the field the caller
    named: a value checks its bounds when made, before it knows where it stands."""
    name = str(exc.details.get("field", ""))
    if field == default or not name.startswith(default):
        return exc
    named = field + name[len(default) :]
    why = exc.message.partition(": ")[2]
    return InvalidValueError(f"{named}: {why}", **{**exc.details, "field": named})


def _in_range(when: PartialDate | None, dates: bounds.DateRange, field: str) -> None:
    if when is not None:
        dates.check(when.year, when.month, when.day, field)


def squeeze(text: str) -> str:
    """``text`` with each run of whitespace made one space and none at either end."""
    # The same as re.sub(r"\s+", " ", text).strip() (str.split and re's \s agree on every
    # code point) at a quarter of the cost: this runs for every name and date read.
    return " ".join(text.split())


def without_spaces(text: str) -> str:
    """``text`` with all whitespace removed (document numbers written in groups)."""
    return "".join(text.split())


def normalize_name(text: str) -> str:
    """The comparison key of a name: upper case, Ё≡Е, one space, one kind of hyphen."""
    return _DASHES.sub("-", squeeze(text).upper().replace("Ё", "Е"))


@dataclass(frozen=True, slots=True)
class FullName:
    last: str
    first: str
    middle: str | None = None

    @classmethod
    def parse(
        cls, last: str, first: str, middle: str | None = None, field: str = "name"
    ) -> FullName:
        """Stripped parts; last and first names are required, an empty middle is none."""
        parts = [squeeze(p or "") for p in (last, first, middle or "")]
        if not parts[0]:
            raise _invalid(f"{field}.last", "is empty")
        if not parts[1]:
            raise _invalid(f"{field}.first", "is empty")
        try:
            return cls(parts[0], parts[1], parts[2] or None)
        except InvalidValueError as exc:
            raise _renamed(exc, "name", field) from None

    def __post_init__(self) -> None:
        bounds.NAME_PART.check(self.last, "name.last")
        bounds.NAME_PART.check(self.first, "name.first")
        bounds.NAME_PART.optional(self.middle, "name.middle")

    def key(self) -> tuple[str, str, str]:
        return (
            normalize_name(self.last),
            normalize_name(self.first),
            normalize_name(self.middle or ""),
        )

    def matches(self, other: FullName) -> bool:
        """Same name once normalised; a missing middle name matches only a missing one."""
        return self.key() == other.key()

    def to_data(self) -> dict[str, Any]:
        middle = self.middle.strip() if self.middle else None
        return {"last": self.last.strip(), "first": self.first.strip(), "middle": middle or None}

    @classmethod
    def from_data(cls, data: Any, field: str = "name") -> FullName:
        mapping = _mapping(data, field)
        return cls.parse(
            _text(mapping, "last", field),
            _text(mapping, "first", field),
            _optional_text(mapping, "middle", field),
            field,
        )


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date whose month or day may be unknown, as ZAGS records sometimes are."""

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, value: str | date, field: str = "date") -> PartialDate:
        if isinstance(value, date):
            return cls(value.year, value.month, value.day)
        found = _PARTIAL_DATE.match(value.strip()) if isinstance(value, str) else None
        if found is None:
            raise _invalid(field, "expected YYYY, YYYY-MM or YYYY-MM-DD")
        year, month, day = found.groups()
        return cls._checked(
            int(year), int(month) if month else None, int(day) if day else None, field
        )

    @classmethod
    def _checked(cls, year: int, month: int | None, day: int | None, field: str) -> PartialDate:
        try:
            date(year, 1 if month is None else month, 1 if day is None else day)
        except ValueError as exc:
            raise _invalid(field, f"no such date ({exc})") from exc
        if year < 1800:
            raise _invalid(field, "year before 1800")
        return cls(year, month, day)

    def iso(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def to_date(self) -> date | None:
        if self.month is None or self.day is None:
            return None
        return date(self.year, self.month, self.day)

    def matches(self, other: PartialDate) -> bool:
        """True when every part both dates know agrees."""
        pairs = ((self.year, other.year), (self.month, other.month), (self.day, other.day))
        return all(a == b for a, b in pairs if a is not None and b is not None)


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"

    @classmethod
    def parse(cls, value: str, field: str = "sex") -> Sex:
        key = value.strip().lower()
        if key in {"male", "m", "м", "муж", "мужской", "1"}:
            return cls.MALE
        if key in {"female", "f", "ж", "жен", "женский", "2"}:
            return cls.FEMALE
        raise _invalid(field, f"unknown sex {value!r}")


@dataclass(frozen=True, slots=True)
class Snils:
    digits: str

    @classmethod
    def parse(cls, value: str, field: str = "snils") -> Snils:
        """From ``NNN-NNN-NNN CC`` or 11 bare digits; the check number must hold."""
        digits = _SNILS_SEPARATORS.sub("", value if isinstance(value, str) else "")
        if not _SNILS_DIGITS.fullmatch(digits):
            raise _invalid(field, f"a SNILS has 11 digits (got {mask(digits)!r})")
        if not _snils_check_holds(digits):
            raise _invalid(field, f"check number does not match (SNILS {mask(digits)})")
        return cls(digits)

    @property
    def formatted(self) -> str:
        d = self.digits
        return f"{d[0:3]}-{d[3:6]}-{d[6:9]} {d[9:11]}"

    def __str__(self) -> str:
        return self.formatted


def _snils_check_holds(digits: str) -> bool:
    if int(digits[:9]) <= 1001998:  # numbers up to 001-001-998 carry no check
        return True
    total = sum(map(operator.mul, map(int, digits[:9]), _SNILS_WEIGHTS))
    return f"{total % 101 % 100:02d}" == digits[9:]


def snils_is_valid(text: str) -> bool:
    """Whether ``text`` is a SNILS with a correct check number."""
    try:
        Snils.parse(text)
    except InvalidValueError:
        return False
    return True


def normalize_series(series: str) -> str:
    """A birth-certificate series in its one spelling: Latin numeral, hyphen, Cyrillic."""
    text = _DASHES.sub("-", squeeze(series or ""))
    # "IV АН": a space alone also separates the numeral from the letters
    text = text.replace(" ", "") if "-" in text else text.replace(" ", "-", 1).replace(" ", "")
    numeral, _, letters = text.partition("-")
    return (
        f"{numeral.translate(_ROMAN_LOOKALIKES)}-{letters.upper().translate(_CYRILLIC_LOOKALIKES)}"
    )


@dataclass(frozen=True, slots=True)
class BirthCertificate:
    series: str
    number: str
    issued_on: PartialDate | None = None

    @classmethod
    def parse(
        cls,
        series: str,
        number: str,
        issued_on: PartialDate | str | date | None = None,
        field: str = "birth_certificate",
    ) -> BirthCertificate:
        normal = normalize_series(series)
        if not _SERIES.match(normal):
            raise _invalid(f"{field}.series", "expected a Roman numeral, a hyphen, two letters")
        digits = without_spaces(number or "")
        if not _SIX_DIGITS.fullmatch(digits):
            raise _invalid(f"{field}.number", f"expected 6 digits (got {mask(digits)!r})")
        try:
            return cls(normal, digits, _date_or_none(issued_on, f"{field}.issued_on"))
        except InvalidValueError as exc:
            raise _renamed(exc, "birth_certificate", field) from None

    def __post_init__(self) -> None:
        _in_range(self.issued_on, bounds.EVENT_DATE, "birth_certificate.issued_on")

    def to_data(self) -> dict[str, Any]:
        issued = self.issued_on.iso() if self.issued_on else None
        return {"series": self.series, "number": self.number, "issued_on": issued}

    @classmethod
    def from_data(cls, data: Any, field: str = "birth_certificate") -> BirthCertificate:
        m = _mapping(data, field)
        issued = _optional_text(m, "issued_on", field)
        return cls.parse(_text(m, "series", field), _text(m, "number", field), issued, field)


@dataclass(frozen=True, slots=True)
class PassportRF:
    series: str
    number: str
    issued_on: PartialDate | None = None
    issuer: str | None = None

    @classmethod
    def parse(
        cls,
        series: str,
        number: str,
        issued_on: PartialDate | str | date | None = None,
        issuer: str | None = None,
        field: str = "passport",
    ) -> PassportRF:
        s, n = without_spaces(series or ""), without_spaces(number or "")
        if not _FOUR_DIGITS.fullmatch(s):
            raise _invalid(f"{field}.series", "expected 4 digits")
        if not _SIX_DIGITS.fullmatch(n):
            raise _invalid(f"{field}.number", f"expected 6 digits (got {mask(n)!r})")
        issuer = issuer.strip() if issuer else None
        try:
            return cls(s, n, _date_or_none(issued_on, f"{field}.issued_on"), issuer or None)
        except InvalidValueError as exc:
            raise _renamed(exc, "passport", field) from None

    def __post_init__(self) -> None:
        _in_range(self.issued_on, bounds.EVENT_DATE, "passport.issued_on")
        bounds.ISSUER.optional(self.issuer, "passport.issuer")

    def to_data(self) -> dict[str, Any]:
        issued = self.issued_on.iso() if self.issued_on else None
        return {
            "series": self.series,
            "number": self.number,
            "issued_on": issued,
            "issuer": self.issuer,
        }

    @classmethod
    def from_data(cls, data: Any, field: str = "passport") -> PassportRF:
        m = _mapping(data, field)
        return cls.parse(
            _text(m, "series", field),
            _text(m, "number", field),
            _optional_text(m, "issued_on", field),
            _optional_text(m, "issuer", field),
            field,
        )


@dataclass(frozen=True, slots=True)
class Address:
    text: str
    region_code: str | None = None

    def __post_init__(self) -> None:
        bounds.ADDRESS.check(self.text, "address.text")
        bounds.REGION_CODE.optional(self.region_code, "address.region_code")

    def to_data(self) -> dict[str, Any]:
        return {"text": self.text, "region_code": self.region_code}


@dataclass(frozen=True, slots=True)
class ActRecord:
    """A civil-registry act record: its number, date and registry office."""

    number: str
    date: PartialDate | None = None
    office: str | None = None

    def __post_init__(self) -> None:
        bounds.ACT_NUMBER.check(self.number, "act_record.number")
        _in_range(self.date, bounds.EVENT_DATE, "act_record.date")
        bounds.OFFICE.optional(self.office, "act_record.office")

    def to_data(self) -> dict[str, Any]:
        when = self.date.iso() if self.date else None
        return {"number": self.number, "date": when, "office": self.office}

    @classmethod
    def from_data(cls, data: Any, field: str = "act_record") -> ActRecord:
        m = _mapping(data, field)
        when = _optional_text(m, "date", field)
        office = _optional_text(m, "office", field)
        try:
            return cls(
                _text(m, "number", field).strip(),
                PartialDate.parse(when, f"{field}.date") if when else None,
                office,
            )
        except InvalidValueError as exc:
            raise _renamed(exc, "act_record", field) from None


class Relation(StrEnum):
    MOTHER = "mother"
    FATHER = "father"
    LEGAL_REPRESENTATIVE = "legal_representative"


@dataclass(frozen=True, slots=True)
class Person:
    name: FullName
    birth_date: PartialDate | None = None
    sex: Sex | None = None
    snils: Snils | None = None
    birth_place: str | None = None

    def __post_init__(self) -> None:
        _in_range(self.birth_date, bounds.BIRTH, "person.birth_date")
        bounds.PLACE.optional(self.birth_place, "person.birth_place")

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name.to_data(),
            "birth_date": self.birth_date.iso() if self.birth_date else None,
            "sex": self.sex.value if self.sex else None,
            "snils": self.snils.formatted if self.snils else None,
            "birth_place": self.birth_place,
        }

    @classmethod
    def from_data(cls, data: Any, field: str = "person") -> Person:
        m = _mapping(data, field)
        born = _optional_text(m, "birth_date", field)
        sex = _optional_text(m, "sex", field)
        snils = _optional_text(m, "snils", field)
        place = _optional_text(m, "birth_place", field)
        name = FullName.from_data(m.get("name"), f"{field}.name")
        try:
            return cls(
                name,
                PartialDate.parse(born, f"{field}.birth_date") if born else None,
                Sex.parse(sex, f"{field}.sex") if sex else None,
                Snils.parse(snils, f"{field}.snils") if snils else None,
                place,
            )
        except InvalidValueError as exc:
            raise _renamed(exc, "person", field) from None


def person_key(person: Person) -> str:
    """A stable subject for a person the registry's id is not known for (ZAGS notices)."""
    born = person.birth_date.iso() if person.birth_date else ""
    key = "|".join((*person.name.key(), born))
    return str(uuid.uuid5(HUB_NAMESPACE, f"person:{key}"))


@dataclass(frozen=True, slots=True)
class Guardian:
    relation: Relation
    person: Person

    def to_data(self) -> dict[str, Any]:
        return {"relation": self.relation.value, "person": self.person.to_data()}


# --- reading JSON with precise paths -----------------------------------------------------


def _mapping(data: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _invalid(field, "expected an object")
    return data


def _text(data: Mapping[str, Any], key: str, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{field}.{key}", "required text is missing")
    return value


def _optional_text(data: Mapping[str, Any], key: str, field: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{field}.{key}", "expected text")
    return value or None


def _date_or_none(value: PartialDate | str | date | None, field: str) -> PartialDate | None:
    if value is None or isinstance(value, PartialDate):
        return value
    return PartialDate.parse(value, field)
