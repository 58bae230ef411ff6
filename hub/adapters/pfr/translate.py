"""SnilsByAdditionalDataResponse → SNILS verified / mismatch / not found (pure).

PFR answers in upper case and fills what it does not know with placeholders (IssueDate
0001-01-01, Issuer "Нет данных"): placeholders are absence, never data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from hub.adapters.pfr.schemas import COMMONS_NS, NS
from hub.canonical.events import Difference, snils_mismatch, snils_not_found, snils_verified
from hub.canonical.values import InvalidValueError, PartialDate, Person, Snils, normalize_name
from hub.errors import PermanentError
from hub.routing.router import EventDraft

PLACEHOLDERS = frozenset({"", "НЕТ ДАННЫХ", "0001-01-01", "-"})


class UntrustedAnswerError(PermanentError):
    """PFR's answer carries data the hub will not pass on (a SNILS failing its check)."""

    code = "UNTRUSTED_ANSWER"


def translate_snils_response(
    element: etree._Element, context: Mapping[str, Any]
) -> list[EventDraft]:
    """The event for PFR's answer, read against the registry's data in ``context``."""
    request_id, person_id, role = context["request_id"], context["person_id"], context["role"]
    registry = Person.from_data(context["person"])
    found = _value(element, NS, "Snils")
    if found is None:
        return [snils_not_found(request_id, person_id, role, "PFR returned no SNILS")]
    agency_snils = _trusted_snils(found)
    differences = _differences(element, registry, agency_snils)
    if differences:
        event = snils_mismatch(
            request_id, person_id, role, registry.snils, agency_snils, differences
        )
        return [event]
    return [snils_verified(request_id, person_id, role, agency_snils)]


def _trusted_snils(text: str) -> Snils:
    try:
        return Snils.parse(text, "SnilsByAdditionalDataResponse/Snils")
    except InvalidValueError as exc:
        raise UntrustedAnswerError(f"PFR's answer: {exc}", field="Snils") from exc


def _differences(element: etree._Element, registry: Person, snils: Snils) -> list[Difference]:
    found: list[Difference] = []
    if registry.snils is not None and registry.snils != snils:
        found.append(Difference("snils", registry.snils.formatted, snils.formatted))
    name = registry.name
    for field, tag, ours in (
        ("name.last", "FamilyName", name.last),
        ("name.first", "FirstName", name.first),
        ("name.middle", "Patronymic", name.middle),
    ):
        theirs = _value(element, COMMONS_NS, tag)
        if normalize_name(theirs or "") != normalize_name(ours or ""):
            found.append(Difference(field, ours, theirs))
    return found + _birth_date_difference(element, registry)


def _birth_date_difference(element: etree._Element, registry: Person) -> list[Difference]:
    theirs = _value(element, NS, "BirthDate")
    if theirs is None or registry.birth_date is None:
        return []
    if PartialDate.parse(theirs, "BirthDate").matches(registry.birth_date):
        return []
    return [Difference("birth_date", registry.birth_date.iso(), theirs)]


def _value(element: etree._Element, ns: str, name: str) -> str | None:
    text = element.findtext(f"{{{ns}}}{name}")
    if text is None or text.strip().upper() in PLACEHOLDERS:
        return None
    return text.strip()
