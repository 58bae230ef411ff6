"""ZAGS change notifications → person events, and the hub's answer to them.

``notification`` builds them as the hub's own schemas allow (the contract suite validates
them): ``{ns}Request`` / directive Registry / RegistryRecord / Record / RecordContent / record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lxml import etree

from hub.adapters.zags.handlers import _results
from hub.adapters.zags.requests import ACCEPTED, REFUSED, notices_answer, notification_answer
from hub.adapters.zags.schemas import DIRECTIVE_NS, KINDS, Notice, NoticeKind
from hub.adapters.zags.translate import (
    ZagsContentError,
    read_notices,
    read_notification,
    translate_notification,
)
from hub.canonical.drafts import EventDraft
from hub.canonical.ids import event_id_for
from hub.canonical.jsonschemas import validate_event
from hub.canonical.values import FullName, PartialDate, Person, person_key
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event
from hub.simulator.registry import ReceivedEvent, standing_versions
from hub.xml import parse_xml

pytestmark = pytest.mark.unit

RECORD_ID = "7c1e2d3a-0000-4000-8000-00000000a001"
ACT_NUMBER = "170201900000000123001"
OFFICE = "Управление ЗАГС Кабинета Министров Республики Татарстан"
Name = tuple[str | None, str | None, str | None]
PERSON: Name = ("Семёнова", "Алёна", "Игоревна")
NEW_NAME: Name = ("Кузнецова", "Алёна", "Игоревна")
FATHER: Name = ("Кузнецов", "Игорь", "Викторович")


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, etree.QName(parent.nsmap[None], tag))
    element.text = text
    return element


def _name(parent: etree._Element, tag: str, parts: Name) -> None:
    holder = _add(parent, tag)
    for part, value in zip(("Фамилия", "Имя", "Отчество"), parts, strict=True):
        _add(holder, part if value else f"Пр{part}", value or "1")


def _date(parent: etree._Element, prefix: str, iso: str | None) -> None:
    """ "YYYY-MM-DD" → …Календ; "YYYY-MM" / "YYYY" → …Док; None → Пр…."""
    if iso is None:
        _add(parent, f"Пр{prefix}", "1")
    elif len(iso) == 10:
        _add(parent, f"{prefix}Календ", iso)
    else:
        parts = _add(parent, f"{prefix}Док")
        year, _, month = iso.partition("-")
        _add(parts, "ПрДень", "1")
        _add(parts, "Месяц" if month else "ПрМесяц", str(int(month)) if month else "1")
        _add(parts, "Год", year)


def _person(parent: etree._Element, tag: str, name: Name, born: str | None = "1988-01-30") -> None:
    holder = _add(parent, tag)
    holder.set("СНИЛС", "062-160-930 30")
    _name(holder, "ФИО", name)
    _date(holder, "ДатаРожд", born)
    place = _add(holder, "МестоРожден")
    place.set("МестоТекст", "г. Казань")


def _details_birth(details: etree._Element, **_: Any) -> None:
    born = _add(details, "СведРодившемся")
    _add(born, "Пол", "2")
    _name(born, "ФИОРожд", PERSON)
    _date(born, "ДатаРожд", "2019-04-12")
    _add(born, "ПрМестоРожден", "1")
    _person(details, "СведМать", ("Семёнова", "Ольга", "Петровна"))
    _add(details, "ПрОтец", "1")


def _details_death(details: etree._Element, name: Name = PERSON, **options: Any) -> None:
    details.set("СНИЛС", "112-233-445 95")
    _add(details, "Пол", "2")
    _name(details, "ФИОУмер", name)
    _add(details, "ПрМестоРожден", "1")
    _date(details, "ДатаРожд", "2015-04-12")
    _date(details, "ДатаСмерт", options.get("died", "2026-02-27"))


def _details_name_change(details: etree._Element, name: Name = PERSON, **options: Any) -> None:
    _name(details, "ФИОДо", name)
    _name(details, "ФИОПосле", options.get("new", NEW_NAME))
    _date(details, "ДатаРожд", "2015-04-12")
    place = _add(details, "МестоРожден")
    place.set("МестоТекст", "г. Казань")
    place.set("Регион", "16")


def _details_paternity(details: etree._Element, name: Name = NEW_NAME, **options: Any) -> None:
    child = _add(details, "СведРебенок")
    _add(child, "Пол", "2")
    before = options.get("before", PERSON)
    if before is None:
        _add(child, "ПрФИОДо", "1")
    else:
        _name(child, "ФИОДо", before)
    _name(child, "ФИОПосле", name)
    _date(child, "ДатаРожд", "2015-04-12")
    _add(child, "ПрМестоРожден", "1")
    _add(details, "ПрСведМать", "1")
    if options.get("father", True):
        _person(details, "СведОтец", FATHER, "1985")


_DETAILS = {
    Notice.BIRTH: _details_birth,
    Notice.DEATH: _details_death,
    Notice.NAME_CHANGE: _details_name_change,
    Notice.PATERNITY: _details_paternity,
}


def record(notice: Notice, **options: Any) -> etree._Element:
    """The record inside RecordContent; ``options``: name, died, new, before, father."""
    kind = KINDS[notice]
    found = etree.Element(etree.QName(kind.namespace, kind.record), nsmap={None: kind.namespace})
    attributes = {
        "ИдСвед": RECORD_ID,
        "НомерЗаписЕГР": ACT_NUMBER,
        "НомерВерс": "2",
        "ДатаВерс": "2026-02-28",
        "КодСостСтат": "0101",
    }
    for key, value in attributes.items():
        found.set(key, value)
    _add(found, "ДатаЗапис", "2026-02-28")
    _add(found, "ОрганЗАГС").set("НаимЗАГС", OFFICE)
    _DETAILS[notice](_add(found, "ПрдСведРег"), **options)
    return found


def notification(notice: Notice, **options: Any) -> etree._Element:
    """The business root as SMEV delivers it: ``{ns}Request`` around the directive Registry."""
    return wrap(record(notice, **options))


def wrap(*records: etree._Element, namespace: str | None = None) -> etree._Element:
    ns = namespace or str(etree.QName(records[0]).namespace)
    root = etree.Element(etree.QName(ns, "Request"), nsmap={"zp": ns, "dir": DIRECTIVE_NS})
    registry = etree.SubElement(root, etree.QName(DIRECTIVE_NS, "Registry"))
    for number, found in enumerate(records, 1):
        entry = etree.SubElement(registry, etree.QName(DIRECTIVE_NS, "RegistryRecord"))
        etree.SubElement(entry, etree.QName(DIRECTIVE_NS, "RecordId")).text = str(number)
        holder = etree.SubElement(entry, etree.QName(DIRECTIVE_NS, "Record"))
        etree.SubElement(holder, etree.QName(DIRECTIVE_NS, "RecordContent")).append(found)
    return root


def envelope(draft: EventDraft) -> dict[str, Any]:
    inbox = InboxRecord(
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
    return cloud_event(event_id_for(inbox.inbox_id, 0), inbox, draft, datetime.now(UTC))


def subject(name: Name, born: str) -> str:
    person = Person(FullName.parse(*name), PartialDate.parse(born))  # type: ignore[arg-type]
    return f"person:{person_key(person)}"


ACT = {"number": ACT_NUMBER, "date": "2026-02-28", "office": OFFICE}
KEY = f"zags:{RECORD_ID}:2"


# --- each kind -----------------------------------------------------------------------------


def test_death_becomes_death_registered() -> None:
    translation = translate_notification(notification(Notice.DEATH))
    [event] = translation.events
    assert translation.business_key == KEY and not translation.requests
    assert (event.type, event.subject) == ("person.death.registered", subject(PERSON, "2015-04-12"))
    assert event.data["record_id"] == RECORD_ID and event.data["act_record"] == ACT
    assert event.data["death_date"] == "2026-02-27"
    assert event.data["person"] == {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "2015-04-12",
        "sex": "female",
        "snils": "112-233-445 95",
        "birth_place": None,
    }
    validate_event(envelope(event))


@pytest.mark.parametrize("died", ["2026-02", "2026"])
def test_a_partial_date_of_death_is_kept_partial(died: str) -> None:
    [event] = translate_notification(notification(Notice.DEATH, died=died)).events
    assert event.data["death_date"] == died
    validate_event(envelope(event))


def test_name_change_becomes_name_changed_about_the_old_name() -> None:
    translation = translate_notification(notification(Notice.NAME_CHANGE))
    [event] = translation.events
    assert (event.type, event.subject) == ("person.name.changed", subject(PERSON, "2015-04-12"))
    assert event.data["old_name"] == {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"}
    assert event.data["new_name"] == {"last": "Кузнецова", "first": "Алёна", "middle": "Игоревна"}
    assert event.data["person"]["birth_place"] == "г. Казань"
    assert translation.business_key == KEY
    validate_event(envelope(event))


def test_a_name_change_without_patronymic() -> None:
    element = notification(Notice.NAME_CHANGE, name=("Ким", "Олег", None), new=("Ли", "Олег", None))
    [event] = translate_notification(element).events
    assert event.data["old_name"]["middle"] is None and event.data["new_name"]["last"] == "Ли"
    validate_event(envelope(event))


def test_paternity_becomes_paternity_established_and_the_childs_name_change() -> None:
    paternity, renamed = translate_notification(notification(Notice.PATERNITY)).events
    assert paternity.type == "person.paternity.established"
    assert paternity.subject == subject(NEW_NAME, "2015-04-12")
    assert paternity.data["child"]["name"]["last"] == "Кузнецова"
    assert paternity.data["father"]["name"] == {
        "last": "Кузнецов",
        "first": "Игорь",
        "middle": "Викторович",
    }
    assert paternity.data["father"]["birth_date"] == "1985"
    assert (renamed.type, renamed.subject) == ("person.name.changed", subject(PERSON, "2015-04-12"))
    assert (renamed.data["old_name"]["last"], renamed.data["new_name"]["last"]) == (
        "Семёнова",
        "Кузнецова",
    )
    for event in (paternity, renamed):
        validate_event(envelope(event))


@pytest.mark.parametrize(
    "before", [None, ("КУЗНЕЦОВА", "АЛЁНА", "ИГОРЕВНА")], ids=["absent", "same"]
)
def test_paternity_without_a_new_name_is_one_event(before: Name | None) -> None:
    [event] = translate_notification(notification(Notice.PATERNITY, before=before)).events
    assert event.type == "person.paternity.established"


def test_birth_is_answered_and_kept_without_event() -> None:
    translation = translate_notification(notification(Notice.BIRTH))
    assert translation.events == () and translation.business_key == KEY


@pytest.mark.parametrize(
    "form", ["Request", "Registry", "record"], ids=["as delivered", "bare Registry", "bare record"]
)
def test_the_record_is_found_in_every_form(form: str) -> None:
    wrapped = notification(Notice.DEATH)
    registry = wrapped[0]
    element = {"Request": wrapped, "Registry": registry, "record": record(Notice.DEATH)}[form]
    found = read_notification(element)
    assert (found.kind.notice, found.record_id, found.version) == (Notice.DEATH, RECORD_ID, "2")
    assert [e.type for e in found.events] == ["person.death.registered"]


def test_a_resent_notification_has_the_same_key_a_new_version_another() -> None:
    first = translate_notification(notification(Notice.DEATH))
    raw = etree.tostring(notification(Notice.DEATH), encoding="UTF-8")
    again = translate_notification(parse_xml(raw))
    newer = record(Notice.DEATH)
    newer.set("НомерВерс", "3")
    assert first.business_key == again.business_key == KEY
    assert translate_notification(wrap(newer)).business_key == f"zags:{RECORD_ID}:3"


# --- versions: every event says which version of the act record it comes from -------------


@pytest.mark.parametrize("notice", [Notice.DEATH, Notice.NAME_CHANGE, Notice.PATERNITY])
def test_every_event_carries_the_act_records_version(notice: Notice) -> None:
    events = translate_notification(notification(notice)).events
    assert events
    for event in events:
        assert event.data["record_version"] == {
            "version_number": "2",
            "version_date": "2026-02-28",
            "state_code": "0101",
        }
        assert event.schema_version == "2"
        validate_event(envelope(event))


def test_an_older_version_arriving_later_can_be_told_apart() -> None:
    # ZAGS's feed may deliver version 1 after version 2 of the same act record: each is its
    # own fact (its own business key), and the version in the event lets the registry keep
    # the newer data
    older = record(Notice.NAME_CHANGE, new=("Петрова", "Алёна", "Игоревна"))
    older.set("НомерВерс", "1")
    older.set("ДатаВерс", "2026-02-20")
    newer, late = (
        translate_notification(n) for n in (notification(Notice.NAME_CHANGE), wrap(older))
    )
    assert newer.business_key != late.business_key
    [current], [superseded] = newer.events, late.events
    assert current.data["act_record"]["number"] == superseded.data["act_record"]["number"]
    assert (
        superseded.data["record_version"]["version_number"],
        superseded.data["record_version"]["version_date"],
    ) == ("1", "2026-02-20")
    assert current.data["record_version"]["version_number"] == "2"
    # the reference registry applies the version that stands, whichever came last
    for arrived in ([current, superseded], [superseded, current]):
        events = [ReceivedEvent(envelope(e), float(i)) for i, e in enumerate(arrived)]
        [(number, standing)] = standing_versions(events).items()
        assert number == current.data["act_record"]["number"]
        assert standing.data["record_version"]["version_number"] == "2"
        assert standing.data["new_name"] == current.data["new_name"]


def test_a_notice_without_state_code_carries_none() -> None:
    # КодСостСтат is optional in the hub's notice schema
    [event] = translate_notification(_without(Notice.DEATH, "КодСостСтат")).events
    assert event.data["record_version"]["state_code"] is None
    validate_event(envelope(event))


# --- missing data: a precise PermanentError, never a wrong event ----------------------------


def _without(notice: Notice, attribute: str) -> etree._Element:
    found = record(notice)
    del found.attrib[attribute]
    return wrap(found)


def _emptied(notice: Notice) -> etree._Element:
    root = notification(notice)
    content = root.find(f".//{{{DIRECTIVE_NS}}}RecordContent")
    assert content is not None
    content.remove(content[0])
    return root


def _foreign(notice: Notice) -> etree._Element:
    other = KINDS[Notice.BIRTH if notice != Notice.BIRTH else Notice.DEATH]
    return wrap(record(notice), namespace=other.namespace)


REFUSED_CASES = {
    "no record id": (_without(Notice.DEATH, "ИдСвед"), "СведРегСмерт/@ИдСвед"),
    "no version": (_without(Notice.NAME_CHANGE, "НомерВерс"), "СведРегПерИмя/@НомерВерс"),
    "no act-record number": (
        _without(Notice.DEATH, "НомерЗаписЕГР"),
        "СведРегСмерт/@НомерЗаписЕГР",
    ),
    "deceased without family name": (
        notification(Notice.DEATH, name=(None, "Алёна", None)),
        "СведРегСмерт/ПрдСведРег/ФИОУмер/Фамилия",
    ),
    "no date of death": (
        notification(Notice.DEATH, died=None),
        "СведРегСмерт/ПрдСведРег/ДатаСмерт",
    ),
    "new name without first name": (
        notification(Notice.NAME_CHANGE, new=("Кузнецова", None, None)),
        "СведРегПерИмя/ПрдСведРег/ФИОПосле/Имя",
    ),
    "paternity without father": (
        notification(Notice.PATERNITY, father=False),
        "СведРегОтцов/ПрдСведРег/СведОтец",
    ),
    "empty RecordContent": (_emptied(Notice.DEATH), "Registry/RegistryRecord/Record/RecordContent"),
    "a record of another kind inside": (_foreign(Notice.DEATH), "RecordContent"),
    "not a ZAGS record": (etree.Element("{urn://elsewhere}Thing"), "RecordContent"),
}


@pytest.mark.parametrize(("element", "field"), REFUSED_CASES.values(), ids=REFUSED_CASES)
def test_missing_data_is_refused_precisely(element: etree._Element, field: str) -> None:
    with pytest.raises(ZagsContentError) as caught:
        translate_notification(element)
    assert caught.value.details["field"] == field
    assert caught.value.code == "ZAGS_CONTENT" and not caught.value.retryable
    for shown in ("Семёнова", "Алёна", "Кузнецов", "112-233-445", RECORD_ID):
        assert shown not in str(caught.value)


# --- notices of several records (the 1.3 directive allows up to 1,000) ---------------------


def _numbered(element: etree._Element, record_id: str) -> etree._Element:
    element.set("ИдСвед", record_id)
    return element


def test_each_record_of_a_notice_becomes_its_own_events() -> None:
    notice = wrap(_numbered(record(Notice.DEATH), "r-1"), _numbered(record(Notice.DEATH), "r-2"))
    translation = translate_notification(notice)
    assert [e.data["record_id"] for e in translation.events] == ["r-1", "r-2"]
    assert translation.business_key == "zags:r-1:2,r-2:2"  # a resend of it is a duplicate
    batch = read_notices(notice)
    assert [r.business_key for r in batch.records] == ["zags:r-1:2", "zags:r-2:2"]
    assert _results(batch) == [("r-1", ACCEPTED), ("r-2", ACCEPTED)]


def test_a_record_that_cannot_be_used_is_refused_alone() -> None:
    bad = _numbered(record(Notice.DEATH, died=None), "r-2")
    notice = wrap(
        _numbered(record(Notice.DEATH), "r-1"), bad, _numbered(record(Notice.DEATH), "r-3")
    )
    batch = read_notices(notice)
    assert [e.data["record_id"] for e in batch.events] == ["r-1", "r-3"]
    [failure] = batch.failures
    assert (failure.position, failure.record_id) == (2, "r-2")
    assert failure.error.details["field"] == "СведРегСмерт/ПрдСведРег/ДатаСмерт"
    assert "Семёнова" not in str(failure.error)
    assert _results(batch) == [("r-1", ACCEPTED), ("r-2", REFUSED), ("r-3", ACCEPTED)]
    assert batch.business_key == "zags:r-1:2,r-3:2,refused:r-2"


def test_a_refused_record_without_its_id_is_answered_by_the_directives_record_id() -> None:
    notice = wrap(record(Notice.DEATH), _without_id(record(Notice.DEATH)))
    [failure] = read_notices(notice).failures
    assert (failure.position, failure.record_id) == (2, "2")  # RecordId of the directive


def _without_id(element: etree._Element) -> etree._Element:
    del element.attrib["ИдСвед"]
    return element


def test_a_notice_with_no_usable_record_is_refused_naming_each_position() -> None:
    notice = wrap(record(Notice.DEATH, died=None), record(Notice.DEATH, died=None))
    with pytest.raises(ZagsContentError) as caught:
        translate_notification(notice)
    assert caught.value.details["positions"] == [1, 2]
    assert caught.value.details["field"] == "СведРегСмерт/ПрдСведРег/ДатаСмерт"


def test_the_answer_to_several_records_has_one_entry_each() -> None:
    kind = KINDS[Notice.DEATH]
    answer = parse_xml(notices_answer([("r-1", ACCEPTED), ("r-2", REFUSED)], kind=kind))
    assert answer.get("ИдСвед") is None
    assert [(e.get("ИдСвед"), e.get("КодОбр")) for e in answer] == [("r-1", "1"), ("r-2", "2")]
    single = notices_answer([("r-1", ACCEPTED)], kind=kind)
    assert single == notification_answer("r-1", ACCEPTED, kind=kind)


def test_a_date_of_death_that_is_not_one_is_refused() -> None:
    element = notification(Notice.DEATH)
    died = element.find(".//{*}ДатаСмертКаленд")
    assert died is not None
    died.text = "27.02.2026"
    with pytest.raises(ZagsContentError, match="ДатаСмертКаленд is not a date"):
        translate_notification(element)


# --- the answer ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=[k.notice for k in KINDS.values()])
@pytest.mark.parametrize("code", [ACCEPTED, REFUSED])
def test_the_answer_names_the_record_and_the_result(kind: NoticeKind, code: Any) -> None:
    answer = parse_xml(notification_answer(RECORD_ID, code, kind=kind))
    assert answer.tag == f"{{{kind.namespace}}}{kind.answer}"
    assert (answer.get("ИдСвед"), answer.get("КодОбр")) == (RECORD_ID, code)
    assert len(answer) == 0
