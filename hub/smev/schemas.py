"""The official SMEV 3 schemas, for validating what the hub sends (never what it reads)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import cast

from lxml import etree

from hub.errors import ConfigurationError, SchemaValidationError
from hub.smev.versions import SOAP_ENV_NS, SmevVersion, as_version
from hub.xml import parse_xml
from hub.xml.xsd import masked_schema_error, resolved


def load_schema(xsd_dir: str | Path, version: str | SmevVersion) -> etree.XMLSchema:
    """The types schema of ``version`` (with the basic/routing/directive schemas it imports)
    from ``xsd_dir``; cached per directory and version."""
    return _load(str(resolved(xsd_dir)), as_version(version))


@lru_cache(maxsize=16)
def _load(xsd_dir: str, version: SmevVersion) -> etree.XMLSchema:
    path = Path(xsd_dir) / f"smev-message-exchange-types-{version.value}.xsd"
    if not path.is_file():
        raise ConfigurationError(f"SMEV {version.value} schema not found: {path}", path=str(path))
    # The official XSDs are trusted local files, read without network or entity expansion.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigurationError(
            f"SMEV {version.value} schema {path} does not load: {exc}", path=str(path)
        ) from exc


def validate(element: etree._Element, version: str | SmevVersion, xsd_dir: str | Path) -> None:
    """Validate a Body child (SendRequestRequest, AckRequest...) or a whole envelope's Body
    child against the official schema; raise SchemaValidationError listing every error."""
    target = _body_child(element)
    schema = load_schema(xsd_dir, version)
    checked = target if target.sourceline is not None else _with_lines(target)
    if schema.validate(checked):
        return
    log = cast(Iterable[etree._LogEntry], schema.error_log)  # the stubs miss __iter__
    errors = [f"line {e.line}: {masked_schema_error(e.message)}" for e in log]
    name = etree.QName(target).localname
    raise SchemaValidationError(
        f"{name} breaks the SMEV {as_version(version).value} schema: {len(errors)} error(s), "
        f"first: {errors[0]}",
        errors=errors,
        element=name,
        version=as_version(version).value,
    )


class SmevSchemas:
    """The schemas of one directory: ``SmevSchemas(dir).validate(element, "1.3")``."""

    def __init__(self, xsd_dir: str | Path) -> None:
        self.xsd_dir = Path(xsd_dir)

    def schema(self, version: str | SmevVersion) -> etree.XMLSchema:
        """The compiled schema of ``version``."""
        return load_schema(self.xsd_dir, version)

    def validate(self, element: etree._Element, version: str | SmevVersion) -> None:
        """See ``validate``."""
        validate(element, version, self.xsd_dir)


def _body_child(element: etree._Element) -> etree._Element:
    if element.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        return element
    body = element.find(f"{{{SOAP_ENV_NS}}}Body")
    if body is None or len(body) == 0:
        raise SchemaValidationError(
            "envelope has no soap:Body child to validate", errors=["no soap:Body child"]
        )
    return body[0]


def _with_lines(element: etree._Element) -> etree._Element:
    # A tree built in memory has no line numbers; an indented copy gives errors a place.
    text = etree.tostring(element, pretty_print=True, encoding="UTF-8")
    return parse_xml(text)
