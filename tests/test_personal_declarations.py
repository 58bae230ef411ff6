"""Each agency lists the XML names of its schemas that carry personal data (``PERSONAL`` in
the adapter's ``schemas.py``). These tests walk the schemas and hold the list complete: every
element or attribute whose type has personal meaning (a type the adapter's ``PERSONAL_TYPES``
names, one derived from it, or xs:date) is listed, unless it sits inside a personal type or
element (masked with it) or is named in ``NOT_PERSONAL`` with the reason it is not.

The hub's own schemas are always walked; the official ones (ROGDINF, PFR) when the reference
material is there (skipped otherwise, failing in CI)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from hub.adapters.gosuslugi import schemas as gosuslugi
from hub.adapters.pfr import schemas as pfr
from hub.adapters.zags import schemas as zags
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.protection.masking import XML_PERSONAL
from tests.support.xsd import (
    Declared,
    declarations,
    has_personal_type,
    load_schemas,
    named_types,
    personal_types,
)

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class SchemaSet:
    name: str
    agency: ModuleType  # the adapter's schemas module: PERSONAL, PERSONAL_TYPES, NOT_PERSONAL
    files: Callable[[Path | None], list[Path]]  # from the reference folder (None: own only)
    official: bool


def _zags_own(_reference: Path | None) -> list[Path]:
    return sorted((PROJECT_SCHEMAS_DIR / zags.OWN_FOLDER).glob("*.xsd"))


SETS = [
    SchemaSet("zags (the hub's own)", zags, _zags_own, official=False),
    SchemaSet("zags (official ROGDINF)", zags, lambda ref: [zags.xsd_path(ref)], official=True),
    SchemaSet("pfr (official)", pfr, lambda ref: [pfr.xsd_path(ref)], official=True),
    SchemaSet(
        "gosuslugi (the hub's own)",
        gosuslugi,
        lambda _ref: [
            PROJECT_SCHEMAS_DIR / gosuslugi.ENROLLMENT_SCHEMA,
            PROJECT_SCHEMAS_DIR / gosuslugi.ORDER_STATUS_SCHEMA,
        ],
        official=False,
    ),
]


def _files(schema_set: SchemaSet, request: pytest.FixtureRequest) -> list[Path]:
    reference = request.getfixturevalue("reference_dir") if schema_set.official else None
    return schema_set.files(reference)


def unlisted(
    found: list[Declared], personal: frozenset[str], listed: Mapping[str, object]
) -> set[str]:
    """Names of personal meaning not listed: nothing inside a personal type or a listed
    element needs listing, as masking hides it with what it is in."""
    covering = personal | set(listed)
    return {
        f"{item.name} ({item.type_name}, {item.schema})"
        for item in found
        if has_personal_type(item, personal)
        and item.name not in listed
        and not covering.intersection(item.inside)
    }


@pytest.mark.parametrize("schema_set", SETS, ids=lambda s: s.name)
def test_every_personal_element_and_attribute_is_listed(
    schema_set: SchemaSet, request: pytest.FixtureRequest
) -> None:
    schemas = load_schemas(_files(schema_set, request))
    agency = schema_set.agency
    personal = personal_types(agency.PERSONAL_TYPES, named_types(schemas))
    listed = {**agency.PERSONAL, **agency.NOT_PERSONAL}
    assert unlisted(list(declarations(schemas)), personal, listed) == set()


@pytest.mark.parametrize("agency", [zags, pfr, gosuslugi], ids=lambda m: m.AGENCY)
def test_every_listed_name_and_type_is_in_the_schemas(
    agency: ModuleType, reference_dir: Path
) -> None:
    files = [f for s in SETS if s.agency is agency for f in s.files(reference_dir)]
    schemas = load_schemas(files)
    declared = {item.name for item in declarations(schemas)}
    assert set(agency.PERSONAL) - declared == set()  # no guessed or stale names
    assert set(agency.NOT_PERSONAL) - declared == set()
    assert set(agency.PERSONAL) & set(agency.NOT_PERSONAL) == set()
    assert agency.PERSONAL_TYPES - set(named_types(schemas)) == set()


def test_the_walk_finds_what_a_schema_declares_personal(tmp_path: Path) -> None:
    # The check itself: an unlisted date, a derived personal type and a named type's member.
    schema = tmp_path / "person.xsd"
    schema.write_text(PERSON_XSD)
    schemas = load_schemas([schema])
    personal = personal_types(frozenset({"NameType"}), named_types(schemas))
    found = list(declarations(schemas))
    assert unlisted(found, personal, {}) == {
        "Born (date, person.xsd)",
        "Surname (ShortNameType, person.xsd)",
        "Kin (NameType, person.xsd)",
        "Issued (date, person.xsd)",
    }
    assert unlisted(found, personal, {"Born": 1, "Surname": 1, "Kin": 1, "Issued": 1}) == set()
    # A listed container covers what is declared inside it.
    assert unlisted(found, personal, {"Born": 1, "Surname": 1, "Kin": 1, "Document": 1}) == set()


PERSON_XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"
  xmlns:t="urn:t" elementFormDefault="qualified">
  <xs:simpleType name="NameType"><xs:restriction base="xs:string"/></xs:simpleType>
  <xs:simpleType name="ShortNameType"><xs:restriction base="t:NameType"/></xs:simpleType>
  <xs:complexType name="KinType"><xs:attribute name="Kin" type="t:NameType"/></xs:complexType>
  <xs:element name="Person">
    <xs:complexType><xs:sequence>
      <xs:element name="Surname" type="t:ShortNameType"/>
      <xs:element name="Born" type="xs:date"/>
      <xs:element name="Grade" type="xs:int"/>
      <xs:element name="Document"><xs:complexType><xs:sequence>
        <xs:element name="Issued" type="xs:date"/>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>"""


def test_agencies_never_give_one_name_two_kinds() -> None:
    merged: dict[str, set[str]] = {}
    for agency in (zags, pfr, gosuslugi):
        for name, kind in agency.PERSONAL.items():
            merged.setdefault(name, set()).add(kind)
    assert {name for name, kinds in merged.items() if len(kinds) > 1} == set()
    assert set(XML_PERSONAL) == set(merged)


def test_no_smev_transport_name_is_personal(smev_xsd_dir: Path) -> None:
    # Names are matched by local name in a whole SMEV envelope: none may be SMEV's own.
    schemas = load_schemas(sorted(smev_xsd_dir.rglob("*.xsd")))
    transport = {item.name for item in declarations(schemas)}
    assert transport & set(XML_PERSONAL) == set()
