"""Business-payload schemas (agencies' official XSDs and the hub's own), for what the hub
sends and for tests; compiled once per file."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import cast

from lxml import etree

from hub.errors import ConfigurationError, SchemaValidationError
from hub.xml.parser import parse_xml

# A compiled XMLSchema must not validate from two threads at once (libxml2 keeps state).
_LOCK = threading.Lock()
# libxml2 quotes every value it complains about (names, SNILS, numbers): all are masked but
# the quoted names of elements, attributes, facets, patterns and types, and the schema's own
# length bounds (an operator needs "at most 100"; the value's own length stays masked).
_QUOTED = re.compile(
    r"(?P<bound>allowed (?:maximum |minimum )?length of )?(?P<word>\b\w+ )?'(?P<value>[^']*)'"
)
_NAMING = frozenset({"Element ", "attribute ", "facet ", "pattern ", "type "})


@lru_cache(maxsize=64)
def resolved(path: str | Path) -> Path:
    """``path`` made absolute with links resolved, once per path: resolving costs a system
    call per part of the path, and schemas are looked up on every message."""
    return Path(path).resolve()


@lru_cache(maxsize=32)
def load_xsd(path: Path) -> etree.XMLSchema:
    """The compiled schema at ``path`` (with what it imports); ``ConfigurationError`` if it
    is missing or does not load."""
    if not path.is_file():
        raise ConfigurationError(f"schema not found: {path}", path=str(path))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigurationError(f"schema {path} does not load: {exc}", path=str(path)) from exc


def validate_xsd(element: etree._Element, path: Path) -> None:
    """Raise ``SchemaValidationError`` listing every way ``element`` breaks the schema, with
    the values masked (``masked_schema_error``): errors are logged and stored."""
    schema = load_xsd(resolved(path))
    checked = element if element.sourceline is not None else _with_lines(element)
    with _LOCK:
        valid = schema.validate(checked)
        log = cast(Iterable[etree._LogEntry], schema.error_log)  # the stubs miss __iter__
        errors = [f"line {e.line} ({e.path}): {masked_schema_error(e.message)}" for e in log]
    if valid:
        return
    name = etree.QName(element).localname
    raise SchemaValidationError(
        f"{name} breaks {path.name}: {len(errors)} error(s), first: {errors[0]}",
        errors=errors,
        element=name,
        schema=path.name,
    )


def masked_schema_error(message: str) -> str:
    """A libxml2 schema error without the values it quotes (personal data, often); the names
    of elements, attributes, facets, patterns and types stay."""
    return _QUOTED.sub(_mask_value, message)


def _mask_value(found: re.Match[str]) -> str:
    word = found.group("word") or ""
    if found.group("bound") or word in _NAMING:
        return found.group(0)
    return f"{word}'***'"


def _with_lines(element: etree._Element) -> etree._Element:
    return parse_xml(etree.tostring(element, pretty_print=True, encoding="UTF-8"))
