"""Gosuslugi (ЕПГУ): the names of its kinds of data and the hub's own schemas for them.

Neither kind has a public schema. ``schemas/gosuslugi/`` of the project holds the hub's:
``school-enrollment-1.0.0.xsd`` (the application, its cancellation and the hub's answer,
modelled on the EPGU kindergarten concentrator 3.2.1) and ``order-status-3.1.1.xsd`` (the
hub's model of EPGU's order-event kind: ``orderStatusEvent`` and EPGU's
``orderStatusEventResponse``). Each is compiled once and used under a lock
(``hub.xml.xsd``): a compiled lxml ``XMLSchema`` must not validate from two threads at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from hub.errors import SchemaValidationError
from hub.xml.xsd import validate_xsd

AGENCY = "gosuslugi"
ACCEPTED_KIND = "application-accepted"
STATUS_KIND = "order-status"

NS = "urn://hub.region/gosuslugi/school-enrollment/1.0.0"
EVENT_NS = "http://epgu.gosuslugi.ru/lk/order/event/3.1.1"
NSMAP = {"se": NS}
EVENT_NSMAP = {"ev": EVENT_NS}
APPLICATION = f"{{{NS}}}ApplicationRequest"
CANCEL = f"{{{NS}}}CancelRequest"
ACCEPTED = f"{{{NS}}}ApplicationAccepted"
STATUS_EVENT = f"{{{EVENT_NS}}}orderStatusEvent"
STATUS_RESPONSE = f"{{{EVENT_NS}}}orderStatusEventResponse"

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "gosuslugi"
ENROLLMENT_XSD = SCHEMA_DIR / "school-enrollment-1.0.0.xsd"
ORDER_STATUS_XSD = SCHEMA_DIR / "order-status-3.1.1.xsd"
_BY_NAMESPACE = {NS: ENROLLMENT_XSD, EVENT_NS: ORDER_STATUS_XSD}

_CLARK = re.compile(r"\{[^{}]*\}(?=\w)")
# libxml2 quotes the values it complains about (names, numbers): all are masked but the
# quoted names of elements, attributes, facets, patterns and types.
_QUOTED = re.compile(r"(?P<word>\b\w+ )?'(?P<value>[^']*)'")
_NAMING = frozenset({"Element ", "attribute ", "facet ", "pattern ", "type "})


def xsd_path(element: etree._Element) -> Path:
    """The hub's schema for ``element``'s namespace; ``SchemaValidationError`` if none."""
    path = _BY_NAMESPACE.get(etree.QName(element).namespace or "")
    if path is None:
        name = etree.QName(element).localname
        raise SchemaValidationError(
            f"{name} is in no Gosuslugi namespace the hub has a schema for",
            errors=[f"unknown namespace of {name}"],
            element=name,
        )
    return path


def validate(element: etree._Element) -> None:
    """Check an application, a cancellation, the hub's answer, an order-status event or
    EPGU's response to it against the hub's schema for its namespace.

    Raises ``SchemaValidationError`` listing every violation with the quoted values masked;
    ``ConfigurationError`` when the schema file is not there.
    """
    path = xsd_path(element)
    try:
        validate_xsd(element, path)
    except SchemaValidationError as exc:
        errors = [_masked(error) for error in exc.errors]
        details = {k: v for k, v in exc.details.items() if k != "errors"}
        where = f"{details.get('element')} breaks {path.name}"
        message = f"{where}: {len(errors)} error(s), first: {errors[0]}"
        raise SchemaValidationError(message, errors=errors, **details) from None


def _masked(message: str) -> str:
    return _QUOTED.sub(_mask_value, _CLARK.sub("", message))


def _mask_value(found: re.Match[str]) -> str:
    word = found.group("word") or ""
    return found.group(0) if word in _NAMING else f"{word}'***'"
