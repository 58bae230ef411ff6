"""ЕГР ЗАГС answers and change notifications → canonical events (pure).

A ROGDINFResponse lists the birth records found (СведОтветАГС/СведРегРожд); none at all is
"not found" (РезОбраб 2, or another code, named in the reason). Each record is compared with
what the registry holds: the birth certificates (series after normalisation, so Cyrillic
look-alikes and other dashes agree), the child's name (case-insensitive, Ё ≡ Е) and date of
birth (only the parts both sides know).

An answer may hold several versions of one act record (the same НомерЗаписЕГР): a correction
makes a new version, and the one with the highest НомерВерс (on a tie, or when a number is
missing, the latest ДатаВерс) is the record as it stands; the others are history. Only a
current version is compared: one that matches makes ``student.birth.verified``; otherwise the
current version with the fewest differences makes ``student.birth.mismatch``, which lists
them, and when the registry's data match only a superseded version, the mismatch is found
against that act record's current version and names the superseded one
(``matched_superseded_version``): the school holds data a correction has replaced. Both
events say which version was compared (``record_version``: number, date and КодСостСтат,
carried as ZAGS gives it).

Notifications (the hub's own schemas, ``schemas/zags``) arrive as ``{ns}Request`` wrapping the
SMEV 1.3 directive Registry/RegistryRecord/Record/RecordContent (1 to 1,000 records, each
read on its own; see ``read_notices``):
death → ``person.death.registered``, name change → ``person.name.changed``, paternity →
``person.paternity.established`` (and ``person.name.changed`` for the child when the record
gives the name before and it differs). A birth notification makes no event: the registry
learns of births through its own ``verify_birth_record``; it is answered and kept. Each is
keyed ``zags:{record id}:{version}``, so a resend under a new MessageID is a duplicate, and
each event carries the act record's version (``record_version``), so that the registry can
tell a notice that arrives after a newer one about the same act record and keep the newer.

Everything is read leniently (children by local name): what SMEV delivered has passed its
checks. What the hub cannot do without (a name, a date of death, the record id) raises
``ZagsContentError`` naming the element, never showing a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from hub.adapters.router import Translation, TranslationError
from hub.adapters.zags.schemas import DIRECTIVE_NS, NOTICES, Notice, NoticeKind
from hub.canonical import bounds
from hub.canonical.drafts import EventDraft
from hub.canonical.events import (
    ComparedRecord,
    Difference,
    NoticedRecord,
    RecordVersion,
    birth_mismatch,
    birth_not_found,
    birth_verified,
    death_registered,
    name_changed,
    paternity_established,
    standing_first,
)
from hub.canonical.values import (
    ActRecord,
    BirthCertificate,
    FullName,
    Guardian,
    InvalidValueError,
    PartialDate,
    Person,
    Relation,
    Sex,
    Snils,
    normalize_name,
    normalize_series,
    squeeze,
    without_spaces,
)
from hub.errors import IntakeError
from hub.xml.navigate import XS_DATE
from hub.xml.navigate import all_children as _children
from hub.xml.navigate import child as _child

FOUND, NOT_FOUND = "1", "2"  # РезОбраб: records found / none for the data asked
NOT_FOUND_REASON = "ZAGS holds no birth record for the child's data"
_ANSWER = "ROGDINFResponse"
_SERIES = re.compile(r"[IVXLCDM]+-[А-ЯЁ]{2}")


class ZagsContentError(IntakeError):
    """A ZAGS answer or notification that lacks what the hub needs, or holds a value that is
    not one (a date); the element is named, the value never shown."""

    code = "ZAGS_CONTENT"


# --- birth records (ROGDINFResponse) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Asked:  # the request an answer belongs to and what the registry holds about the child
    request_id: str
    student_id: str
    name: FullName
    birth_date: PartialDate | None
    certificate: BirthCertificate


@dataclass(frozen=True, slots=True)
class _Certificate:
    series: str | None  # normalised when it is a series at all
    number: str | None
    issued_on: PartialDate | None

    def differences(self, ours: BirthCertificate) -> list[Difference]:
        found = []
        if self.series != ours.series:
            found.append(Difference("birth_certificate.series", ours.series, self.series))
        if self.number != ours.number:
            found.append(Difference("birth_certificate.number", ours.number, self.number))
        return found

    def parsed(self) -> BirthCertificate | None:
        try:
            return BirthCertificate.parse(self.series or "", self.number or "", self.issued_on)
        except InvalidValueError:
            return None  # what ZAGS wrote is no certificate the canonical model can hold


@dataclass(frozen=True, slots=True)
class _Comparison:
    record: etree._Element
    version: RecordVersion
    differences: list[Difference]
    certificate: BirthCertificate | None

    @property
    def matches(self) -> bool:
        return not self.differences and self.certificate is not None  # a match always parses


@dataclass(frozen=True, slots=True)
class _ActRecordVersions:  # the versions of one act record in an answer, newest first
    current: etree._Element
    superseded: list[etree._Element]


def translate_rogdinf_response(
    element: etree._Element, context: Mapping[str, Any]
) -> list[EventDraft]:
    """The one birth event for ZAGS's answer, read against the request's ``context``
    (``requests.rogdinf_context``). ``TranslationError`` for an element or context of the
    wrong shape, ``ZagsContentError`` for a record without an act-record number or with a
    date or version that is not one."""
    if etree.QName(element).localname != _ANSWER:
        raise TranslationError(f"expected {_ANSWER}, got {etree.QName(element).localname}")
    asked = _asked(context)
    answers = _children(element, "СведОтветАГС")
    records = [record for answer in answers for record in _children(answer, "СведРегРожд")]
    bounds.RECORDS_PER_ANSWER.check(len(records), "СведОтветАГС/СведРегРожд")
    if not records:
        return [birth_not_found(asked.request_id, asked.student_id, _not_found_reason(answers))]
    best, superseded = _verdict(_by_act_record(records), asked)
    ids = (asked.request_id, asked.student_id)
    act_record = _act_record(best.record)
    certificate = best.certificate
    if certificate is None or not best.matches:
        compared = ComparedRecord(act_record, best.version, superseded)
        return [birth_mismatch(*ids, best.differences, compared, certificate)]
    born = _required(best.record, "ПрдСведРег", "СведРодившемся")
    child = _person(born, "ФИОРожд", "СведРегРожд/ПрдСведРег/СведРодившемся")
    parents = _parents(_required(best.record, "ПрдСведРег"))
    return [birth_verified(*ids, child, act_record, best.version, certificate, parents)]


def _verdict(
    groups: Sequence[_ActRecordVersions], asked: _Asked
) -> tuple[_Comparison, RecordVersion | None]:
    """The current version to report and, when only a superseded version matches the
    registry's data, that version. Only current versions can verify: data a correction has
    superseded is out of date, however well it matches."""
    currents = [_compare(group.current, asked) for group in groups]
    matching = next((c for c in currents if c.matches), None)
    if matching is not None:
        return matching, None
    for group, current in zip(groups, currents, strict=True):
        old = next((c for c in (_compare(r, asked) for r in group.superseded) if c.matches), None)
        if old is not None:  # the newest superseded version that matches
            return current, old.version
    return min(currents, key=lambda c: len(c.differences)), None


def _by_act_record(records: Sequence[etree._Element]) -> list[_ActRecordVersions]:
    """The records grouped by act record (НомерЗаписЕГР: the versions of one record share
    it), in the order each first appears, each group's versions newest first."""
    groups: dict[str, list[tuple[int, etree._Element]]] = {}
    for position, record in enumerate(records):
        number = without_spaces(record.get("НомерЗаписЕГР") or record.get("НомАГССвид") or "")
        # a record without a number stands alone (and is refused if it is the one reported)
        groups.setdefault(number or f"#{position}", []).append((position, record))
    ordered = [_newest_first(versions) for versions in groups.values()]
    return [_ActRecordVersions(versions[0], versions[1:]) for versions in ordered]


def _newest_first(versions: list[tuple[int, etree._Element]]) -> list[etree._Element]:
    # The rule is the canonical model's (``standing_first``), shared with the notices' readers.
    records = [record for _, record in versions]
    return [records[i] for i in standing_first([_version(record) for record in records])]


def _asked(context: Mapping[str, Any]) -> _Asked:
    keys = ("request_id", "student_id", "child", "birth_certificate")
    missing = [key for key in keys if key not in context]
    if missing or not isinstance(context["child"], Mapping):
        raise TranslationError(
            f"the request's context lacks {', '.join(missing) or 'child'}", missing=missing
        )
    born = context["child"].get("birth_date")
    return _Asked(
        str(context["request_id"]),
        str(context["student_id"]),
        FullName.from_data(context["child"].get("name"), "child.name"),
        PartialDate.parse(born, "child.birth_date") if born else None,
        BirthCertificate.from_data(context["birth_certificate"]),
    )


def _not_found_reason(answers: Sequence[etree._Element]) -> str:
    codes = sorted({answer.get("РезОбраб", "") for answer in answers} - {"", FOUND, NOT_FOUND})
    if not codes:
        return NOT_FOUND_REASON
    for code in codes:
        bounds.RESULT_CODE.check(code, "СведОтветАГС/@РезОбраб")
    return f"ZAGS answered without a birth record (result code {', '.join(codes)})"


def _compare(record: etree._Element, asked: _Asked) -> _Comparison:
    born = _child(_child(record, "ПрдСведРег"), "СведРодившемся")
    where = "СведРегРожд/ПрдСведРег/СведРодившемся"
    found = _name_differences(_parts(_child(born, "ФИОРожд")), asked.name)
    theirs = _birth_date(born, where) if born is not None else None
    if theirs is not None and asked.birth_date is not None and not theirs.matches(asked.birth_date):
        found.append(Difference("birth_date", asked.birth_date.iso(), theirs.iso()))
    certificate, differences = _closest_certificate(record, asked.certificate)
    return _Comparison(record, _version(record), differences + found, certificate)


def _closest_certificate(
    record: etree._Element, ours: BirthCertificate
) -> tuple[BirthCertificate | None, list[Difference]]:
    found = _children(record, "СвидетРожд")
    bounds.CERTIFICATES_PER_RECORD.check(len(found), "СведРегРожд/СвидетРожд")
    certificates = [_certificate(c) for c in found]
    if not certificates:  # ZAGS gives no certificate: the registry's cannot be confirmed
        return None, _Certificate(None, None, None).differences(ours)
    # Fewest differences; on a tie the last one (a re-issue comes after the first issue).
    scored = [(len(c.differences(ours)), -i, c) for i, c in enumerate(certificates)]
    closest = min(scored, key=lambda s: s[:2])[2]
    return closest.parsed(), closest.differences(ours)


def _certificate(element: etree._Element) -> _Certificate:
    series, number = _texts(element, "СерияСвидет", "НомерСвидет")
    issued = _date_of(element, "ДатаВыдСвидет", "ДатаВыдСвидетДок", "СвидетРожд")
    normal = normalize_series(series) if series else None
    shown = normal if normal and _SERIES.fullmatch(normal) else series
    return _Certificate(shown, without_spaces(number) if number else None, issued)


def _name_differences(theirs: tuple[str | None, ...], ours: FullName) -> list[Difference]:
    found = []
    pairs = zip(("last", "first", "middle"), _name_parts(ours), theirs, strict=True)
    for part, mine, their in pairs:
        if normalize_name(mine or "") != normalize_name(their or ""):
            found.append(Difference(f"name.{part}", mine, their))
    return found


def _name_parts(name: FullName) -> tuple[str | None, ...]:
    return (name.last, name.first, name.middle)


def _parents(details: etree._Element) -> list[Guardian]:
    parents = []
    for tag, relation in (("СведМать", Relation.MOTHER), ("СведОтец", Relation.FATHER)):
        holder = _child(details, tag)
        name = _optional_name(_child(holder, "ФИО")) if holder is not None else None
        if holder is not None and name is not None:  # a parent without a name: not a guardian
            where = f"СведРегРожд/ПрдСведРег/{tag}"
            person = _person_named(holder, name, where)
            parents.append(Guardian(relation, person))
    return parents


# --- change notifications ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """A change notification read: its kind, the record's id and version, its events."""

    kind: NoticeKind
    record_id: str
    version: str
    events: tuple[EventDraft, ...]

    @property
    def business_key(self) -> str:
        """The same for every resend of this version of the record."""
        return f"zags:{self.record_id}:{self.version}"


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """A record of a notice the hub cannot use: its position in the notice (from 1), the
    id it is answered under (ИдСвед, else the directive's RecordId, else the position) and
    why (the field named, never a value)."""

    position: int
    record_id: str
    error: ZagsContentError


@dataclass(frozen=True, slots=True)
class NoticeBatch:
    """Every record of one notice (the 1.3 directive allows up to 1,000): those read, and
    those that could not be, each on its own."""

    records: tuple[Notification, ...]
    failures: tuple[RecordFailure, ...] = ()

    @property
    def events(self) -> tuple[EventDraft, ...]:
        return tuple(event for record in self.records for event in record.events)

    @property
    def business_key(self) -> str:
        """One record: ``zags:{id}:{version}``. Several: every record's id and version (and
        each refused record's id), so that a resend of the same notice is a duplicate."""
        if len(self.records) == 1 and not self.failures:
            return self.records[0].business_key
        parts = [f"{r.record_id}:{r.version}" for r in self.records]
        parts += [f"refused:{f.record_id}" for f in self.failures]
        return "zags:" + ",".join(parts)


def read_notification(element: etree._Element) -> Notification:
    """A notification of exactly one record, with its events, from its business root
    (``{ns}Request``), the directive ``Registry`` itself, or the record element.
    ``ZagsContentError`` says what is missing or why the hub cannot use it."""
    batch = read_notices(element)
    if batch.failures:
        raise batch.failures[0].error
    if len(batch.records) != 1:
        raise ZagsContentError(
            f"a notification of one record was expected, this one has {len(batch.records)}",
            field="Registry/RegistryRecord",
        )
    return batch.records[0]


def read_notices(element: etree._Element) -> NoticeBatch:
    """Every record of a notice, each read on its own: a record the hub cannot use is a
    ``RecordFailure`` beside the others. Only when none can be used does it raise."""
    entries = _registry_records(element)
    if entries is None:
        return NoticeBatch((_read_record(element),))
    wrapped = etree.QName(element).namespace if element.tag != _REGISTRY else None
    read: list[Notification] = []
    failed: list[RecordFailure] = []
    for position, entry in enumerate(entries, start=1):
        try:
            read.append(_read_record(_record_content(entry, wrapped)))
        except ZagsContentError as error:
            failed.append(RecordFailure(position, _answer_id(entry, position), error))
    if not read:
        raise _none_usable(failed)
    return NoticeBatch(tuple(read), tuple(failed))


def translate_notification(element: etree._Element) -> Translation:
    """The events of every usable record of the notice, keyed by the records' ids and
    versions."""
    batch = read_notices(element)
    return Translation(batch.events, batch.business_key)


_REGISTRY = f"{{{DIRECTIVE_NS}}}Registry"
_MOST_RECORDS = 1000  # the directive's maxOccurs


def _registry_records(element: etree._Element) -> list[etree._Element] | None:
    """The RegistryRecords of a notice, or None for a bare record element."""
    tag = etree.QName(element)
    wrapped = tag.namespace in NOTICES and tag.localname == "Request"
    if not wrapped and element.tag != _REGISTRY:
        return None  # the record itself
    registry = _child(element, "Registry") if wrapped else element
    entries = _children(registry, "RegistryRecord") if registry is not None else []
    if not 1 <= len(entries) <= _MOST_RECORDS:
        raise ZagsContentError(
            f"a notification carries 1 to {_MOST_RECORDS} RegistryRecords, this one {len(entries)}",
            field="Registry/RegistryRecord",
        )
    return entries


def _record_content(entry: etree._Element, namespace: str | None) -> etree._Element:
    record = _first_element(_child(_child(entry, "Record"), "RecordContent"))
    if record is None:
        raise ZagsContentError(
            "Registry/RegistryRecord/Record/RecordContent is missing or empty",
            field="Registry/RegistryRecord/Record/RecordContent",
        )
    if namespace is not None and etree.QName(record).namespace != namespace:
        raise ZagsContentError(
            "the record's namespace is not the notification's", field="RecordContent"
        )
    return record


def _read_record(record: etree._Element) -> Notification:
    kind = NOTICES.get(etree.QName(record).namespace or "")
    if kind is None or etree.QName(record).localname != kind.record:
        raise ZagsContentError(
            f"RecordContent holds {etree.QName(record).localname}, no ZAGS notification record",
            field="RecordContent",
        )
    record_id = _attribute(record, "ИдСвед", kind)
    version = _attribute(record, "НомерВерс", kind)
    return Notification(kind, record_id, version, tuple(_EVENTS[kind.notice](record, record_id)))


def _answer_id(entry: etree._Element, position: int) -> str:
    # The id ZAGS knows the record by, as far as it can be read (at most 36 characters).
    content = _first_element(_child(_child(entry, "Record"), "RecordContent"))
    found = squeeze(content.get("ИдСвед") or "") if content is not None else ""
    found = found or squeeze(_text(entry, "RecordId") or "")
    return found[:36] if found else str(position)


def _none_usable(failed: list[RecordFailure]) -> ZagsContentError:
    if len(failed) == 1:
        return failed[0].error  # a notice of one record: its own error, as it was
    first = failed[0]
    return ZagsContentError(
        f"no record of the notification can be used ({len(failed)}); record "
        f"{first.position}: {first.error}",
        field=first.error.details.get("field"),
        positions=[f.position for f in failed],
    )


def _birth_events(_record: etree._Element, _record_id: str) -> list[EventDraft]:
    return []  # see the module docstring: answered and kept, no event


def _noticed(record: etree._Element, record_id: str) -> NoticedRecord:
    # The version goes into every event: a notice may overtake an older one about the same
    # act record (or come again after a newer one), and only the version tells consumers
    # which is the record as it stands.
    return NoticedRecord(record_id, _act_record(record), _version(record))


def _death_events(record: etree._Element, record_id: str) -> list[EventDraft]:
    where = "СведРегСмерт/ПрдСведРег"
    details = _required(record, "ПрдСведРег")
    person = _person(details, "ФИОУмер", where)
    died = _date_of(details, "ДатаСмертКаленд", "ДатаСмертДок", where)
    if died is None:
        raise ZagsContentError(f"{where}: no date of death", field=f"{where}/ДатаСмерт")
    return [death_registered(_noticed(record, record_id), person, died)]


def _name_change_events(record: etree._Element, record_id: str) -> list[EventDraft]:
    where = "СведРегПерИмя/ПрдСведРег"
    details = _required(record, "ПрдСведРег")
    before = _full_name(details, "ФИОДо", where)
    after = _full_name(details, "ФИОПосле", where)
    person = _person_named(details, before, where)
    return [name_changed(_noticed(record, record_id), person, before, after)]


def _paternity_events(record: etree._Element, record_id: str) -> list[EventDraft]:
    where = "СведРегОтцов/ПрдСведРег"
    noticed = _noticed(record, record_id)
    born = _required(record, "ПрдСведРег", "СведРебенок")
    child = _person(born, "ФИОПосле", f"{where}/СведРебенок")
    father = _person(_required(record, "ПрдСведРег", "СведОтец"), "ФИО", f"{where}/СведОтец")
    events = [paternity_established(noticed, child, father)]
    before = _optional_name(_child(born, "ФИОДо"))
    if before is not None and not before.matches(child.name):
        known_as = Person(before, child.birth_date, child.sex, child.snils, child.birth_place)
        events.append(name_changed(noticed, known_as, before, child.name))
    return events


_EVENTS: dict[Notice, Callable[[etree._Element, str], list[EventDraft]]] = {
    Notice.BIRTH: _birth_events,
    Notice.DEATH: _death_events,
    Notice.NAME_CHANGE: _name_change_events,
    Notice.PATERNITY: _paternity_events,
}


def _attribute(record: etree._Element, name: str, kind: NoticeKind) -> str:
    value = squeeze(record.get(name) or "")
    if not value:
        raise ZagsContentError(f"{kind.record}: no {name}", field=f"{kind.record}/@{name}")
    return value


# --- parts shared by answers and notifications ---------------------------------------------


def _act_record(record: etree._Element) -> ActRecord:
    where = str(record.tag).rpartition("}")[2]  # its local name, without making a QName
    number = without_spaces(record.get("НомерЗаписЕГР") or record.get("НомАГССвид") or "")
    if not number:
        raise ZagsContentError(f"{where}: no act-record number", field=f"{where}/@НомерЗаписЕГР")
    office = _child(record, "ОрганЗАГС")
    name = squeeze(office.get("НаимЗАГС") or "") if office is not None else ""
    return ActRecord(number, _date_of(record, "ДатаЗапис", "ДатаЗаписДок", where), name or None)


def _version(record: etree._Element) -> RecordVersion:
    """The version a record carries (НомерВерс, ДатаВерс, КодСостСтат), each as ZAGS gives
    it, None when absent; a date that is not one or a value longer than the schema allows is
    refused (the element named), never passed on."""
    where = str(record.tag).rpartition("}")[2]
    number = _bounded(record, "НомерВерс", 3, where)
    state = _bounded(record, "КодСостСтат", 4, where)
    dated = squeeze(record.get("ДатаВерс") or "")
    if not dated:
        return RecordVersion(number, None, state)
    found = XS_DATE.fullmatch(dated)  # xs:date, maybe with a zone: the zone is dropped
    return RecordVersion(
        number, _checked_date(found.group(1) if found else "", f"{where}/@ДатаВерс").iso(), state
    )


def _bounded(record: etree._Element, name: str, longest: int, where: str) -> str | None:
    value = squeeze(record.get(name) or "")
    if len(value) > longest:
        raise ZagsContentError(
            f"{where}/@{name} is longer than {longest} characters", field=f"{where}/@{name}"
        )
    return value or None


def _person(holder: etree._Element, name_tag: str, where: str) -> Person:
    return _person_named(holder, _full_name(holder, name_tag, where), where)


def _person_named(holder: etree._Element, name: FullName, where: str) -> Person:
    place = _child(holder, "МестоРожден")
    text = squeeze(place.get("МестоТекст") or "") if place is not None else ""
    return Person(name, _birth_date(holder, where), _sex(holder), _snils(holder), text or None)


def _full_name(holder: etree._Element, tag: str, where: str) -> FullName:
    last, first, middle = _parts(_child(holder, tag))
    for part, value in (("Фамилия", last), ("Имя", first)):
        if value is None:
            raise ZagsContentError(
                f"{where}/{tag}: no {part}; the hub cannot tell whom it is about",
                field=f"{where}/{tag}/{part}",
            )
    return FullName.parse(last or "", first or "", middle)


def _optional_name(holder: etree._Element | None) -> FullName | None:
    last, first, middle = _parts(holder)
    return FullName.parse(last, first, middle) if last and first else None


def _parts(holder: etree._Element | None) -> tuple[str | None, str | None, str | None]:
    if holder is None:
        return None, None, None
    last, first, middle = _texts(holder, "Фамилия", "Имя", "Отчество")
    return last, first, middle


def _birth_date(holder: etree._Element, where: str) -> PartialDate | None:
    return _date_of(holder, "ДатаРождКаленд", "ДатаРождДок", where)


def _date_of(holder: etree._Element, calendar: str, partial: str, where: str) -> PartialDate | None:
    # A calendar date (xs:date, maybe with a zone) or ZAGS's partial date, whichever is
    # there; None when the record says it is absent.
    text = _text(holder, calendar)
    if text is not None:
        found = XS_DATE.fullmatch(text)
        return _checked_date(found.group(1) if found else "", f"{where}/{calendar}")
    parts = _child(holder, partial)
    return None if parts is None else _checked_date(_partial_iso(parts), f"{where}/{partial}")


def _partial_iso(parts: etree._Element) -> str:
    # ZAGS's partial date as YYYY[-MM[-DD]]; "" (not a date) when a part is not a number.
    year, month, day = _texts(parts, "Год", "Месяц", "День")
    if month is None:
        return year or ""  # a day without its month tells nothing
    if not month.isdigit() or (day is not None and not day.isdigit()):
        return ""
    iso = f"{year}-{int(month):02d}"
    return iso if day is None else f"{iso}-{int(day):02d}"


def _checked_date(iso: str, where: str) -> PartialDate:
    try:
        return PartialDate.parse(iso, where)
    except InvalidValueError:
        raise ZagsContentError(f"{where} is not a date", field=where) from None


def _sex(holder: etree._Element) -> Sex | None:
    text = _text(holder, "Пол")
    if text is None:
        return None  # absent (ПрПол): no need to have Sex.parse refuse it
    try:
        return Sex.parse(text)
    except InvalidValueError:
        return None  # absent (ПрПол) or unknown: the person's sex is simply not given


def _snils(holder: etree._Element) -> Snils | None:
    text = holder.get("СНИЛС")
    if not text:
        return None
    try:
        return Snils.parse(text)
    except InvalidValueError:
        return None  # absent, or failing its check number: not passed on


def _required(holder: etree._Element, *path: str) -> etree._Element:
    found: etree._Element | None = holder
    for tag in path:
        found = _child(found, tag)
    if found is None:
        where = "/".join((etree.QName(holder).localname, *path))
        raise ZagsContentError(f"{where} is missing", field=where)
    return found


def _first_element(holder: etree._Element | None) -> etree._Element | None:
    return None if holder is None else next(holder.iterchildren(etree.Element), None)


def _text(holder: etree._Element, name: str) -> str | None:
    # A direct child's text, spaces collapsed; None when missing or empty.
    element = _child(holder, name)
    text = squeeze(element.text or "") if element is not None else ""
    return text or None


def _texts(holder: etree._Element, *names: str) -> list[str | None]:
    # _text for several names in one pass over the children (a name's first child counts)
    found: dict[str, str | None] = {}
    for child in holder.iterchildren(etree.Element):
        name = str(child.tag).rpartition("}")[2]
        if name in names and name not in found:
            found[name] = squeeze(child.text or "") or None
    return [found.get(name) for name in names]
