"""Walking XML Schemas for what they declare: every element and attribute with its type, and
which of them have personal meaning by the types an agency's ``PERSONAL_TYPES`` names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
_DECLARATIONS = (f"{{{XS}}}element", f"{{{XS}}}attribute")
_NAMED_TYPES = (f"{{{XS}}}complexType", f"{{{XS}}}simpleType", f"{{{XS}}}group")
# A date is a person's date unless the agency says otherwise (NOT_PERSONAL).
PERSONAL_BUILTINS = frozenset({"date"})


@dataclass(frozen=True)
class Declared:
    name: str  # local name of an element or attribute
    type_name: str | None  # local name of its type, or of the base of its inline type
    builtin: bool  # the type is one of XML Schema's own
    schema: str  # file name, for messages
    inside: tuple[str, ...]  # names of the named types and elements it is declared within


def load_schemas(paths: Iterable[Path]) -> list[tuple[Path, etree._ElementTree]]:
    """The schemas at ``paths`` and every schema they import or include, each once."""
    seen: dict[Path, etree._ElementTree] = {}
    waiting = [p.resolve() for p in paths]
    while waiting:
        path = waiting.pop()
        if path in seen:
            continue
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        seen[path] = tree
        for link in tree.getroot().iterchildren(f"{{{XS}}}import", f"{{{XS}}}include"):
            if link.get("schemaLocation"):
                waiting.append((path.parent / link.get("schemaLocation", "")).resolve())
    return list(seen.items())


def declarations(schemas: list[tuple[Path, etree._ElementTree]]) -> Iterator[Declared]:
    for path, tree in schemas:
        for node in tree.iter(*_DECLARATIONS):
            name = node.get("name")
            if name is None:  # a ref: the element it names is declared (and walked) elsewhere
                continue
            type_name, builtin = _type_of(node)
            yield Declared(name, type_name, builtin, path.name, _inside(node))


def named_types(schemas: list[tuple[Path, etree._ElementTree]]) -> dict[str, str | None]:
    """Each named type (and model group) by local name, with the local name of its base."""
    found: dict[str, str | None] = {}
    for _path, tree in schemas:
        for node in tree.getroot().iterchildren(*_NAMED_TYPES):
            base = next(
                (b.get("base") for b in node.iter(f"{{{XS}}}restriction", f"{{{XS}}}extension")),
                None,
            )
            found[node.get("name", "")] = _local(base) if base else None
    return found


def personal_types(declared: frozenset[str], types: dict[str, str | None]) -> frozenset[str]:
    """The types of personal meaning: those declared so and those derived from them."""
    personal = set(declared)
    changed = True
    while changed:
        derived = {name for name, base in types.items() if base in personal} - personal
        personal |= derived
        changed = bool(derived)
    return frozenset(personal)


def has_personal_type(item: Declared, personal: frozenset[str]) -> bool:
    if item.type_name is None:
        return False
    if item.builtin:
        return item.type_name in PERSONAL_BUILTINS
    return item.type_name in personal


def _type_of(node: etree._Element) -> tuple[str | None, bool]:
    given = node.get("type")
    if given is None:  # an inline type: what it restricts or extends
        base = next(
            (
                b
                for b in node.iterdescendants(f"{{{XS}}}restriction", f"{{{XS}}}extension")
                if _owner(b) is node
            ),
            None,
        )
        given = base.get("base") if base is not None else None
    if given is None:
        return None, False
    prefix, _, _local_name = given.rpartition(":")
    return _local(given), node.nsmap.get(prefix or None) == XS


def _owner(node: etree._Element) -> etree._Element | None:
    # The nearest element or attribute declaration a restriction belongs to.
    return next(node.iterancestors(*_DECLARATIONS), None)


def _inside(node: etree._Element) -> tuple[str, ...]:
    return tuple(
        a.get("name", "")
        for a in node.iterancestors(*_NAMED_TYPES, *_DECLARATIONS)
        if a.get("name")
    )


def _local(qualified: str) -> str:
    return qualified.rpartition(":")[2]
