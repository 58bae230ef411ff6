"""Masking on the documents the hub really handles, made for a synthetic population: the
registry's commands, the agencies' requests and answers as SMEV delivers them, ZAGS's
notifications, Gosuslugi's applications, and the events the hub publishes. Nothing a person
is known by (names, birth dates and places, SNILS, documents, contacts) may be left."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date
from functools import cache

import pytest
from lxml import etree

from hub.adapters.gosuslugi.requests import order_status_request
from hub.adapters.pfr.requests import snils_request
from hub.adapters.zags.requests import rogdinf_request
from hub.canonical import events
from hub.canonical.commands import ReportEnrollmentStatus, VerifyBirthRecord, VerifySnils
from hub.canonical.commands import parse_command as parse
from hub.canonical.sources import Source
from hub.canonical.values import BirthCertificate, PassportRF, Person
from hub.protection.masking import mask_message
from hub.simulator import agencies
from hub.simulator.documents import (
    application_request,
    notification,
    rogdinf_record,
    rogdinf_response,
    snils_response,
)
from hub.simulator.population import (
    Adult,
    DeathNotice,
    NameChangeNotice,
    Population,
    ZagsNotice,
    applications,
    birth_record_command,
    guardian_snils_command,
    snils_command,
    zags_notices,
)
from tests.support.smev import get_request, get_response

pytestmark = pytest.mark.unit


@cache
def population() -> Population:
    return Population.generate(20260, 12, reference_date=date(2026, 3, 1))


def person_values(person: Person) -> Iterator[str]:
    name = person.name
    for part in (name.last, name.first, name.middle):
        if part:
            yield from (part, part.upper(), part.upper().replace("Ё", "Е"))
    if person.birth_date is not None and person.birth_date.to_date() is not None:
        yield person.birth_date.iso()
    if person.snils is not None:
        yield from (person.snils.formatted, person.snils.digits)
    if person.birth_place:
        yield person.birth_place


def document_values(document: BirthCertificate | PassportRF) -> Iterator[str]:
    yield document.number
    if isinstance(document, PassportRF):
        yield document.series


def adult_values(adult: Adult) -> Iterator[str]:
    yield from person_values(adult.person)
    yield from document_values(adult.passport)
    yield from (adult.phone, adult.email)


@cache
def everyone() -> re.Pattern[str]:
    """Every value a person of the population is known by, as one pattern of whole words."""
    values = sorted(known_values(), key=len, reverse=True)
    return re.compile(rf"(?<![\w-])(?:{'|'.join(map(re.escape, values))})(?![\w-])")


def known_values() -> set[str]:
    values: set[str] = set()
    for family in population().families:
        for adult in family.adults:
            values |= set(adult_values(adult))
        for student in family.students:
            for known in (student.truth.child, student.registry.person):
                values |= set(person_values(known))
            values |= set(document_values(student.truth.certificate))
            values |= set(document_values(student.registry.certificate))
    return values


def left_in(shown: str) -> set[str]:
    return set(everyone().findall(shown))


def commands() -> Iterator[dict[str, object]]:
    for family in population().families:
        for student in family.students:
            yield birth_record_command(student, f"birth-{student.id}")
            yield snils_command(student, f"snils-{student.id}")
        for adult in family.guardians:
            yield guardian_snils_command(adult, f"snils-{adult.id}")


def test_registry_commands() -> None:
    for command in commands():
        shown = mask_message(json.dumps(command, ensure_ascii=False).encode(), Source.REGISTRY)
        assert left_in(shown) == set(), command["type"]


def xml(element: etree._Element) -> bytes:
    return etree.tostring(element, encoding="UTF-8")


def agency_requests() -> Iterator[bytes]:
    """What the hub sends ZAGS, PFR and Gosuslugi, as built from the commands."""
    for command in commands():
        parsed = parse(command)
        if isinstance(parsed, VerifyBirthRecord):
            yield rogdinf_request(parsed).content
        elif isinstance(parsed, VerifySnils) and parsed.person.sex is not None:
            yield snils_request(parsed).content
    comment = "Семёнова Алёна зачислена, приложите справку"
    status = ReportEnrollmentStatus("req-1", "1234567890", 15, comment)
    yield order_status_request(status).content


def agency_messages() -> Iterator[bytes]:
    """What ZAGS, PFR and Gosuslugi send the hub, as SMEV delivers it."""
    people = population()
    for student in people.students:
        record = rogdinf_record(agencies._record(student.truth))
        yield get_response(str(uuid.uuid1()), xml(rogdinf_response([record], "FOUND", "q-1")))
    for holder in people.pfr.holders:
        answer = agencies._answer(holder.person, holder)
        document = ("BirthCertificate", "IV-АН", "123456", "2015-05-01", "Отдел ЗАГС")
        if isinstance(holder.document, PassportRF):
            passport = holder.document
            document = ("PassportRF", passport.series, passport.number, "2010-01-01", "ОВД")
        yield get_response(str(uuid.uuid1()), xml(snils_response(answer, document)))
    for application in applications(people, 6):
        yield get_request(xml(application_request(application)))
    for notice in zags_notices(people, name_changes=2, deaths=1, paternities=1):
        yield get_request(xml(notification(notice)))


def test_agency_requests_and_messages() -> None:
    found = 0
    for raw in (*agency_requests(), *agency_messages()):
        shown = mask_message(raw, "smev")
        assert left_in(shown) == set(), shown[:300]
        assert "Семёнова" not in shown and "Алёна" not in shown
        found += 1
    assert found > 40


def canonical_events() -> Iterator[events.EventDraft]:
    people = population()
    for family in people.families:
        for student in family.students:
            truth = student.truth
            parents = [events.Guardian(a.relation, a.person) for a in family.guardians]
            yield events.birth_verified(
                "r", student.id, truth.child, truth.act_record, VERSION, truth.certificate, parents
            )
            difference = events.Difference(
                "name.last", student.registry.person.name.last, truth.child.name.last
            )
            compared = events.ComparedRecord(truth.act_record, VERSION, VERSION)
            yield events.birth_mismatch("r", student.id, [difference], compared, truth.certificate)
            if truth.child.snils is not None:
                yield events.snils_verified("r", student.id, "student", truth.child.snils)
    for application in applications(people, 6):
        yield events.application_received(application)
    for notice in zags_notices(people, name_changes=2, deaths=1, paternities=1):
        if isinstance(notice, NameChangeNotice):
            yield events.name_changed(noticed(notice), notice.person, notice.before, notice.after)
        elif isinstance(notice, DeathNotice):
            yield events.death_registered(noticed(notice), notice.person, notice.died_on)
        else:
            yield events.paternity_established(noticed(notice), notice.child, notice.father)


VERSION = events.RecordVersion("2", "2020-01-15", "0101")


def noticed(notice: ZagsNotice) -> events.NoticedRecord:
    record = notice.record
    version = events.RecordVersion(record.version, record.version_date.isoformat(), None)
    return events.NoticedRecord(record.record_id, record.act_record, version)


def test_canonical_events() -> None:
    for draft in canonical_events():
        envelope = {
            "specversion": "1.0",
            "type": draft.type,
            "subject": draft.subject,
            "data": draft.data,
        }
        shown = mask_message(json.dumps(envelope, ensure_ascii=False).encode(), "outbox")
        assert left_in(shown) == set(), draft.type
