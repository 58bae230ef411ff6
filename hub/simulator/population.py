"""A synthetic population for the SMEV simulator and the demo, deterministic by seed.

``Population.generate(seed, size, discrepancy_share=…, reference_date=…)`` makes ``size``
school-age students (6–17 on the reference date) in families: two parents, a single mother,
or a legal representative instead of the parents; each adult with a passport and a SNILS,
each child with a birth record (act record, registry office, birth certificate) and, mostly,
a SNILS. Names are Russian with their gendered forms, patronymics made from the father's
first name; SNILS pass their check number, certificate series are a Roman numeral and two
Cyrillic letters. Everything comes from one ``random.Random(seed)`` and ids are uuid5 of the
seed and an index: the same arguments give the same population, byte for byte.

Each student has the TRUTH (the birth record ZAGS holds, the person PFR holds) and the
REGISTRY's copy (what the registry sends in its commands). A set share of copies carries a
``Discrepancy``, every kind at least once once there are seven students; ``EXPECTED`` says
what the hub then makes of each check, by its own comparison rules (``hub.adapters.zags``
and ``hub.adapters.pfr`` ``translate``: names compared case-insensitively with Ё ≡ Е, a
middle name missing on one side only is a difference, a SNILS or certificate number that
differs is one).

What the agencies hold and how they search it (``ZagsHoldings.find``, ``PfrHoldings.find``)
is here too, so the emulators answer exactly as the expectations assume:

* ZAGS finds a birth record by its act-record number when the request names one (the
  registry's commands always do), otherwise by the date of birth and at least two of the
  three name parts. The certificate is not a search key (FACTS.md): ZAGS returns it.
* PFR finds a person by the identity document and date of birth, otherwise by the exact
  name (Ё ≡ Е), date of birth and sex; it answers with what it holds.

``applications`` makes the Gosuslugi enrollment applications of these families (as the hub's
``EnrollmentApplication``, which ``read_application`` returns), ``zags_notices`` a few change
notifications (name changes, a death, a paternity), and ``Population.checks`` the registry's
commands, each with the outcome expected.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from hub.adapters.pfr.schemas import AGENCY as PFR
from hub.adapters.zags.schemas import AGENCY as ZAGS
from hub.canonical.commands import VERIFY_BIRTH_RECORD, VERIFY_SNILS
from hub.canonical.events import (
    BIRTH_MISMATCH,
    BIRTH_NOT_FOUND,
    BIRTH_VERIFIED,
    DEATH_REGISTERED,
    NAME_CHANGED,
    PATERNITY_ESTABLISHED,
    SNILS_MISMATCH,
    SNILS_NOT_FOUND,
    SNILS_VERIFIED,
    Applicant,
    EnrollmentApplication,
)
from hub.canonical.ids import HUB_NAMESPACE
from hub.canonical.values import (
    ActRecord,
    Address,
    BirthCertificate,
    FullName,
    Guardian,
    PartialDate,
    PassportRF,
    Person,
    Relation,
    Sex,
    Snils,
    normalize_name,
    normalize_series,
)

_T = TypeVar("_T")
_K = TypeVar("_K")
NAMESPACE = uuid.uuid5(HUB_NAMESPACE, "simulator:population")
NOVOSIBIRSK = timezone(timedelta(hours=7))


class Discrepancy(StrEnum):
    """How the registry's copy of a student differs from what the agencies hold."""

    NONE = "none"
    TYPO = "typo"  # one letter of one name part changed
    YO_E = "yo_e"  # Ё written Е: the hub treats them as one letter
    WRONG_CERTIFICATE_NUMBER = "wrong_certificate_number"
    MISSING_PATRONYMIC = "missing_patronymic"
    UNKNOWN_TO_ZAGS = "unknown_to_zags"  # ZAGS holds no birth record for the child
    UNKNOWN_TO_PFR = "unknown_to_pfr"  # the child has no SNILS: PFR knows nothing
    WRONG_SNILS = "wrong_snils"  # another SNILS, itself valid


KINDS = tuple(kind for kind in Discrepancy if kind is not Discrepancy.NONE)


class Outcome(StrEnum):
    """The last part of the event a check ends in (``student.birth.…``, ``person.snils.…``)."""

    VERIFIED = "verified"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"


class FamilyKind(StrEnum):
    TWO_PARENTS = "two_parents"
    SINGLE_MOTHER = "single_mother"  # no father in the birth record
    REPRESENTATIVE = "representative"  # a legal representative instead of the parents


@dataclass(frozen=True, slots=True)
class Expected:
    """What the hub makes of the student's two checks."""

    birth_record: Outcome
    snils: Outcome


_V, _M, _N = Outcome.VERIFIED, Outcome.MISMATCH, Outcome.NOT_FOUND
EXPECTED: dict[Discrepancy, Expected] = {
    Discrepancy.NONE: Expected(_V, _V),
    # ZAGS and PFR both find the child (act record; certificate) and their name differs
    Discrepancy.TYPO: Expected(_M, _M),
    Discrepancy.YO_E: Expected(_V, _V),
    # the certificate is compared by the ZAGS adapter only; PFR finds the child by name
    Discrepancy.WRONG_CERTIFICATE_NUMBER: Expected(_M, _V),
    # a middle name on one side only is a difference for both adapters
    Discrepancy.MISSING_PATRONYMIC: Expected(_M, _M),
    Discrepancy.UNKNOWN_TO_ZAGS: Expected(_N, _V),
    Discrepancy.UNKNOWN_TO_PFR: Expected(_V, _N),
    Discrepancy.WRONG_SNILS: Expected(_V, _M),
}
_BIRTH_EVENTS = {_V: BIRTH_VERIFIED, _M: BIRTH_MISMATCH, _N: BIRTH_NOT_FOUND}
_SNILS_EVENTS = {_V: SNILS_VERIFIED, _M: SNILS_MISMATCH, _N: SNILS_NOT_FOUND}


# --- names ---------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = _words(
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв "
    "Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов "
    "Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов "
    "Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков "
    "Миронов Крылов Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Данилов "
    "Тимофеев Фомин Чернов Мартынов Ефимов Щербаков Назаров Калинин Исаев Чернышёв Быков "
    "Маслов Лазарев Воронин Климов Пономарёв Голубев Кудрявцев Прохоров Журавлёв Трофимов "
    "Леонов Соболев Ермаков Гончаров Грачёв Котов Громов Кириллов Панов Румянцев Горбунов "
    "Ерёмин Лукьянов Скворцов Белоусов Нестеров Цветков Воронцов Аксёнов Мальцев Логинов "
    "Демидов Рыбаков Плотников Дёмин Жданов Островский Высоцкий Ковальский Толстой Лановой "
    "Шевченко Бондаренко Ткаченко Руденко Черных Седых Шевчук Полищук Ким"
)
YO_SURNAMES = tuple(name for name in SURNAMES if "ё" in name)
CHILD_NAMES = {
    Sex.MALE: _words(
        "Александр Максим Артём Михаил Иван Дмитрий Даниил Кирилл Андрей Егор Никита Илья "
        "Алексей Матвей Тимофей Роман Владимир Ярослав Фёдор Марк Лев Степан Семён Глеб "
        "Павел Пётр Николай Сергей Георгий Арсений"
    ),
    Sex.FEMALE: _words(
        "Анастасия Мария Дарья Анна Елизавета Полина Виктория Екатерина Софья Александра "
        "Ксения Варвара Вероника Алиса Арина Ульяна Алёна Милана Ева Василиса Кира Таисия "
        "Валерия Юлия"
    ),
}
ADULT_NAMES = {
    Sex.MALE: _words(
        "Сергей Андрей Алексей Дмитрий Александр Евгений Игорь Олег Юрий Владимир Михаил "
        "Николай Виталий Денис Роман Павел Иван Константин Максим Антон Вадим Василий "
        "Геннадий Анатолий Виктор Илья Никита Пётр Фёдор Семён Лев Григорий Георгий Яков "
        "Артём Кирилл Станислав Вячеслав Аркадий"
    ),
    Sex.FEMALE: _words(
        "Елена Ольга Наталья Татьяна Ирина Светлана Юлия Анна Екатерина Мария Марина "
        "Анастасия Оксана Людмила Галина Надежда Алёна Евгения Виктория Ксения Любовь Вера "
        "Валентина Дарья"
    ),
}
# Patronymics that no ending rule gives (male form, female form).
_IRREGULAR_PATRONYMICS = {
    "Илья": ("Ильич", "Ильинична"),
    "Никита": ("Никитич", "Никитична"),
    "Фома": ("Фомич", "Фоминична"),
    "Кузьма": ("Кузьмич", "Кузьминична"),
    "Лука": ("Лукич", "Лукинична"),
    "Лев": ("Львович", "Львовна"),
    "Павел": ("Павлович", "Павловна"),
    "Пётр": ("Петрович", "Петровна"),
    "Яков": ("Яковлевич", "Яковлевна"),
    "Михаил": ("Михайлович", "Михайловна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"),
    "Георгий": ("Георгиевич", "Георгиевна"),
}
_TYPO_LETTERS = "абвгджзиклмнопрстуфхцчшщыэюя"  # no е/ё (one letter to the hub), й, ъ, ь
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        _words("a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya"),
        strict=True,
    )
)


def surname_for(surname: str, sex: Sex) -> str:
    """A surname (given in its male form) in the form for ``sex``: Иванов → Иванова,
    Островский → Островская, Толстой → Толстая; Шевченко, Черных, Ким do not change."""
    if sex is Sex.MALE:
        return surname
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith(("ский", "цкий", "ой")):
        return surname[:-2] + "ая"
    return surname


def patronymic(father_first_name: str, sex: Sex) -> str:
    """The patronymic a child of ``sex`` takes from the father's first name: Сергей →
    Сергеевич/Сергеевна, Игорь → Игоревич, Василий → Васильевич, Иван → Иванович, and the
    irregular ones (Илья → Ильич/Ильинична, Никита → Никитич, Лев → Львович, Пётр → Петрович…)."""
    female = sex is Sex.FEMALE
    irregular = _IRREGULAR_PATRONYMICS.get(father_first_name)
    if irregular is not None:
        return irregular[female]
    name = father_first_name
    if name.endswith("ий"):
        stem = name[:-2] + "ье"
    elif name.endswith(("й", "ь")):
        stem = name[:-1] + "е"
    else:
        stem = name + "о"
    return stem + ("вна" if female else "вич")


def snils_check(body: str) -> str:
    """The two check digits of a SNILS's first nine (FACTS.md: Σ digit × weight 9…1,
    mod 101, mod 100)."""
    total = sum(int(digit) * (9 - i) for i, digit in enumerate(body))
    return f"{total % 101 % 100:02d}"


def _translit(text: str) -> str:
    return "".join(_TRANSLIT.get(c, "") for c in text.lower()).replace("-", "")


# --- places --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Office:
    """A registry office (ОрганЗАГС): its name, code (КодЗАГС), the place children registered
    there are born and the Roman numeral of its certificate series."""

    name: str
    code: str
    place: str
    numeral: str


# Novosibirsk's districts: nominative, genitive, prepositional.
_DISTRICTS = (
    ("Центральный", "Центрального", "Центральном"),
    ("Железнодорожный", "Железнодорожного", "Железнодорожном"),
    ("Заельцовский", "Заельцовского", "Заельцовском"),
    ("Калининский", "Калининского", "Калининском"),
    ("Кировский", "Кировского", "Кировском"),
    ("Ленинский", "Ленинского", "Ленинском"),
    ("Октябрьский", "Октябрьского", "Октябрьском"),
    ("Первомайский", "Первомайского", "Первомайском"),
    ("Советский", "Советского", "Советском"),
    ("Дзержинский", "Дзержинского", "Дзержинском"),
)
HOME_OFFICES = (
    *(
        Office(
            f"Отдел ЗАГС {genitive} района г. Новосибирска",
            f"540000{i:02d}",
            "г. Новосибирск",
            "III",
        )
        for i, (_, genitive, _) in enumerate(_DISTRICTS, start=1)
    ),
    Office("Отдел ЗАГС г. Бердска", "54000011", "г. Бердск, Новосибирская обл.", "III"),
    Office("Отдел ЗАГС г. Искитима", "54000012", "г. Искитим, Новосибирская обл.", "III"),
    Office("Отдел ЗАГС г. Оби", "54000013", "г. Обь, Новосибирская обл.", "III"),
)
OTHER_OFFICES = (
    Office("Отдел ЗАГС Кировского района г. Томска", "70000003", "г. Томск", "I"),
    Office("Отдел ЗАГС Октябрьского района г. Барнаула", "22000004", "г. Барнаул", "IV"),
    Office("Отдел ЗАГС Центрального района г. Кемерово", "42000001", "г. Кемерово", "II"),
    Office("Отдел ЗАГС Ленинского района г. Омска", "55000005", "г. Омск", "XI"),
)
ADULT_PLACES = (
    *(["г. Новосибирск"] * 6),
    "г. Томск",
    "г. Барнаул",
    "г. Кемерово",
    "г. Омск",
    "г. Красноярск",
    "р.п. Коченёво, Новосибирская обл.",
    "с. Ордынское, Новосибирская обл.",
    "г. Бердск, Новосибирская обл.",
)
_STREETS = (
    "ул. Ленина",
    "ул. Кирова",
    "ул. Гоголя",
    "ул. Мичурина",
    "ул. Фрунзе",
    "ул. Титова",
    "ул. Станиславского",
    "ул. Выборная",
    "ул. Богдана Хмельницкого",
    "ул. Петухова",
    "ул. Сибирская",
    "Красный пр-кт",
    "ул. Фёдоровская",
)
REGION = "54"  # Новосибирская область, code of the subject
PASSPORT_REGION = "50"  # its OKATO code: the first two digits of a passport series
_SERIES_LETTERS = "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЭЮЯ"  # no Ё: PFR's schema cannot carry it
# ЕГР ЗАГС act-record numbers start with the kind of act (birth 1, paternity 5, name change 6,
# death 7), then year, КодЗАГС and a sequence number: 21 characters.
_ACT_BIRTH, _ACT_PATERNITY, _ACT_NAME_CHANGE, _ACT_DEATH = "1", "5", "6", "7"


def act_number(kind: str, year: int, office_code: str, sequence: int) -> str:
    """A 21-character ЕГР ЗАГС act-record number."""
    return f"{kind}{year:04d}{office_code}{sequence:08d}"


# --- the population ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Adult:
    """A parent or legal representative: as PFR and Gosuslugi know them."""

    id: str
    relation: Relation
    person: Person
    passport: PassportRF
    phone: str
    email: str


@dataclass(frozen=True, slots=True)
class BirthRecord:
    """A child's birth record as ZAGS holds it."""

    act_record: ActRecord
    office_code: str
    certificate: BirthCertificate
    child: Person
    mother: Person
    father: Person | None
    # The certificate the record held before a correction made its current version (2), when
    # one did: ZAGS answers with both versions, and only the current one can verify.
    superseded_certificate: BirthCertificate | None = None


@dataclass(frozen=True, slots=True)
class RegistryCopy:
    """What the registry holds about a student and sends in its commands."""

    person: Person
    certificate: BirthCertificate
    act_record: ActRecord


@dataclass(frozen=True, slots=True)
class Student:
    """One student: the truth, the registry's copy, how they differ and what should come of
    checking the copy."""

    id: str
    family_id: str
    truth: BirthRecord
    registry: RegistryCopy
    discrepancy: Discrepancy

    @property
    def expected(self) -> Expected:
        """What the hub should make of checking the registry's copy."""
        return EXPECTED[self.discrepancy]


@dataclass(frozen=True, slots=True)
class Family:
    """A household: the mother (always in the birth records), the father unless she is a
    single mother, a legal representative in some, and one or two students."""

    id: str
    kind: FamilyKind
    address: Address
    mother: Adult
    father: Adult | None
    representative: Adult | None
    students: tuple[Student, ...]

    @property
    def guardians(self) -> tuple[Adult, ...]:
        """Who the registry knows as the students' guardians."""
        if self.representative is not None:
            return (self.representative,)
        return (self.mother,) if self.father is None else (self.mother, self.father)

    @property
    def adults(self) -> tuple[Adult, ...]:
        """Every adult of the family, guardian or not (PFR holds them all)."""
        found = (self.mother, self.father, self.representative)
        return tuple(adult for adult in found if adult is not None)


@dataclass(frozen=True, slots=True)
class SnilsHolder:
    """A person PFR holds: the person (with the SNILS) and the identity document."""

    person_id: str
    person: Person
    document: BirthCertificate | PassportRF


class ZagsHoldings:
    """The birth records ZAGS holds, and its search."""

    def __init__(self, records: Iterable[BirthRecord]) -> None:
        self.records = tuple(records)
        self._by_act = {r.act_record.number: r for r in self.records}
        self._by_year: dict[int, list[BirthRecord]] = {}
        for record in self.records:
            assert record.child.birth_date is not None  # noqa: S101 - always made with one
            self._by_year.setdefault(record.child.birth_date.year, []).append(record)

    def find(
        self, name: FullName, birth_date: PartialDate | None, act_number: str | None = None
    ) -> list[BirthRecord]:
        """The records found: by act-record number when one is given (none if unknown),
        otherwise those born on ``birth_date`` agreeing in two name parts or more."""
        if act_number is not None:
            found = self._by_act.get(act_number.strip())
            return [] if found is None else [found]
        if birth_date is None:
            return []
        return [
            record
            for record in self._by_year.get(birth_date.year, [])
            if _born_on(record.child, birth_date) and _agreeing_parts(record.child.name, name) >= 2
        ]


class PfrHoldings:
    """The people PFR holds (each with a SNILS), and its search."""

    def __init__(self, holders: Iterable[SnilsHolder]) -> None:
        self.holders = tuple(holders)
        self._by_document = {(_document_key(h.document), _iso(h.person)): h for h in self.holders}
        self._by_person = {_person_key(h.person): h for h in self.holders}

    def find(
        self,
        name: FullName,
        birth_date: PartialDate | None,
        sex: Sex | None,
        document: BirthCertificate | PassportRF | None = None,
    ) -> SnilsHolder | None:
        """The person holding ``document`` and born on ``birth_date``, otherwise the one of
        exactly this name, date of birth and sex; None when PFR knows neither."""
        asked = Person(name, birth_date, sex)
        if document is not None:
            found = self._by_document.get((_document_key(document), _iso(asked)))
            if found is not None:
                return found
        return self._by_person.get(_person_key(asked))


def _born_on(person: Person, birth_date: PartialDate) -> bool:
    return person.birth_date is not None and person.birth_date.matches(birth_date)


def _agreeing_parts(held: FullName, asked: FullName) -> int:
    return sum(a == b for a, b in zip(held.key(), asked.key(), strict=True))


def _document_key(document: BirthCertificate | PassportRF) -> tuple[str, str, str]:
    if isinstance(document, PassportRF):
        return ("passport", document.series, document.number)
    return ("birth_certificate", normalize_series(document.series), document.number)


def _iso(person: Person) -> str:
    return person.birth_date.iso() if person.birth_date else ""


def _person_key(person: Person) -> tuple[str, ...]:
    return (*person.name.key(), _iso(person), person.sex.value if person.sex else "")


@dataclass(frozen=True, slots=True)
class Check:
    """One registry command and the event the hub should answer it with."""

    agency: str
    subject_id: str
    command: dict[str, Any]
    expected: Outcome
    discrepancy: Discrepancy = Discrepancy.NONE

    @property
    def event_type(self) -> str:
        events = _BIRTH_EVENTS if self.command["type"] == VERIFY_BIRTH_RECORD else _SNILS_EVENTS
        return events[self.expected]


@dataclass(frozen=True, slots=True)
class Population:
    """Families and their students, the truth the agencies hold and the registry's copies."""

    seed: int
    reference_date: date
    discrepancy_share: float
    families: tuple[Family, ...]
    zags: ZagsHoldings = field(repr=False, compare=False)
    pfr: PfrHoldings = field(repr=False, compare=False)
    by_id: dict[str, Family] = field(repr=False, compare=False)

    @classmethod
    def generate(
        cls, seed: int, size: int, *, discrepancy_share: float = 0.2, reference_date: date
    ) -> Population:
        """``size`` students in families, a ``discrepancy_share`` of them with a discrepancy
        (every kind at least once when there are at least seven students and the share is
        not 0), aged 6–17 on ``reference_date``."""
        if size < 0 or not 0 <= discrepancy_share <= 1:
            raise ValueError("size must be ≥ 0 and discrepancy_share between 0 and 1")
        generator = _Generator(seed, reference_date)
        plan = _plan(generator.rng, size, discrepancy_share)
        families = tuple(generator.families(plan))
        return cls(
            seed,
            reference_date,
            discrepancy_share,
            families,
            ZagsHoldings(_zags_records(families)),
            PfrHoldings(_snils_holders(families)),
            {family.id: family for family in families},
        )

    @property
    def students(self) -> tuple[Student, ...]:
        """Every student, family by family (made anew on each call)."""
        return tuple(student for family in self.families for student in family.students)

    def family_of(self, student: Student) -> Family:
        return self.by_id[student.family_id]

    def checks(self) -> tuple[Check, ...]:
        """Every registry command the population makes, with its expected outcome: per
        student a birth-record and a SNILS check, per family each guardian's SNILS check."""
        return tuple(check for family in self.families for check in self._family_checks(family))

    def _family_checks(self, family: Family) -> Iterator[Check]:
        for student in family.students:
            yield Check(
                ZAGS,
                student.id,
                birth_record_command(student, self._request_id("birth", student.id)),
                student.expected.birth_record,
                student.discrepancy,
            )
            yield Check(
                PFR,
                student.id,
                snils_command(student, self._request_id("snils", student.id)),
                student.expected.snils,
                student.discrepancy,
            )
        for adult in family.guardians:  # guardians are copied as the agencies hold them
            command = guardian_snils_command(adult, self._request_id("snils", adult.id))
            yield Check(PFR, adult.id, command, Outcome.VERIFIED)

    def _request_id(self, kind: str, subject_id: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.seed}:request:{kind}:{subject_id}"))


def _zags_records(families: Iterable[Family]) -> Iterator[BirthRecord]:
    for family in families:
        for student in family.students:
            if student.discrepancy is not Discrepancy.UNKNOWN_TO_ZAGS:
                yield student.truth


def _snils_holders(families: Iterable[Family]) -> Iterator[SnilsHolder]:
    for family in families:
        for student in family.students:
            if student.truth.child.snils is not None:
                yield SnilsHolder(student.id, student.truth.child, student.truth.certificate)
        for adult in family.adults:
            yield SnilsHolder(adult.id, adult.person, adult.passport)


def _plan(rng: random.Random, size: int, share: float) -> list[Discrepancy]:
    # Kinds in turn, on places the seed chooses: each kind as often as the others, and all
    # of them as soon as there are as many students as kinds.
    count = min(size, round(size * share))
    if share > 0 and size >= len(KINDS):
        count = max(count, len(KINDS))
    plan = [Discrepancy.NONE] * size
    for i, slot in enumerate(rng.sample(range(size), count)):
        plan[slot] = KINDS[i % len(KINDS)]
    return plan


# --- making people -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Home:
    """What a family's members are made from."""

    id: str
    index: int
    kind: FamilyKind
    surname: str  # male form: the father's and the children's (a single mother's own)
    fathers_first: str  # the father's first name (a single mother's choice of patronymic)
    office: Office  # where the children were registered
    births: tuple[date, ...]  # the children's dates of birth, eldest first


class _Generator:
    """Makes families from one seeded random source, keeping identifiers unique."""

    def __init__(self, seed: int, reference: date) -> None:
        self.seed = seed
        self.reference = reference
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self._snils: set[str] = set()
        self._certificates: set[tuple[str, str]] = set()
        self._passports: set[tuple[str, str]] = set()
        self._people: set[tuple[str, ...]] = set()
        self._acts: dict[tuple[str, str, int], int] = {}

    def pick(self, items: Sequence[_T]) -> _T:
        return items[self.rng.randrange(len(items))]

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def id(self, kind: str, index: int) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.seed}:{kind}:{index}"))

    # --- families

    def families(self, plan: Sequence[Discrepancy]) -> Iterator[Family]:
        start, index = 0, 0
        while start < len(plan):
            count = 2 if len(plan) - start >= 2 and self.chance(0.2) else 1
            yield self.family(index, start, plan[start : start + count])
            start, index = start + count, index + 1

    def family(self, index: int, first: int, plans: Sequence[Discrepancy]) -> Family:
        home = self.home(index, plans)
        mother = self.mother(home)
        father = None if home.kind is FamilyKind.SINGLE_MOTHER else self.father(home, mother)
        representative = None
        if home.kind is FamilyKind.REPRESENTATIVE:
            representative = self.representative(home)
        students = tuple(
            self.student(first + i, home, plan, born, (mother, father))
            for i, (plan, born) in enumerate(zip(plans, home.births, strict=True))
        )
        return Family(home.id, home.kind, self.address(), mother, father, representative, students)

    def home(self, index: int, plans: Sequence[Discrepancy]) -> _Home:
        roll = self.rng.random()
        kind = FamilyKind.TWO_PARENTS if roll < 0.7 else FamilyKind.SINGLE_MOTHER
        kind = FamilyKind.REPRESENTATIVE if roll >= 0.88 else kind
        # a student whose Ё the registry loses needs a Ё to lose: the family name has one
        surnames = YO_SURNAMES if Discrepancy.YO_E in plans else SURNAMES
        office = self.pick(HOME_OFFICES) if self.chance(0.85) else self.pick(OTHER_OFFICES)
        fathers_first = self.pick(ADULT_NAMES[Sex.MALE])
        births = self.births(len(plans))
        return _Home(
            self.id("family", index),
            index,
            kind,
            self.pick(surnames),
            fathers_first,
            office,
            births,
        )

    def births(self, count: int) -> tuple[date, ...]:
        # aged 6 to 17 on the reference date; a younger sibling 400 days to 6 years later
        first = _shifted(self.reference, -18) + timedelta(days=1)
        last = _shifted(self.reference, -6)
        if count == 1:
            return (first + self.days(0, (last - first).days),)
        eldest = first + self.days(0, (last - first).days - 400)
        latest = min(last, eldest + timedelta(days=6 * 365))
        return eldest, eldest + self.days(400, (latest - eldest).days)

    def address(self) -> Address:
        street, house = self.pick(_STREETS), self.rng.randint(1, 120)
        postcode, flat = 630000 + self.rng.randint(1, 133), self.rng.randint(1, 240)
        text = f"{postcode}, Новосибирская обл., г. Новосибирск, {street}, д. {house}, кв. {flat}"
        return Address(text, REGION)

    # --- adults

    def mother(self, home: _Home) -> Adult:
        born = home.births[0] - self.days(19 * 365, 38 * 365)
        keeps_her_name = home.kind is not FamilyKind.SINGLE_MOTHER and self.chance(0.1)
        surname = self.pick(SURNAMES) if keeps_her_name else home.surname
        return self.adult(
            self.id("mother", home.index),
            Relation.MOTHER,
            Sex.FEMALE,
            born,
            lambda: self.name(surname, Sex.FEMALE),
        )

    def father(self, home: _Home, mother: Adult) -> Adult:
        born = _date(mother.person) - self.days(-3 * 365, 8 * 365)
        return self.adult(
            self.id("father", home.index),
            Relation.FATHER,
            Sex.MALE,
            born,
            lambda: self.name(home.surname, Sex.MALE, home.fathers_first),
        )

    def representative(self, home: _Home) -> Adult:
        # mostly a grandmother: the parents are still in the birth record, not guardians
        sex = Sex.FEMALE if self.chance(0.85) else Sex.MALE
        born = home.births[0] - self.days(42 * 365, 60 * 365)
        return self.adult(
            self.id("representative", home.index),
            Relation.LEGAL_REPRESENTATIVE,
            sex,
            born,
            lambda: self.name(self.pick(SURNAMES), sex),
        )

    def adult(
        self,
        adult_id: str,
        relation: Relation,
        sex: Sex,
        born: date,
        make: Callable[[], FullName],
    ) -> Adult:
        name = self.unique(born, make)
        place = self.pick(ADULT_PLACES)
        person = Person(name, PartialDate.parse(born), sex, self.snils(), place)
        email = f"{_translit(name.first)}.{_translit(name.last)}{self.rng.randint(1, 99)}"
        return Adult(
            adult_id, relation, person, self.passport(born), self.phone(), f"{email}@example.org"
        )

    def name(self, surname: str, sex: Sex, first: str | None = None) -> FullName:
        given = first or self.pick(ADULT_NAMES[sex])
        return FullName(
            surname_for(surname, sex), given, patronymic(self.pick(ADULT_NAMES[Sex.MALE]), sex)
        )

    def unique(self, born: date, make: Callable[[], FullName]) -> FullName:
        # no two people share name and date of birth: PFR's search by them is unambiguous
        return _fresh(lambda: (make(), born), self._people, lambda p: (*p[0].key(), str(p[1])))[0]

    def passport(self, born: date) -> PassportRF:
        # issued at 14 and replaced at 20 and 45; series: region, then the year of issue
        age = age_on(born, self.reference)
        due = 45 if age >= 45 else 20 if age >= 20 else 14
        issued = min(_shifted(born, due) + self.days(1, 60), self.reference)
        series = f"{PASSPORT_REGION}{issued.year % 100:02d}"
        number = _fresh(self.six_digits, self._passports, lambda n: (series, n))
        return PassportRF.parse(series, number, issued, self.issuer(issued))

    def issuer(self, issued: date) -> str:
        if issued.year >= 2017:  # the FMS became part of the MVD in 2016
            return "ГУ МВД России по Новосибирской области"
        district = self.pick(_DISTRICTS)[2]
        return f"Отделом УФМС России по Новосибирской области в {district} районе г. Новосибирска"

    def six_digits(self) -> str:
        return f"{self.rng.randint(1, 999_999):06d}"

    def letters(self) -> str:
        return self.pick(_SERIES_LETTERS) + self.pick(_SERIES_LETTERS)

    def phone(self) -> str:
        r = self.rng.randint
        return f"+7 9{r(0, 99):02d} {r(0, 999):03d}-{r(0, 99):02d}-{r(0, 99):02d}"

    def snils(self) -> Snils:
        body = _fresh(
            lambda: f"{self.rng.randint(1_002_000, 999_999_999):09d}", self._snils, _itself
        )
        return Snils.parse(body + snils_check(body))

    # --- children

    def student(
        self, index: int, home: _Home, plan: Discrepancy, born: date, parents: _Parents
    ) -> Student:
        sex = self.pick((Sex.MALE, Sex.FEMALE))
        name = self.unique(born, lambda: self.child_name(home, sex))
        act, certificate = self.registration(born, home.office)
        snils = None if plan is Discrepancy.UNKNOWN_TO_PFR else self.snils()
        child = Person(name, PartialDate.parse(born), sex, snils, home.office.place)
        mother, father = parents
        father_person = father.person if father is not None else None
        truth = BirthRecord(act, home.office.code, certificate, child, mother.person, father_person)
        copy = _DISTORTIONS[plan](self, RegistryCopy(child, certificate, act))
        if plan is Discrepancy.WRONG_CERTIFICATE_NUMBER and index % 2 == 0:
            # every other one: ZAGS corrected the certificate, the registry kept the old one
            # (no draw from the generator: the rest of the population stays as it was)
            truth = replace(truth, superseded_certificate=copy.certificate)
        return Student(self.id("student", index), home.id, truth, copy, plan)

    def child_name(self, home: _Home, sex: Sex) -> FullName:
        first = self.pick(CHILD_NAMES[sex])
        return FullName(surname_for(home.surname, sex), first, patronymic(home.fathers_first, sex))

    def registration(self, born: date, office: Office) -> tuple[ActRecord, BirthCertificate]:
        # registered, and the certificate issued, within a month of the birth
        when = min(born + self.days(1, 30), self.reference)
        number = self.act_number(_ACT_BIRTH, when.year, office.code)
        act = ActRecord(number, PartialDate.parse(when), office.name)
        return act, self.certificate(office.numeral, when)

    def act_number(self, kind: str, year: int, office_code: str) -> str:
        key = (kind, office_code, year)
        self._acts[key] = self._acts.get(key, 0) + 1
        return act_number(kind, year, office_code, self._acts[key])

    def certificate(self, numeral: str, issued: date) -> BirthCertificate:
        series, number = _fresh(
            lambda: (f"{numeral}-{self.letters()}", self.six_digits()), self._certificates, _itself
        )
        return BirthCertificate.parse(series, number, issued)

    # --- discrepancies

    def typo(self, text: str) -> str:
        places = [i for i in range(1, len(text)) if "а" <= text[i] <= "я" or text[i] == "ё"]
        at = self.pick(places)
        letter = self.pick([c for c in _TYPO_LETTERS if c != text[at]])
        return text[:at] + letter + text[at + 1 :]

    def other_certificate(self, certificate: BirthCertificate) -> BirthCertificate:
        # one digit mistyped; kept from all other certificates: the number is no one's
        series = certificate.series
        number = _fresh(
            lambda: self.mistyped(certificate.number), self._certificates, lambda n: (series, n)
        )
        return replace(certificate, number=number)

    def mistyped(self, number: str) -> str:
        at = self.rng.randrange(len(number))
        digit = self.pick([d for d in "0123456789" if d != number[at]])
        return number[:at] + digit + number[at + 1 :]


_Parents = tuple[Adult, Adult | None]


def _fresh(make: Callable[[], _T], used: set[_K], key: Callable[[_T], _K]) -> _T:
    """``make()`` again until its key is not in ``used``; the key is then used."""
    while True:
        value = make()
        found = key(value)
        if found not in used:
            used.add(found)
            return value


def _itself(value: _T) -> _T:
    return value


def _shifted(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def age_on(born: date, on: date) -> int:
    """Full years on ``on`` of someone born on ``born``."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _date(person: Person) -> date:
    born = person.birth_date.to_date() if person.birth_date else None
    assert born is not None  # noqa: S101 - everyone made here has a full date of birth
    return born


def _renamed(copy: RegistryCopy, name: FullName) -> RegistryCopy:
    return replace(copy, person=replace(copy.person, name=name))


def _as_is(_generator: _Generator, copy: RegistryCopy) -> RegistryCopy:
    return copy


def _with_typo(generator: _Generator, copy: RegistryCopy) -> RegistryCopy:
    parts = [copy.person.name.last, copy.person.name.first, copy.person.name.middle]
    at = generator.pick([i for i, part in enumerate(parts) if part])
    parts[at] = generator.typo(parts[at] or "")
    return _renamed(copy, FullName(parts[0] or "", parts[1] or "", parts[2]))


def _without_yo(_generator: _Generator, copy: RegistryCopy) -> RegistryCopy:
    name = copy.person.name
    last, first, middle = (
        part.replace("ё", "е").replace("Ё", "Е") if part else part
        for part in (name.last, name.first, name.middle)
    )
    return _renamed(copy, FullName(last or "", first or "", middle))


def _without_patronymic(_generator: _Generator, copy: RegistryCopy) -> RegistryCopy:
    return _renamed(copy, replace(copy.person.name, middle=None))


def _with_other_certificate(generator: _Generator, copy: RegistryCopy) -> RegistryCopy:
    return replace(copy, certificate=generator.other_certificate(copy.certificate))


def _with_other_snils(generator: _Generator, copy: RegistryCopy) -> RegistryCopy:
    return replace(copy, person=replace(copy.person, snils=generator.snils()))


_DISTORTIONS: dict[Discrepancy, Callable[[_Generator, RegistryCopy], RegistryCopy]] = {
    Discrepancy.NONE: _as_is,
    Discrepancy.TYPO: _with_typo,
    Discrepancy.YO_E: _without_yo,
    Discrepancy.WRONG_CERTIFICATE_NUMBER: _with_other_certificate,
    Discrepancy.MISSING_PATRONYMIC: _without_patronymic,
    Discrepancy.UNKNOWN_TO_ZAGS: _as_is,  # ZAGS's holdings leave the record out
    Discrepancy.UNKNOWN_TO_PFR: _as_is,  # the child was given no SNILS
    Discrepancy.WRONG_SNILS: _with_other_snils,
}


# --- registry commands ---------------------------------------------------------------------


def birth_record_command(student: Student, request_id: str) -> dict[str, Any]:
    """The registry's ``verify_birth_record`` for ``student``, from the registry's copy."""
    copy = student.registry
    return {
        "type": VERIFY_BIRTH_RECORD,
        "request_id": request_id,
        "student_id": student.id,
        "child": copy.person.to_data(),
        "birth_certificate": copy.certificate.to_data(),
        "act_record": copy.act_record.to_data(),
    }


def snils_command(student: Student, request_id: str) -> dict[str, Any]:
    """The registry's ``verify_snils`` for ``student`` (with the birth certificate)."""
    copy = student.registry
    document = {"kind": "birth_certificate", **copy.certificate.to_data()}
    return _snils_command(request_id, student.id, "student", copy.person, document)


def guardian_snils_command(guardian: Adult, request_id: str) -> dict[str, Any]:
    """The registry's ``verify_snils`` for a guardian (with the passport)."""
    document = {"kind": "passport", **guardian.passport.to_data()}
    return _snils_command(request_id, guardian.id, "guardian", guardian.person, document)


def _snils_command(
    request_id: str, person_id: str, role: str, person: Person, document: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": VERIFY_SNILS,
        "request_id": request_id,
        "person_id": person_id,
        "role": role,
        "person": person.to_data(),
        "document": document,
    }


# --- Gosuslugi applications ----------------------------------------------------------------

BENEFITS = ("military_family", "police_family", "large_family")
SIBLING_BENEFIT = "sibling"  # a brother or sister already at school: the priority right


def applications(
    population: Population, count: int, *, start: datetime | None = None
) -> tuple[EnrollmentApplication, ...]:
    """``count`` school-enrollment applications as Gosuslugi sends them, one student each
    (in an order the seed chooses; from the first again when ``count`` exceeds them), with
    increasing order numbers, submitted minutes apart from ``start`` (by default 09:00
    Novosibirsk time on the reference date). The applicant gives the truth."""
    rng = random.Random(f"{population.seed}:applications")  # noqa: S311 - synthetic data
    students = population.students
    order = rng.sample(students, len(students))
    when = start or datetime.combine(population.reference_date, time(9), NOVOSIBIRSK)
    number = rng.randint(1_000_000_000, 3_999_999_999)
    made = []
    for i in range(count if order else 0):
        number += rng.randint(1, 40)
        when += timedelta(seconds=rng.randint(20, 900))
        student = order[i % len(order)]
        family = population.family_of(student)
        made.append(_application(rng, family, student, str(number), when))
    return tuple(made)


def _application(
    rng: random.Random, family: Family, student: Student, number: str, when: datetime
) -> EnrollmentApplication:
    guardians = list(family.guardians)
    if len(guardians) > 1 and rng.random() < 0.3:
        guardians.reverse()  # the father applies
    applicant, *others = guardians
    grade, requested = _grade(_date(student.truth.child), when.date())
    school = rng.randint(1, 212)
    return EnrollmentApplication(
        order_number=number,
        submitted_at=when,
        child=student.truth.child,
        child_birth_certificate=student.truth.certificate,
        applicant=Applicant(
            applicant.person,
            applicant.relation,
            applicant.passport,
            applicant.phone,
            applicant.email,
        ),
        school_code=f"54{school:04d}",
        school_name=_school_name(school),
        grade=grade,
        requested_date=PartialDate.parse(requested),
        other_guardians=tuple(Guardian(adult.relation, adult.person) for adult in others),
        benefits=_benefits(rng, family),
        consents=_consents(rng),
    )


def _grade(born: date, submitted: date) -> tuple[int, date]:
    # The grade for the child's age on the next 1 September (7 → 1st, 17 → 11th), and when:
    # a first-grader from that day, anyone else (a transfer) two weeks after applying.
    september = date(submitted.year, 9, 1)
    if submitted > september:
        september = date(submitted.year + 1, 9, 1)
    grade = min(11, max(1, age_on(born, september) - 6))
    return grade, september if grade == 1 else submitted + timedelta(days=14)


def _school_name(number: int) -> str:
    if number % 7 == 0:
        return f"МАОУ «Гимназия № {number}»"
    if number % 11 == 0:
        return f"МАОУ «Лицей № {number}»"
    return f"МБОУ СОШ № {number}"


def _benefits(rng: random.Random, family: Family) -> tuple[str, ...]:
    found = [SIBLING_BENEFIT] if len(family.students) > 1 else []
    if rng.random() < 0.08:
        found.append(BENEFITS[rng.randrange(len(BENEFITS))])
    return tuple(found)


def _consents(rng: random.Random) -> dict[str, bool]:
    given = {"personal_data": True, "data_accuracy": True, "charter_acknowledged": True}
    if rng.random() < 0.03:
        given["adapted_program"] = True
    return given


# --- ZAGS change notifications -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """What every notification's record carries: its id in the feed (ИдСвед), version
    (НомерВерс, ДатаВерс), the act record and the registry office's code (КодЗАГС)."""

    record_id: str
    version: str
    version_date: date
    act_record: ActRecord
    office_code: str


@dataclass(frozen=True, slots=True)
class NameChangeNotice:
    record: NoticeRecord
    subject_id: str  # the student's id
    person: Person  # as known before the change
    before: FullName
    after: FullName
    event_types: ClassVar[tuple[str, ...]] = (NAME_CHANGED,)


@dataclass(frozen=True, slots=True)
class DeathNotice:
    record: NoticeRecord
    subject_id: str  # the guardian's id
    person: Person
    died_on: PartialDate
    event_types: ClassVar[tuple[str, ...]] = (DEATH_REGISTERED,)


@dataclass(frozen=True, slots=True)
class PaternityNotice:
    record: NoticeRecord
    subject_id: str  # the student's id
    child: Person  # with the name after the record
    child_before: FullName
    mother: Person
    father: Person
    # the child's name changes with the father's surname and patronymic
    event_types: ClassVar[tuple[str, ...]] = (PATERNITY_ESTABLISHED, NAME_CHANGED)


ZagsNotice = NameChangeNotice | DeathNotice | PaternityNotice


def zags_notices(
    population: Population, *, name_changes: int = 3, deaths: int = 1, paternities: int = 1
) -> tuple[ZagsNotice, ...]:
    """Change notifications ZAGS pushes about the population, as many of each as asked and
    the population allows: students' name changes, a guardian's death (a father's), a
    paternity established for a single mother's child. Only students whose copy the
    registry holds without a discrepancy are chosen, each once; recorded in the 20 days
    before the reference date."""
    maker = _NoticeMaker(population)
    return (
        *maker.name_changes(name_changes),
        *maker.deaths(deaths),
        *maker.paternities(paternities),
    )


class _NoticeMaker:
    def __init__(self, population: Population) -> None:
        self.population = population
        self.rng = random.Random(f"{population.seed}:notices")  # noqa: S311 - synthetic data
        self.made = 0
        self.clean = [
            (family, student)
            for family in population.families
            for student in family.students
            if student.discrepancy is Discrepancy.NONE
        ]
        self.rng.shuffle(self.clean)

    def record(self, kind: str) -> NoticeRecord:
        self.made += 1
        office = HOME_OFFICES[self.rng.randrange(len(HOME_OFFICES))]
        when = self.population.reference_date - timedelta(days=self.rng.randint(1, 20))
        # sequence numbers far above the births': no act record is numbered twice
        number = act_number(kind, when.year, office.code, 90_000_000 + self.made)
        record_id = uuid.uuid5(NAMESPACE, f"{self.population.seed}:notice:{self.made}")
        act = ActRecord(number, PartialDate.parse(when), office.name)
        return NoticeRecord(str(record_id), "1", when, act, office.code)

    def take(self, count: int, fits: Callable[[Family], bool]) -> list[tuple[Family, Student]]:
        # at most one student of a family each time: a father dies once
        families = {family.id: (family, student) for family, student in self.clean if fits(family)}
        chosen = list(families.values())[: max(count, 0)]
        taken = {student.id for _, student in chosen}
        self.clean = [pair for pair in self.clean if pair[1].id not in taken]
        return chosen

    def name_changes(self, count: int) -> list[ZagsNotice]:
        return [
            self.name_change(student, i) for i, (_, student) in enumerate(self.take(count, _any))
        ]

    def name_change(self, student: Student, index: int) -> NameChangeNotice:
        child = student.truth.child
        before, sex = child.name, child.sex or Sex.MALE
        if index % 2:  # a new first name
            after = replace(before, first=self.other(CHILD_NAMES[sex], before.first, sex))
        else:  # the surname of the mother's new husband
            surname = self.other(SURNAMES, before.last, sex)
            after = replace(before, last=surname_for(surname, sex))
        record = self.record(_ACT_NAME_CHANGE)
        return NameChangeNotice(record, student.id, child, before, after)

    def other(self, names: Sequence[str], current: str, sex: Sex) -> str:
        # a name (a surname in its male form) that, in the form for ``sex``, is not ``current``
        key = normalize_name(current)
        others = [name for name in names if normalize_name(surname_for(name, sex)) != key]
        return others[self.rng.randrange(len(others))]

    def deaths(self, count: int) -> list[ZagsNotice]:
        fathers = [f.father for f, _ in self.take(count, _with_father) if f.father is not None]
        return [self.death(father) for father in fathers]

    def death(self, adult: Adult) -> DeathNotice:
        record = self.record(_ACT_DEATH)
        died = record.version_date - timedelta(days=self.rng.randint(1, 5))
        return DeathNotice(record, adult.id, adult.person, PartialDate.parse(died))

    def paternities(self, count: int) -> list[ZagsNotice]:
        return [self.paternity(f, s) for f, s in self.take(count, _single_mother)]

    def paternity(self, family: Family, student: Student) -> PaternityNotice:
        child, mother = student.truth.child, family.mother.person
        sex = child.sex or Sex.MALE
        first = ADULT_NAMES[Sex.MALE][self.rng.randrange(len(ADULT_NAMES[Sex.MALE]))]
        surname = self.other(SURNAMES, child.name.last, sex)
        grandfather = ADULT_NAMES[Sex.MALE][self.rng.randrange(len(ADULT_NAMES[Sex.MALE]))]
        born = _date(mother) - timedelta(days=self.rng.randint(-3 * 365, 8 * 365))
        name = FullName(surname, first, patronymic(grandfather, Sex.MALE))
        father = Person(name, PartialDate.parse(born), Sex.MALE, None, ADULT_PLACES[0])
        after = FullName(surname_for(surname, sex), child.name.first, patronymic(first, sex))
        record = self.record(_ACT_PATERNITY)
        named = replace(child, name=after)
        return PaternityNotice(record, student.id, named, child.name, mother, father)


def _any(_family: Family) -> bool:
    return True


def _with_father(family: Family) -> bool:
    return family.father is not None and family.representative is None


def _single_mother(family: Family) -> bool:
    return family.kind is FamilyKind.SINGLE_MOTHER
