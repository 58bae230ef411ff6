"""SnilsByAdditionalDataResponse → person.snils.verified / mismatch / not_found (pure).

PFR answers with the request's data plus Snils (11 bare digits), often in upper case, and
fills what it does not know with placeholders (IssueDate 0001-01-01, Issuer "Нет данных"):
placeholders are absence, never data. The schema makes Snils required, yet PFR says "found
nothing" with an empty Snils; an empty, missing or all-zero Snils reads as not found. The
answer is read leniently (children by local name), since it has passed SMEV already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from hub.adapters.router import TranslationError
from hub.canonical.drafts import EventDraft
from hub.canonical.events import Difference, snils_mismatch, snils_not_found, snils_verified
from hub.canonical.values import (
    FullName,
    InvalidValueError,
    PartialDate,
    Person,
    Sex,
    Snils,
    normalize_name,
    squeeze,
)
from hub.errors import IntakeError
from hub.xml.navigate import XS_DATE

PLACEHOLDERS = frozenset({"", "-", "НЕТ ДАННЫХ", "0001-01-01"})
NOT_FOUND_REASON = "PFR found no SNILS for the person's data"
_ANSWER = "SnilsByAdditionalDataResponse"


class UntrustedAnswerError(IntakeError):
    """PFR's answer carries a value the hub will not pass on (a SNILS failing its check
    number, a date that is not one); the field is named, the value never shown."""

    code = "PFR_UNTRUSTED_ANSWER"


@dataclass(frozen=True, slots=True)
class _Asked:
    """The request the answer belongs to and what the registry holds about the person."""

    request_id: str
    person_id: str
    role: str
    person: Person


def translate_snils_response(
    element: etree._Element, context: Mapping[str, Any]
) -> list[EventDraft]:
    """The one SNILS event for PFR's answer, read against the request's ``context``
    (``requests.snils_context``). Raises ``UntrustedAnswerError`` for a returned SNILS that
    fails its check number, ``TranslationError`` for an element or context of the wrong shape.
    """
    if etree.QName(element).localname != _ANSWER:
        raise TranslationError(f"expected {_ANSWER}, got {etree.QName(element).localname}")
    asked = _asked(context)
    found = _value(element, "Snils")
    if found is None or not found.strip("0- "):  # all zeros: no number
        return [snils_not_found(asked.request_id, asked.person_id, asked.role, NOT_FOUND_REASON)]
    snils = _trusted_snils(found)
    differences = _differences(element, asked.person, snils)
    if differences:
        registry = asked.person.snils
        ids = (asked.request_id, asked.person_id, asked.role)
        return [snils_mismatch(*ids, registry, snils, differences)]
    return [snils_verified(asked.request_id, asked.person_id, asked.role, snils)]


def _asked(context: Mapping[str, Any]) -> _Asked:
    missing = [k for k in ("request_id", "person_id", "role", "person") if k not in context]
    if missing:
        raise TranslationError(f"the request's context lacks {', '.join(missing)}", missing=missing)
    ids = (str(context["request_id"]), str(context["person_id"]), str(context["role"]))
    return _Asked(*ids, Person.from_data(context["person"]))


def _trusted_snils(text: str) -> Snils:
    try:
        return Snils.parse(text)
    except InvalidValueError:
        raise UntrustedAnswerError(
            "PFR's answer: Snils is not a valid SNILS (11 digits with a matching check "
            "number); not trusted",
            field="Snils",
        ) from None  # the cause would repeat part of the number


def _differences(element: etree._Element, registry: Person, snils: Snils) -> list[Difference]:
    found: list[Difference] = []
    if registry.snils is not None and registry.snils != snils:
        found.append(Difference("snils", registry.snils.formatted, snils.formatted))
    found += _name_differences(element, registry.name)
    found += _birth_date_differences(element, registry.birth_date)
    found += _sex_differences(element, registry.sex)
    return found


def _name_differences(element: etree._Element, name: FullName) -> list[Difference]:
    found: list[Difference] = []
    for field, tag, ours in (
        ("name.last", "FamilyName", name.last),
        ("name.first", "FirstName", name.first),
        ("name.middle", "Patronymic", name.middle),
    ):
        theirs = _value(element, tag)
        if normalize_name(ours or "") != normalize_name(theirs or ""):
            found.append(Difference(field, ours, theirs))
    return found


def _birth_date_differences(element: etree._Element, ours: PartialDate | None) -> list[Difference]:
    text = _value(element, "BirthDate")
    if text is None or ours is None:
        return []
    theirs = _answer_date(text)
    if theirs.matches(ours):
        return []
    return [Difference("birth_date", ours.iso(), theirs.iso())]


def _answer_date(text: str) -> PartialDate:
    found = XS_DATE.fullmatch(text)
    try:
        if found is not None:
            return PartialDate.parse(found.group(1))
    except InvalidValueError:
        pass
    raise UntrustedAnswerError("PFR's answer: BirthDate is not a date", field="BirthDate")


def _sex_differences(element: etree._Element, ours: Sex | None) -> list[Difference]:
    text = _value(element, "Gender")
    if text is None or ours is None:
        return []
    try:
        theirs = Sex.parse(text)
    except InvalidValueError:
        raise UntrustedAnswerError(
            "PFR's answer: Gender is neither Male nor Female", field="Gender"
        ) from None
    return [] if theirs == ours else [Difference("sex", ours.value, theirs.value)]


def _value(element: etree._Element, name: str) -> str | None:
    """A direct child's text, stripped; ``None`` when missing or a placeholder."""
    child = next(element.iterchildren(f"{{*}}{name}"), None)  # any namespace or none
    if child is None:
        return None
    text = squeeze(child.text or "")
    return None if text.upper().replace("Ё", "Е") in PLACEHOLDERS else text
