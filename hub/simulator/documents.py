"""The agencies' business documents as the simulator's emulators (and ``hub bench``) send
them: ЕГР ЗАГС's ROGDINFResponse 4.0.1 (official schema), PFR's SnilsByAdditionalDataResponse
1.0.1 (official schema), Gosuslugi's ApplicationRequest (built from a ``Spec`` tree) and
ЕГР ЗАГС's change notifications in the SMEV 1.3 directive wrapper (the hub's ``schemas/zags``).

Names go in as the agency spells them: the callers decide on upper case or Ё.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from hub.adapters.gosuslugi.schemas import APPLICATION
from hub.adapters.gosuslugi.schemas import NS as EPGU_NS
from hub.adapters.gosuslugi.translate import CONSENTS
from hub.adapters.pfr.schemas import COMMONS_NS
from hub.adapters.pfr.schemas import NS as PFR_NS
from hub.adapters.pfr.schemas import RESPONSE as PFR_RESPONSE
from hub.adapters.zags.schemas import DIRECTIVE_NS, KINDS, TYPES_NS, Notice
from hub.adapters.zags.schemas import NS as ZAGS_NS
from hub.adapters.zags.schemas import RESPONSE as ZAGS_RESPONSE
from hub.canonical.events import Applicant, EnrollmentApplication
from hub.canonical.values import (
    BirthCertificate,
    FullName,
    Guardian,
    PartialDate,
    Person,
    Relation,
    Sex,
)
from hub.simulator.population import DeathNotice, NameChangeNotice, PaternityNotice, ZagsNotice

Name = Sequence[str | None]  # last, first, middle; None: the part is absent
Spec = tuple[tuple[str, "str | Spec"], ...]  # (tag, text or children), in schema order
FOUND, NOT_FOUND = "1", "2"  # РезОбраб


def add(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    """A child element ``{ns}tag`` with ``text``."""
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    element.text = text
    return element


def build_tree(parent: etree._Element, spec: Spec, ns: str) -> None:
    """``spec``'s elements under ``parent``, all in ``ns``."""
    for tag, value in spec:
        element = etree.SubElement(parent, f"{{{ns}}}{tag}")
        if isinstance(value, str):
            element.text = value
        else:
            build_tree(element, value, ns)


# --- ЕГР ЗАГС: ROGDINFResponse -------------------------------------------------------------


class Parent(Protocol):
    """A parent as a birth record names them."""

    @property
    def name(self) -> Name: ...

    @property
    def born(self) -> str: ...  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class NamedParent:
    name: Name
    born: str


@dataclass(frozen=True, slots=True)
class ActEntry:
    """The act record's number, date and registry office."""

    number: str = "120150000000000170001"
    date: str = "2015-05-01"
    office: str = "Отдел ЗАГС Кировского района г. Казани"
    office_code: str = "92701000"


@dataclass(frozen=True)
class Record:
    """What ZAGS holds about the child, spelled as ZAGS spells it."""

    name: Name
    born: str | None  # YYYY-MM-DD, YYYY-MM or YYYY (a partial date), None (absent)
    certificates: tuple[tuple[str, str], ...]  # (series, number), issued on the act's date
    snils: str | None  # NNN-NNN-NNN CC
    mother: Parent
    father: Parent | None
    sex: str = "2"  # Пол: 1 male, 2 female
    place: str = "г. Казань"
    act: ActEntry = ActEntry()
    version: str = "1"  # НомерВерс
    version_date: str | None = None  # ДатаВерс; None: the act record's date
    state: str = "0101"  # КодСостСтат (the СОСТАГС list is not published: any 4 characters)


def rogdinf_response(
    records: Sequence[etree._Element], code: str, request_id: str, on: str = "2026-03-01"
) -> etree._Element:
    """The answer to ROGDINFRequest ``request_id`` (ИдЗапрос): the records found, with
    РезОбраб ``code`` (``FOUND``, ``NOT_FOUND`` or another), as of the date ``on``."""
    root = etree.Element(ZAGS_RESPONSE, nsmap={"tns": ZAGS_NS, "fnst": TYPES_NS})
    for key, value in (
        ("ИдЗапрос", request_id),
        ("ДатаСвед", on),
        ("КолДок", "1"),
        ("ТипАГСЗапрос", "01"),
    ):
        root.set(key, value)
    holder = add(root, ZAGS_NS, "СведОтветАГС")
    holder.set("ИдДок", f"d-{request_id}"[:36])
    holder.set("РезОбраб", code)
    holder.extend(records)
    return root


def rogdinf_record(held: Record) -> etree._Element:
    """One СведРегРожд as the official schema has it (root elements in NS, their types'
    parts in TYPES_NS)."""
    found = etree.Element(f"{{{ZAGS_NS}}}СведРегРожд")
    attributes = {
        "РазделЕГР": "1",
        "НомерЗаписЕГР": held.act.number,
        "НомерВерс": held.version,
        "ДатаВерс": held.version_date or held.act.date,
        "КодСостСтат": held.state,
    }
    for key, value in attributes.items():
        found.set(key, value)
    add(found, ZAGS_NS, "ДатаЗапис", held.act.date)
    office = add(found, ZAGS_NS, "ОрганЗАГС")
    office.set("НаимЗАГС", held.act.office)
    office.set("КодЗАГС", held.act.office_code)
    for series, number in held.certificates:
        issued = add(found, ZAGS_NS, "СвидетРожд")
        issued.set("ТипСвидет", "1")
        add(issued, TYPES_NS, "СерияСвидет", series)
        add(issued, TYPES_NS, "НомерСвидет", number)
        add(issued, TYPES_NS, "ДатаВыдСвидет", held.act.date)
    details = add(found, ZAGS_NS, "ПрдСведРег")
    add(details, ZAGS_NS, "ПрСчетМатер", "1")
    _born(add(details, ZAGS_NS, "СведРодившемся"), held)
    _parent(details, "СведМать", held.mother)
    _parent(details, "СведОтец", held.father)
    add(details, ZAGS_NS, "ПрСведДокОснОтец", "1")
    add(details, ZAGS_NS, "ПрСведДокРод", "1")
    return found


def _born(holder: etree._Element, held: Record) -> None:
    if held.snils is not None:
        holder.set("СНИЛС", held.snils)
    add(holder, ZAGS_NS, "ПрЖивМертв", "1")
    add(holder, ZAGS_NS, "Пол", held.sex)
    _zags_name(holder, ZAGS_NS, "ФИОРожд", held.name)
    if held.born is None or len(held.born) == 10:
        add(holder, ZAGS_NS, "ДатаРождКаленд" if held.born else "ПрДатаРожд", held.born or "1")
    else:  # ZAGS's partial date: the parts it knows, flags for the others
        year, _, month = held.born.partition("-")
        parts = add(holder, ZAGS_NS, "ДатаРождДок")
        add(parts, TYPES_NS, "ПрДень", "1")
        add(parts, TYPES_NS, "Месяц" if month else "ПрМесяц", str(int(month)) if month else "1")
        add(parts, TYPES_NS, "Год", year)
    place = add(holder, ZAGS_NS, "МестоРожден")
    place.set("ПризнМесто", "1")
    place.set("МестоТекст", held.place)


def _parent(details: etree._Element, tag: str, who: Parent | None) -> None:
    if who is None:  # the flag that the record names no such parent: ПрОтец
        add(details, ZAGS_NS, f"Пр{tag.removeprefix('Свед')}", "1")
        return
    holder = add(details, ZAGS_NS, tag)
    add(holder, TYPES_NS, "ПрГражданство", "1")
    _zags_name(holder, TYPES_NS, "ФИО", tuple(map(upper, who.name)))
    add(holder, TYPES_NS, "ДатаРождКаленд", who.born)
    for flag in ("ПрМестоРожден", "ПрУдЛичнФЛ", "ПрАдрМЖ"):  # what the hub does not read
        add(holder, TYPES_NS, flag, "1")


def _zags_name(parent: etree._Element, ns: str, tag: str, parts: Name) -> None:
    holder = add(parent, ns, tag)
    for part, value in zip(("Фамилия", "Имя", "Отчество"), parts, strict=True):
        add(holder, TYPES_NS, part if value else f"Пр{part}", value or "1")


def upper(text: str | None) -> str | None:
    """As PFR and ZAGS write names: upper case, Ё as Е."""
    return text.upper().replace("Ё", "Е") if text else text


# --- PFR: SnilsByAdditionalDataResponse ----------------------------------------------------

PFR_FIELDS = ("FamilyName", "FirstName", "Patronymic", "Snils", "BirthDate", "Gender")
Answer = dict[str, str | None]
# (kind, series, number, issue date, issuer): PassportRF or BirthCertificate
Document = tuple[str, str, str, str, str]
DEFAULT_DOCUMENT: Document = ("BirthCertificate", "IV-АН", "123456", "0001-01-01", "Нет данных")


def snils_response(
    fields: Mapping[str, str | None], document: Document | None = None
) -> etree._Element:
    """PFR's answer: ``fields`` (``PFR_FIELDS``: the names in upper case, Snils as 11 digits),
    then the identity document (placeholders for what PFR does not know)."""
    root = etree.Element(PFR_RESPONSE, nsmap={"tns": PFR_NS, "smev": COMMONS_NS})
    for tag in PFR_FIELDS:
        ns = COMMONS_NS if tag in {"FamilyName", "FirstName", "Patronymic"} else PFR_NS
        add(root, ns, tag, fields[tag])
    kind, *parts = document or DEFAULT_DOCUMENT
    holder = add(root, COMMONS_NS, kind)
    for tag, text in zip(("Series", "Number", "IssueDate", "Issuer"), parts, strict=True):
        add(holder, COMMONS_NS, tag, text)
    return root


# --- Gosuslugi: ApplicationRequest ---------------------------------------------------------

RELATIONS = {
    Relation.MOTHER: "Mother",
    Relation.FATHER: "Father",
    Relation.LEGAL_REPRESENTATIVE: "LegalRepresentative",
}
CONSENT_TAGS = {key: tag for tag, key in CONSENTS.items()}


def application_request(application: EnrollmentApplication) -> etree._Element:
    """The ``ApplicationRequest`` Gosuslugi sends for ``application``."""
    root = etree.Element(APPLICATION, nsmap={"se": EPGU_NS})
    build_tree(root, application_spec(application), EPGU_NS)
    return root


def application_spec(app: EnrollmentApplication) -> Spec:
    """``application`` in the schema's order (``schemas/gosuslugi``)."""
    school = (("Code", app.school_code), *_optional("Name", app.school_name))
    entry = (("Grade", str(app.grade)), ("EntryDate", app.requested_date.iso()))
    return (
        ("orderId", app.order_number),
        ("FilingDate", app.submitted_at.isoformat()),
        ("PersonInfo", _applicant(app.applicant)),
        *(("OtherRepresentative", _guardian(g)) for g in app.other_guardians),
        ("ChildInfo", _child(app.child, app.child_birth_certificate)),
        ("EduOrganization", school),
        ("EntryParams", entry),
        *(("BenefitInfo", (("BenefitCategory", code),)) for code in app.benefits),
        ("Consents", _consents(app.consents)),
    )


def _people(who: Person, prefix: str) -> Spec:
    name = who.name
    return (
        (f"{prefix}Surname", name.last),
        (f"{prefix}Name", name.first),
        *_optional(f"{prefix}MiddleName", name.middle),
        *_optional(f"{prefix}BirthDate", who.birth_date.iso() if who.birth_date else None),
        *_optional(f"{prefix}Sex", who.sex.value.title() if who.sex else None),
        *_optional(f"{prefix}SNILS", who.snils.formatted if who.snils else None),
    )


def _applicant(applicant: Applicant) -> Spec:
    passport = applicant.passport
    document: Spec = ()
    if passport is not None:
        issued = passport.issued_on.iso() if passport.issued_on else None
        parts = (
            ("IdentityDocSeries", passport.series),
            ("IdentityDocNumber", passport.number),
            *_optional("IdentityDocIssueDate", issued),
            *_optional("IdentityDocIssued", passport.issuer),
        )
        document = (("PersonIdentityDocInfo", parts),)
    return (
        *_people(applicant.person, "Person"),
        *_optional("PersonPhone", applicant.phone),
        *_optional("PersonEmail", applicant.email),
        *document,
        ("PersonType", RELATIONS[applicant.relation]),
    )


def _guardian(guardian: Guardian) -> Spec:
    return (*_people(guardian.person, "Person"), ("PersonType", RELATIONS[guardian.relation]))


def _child(child: Person, certificate: BirthCertificate) -> Spec:
    issued = certificate.issued_on.iso() if certificate.issued_on else None
    document = (
        ("ChildBirthDocSeries", certificate.series),
        ("ChildBirthDocNumber", certificate.number),
        *_optional("ChildBirthDocIssueDate", issued),
    )
    return (*_people(child, "Child"), ("ChildBirthDocRF", document))


def _consents(consents: Mapping[str, bool]) -> Spec:
    given = {"personal_data": False, **consents}  # the schema wants it said either way
    return tuple(
        (CONSENT_TAGS[key], "true" if given[key] else "false")
        for key in CONSENT_TAGS
        if key in given
    )


def _optional(tag: str, text: str | None) -> Spec:
    return ((tag, text),) if text else ()


# --- ЕГР ЗАГС change notifications ---------------------------------------------------------


def notification(notice: ZagsNotice) -> etree._Element:
    """The business root ZAGS sends for ``notice``: ``{ns}Request`` around the SMEV 1.3
    directive Registry/RegistryRecord/Record/RecordContent with the one record."""
    record = notice_record(notice)
    namespace = etree.QName(record).namespace
    root = etree.Element(f"{{{namespace}}}Request", nsmap={"zp": namespace, "dir": DIRECTIVE_NS})
    entry = add(add(root, DIRECTIVE_NS, "Registry"), DIRECTIVE_NS, "RegistryRecord")
    add(entry, DIRECTIVE_NS, "RecordId", "1")
    add(add(entry, DIRECTIVE_NS, "Record"), DIRECTIVE_NS, "RecordContent").append(record)
    return root


def notice_record(notice: ZagsNotice) -> etree._Element:
    """The record of ``notice`` as the hub's schemas in ``schemas/zags`` have it."""
    kind = KINDS[_NOTICES[type(notice)]]
    ns, record = kind.namespace, notice.record
    found = etree.Element(f"{{{ns}}}{kind.record}", nsmap={"zp": ns})
    attributes = {
        "ИдСвед": record.record_id,
        "НомерЗаписЕГР": record.act_record.number,
        "НомерВерс": record.version,
        "ДатаВерс": record.version_date.isoformat(),
        "КодСостСтат": "0101",
    }
    for key, value in attributes.items():
        found.set(key, value)
    _date(found, ns, "ДатаЗапис", record.act_record.date, calendar="ДатаЗапис")
    office = add(found, ns, "ОрганЗАГС")
    office.set("НаимЗАГС", record.act_record.office or "Отдел ЗАГС")
    office.set("КодЗАГС", record.office_code)
    details = add(found, ns, "ПрдСведРег")
    if isinstance(notice, DeathNotice):
        _death(details, ns, notice)
    elif isinstance(notice, NameChangeNotice):
        _name_change(details, ns, notice)
    else:
        _paternity(details, ns, notice)
    return found


_NOTICES = {
    DeathNotice: Notice.DEATH,
    NameChangeNotice: Notice.NAME_CHANGE,
    PaternityNotice: Notice.PATERNITY,
}


def _death(details: etree._Element, ns: str, notice: DeathNotice) -> None:
    who = notice.person
    _snils_attribute(details, who)
    _sex(details, ns, who)
    _notice_name(details, ns, "ФИОУмер", who.name)
    _place(details, ns, who)
    _birth_date(details, ns, who)
    _date(details, ns, "ДатаСмерт", notice.died_on)


def _name_change(details: etree._Element, ns: str, notice: NameChangeNotice) -> None:
    _snils_attribute(details, notice.person)
    _notice_name(details, ns, "ФИОДо", notice.before)
    _notice_name(details, ns, "ФИОПосле", notice.after)
    _birth_date(details, ns, notice.person)
    _place(details, ns, notice.person)


def _paternity(details: etree._Element, ns: str, notice: PaternityNotice) -> None:
    child = add(details, ns, "СведРебенок")
    _snils_attribute(child, notice.child)
    _sex(child, ns, notice.child)
    _notice_name(child, ns, "ФИОДо", notice.child_before)
    _notice_name(child, ns, "ФИОПосле", notice.child.name)
    _birth_date(child, ns, notice.child)
    _place(child, ns, notice.child)
    for tag, who in (("СведМать", notice.mother), ("СведОтец", notice.father)):
        holder = add(details, ns, tag)
        _snils_attribute(holder, who)
        _notice_name(holder, ns, "ФИО", who.name)
        _birth_date(holder, ns, who)
        _place(holder, ns, who)


def _snils_attribute(holder: etree._Element, who: Person) -> None:
    if who.snils is not None:
        holder.set("СНИЛС", who.snils.formatted)


def _sex(holder: etree._Element, ns: str, who: Person) -> None:
    if who.sex is None:
        add(holder, ns, "ПрПол", "1")
    else:
        add(holder, ns, "Пол", "1" if who.sex is Sex.MALE else "2")


def _notice_name(holder: etree._Element, ns: str, tag: str, name: FullName) -> None:
    parts = add(holder, ns, tag)
    for part, value in zip(
        ("Фамилия", "Имя", "Отчество"), (name.last, name.first, name.middle), strict=True
    ):
        add(parts, ns, part if value else f"Пр{part}", value or "1")


def _birth_date(holder: etree._Element, ns: str, who: Person) -> None:
    _date(holder, ns, "ДатаРожд", who.birth_date)


def _date(
    holder: etree._Element,
    ns: str,
    flag: str,
    when: PartialDate | None,
    *,
    calendar: str | None = None,
) -> None:
    # a calendar date, ZAGS's partial date (flags for the parts it lacks) or the absent flag
    if when is None:
        add(holder, ns, f"Пр{flag}", "1")
    elif when.to_date() is not None:
        add(holder, ns, calendar or f"{flag}Календ", when.iso())
    else:
        parts = add(holder, ns, f"{flag}Док")
        for tag, value in (("День", when.day), ("Месяц", when.month)):
            add(parts, ns, tag if value else f"Пр{tag}", str(value) if value else "1")
        add(parts, ns, "Год", f"{when.year:04d}")


def _place(holder: etree._Element, ns: str, who: Person) -> None:
    if who.birth_place:
        add(holder, ns, "МестоРожден").set("МестоТекст", who.birth_place)
    else:
        add(holder, ns, "ПрМестоРожден", "1")
