"""Registry command → SnilsByAdditionalDataRequest (pure)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from hub.adapters.pfr.schemas import COMMONS_NS, KIND, NS, PFR_NS, REQUEST
from hub.canonical.commands import InvalidCommandError, VerifySnils
from hub.canonical.values import BirthCertificate, FullName, PassportRF, Person, Sex
from hub.routing.router import AgencyRequest

UNKNOWN_ISSUER = "Нет данных"  # the schema requires an issuer; PFR itself writes this
_GENDER = {Sex.MALE: "Male", Sex.FEMALE: "Female"}


def snils_request(command: VerifySnils) -> AgencyRequest:
    """The request PFR answers with the person's SNILS, and what to read the answer against."""
    root = etree.Element(REQUEST, nsmap={"tns": NS, "smev": COMMONS_NS, "pfr": PFR_NS})
    _name(root, command.person.name)
    _text(root, NS, "BirthDate", _full_birth_date(command.person))
    _text(root, NS, "Gender", _gender(command.person))
    if command.person.birth_place:
        _birth_place(root, command.person.birth_place)
    _document(root, command.document)
    content = etree.tostring(root, encoding="UTF-8")
    return AgencyRequest(command.request_id, "pfr", KIND, content, _context(command))


def _context(command: VerifySnils) -> dict[str, Any]:
    return {
        "request_id": command.request_id,
        "person_id": command.person_id,
        "role": command.role,
        "person": command.person.to_data(),
    }


def _name(root: etree._Element, name: FullName) -> None:
    _text(root, COMMONS_NS, "FamilyName", name.last)
    _text(root, COMMONS_NS, "FirstName", name.first)
    if name.middle:
        _text(root, COMMONS_NS, "Patronymic", name.middle)


def _full_birth_date(person: Person) -> str:
    born = person.birth_date.to_date() if person.birth_date else None
    if born is None:
        raise InvalidCommandError(
            "person.birth_date: PFR searches by a full date of birth", field="person.birth_date"
        )
    return born.isoformat()


def _gender(person: Person) -> str:
    if person.sex is None:
        raise InvalidCommandError("person.sex: PFR searches by sex", field="person.sex")
    return _GENDER[person.sex]


def _birth_place(root: etree._Element, place: str) -> None:
    holder = etree.SubElement(root, f"{{{NS}}}BirthPlace")
    _text(holder, PFR_NS, "PlaceType", "населенный пункт")
    _text(holder, PFR_NS, "Settlement", place[:50])


def _document(root: etree._Element, document: BirthCertificate | PassportRF) -> None:
    tag = "PassportRF" if isinstance(document, PassportRF) else "BirthCertificate"
    holder = etree.SubElement(root, f"{{{COMMONS_NS}}}{tag}")
    _text(holder, COMMONS_NS, "Series", document.series)
    _text(holder, COMMONS_NS, "Number", document.number)
    issued = document.issued_on.to_date() if document.issued_on else None
    if issued is None:
        raise InvalidCommandError(
            "document.issued_on: PFR needs the document's full date of issue",
            field="document.issued_on",
        )
    _text(holder, COMMONS_NS, "IssueDate", issued.isoformat())
    issuer = document.issuer if isinstance(document, PassportRF) else None
    _text(holder, COMMONS_NS, "Issuer", issuer or UNKNOWN_ISSUER)


def _text(parent: etree._Element, ns: str, name: str, value: str) -> None:
    etree.SubElement(parent, f"{{{ns}}}{name}").text = value
