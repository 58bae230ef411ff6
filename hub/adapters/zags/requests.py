"""Registry command → ROGDINFRequest 4.0.1; the hub's answer to a change notification (pure).

ROGDINFRequest, in the official schema's order: СведОсн (legal basis), then one СведЗапрос:
СведАГС? (act record: number, date, registry office), СведФЛ (the child: ФИО with an
"absent" flag for a missing part, date of birth full or partial, identity document?),
ПрРегионРегАГС. Elements declared in the root schema are in its namespace; the parts of
its types (Фамилия, День, …) are in the types namespace. The birth certificate is not a
search key: ZAGS returns it and the hub compares (``translate``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree

from hub.adapters.router import AgencyRequest
from hub.adapters.zags.schemas import AGENCY, KIND, NS, NSMAP, REQUEST, TYPES_NS, NoticeKind
from hub.canonical.commands import InvalidCommandError, VerifyBirthRecord
from hub.canonical.ids import HUB_NAMESPACE
from hub.canonical.values import ActRecord, FullName, PartialDate, PassportRF, Person
from hub.xml.build import add

# Legal basis (СНПОСН code, СведОсн/@КодНормОсн): assigned with the access to the kind of
# data. Deployments set theirs (HUB_ZAGS_BASIS_CODE, read at registration); this default is
# the one the settings carry too.
DEFAULT_BASIS_CODE = "01"
CHILD = "1"  # ТипУчАЗ: the child of the birth record (2 the mother, 3 the father)
BIRTH = "01"  # ТипАГС: birth
PASSPORT_RF = "21"  # СПДУЛ: passport of a citizen of the Russian Federation
ABSENT = "1"  # every "Пр…" flag: the part is absent
ResultCode = Literal["1", "2"]
ACCEPTED: ResultCode = "1"  # КодОбр: the notification was taken
REFUSED: ResultCode = "2"  # КодОбр: the notification could not be read

_ID_MAX = 36
_NAME_MAX = 60
_ACT_NUMBER_MAX = 22
_TEXT_MAX = 1000
_FIRST_YEAR = 1826  # the schema's earliest year
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """Why the hub may ask (СведОсн): the СНПОСН code and, if any, the basis document."""

    code: str = DEFAULT_BASIS_CODE
    document: str | None = None


def rogdinf_request(command: VerifyBirthRecord, basis: LegalBasis | None = None) -> AgencyRequest:
    """The ROGDINF request that finds the child's birth record, and the context to compare its
    answer with. ``InvalidCommandError`` names a field the schema cannot carry (a name part
    longer than 60 characters, a birth year before 1826)."""
    root = etree.Element(REQUEST, nsmap=NSMAP)
    root.set("ИдЗапрос", request_key(command.request_id))
    root.set("КолДок", "1")
    root.set("ТипАГС", BIRTH)
    _basis(root, basis or LegalBasis())
    query = add(root, NS, "СведЗапрос")
    query.set("ИдДок", str(uuid.uuid5(HUB_NAMESPACE, f"rogdinf-document:{command.request_id}")))
    _act_record(query, command.act_record)
    _child(query, command.child, command.identity_document)
    add(query, NS, "ПрРегионРегАГС", ABSENT)
    content = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return AgencyRequest(command.request_id, AGENCY, KIND, content, rogdinf_context(command))


def rogdinf_context(command: VerifyBirthRecord) -> dict[str, Any]:
    """What the answer is compared with: the ids, the child's name and date of birth and the
    birth certificate the registry holds (nothing more: it is stored with the request)."""
    child = command.child.to_data()
    return {
        "request_id": command.request_id,
        "student_id": command.student_id,
        "child": {"name": child["name"], "birth_date": child["birth_date"]},
        "birth_certificate": command.birth_certificate.to_data(),
    }


def request_key(request_id: str) -> str:
    """ИдЗапрос: the registry's request id, or a UUID made from it when it is too long."""
    if len(request_id) <= _ID_MAX:
        return request_id
    return str(uuid.uuid5(HUB_NAMESPACE, f"rogdinf:{request_id}"))


def notification_answer(
    record_id: str, result_code: ResultCode = ACCEPTED, *, kind: NoticeKind
) -> bytes:
    """The subscriber's answer to a change notification of ``kind``: the record id and the
    result code (``ACCEPTED`` or ``REFUSED``), as the hub's schema in ``schemas/zags`` says."""
    root = etree.Element(f"{{{kind.namespace}}}{kind.answer}", nsmap={"zp": kind.namespace})
    root.set("ИдСвед", record_id)
    root.set("КодОбр", result_code)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def notices_answer(results: Sequence[tuple[str, ResultCode]], *, kind: NoticeKind) -> bytes:
    """The answer to a notice of several records: one ``Запись`` (record id and result
    code) per record, in the notice's order. A notice of one record gets the answer of
    ``notification_answer``, as before."""
    if len(results) == 1:
        return notification_answer(results[0][0], results[0][1], kind=kind)
    root = etree.Element(f"{{{kind.namespace}}}{kind.answer}", nsmap={"zp": kind.namespace})
    for record_id, code in results:
        entry = etree.SubElement(root, f"{{{kind.namespace}}}Запись")
        entry.set("ИдСвед", record_id)
        entry.set("КодОбр", code)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def _basis(root: etree._Element, basis: LegalBasis) -> None:
    holder = add(root, NS, "СведОсн")
    holder.set("КодНормОсн", basis.code)
    if basis.document:
        add(holder, NS, "СведДокОсн", basis.document)
    else:
        add(holder, NS, "ПрСведДокОсн", ABSENT)


def _act_record(query: etree._Element, act: ActRecord | None) -> None:
    # The schema takes an act record only with its date and registry office; without them
    # (or with values it cannot carry) ZAGS is asked by the child alone.
    if act is None or act.date is None or act.date.year < _FIRST_YEAR:
        return
    number, office = _spaced(act.number), _spaced(act.office or "")
    if not number or len(number) > _ACT_NUMBER_MAX or not office or len(office) > _TEXT_MAX:
        return
    holder = add(query, NS, "СведАГС")
    holder.set("НомерЗапис", number)
    _date(holder, act.date, "ДатаЗапис", "ДатаЗаписДок")
    add(holder, NS, "ОрганЗАГС").set("НаимЗАГС", office)


def _child(query: etree._Element, child: Person, document: PassportRF | None) -> None:
    holder = add(query, NS, "СведФЛ")
    holder.set("ТипУчАЗ", CHILD)
    if child.snils is not None:
        holder.set("СНИЛС", child.snils.formatted)
    _name(add(holder, NS, "ФИО"), child.name)
    if child.birth_date is None:
        add(holder, NS, "ПрДатаРожд", ABSENT)
    elif child.birth_date.year < _FIRST_YEAR:
        raise InvalidCommandError(
            "child.birth_date: ZAGS holds no records before 1826", field="child.birth_date"
        )
    else:
        _date(holder, child.birth_date, "ДатаРождКаленд", "ДатаРождДок")
    if document is not None:
        _passport(holder, document)


def _name(holder: etree._Element, name: FullName) -> None:
    parts = (("last", "Фамилия", name.last), ("first", "Имя", name.first))
    for part, tag, text in (*parts, ("middle", "Отчество", name.middle)):
        spelled = _spaced(text or "")
        if not spelled:
            add(holder, TYPES_NS, f"Пр{tag}", ABSENT)
        elif len(spelled) > _NAME_MAX:
            field = f"child.name.{part}"
            raise InvalidCommandError(f"{field}: ZAGS takes at most 60 characters", field=field)
        else:
            add(holder, TYPES_NS, tag, spelled)


def _date(holder: etree._Element, when: PartialDate, calendar: str, partial: str) -> None:
    full = when.to_date()
    if full is not None:
        add(holder, NS, calendar, full.isoformat())
        return
    parts = add(holder, NS, partial)
    _part(parts, "День", when.day)
    _part(parts, "Месяц", when.month)
    add(parts, TYPES_NS, "Год", f"{when.year:04d}")


def _part(parts: etree._Element, tag: str, value: int | None) -> None:
    if value is None:
        add(parts, TYPES_NS, f"Пр{tag}", ABSENT)
    else:
        add(parts, TYPES_NS, tag, str(value))


def _passport(holder: etree._Element, passport: PassportRF) -> None:
    document = add(holder, NS, "УдЛичнФЛ")
    document.set("КодВидДок", PASSPORT_RF)
    document.set("СерДок", f"{passport.series[:2]} {passport.series[2:]}")  # FNS writes "45 10"
    document.set("НомДок", passport.number)
    issued = passport.issued_on.to_date() if passport.issued_on else None
    if issued is not None:
        document.set("ДатаДок", issued.isoformat())
    issuer = _spaced(passport.issuer or "")
    if issuer and len(issuer) <= _TEXT_MAX:
        document.set("ВыдДок", issuer)


def _spaced(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
