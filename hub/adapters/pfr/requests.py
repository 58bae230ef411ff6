"""Registry command → SnilsByAdditionalDataRequest 1.0.1 (pure).

Element order follows the official schema: FamilyName, FirstName, Patronymic? (SMEV commons),
BirthDate, Gender, BirthPlace?, then one identity document (commons PassportRF or
BirthCertificate: Series, Number, IssueDate, Issuer, all four required).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from hub.adapters.pfr.schemas import AGENCY, COMMONS_NS, KIND, NS, NSMAP, PFR_NS, REQUEST
from hub.adapters.router import AgencyRequest
from hub.canonical.commands import InvalidCommandError, VerifySnils
from hub.canonical.values import BirthCertificate, FullName, PartialDate, PassportRF, Sex
from hub.xml.build import add

# PFR's own marks for "unknown" (it answers with them too); the schema requires both fields.
UNKNOWN_ISSUE_DATE = "0001-01-01"
UNKNOWN_ISSUER = "Нет данных"
# A birth place the hub holds as free text is PFR's "special" kind (not split into parts).
SPECIAL_PLACE = "ОСОБОЕ"

_GENDER = {Sex.MALE: "Male", Sex.FEMALE: "Female"}
_DASH = r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212-]"
_DASHES = re.compile(_DASH)
_SPACED_DASHES = re.compile(rf"\s*{_DASH}\s*")
_SPACES = re.compile(r"\s+")
_APOSTROPHES = str.maketrans("\u2018\u2019\u02bc`", "''''")
# The schema's simple types, as Python patterns: smev:rus-100, smev:rus-and-num-200, the
# Soviet-style series (at most three numerals, no Ё), pfr:BirthPlaceType's string-50.
_NAME = re.compile(r"[а-яА-ЯёЁ\-0-9][а-яА-ЯёЁ\-\s',.]{0,99}")
_ISSUER = re.compile(r"[а-яА-ЯёЁ\-0-9][а-яА-ЯёЁ\-\s',.0-9]{0,199}")
_SERIES = re.compile(r"[IVXLCDM]{1,3}-[А-Я]{2}")
_PLACE_MAX = 50


def snils_request(command: VerifySnils) -> AgencyRequest:
    """The request PFR answers with the person's SNILS, and the context to read it against.

    ``InvalidCommandError`` names the field when the person cannot be asked about: no full
    birth date, no sex, a name PFR's schema cannot carry (Cyrillic only).
    """
    person = command.person
    root = etree.Element(REQUEST, nsmap=NSMAP)
    _name(root, person.name)
    add(root, NS, "BirthDate", _birth_date(person.birth_date))
    add(root, NS, "Gender", _gender(person.sex))
    _birth_place(root, person.birth_place)
    _document(root, command.document)
    content = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return AgencyRequest(command.request_id, AGENCY, KIND, content, snils_context(command))


def snils_context(command: VerifySnils) -> dict[str, Any]:
    """What the answer is compared with: the ids and the registry's name, birth date, sex and
    SNILS (nothing more: the context is stored with the request)."""
    person = command.person.to_data()
    return {
        "request_id": command.request_id,
        "person_id": command.person_id,
        "role": command.role,
        "person": {key: person[key] for key in ("name", "birth_date", "sex", "snils")},
    }


def _name(root: etree._Element, name: FullName) -> None:
    parts = (("last", "FamilyName", name.last), ("first", "FirstName", name.first))
    for part, tag, text in (*parts, ("middle", "Patronymic", name.middle)):
        if text:
            add(root, COMMONS_NS, tag, _name_part(text, part))


def _name_part(text: str, part: str) -> str:
    spelled = _SPACED_DASHES.sub("-", _SPACES.sub(" ", text).strip()).translate(_APOSTROPHES)
    if not _NAME.fullmatch(spelled):
        field = f"person.name.{part}"
        raise InvalidCommandError(
            f"{field}: PFR takes names of up to 100 Cyrillic letters, hyphens, apostrophes",
            field=field,
        )
    return spelled


def _birth_date(born: PartialDate | None) -> str:
    full = born.to_date() if born is not None else None
    if full is None:
        raise InvalidCommandError(
            "person.birth_date: PFR searches by a full date of birth", field="person.birth_date"
        )
    return full.isoformat()


def _gender(sex: Sex | None) -> str:
    if sex is None:
        raise InvalidCommandError("person.sex: PFR searches by sex", field="person.sex")
    return _GENDER[sex]


def _birth_place(root: etree._Element, place: str | None) -> None:
    text = _SPACES.sub(" ", place or "").strip()
    if not text or len(text) > _PLACE_MAX:
        return  # optional; cutting a longer one short would send a place that does not exist
    holder = etree.SubElement(root, f"{{{NS}}}BirthPlace")
    add(holder, PFR_NS, "PlaceType", SPECIAL_PLACE)
    add(holder, PFR_NS, "Settlement", text)


def _document(root: etree._Element, document: BirthCertificate | PassportRF) -> None:
    if isinstance(document, PassportRF):
        tag, issuer = "PassportRF", _issuer(document.issuer)
    elif _SERIES.fullmatch(document.series):
        tag, issuer = "BirthCertificate", UNKNOWN_ISSUER
    else:
        return  # a series PFR's schema cannot carry (VIII-…, Ё): ask by the person alone
    holder = etree.SubElement(root, f"{{{COMMONS_NS}}}{tag}")
    add(holder, COMMONS_NS, "Series", document.series)
    add(holder, COMMONS_NS, "Number", document.number)
    add(holder, COMMONS_NS, "IssueDate", _issue_date(document.issued_on))
    add(holder, COMMONS_NS, "Issuer", issuer)


def _issue_date(issued_on: PartialDate | None) -> str:
    full = issued_on.to_date() if issued_on is not None else None
    return full.isoformat() if full is not None else UNKNOWN_ISSUE_DATE


def _issuer(text: str | None) -> str:
    spelled = _DASHES.sub("-", _SPACES.sub(" ", text or "").strip())
    return spelled if _ISSUER.fullmatch(spelled) else UNKNOWN_ISSUER
