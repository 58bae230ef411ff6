"""The synthetic population: deterministic by seed, valid documents, gendered names, every
discrepancy and every outcome, commands the hub takes, and expectations that the hub's own
ZAGS and PFR translators agree with when the agencies answer from what they hold."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from hub.adapters.pfr import schemas as pfr_schemas
from hub.adapters.pfr.requests import snils_context, snils_request
from hub.adapters.pfr.translate import translate_snils_response
from hub.adapters.zags import schemas as zags_schemas
from hub.adapters.zags.requests import rogdinf_context, rogdinf_request
from hub.adapters.zags.translate import translate_rogdinf_response
from hub.canonical.commands import (
    VERIFY_BIRTH_RECORD,
    VERIFY_SNILS,
    VerifyBirthRecord,
    VerifySnils,
    parse_command,
)
from hub.canonical.events import (
    APPLICATION_RECEIVED,
    EnrollmentApplication,
    application_received,
)
from hub.canonical.jsonschemas import command_schema
from hub.canonical.models import EVENT_DATA
from hub.canonical.values import (
    BirthCertificate,
    FullName,
    PartialDate,
    PassportRF,
    Person,
    Relation,
    Sex,
    Snils,
    normalize_name,
    snils_is_valid,
)
from hub.simulator.population import (
    EXPECTED,
    KINDS,
    BirthRecord,
    DeathNotice,
    Discrepancy,
    FamilyKind,
    NameChangeNotice,
    Outcome,
    PaternityNotice,
    Population,
    SnilsHolder,
    Student,
    age_on,
    applications,
    patronymic,
    snils_check,
    surname_for,
    zags_notices,
)

pytestmark = pytest.mark.unit

REFERENCE = date(2025, 3, 14)
COMMANDS = (VERIFY_BIRTH_RECORD, VERIFY_SNILS)
PFR_SERIES = re.compile(r"[IVXLCDM]{1,3}-[А-Я]{2}")  # PFR's schema: no Ё, three numerals


@cache
def population(seed: int = 7, size: int = 200, share: float = 0.2) -> Population:
    return Population.generate(seed, size, discrepancy_share=share, reference_date=REFERENCE)


def day(value: PartialDate | None) -> date:
    full = value.to_date() if value is not None else None
    assert full is not None
    return full


def everyone(people: Population) -> list[Person]:
    adults = [adult.person for family in people.families for adult in family.adults]
    return adults + [student.truth.child for student in people.students]


# --- determinism -----------------------------------------------------------------------------


def test_the_same_seed_makes_the_same_population_byte_for_byte() -> None:
    first = Population.generate(11, 120, discrepancy_share=0.3, reference_date=REFERENCE)
    again = Population.generate(11, 120, discrepancy_share=0.3, reference_date=REFERENCE)
    assert repr(first) == repr(again)
    commands = [json.dumps(c.command, ensure_ascii=False) for c in first.checks()]
    assert commands == [json.dumps(c.command, ensure_ascii=False) for c in again.checks()]
    assert repr(applications(first, 30)) == repr(applications(again, 30))
    assert repr(zags_notices(first)) == repr(zags_notices(again))


def test_another_seed_makes_another_population() -> None:
    first, other = population(1, 50), population(2, 50)
    assert [s.id for s in first.students] != [s.id for s in other.students]
    assert [s.truth.child.name for s in first.students] != [
        s.truth.child.name for s in other.students
    ]


def test_ids_are_unique_and_uuids() -> None:
    people = population()
    ids = [s.id for s in people.students] + [f.id for f in people.families]
    ids += [adult.id for family in people.families for adult in family.adults]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)


def test_ten_thousand_students_are_made_in_one_go() -> None:
    # no timing asserted: this is here so a quadratic step shows as a slow test
    people = Population.generate(3, 10_000, discrepancy_share=0.1, reference_date=REFERENCE)
    assert len(people.students) == 10_000
    assert len({s.truth.certificate for s in people.students}) == 10_000
    assert len(people.checks()) > 20_000


@pytest.mark.parametrize(("size", "share"), [(-1, 0.1), (10, -0.1), (10, 1.5)])
def test_bad_arguments_are_refused(size: int, share: float) -> None:
    with pytest.raises(ValueError, match="size"):
        Population.generate(1, size, discrepancy_share=share, reference_date=REFERENCE)


# --- documents -------------------------------------------------------------------------------


@pytest.mark.parametrize("snils", ["112-233-445 95", "127-941-306 66", "062-160-930 30"])
def test_snils_check_matches_the_examples_in_the_facts(snils: str) -> None:
    digits = re.sub(r"\D", "", snils)
    assert snils_check(digits[:9]) == digits[9:]


def test_every_snils_is_valid_and_no_two_people_share_one() -> None:
    people = population()
    numbers = [p.snils for p in everyone(people) if p.snils is not None]
    numbers += [s.registry.person.snils for s in people.students if s.registry.person.snils]
    assert all(snils_is_valid(n.formatted) and Snils.parse(n.digits) == n for n in numbers)
    truth = [p.snils for p in everyone(people) if p.snils is not None]
    assert len(set(truth)) == len(truth)


def test_certificates_parse_and_are_registered_within_a_month_of_birth() -> None:
    for student in population().students:
        record = student.truth
        certificate = record.certificate
        assert BirthCertificate.parse(certificate.series, certificate.number) == replace_issue(
            certificate
        )
        assert PFR_SERIES.fullmatch(certificate.series)
        assert re.fullmatch(r"\d{6}", certificate.number)
        registered = day(record.act_record.date) - day(record.child.birth_date)
        assert timedelta(days=1) <= registered <= timedelta(days=30)
        assert certificate.issued_on == record.act_record.date


def replace_issue(certificate: BirthCertificate) -> BirthCertificate:
    return BirthCertificate(certificate.series, certificate.number)


def test_act_record_numbers_are_21_characters_of_kind_year_and_office() -> None:
    numbers = []
    for student in population().students:
        act = student.truth.act_record
        assert act.date is not None and act.office
        assert act.number == f"1{act.date.year:04d}{student.truth.office_code}{act.number[13:]}"
        assert re.fullmatch(r"\d{21}", act.number)
        numbers.append(act.number)
    assert len(set(numbers)) == len(numbers)


def test_passports_parse_with_the_region_and_year_of_issue_in_the_series() -> None:
    for family in population().families:
        for adult in family.adults:
            passport = adult.passport
            again = PassportRF.parse(
                passport.series, passport.number, passport.issued_on, passport.issuer
            )
            assert again == passport
            issued = day(passport.issued_on)
            assert passport.series == f"50{issued.year % 100:02d}"
            assert day(adult.person.birth_date) < issued <= REFERENCE


def test_students_are_of_school_age_and_their_parents_older() -> None:
    for family in population().families:
        mother = day(family.mother.person.birth_date)
        for student in family.students:
            born = day(student.truth.child.birth_date)
            assert 6 <= age_on(born, REFERENCE) <= 17
            assert age_on(mother, born) >= 18


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("father", "son", "daughter"),
    [
        ("Сергей", "Сергеевич", "Сергеевна"),
        ("Иван", "Иванович", "Ивановна"),
        ("Игорь", "Игоревич", "Игоревна"),
        ("Николай", "Николаевич", "Николаевна"),
        ("Василий", "Васильевич", "Васильевна"),
        ("Евгений", "Евгеньевич", "Евгеньевна"),
        ("Дмитрий", "Дмитриевич", "Дмитриевна"),
        ("Фёдор", "Фёдорович", "Фёдоровна"),
        ("Илья", "Ильич", "Ильинична"),
        ("Никита", "Никитич", "Никитична"),
        ("Лев", "Львович", "Львовна"),
        ("Павел", "Павлович", "Павловна"),
        ("Пётр", "Петрович", "Петровна"),
        ("Михаил", "Михайлович", "Михайловна"),
        ("Яков", "Яковлевич", "Яковлевна"),
    ],
)
def test_patronymics_regular_and_irregular(father: str, son: str, daughter: str) -> None:
    assert patronymic(father, Sex.MALE) == son
    assert patronymic(father, Sex.FEMALE) == daughter


@pytest.mark.parametrize(
    ("male", "female"),
    [
        ("Иванов", "Иванова"),
        ("Семёнов", "Семёнова"),
        ("Ильин", "Ильина"),
        ("Островский", "Островская"),
        ("Высоцкий", "Высоцкая"),
        ("Толстой", "Толстая"),
        ("Шевченко", "Шевченко"),
        ("Черных", "Черных"),
        ("Ким", "Ким"),
    ],
)
def test_surnames_take_the_form_of_the_sex(male: str, female: str) -> None:
    assert surname_for(male, Sex.MALE) == male
    assert surname_for(male, Sex.FEMALE) == female


def test_children_take_the_fathers_surname_and_patronymic() -> None:
    for family in population().families:
        for student in family.students:
            child = student.truth.child
            assert child.sex is not None and child.name.middle is not None
            if family.father is not None:
                father = family.father.person.name
                assert child.name.last == surname_for(father.last, child.sex)
                assert child.name.middle == patronymic(father.first, child.sex)
            else:  # a single mother's child has her surname
                assert family.kind is FamilyKind.SINGLE_MOTHER
                assert student.truth.father is None
                assert surname_for(child.name.last, Sex.FEMALE) == family.mother.person.name.last


def test_every_name_has_the_form_of_its_sex() -> None:
    for person in everyone(population()):
        middle = person.name.middle or ""
        if person.sex is Sex.MALE:
            assert middle.endswith("ич")
        else:
            assert middle.endswith("на")
            assert not person.name.last.endswith(("ов", "ев", "ёв", "ин", "ский", "цкий"))


def test_some_names_carry_yo_and_the_families_are_of_every_kind() -> None:
    people = population()
    assert sum("ё" in f"{p.name.last}{p.name.first}{p.name.middle}" for p in everyone(people)) > 5
    assert {f.kind for f in people.families} == set(FamilyKind)
    assert any(len(f.students) == 2 for f in people.families)
    relations = {a.relation for f in people.families for a in f.guardians}
    assert relations == {Relation.MOTHER, Relation.FATHER, Relation.LEGAL_REPRESENTATIVE}


# --- discrepancies ---------------------------------------------------------------------------


def test_every_discrepancy_and_every_outcome_occurs() -> None:
    students = population(5, 200).students
    assert {s.discrepancy for s in students} == set(Discrepancy)
    assert {s.expected.birth_record for s in students} == set(Outcome)
    assert {s.expected.snils for s in students} == set(Outcome)


@pytest.mark.parametrize(("size", "share"), [(1000, 0.1), (1000, 0.35), (400, 0.2)])
def test_the_share_of_discrepancies_is_as_asked_and_the_kinds_even(size: int, share: float) -> None:
    counts = Counter(s.discrepancy for s in population(9, size, share).students)
    assert size - counts[Discrepancy.NONE] == round(size * share)
    per_kind = [counts[kind] for kind in KINDS]
    assert max(per_kind) - min(per_kind) <= 1


def test_no_share_means_none_and_seven_students_are_enough_for_every_kind() -> None:
    assert {s.discrepancy for s in population(4, 60, 0.0).students} == {Discrepancy.NONE}
    assert {s.discrepancy for s in population(4, 9, 0.05).students} >= set(KINDS)
    fewer_than_kinds = population(4, 5, 0.2).students
    assert sum(s.discrepancy is not Discrepancy.NONE for s in fewer_than_kinds) == 1


def test_each_discrepancy_is_what_its_tag_says() -> None:
    people = population()
    certificates = {s.truth.certificate.number for s in people.students}
    for student in people.students:
        truth, copy = student.truth, student.registry
        kind = student.discrepancy
        name, held = copy.person.name, truth.child.name
        assert (name == held) is (kind not in _NAMED)
        assert (copy.certificate == truth.certificate) is (
            kind is not Discrepancy.WRONG_CERTIFICATE_NUMBER
        )
        assert (copy.person.snils == truth.child.snils) is (kind is not Discrepancy.WRONG_SNILS)
        if kind is Discrepancy.TYPO:
            assert_one_letter_changed(held, name)
        if kind is Discrepancy.YO_E:
            assert "ё" in str(held).lower() and "ё" not in str(name).lower()
            assert name.matches(held)
        if kind is Discrepancy.MISSING_PATRONYMIC:
            assert name == FullName(held.last, held.first) and held.middle
        if kind is Discrepancy.WRONG_CERTIFICATE_NUMBER:
            assert copy.certificate.number not in certificates
        # a corrected record: the registry holds the certificate of the superseded version
        assert truth.superseded_certificate in {None, copy.certificate}
        if truth.superseded_certificate is not None:
            assert kind is Discrepancy.WRONG_CERTIFICATE_NUMBER
        if kind is Discrepancy.WRONG_SNILS:
            assert copy.person.snils is not None and snils_is_valid(copy.person.snils.digits)
        if kind is Discrepancy.UNKNOWN_TO_PFR:
            assert truth.child.snils is None and copy.person.snils is None


_NAMED = {Discrepancy.TYPO, Discrepancy.YO_E, Discrepancy.MISSING_PATRONYMIC}


def assert_one_letter_changed(held: FullName, name: FullName) -> None:
    changed = [(a, b) for a, b in zip(parts(held), parts(name), strict=True) if a != b]
    assert len(changed) == 1
    before, after = changed[0]
    assert len(before) == len(after)
    assert sum(x != y for x, y in zip(before, after, strict=True)) == 1
    assert normalize_name(before) != normalize_name(after)


def parts(name: FullName) -> tuple[str, str, str]:
    return name.last, name.first, name.middle or ""


def test_the_agencies_know_whom_the_tags_say() -> None:
    people = population()
    for student in people.students:
        copy, child = student.registry, student.truth.child
        records = people.zags.find(copy.person.name, copy.person.birth_date, copy.act_record.number)
        holder = people.pfr.find(child.name, child.birth_date, child.sex, copy.certificate)
        assert (records == []) is (student.discrepancy is Discrepancy.UNKNOWN_TO_ZAGS)
        assert (holder is None) is (student.discrepancy is Discrepancy.UNKNOWN_TO_PFR)


def test_zags_finds_by_two_name_parts_and_the_date_when_no_act_record_is_named() -> None:
    people = population()
    student = next(s for s in people.students if s.discrepancy is Discrepancy.TYPO)
    copy = student.registry
    assert people.zags.find(copy.person.name, copy.person.birth_date) == [student.truth]
    nameless = FullName("Нетакой", "Никто", copy.person.name.middle)
    assert people.zags.find(nameless, copy.person.birth_date) == []
    assert people.zags.find(copy.person.name, None) == []


def test_pfr_finds_by_document_or_else_by_exact_name_date_and_sex() -> None:
    people = population()
    student = next(s for s in people.students if s.discrepancy is Discrepancy.NONE)
    child, certificate = student.truth.child, student.truth.certificate
    other = BirthCertificate("I-АА", "000000")
    assert people.pfr.find(child.name, child.birth_date, child.sex, certificate) is not None
    found = people.pfr.find(child.name, child.birth_date, child.sex, other)
    assert found is not None and found.person == child
    wrong_sex = Sex.MALE if child.sex is Sex.FEMALE else Sex.FEMALE
    assert people.pfr.find(child.name, child.birth_date, wrong_sex, other) is None


# --- commands and what the hub makes of the answers -----------------------------------------


def test_every_command_parses_and_validates_against_its_json_schema() -> None:
    checks = population().checks()
    assert {c.command["type"] for c in checks} == set(COMMANDS)
    validators = {kind: Draft202012Validator(command_schema(kind)) for kind in COMMANDS}
    for check in checks:
        parse_command(check.command)
        validators[check.command["type"]].validate(check.command)
    assert len({c.command["request_id"] for c in checks}) == len(checks)


def test_the_hubs_requests_from_these_commands_are_valid_against_the_official_schemas(
    reference_dir: Path,
) -> None:
    for check in population(5, 200, 0.3).checks():
        command = parse_command(check.command)
        if isinstance(command, VerifyBirthRecord):
            request = etree.fromstring(rogdinf_request(command).content)
            zags_schemas.validate(request, reference_dir)
        else:
            assert isinstance(command, VerifySnils)
            pfr_schemas.validate(etree.fromstring(snils_request(command).content), reference_dir)


def test_checks_cover_each_student_twice_and_each_guardian_once() -> None:
    people = population()
    checks = people.checks()
    guardians = sum(len(f.guardians) for f in people.families)
    assert len(checks) == 2 * len(people.students) + guardians
    roles = Counter(c.command.get("role") for c in checks)
    assert roles == {None: 200, "student": 200, "guardian": guardians}


def test_the_hubs_translators_agree_with_every_expected_outcome() -> None:
    # ZAGS and PFR answer from what they hold, as the emulators do; the hub's own translators
    # then make the events: each must be the one expected
    people = population(5, 200)
    for check in people.checks():
        command = parse_command(check.command)
        if isinstance(command, VerifyBirthRecord):
            act = command.act_record.number if command.act_record else None
            records = people.zags.find(command.child.name, command.child.birth_date, act)
            events = translate_rogdinf_response(zags_answer(records), rogdinf_context(command))
        else:
            assert isinstance(command, VerifySnils)
            person = command.person
            holder = people.pfr.find(person.name, person.birth_date, person.sex, command.document)
            events = translate_snils_response(pfr_answer(holder), snils_context(command))
        assert [event.type for event in events] == [check.event_type], check.discrepancy


def zags_answer(records: list[BirthRecord]) -> etree._Element:
    root = etree.Element("ROGDINFResponse")
    answer = etree.SubElement(root, "СведОтветАГС", {"РезОбраб": "1" if records else "2"})
    for record in records:
        held = etree.SubElement(answer, "СведРегРожд", {"НомерЗаписЕГР": record.act_record.number})
        add(held, "ДатаЗапис", record.act_record.date.iso() if record.act_record.date else "")
        etree.SubElement(held, "ОрганЗАГС", {"НаимЗАГС": record.act_record.office or ""})
        certificate = etree.SubElement(held, "СвидетРожд")
        add(certificate, "СерияСвидет", record.certificate.series)
        add(certificate, "НомерСвидет", record.certificate.number)
        details = etree.SubElement(held, "ПрдСведРег")
        zags_person(etree.SubElement(details, "СведРодившемся"), "ФИОРожд", record.child)
        zags_person(etree.SubElement(details, "СведМать"), "ФИО", record.mother)
    return root


def zags_person(holder: etree._Element, tag: str, person: Person) -> None:
    name = etree.SubElement(holder, tag)
    for part, text in zip(("Фамилия", "Имя", "Отчество"), parts(person.name), strict=True):
        if text:
            add(name, part, text)
    add(holder, "ДатаРождКаленд", person.birth_date.iso() if person.birth_date else "")
    add(holder, "Пол", "1" if person.sex is Sex.MALE else "2")


def pfr_answer(holder: SnilsHolder | None) -> etree._Element:
    root = etree.Element("SnilsByAdditionalDataResponse")
    if holder is None:
        return root
    person = holder.person
    for tag, text in zip(
        ("FamilyName", "FirstName", "Patronymic"), parts(person.name), strict=True
    ):
        add(root, tag, text.upper())  # PFR answers in upper case
    add(root, "BirthDate", person.birth_date.iso() if person.birth_date else "")
    add(root, "Gender", "Male" if person.sex is Sex.MALE else "Female")
    add(root, "Snils", person.snils.digits if person.snils else "")
    return root


def add(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def test_expected_outcomes_table_covers_every_kind() -> None:
    assert set(EXPECTED) == set(Discrepancy)


# --- Gosuslugi applications ------------------------------------------------------------------


def test_applications_are_consistent_with_the_families() -> None:
    people = population()
    made = applications(people, 50)
    assert len(made) == 50
    numbers = [int(a.order_number) for a in made]
    assert numbers == sorted(set(numbers)) and numbers[0] >= 1_000_000_000
    times = [a.submitted_at for a in made]
    assert times == sorted(times) and all(t.utcoffset() is not None for t in times)
    by_child = {s.truth.child: s for s in people.students}
    for application in made:
        student = by_child[application.child]
        family = people.family_of(student)
        assert application.child_birth_certificate == student.truth.certificate
        assert application.applicant.person in [a.person for a in family.guardians]
        assert len(application.other_guardians) == len(family.guardians) - 1
        assert_grade_fits_age(student, application)
        assert application.consents["personal_data"] is True
        EVENT_DATA[APPLICATION_RECEIVED].model_validate(application_received(application).data)


def assert_grade_fits_age(student: Student, application: EnrollmentApplication) -> None:
    born, submitted = day(student.truth.child.birth_date), application.submitted_at.date()
    year = submitted.year if submitted <= date(submitted.year, 9, 1) else submitted.year + 1
    september = date(year, 9, 1)
    assert application.grade == min(11, max(1, age_on(born, september) - 6))
    requested = day(application.requested_date)
    assert requested == (september if application.grade == 1 else submitted + timedelta(days=14))


def test_applications_cycle_through_the_students_and_some_claim_benefits() -> None:
    people = population()
    made = applications(people, 450)
    assert len({a.child for a in made[:200]}) == 200
    assert [a.child for a in made[:200]] == [a.child for a in made[200:400]]
    benefits = Counter(b for a in made for b in a.benefits)
    assert benefits["sibling"] > 0 and len(benefits) > 1
    assert {a.applicant.relation for a in made} == set(Relation)


# --- ZAGS change notifications ---------------------------------------------------------------


def test_notices_name_changes_a_death_and_a_paternity() -> None:
    people = population()
    notices = zags_notices(people, name_changes=3, deaths=1, paternities=1)
    kinds = Counter(type(n) for n in notices)
    assert kinds == {NameChangeNotice: 3, DeathNotice: 1, PaternityNotice: 1}
    assert len({n.record.record_id for n in notices}) == 5
    assert len({n.subject_id for n in notices}) == 5
    for notice in notices:
        act = notice.record.act_record
        assert re.fullmatch(r"\d{21}", act.number) and act.date is not None
        assert REFERENCE - timedelta(days=20) <= notice.record.version_date < REFERENCE


def test_each_notice_says_what_changed() -> None:
    people = population()
    students = {s.id: s for s in people.students}
    adults = {a.id: a for f in people.families for a in f.adults}
    for notice in zags_notices(people, name_changes=4, deaths=2, paternities=2):
        if isinstance(notice, NameChangeNotice):
            assert notice.before == students[notice.subject_id].truth.child.name
            assert not notice.after.matches(notice.before)
        elif isinstance(notice, DeathNotice):
            assert notice.person == adults[notice.subject_id].person
            assert day(notice.died_on) < notice.record.version_date
        else:
            student = students[notice.subject_id]
            assert people.family_of(student).kind is FamilyKind.SINGLE_MOTHER
            assert notice.child_before == student.truth.child.name
            sex = notice.child.sex or Sex.MALE
            assert notice.child.name.last == surname_for(notice.father.name.last, sex)
            assert notice.child.name.middle == patronymic(notice.father.name.first, sex)
            assert not notice.child.name.matches(notice.child_before)
            assert notice.event_types == ("person.paternity.established", "person.name.changed")


def test_notices_are_as_many_as_the_population_allows() -> None:
    people = population(2, 3, 0.0)
    assert zags_notices(people, name_changes=0, deaths=0, paternities=0) == ()
    notices = zags_notices(people, name_changes=10, deaths=10, paternities=10)
    assert len({n.subject_id for n in notices}) == len(notices) <= 3 + len(people.families)
