"""Gosuslugi (ЕПГУ): the names of its kinds of data and the hub's own schemas for them.

Neither kind has a public schema. ``gosuslugi/`` of the hub's schemas folder
(``Settings.schemas_dir``, the project's ``schemas/`` by default) holds the hub's:
``school-enrollment-1.0.0.xsd`` (the application, its cancellation and the hub's answer,
modelled on the EPGU kindergarten concentrator 3.2.1) and ``order-status-3.1.1.xsd`` (the
hub's model of EPGU's order-event kind: ``orderStatusEvent`` and EPGU's
``orderStatusEventResponse``). Each is compiled once and used under a lock
(``hub.xml.xsd``): a compiled lxml ``XMLSchema`` must not validate from two threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lxml import etree

from hub.adapters.gate import SchemaCheck
from hub.canonical.personal import Personal
from hub.errors import SchemaValidationError
from hub.paths import PROJECT_SCHEMAS_DIR
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

# The hub's own schemas, relative to its schemas folder (``Settings.schemas_dir``): the
# running hub's gates are made from that setting, never from where this module lies.
ENROLLMENT_SCHEMA = Path("gosuslugi") / "school-enrollment-1.0.0.xsd"
ORDER_STATUS_SCHEMA = Path("gosuslugi") / "order-status-3.1.1.xsd"
_BY_NAMESPACE = {NS: ENROLLMENT_SCHEMA, EVENT_NS: ORDER_STATUS_SCHEMA}

# --- personal data in these schemas (hub.canonical.personal) ---------------------------
# The element names whose content is personal: masking hides their text, their attributes
# and everything inside them. A test walks both schemas: every element of a type in
# PERSONAL_TYPES (or of xs:date) must be named here or in NOT_PERSONAL, and every name here
# must be declared.
_NAMES = (
    "PersonSurname",
    "PersonName",
    "PersonMiddleName",
    "ChildSurname",
    "ChildName",
    "ChildMiddleName",
)
# contacts and documents; free text from or to the parent; benefits (which may tell of health)
_OTHER = (
    "PersonPhone",
    "PersonEmail",
    "PersonIdentityDocInfo",
    "ChildBirthDocRF",
    "Reason",
    "eventComment",
    "BenefitCategory",
)
PERSONAL: Mapping[str, Personal] = {
    **dict.fromkeys(_NAMES, Personal.NAME),
    **dict.fromkeys(("PersonBirthDate", "ChildBirthDate"), Personal.DATE),
    **dict.fromkeys(("PersonSNILS", "ChildSNILS"), Personal.SNILS),
    **dict.fromkeys(_OTHER, Personal.OTHER),
}
# The types with personal meaning: names, SNILS, contacts, identity documents and birth
# certificates (and xs:date, always).
PERSONAL_TYPES = frozenset(
    {"NameType", "SnilsType", "PhoneType", "EmailType", "PassportRFType", "ChildBirthDocRFType"}
)
NOT_PERSONAL: Mapping[str, str] = {
    "EntryDate": "the date the parent asks the child be enrolled from",
}


def enrollment_gate(schemas_dir: Path) -> SchemaCheck:
    """The intake gate of applications and cancellations: the hub's own schema, in
    ``schemas_dir`` (``Settings.schemas_dir``)."""
    path = schemas_dir / ENROLLMENT_SCHEMA
    return SchemaCheck(path, "ЕПГУ school enrollment 1.0.0 (the hub's schema)")


def status_gate(schemas_dir: Path) -> SchemaCheck:
    """The intake gate of EPGU's answers to a status event: the hub's own schema, in
    ``schemas_dir`` (``Settings.schemas_dir``)."""
    return SchemaCheck(
        schemas_dir / ORDER_STATUS_SCHEMA, "ЕПГУ order event 3.1.1 (the hub's schema)"
    )


def xsd_path(element: etree._Element, schemas_dir: Path = PROJECT_SCHEMAS_DIR) -> Path:
    """The hub's schema for ``element``'s namespace, in ``schemas_dir`` (by default the
    project's own folder, where tests and tools find it); ``SchemaValidationError`` if none."""
    schema = _BY_NAMESPACE.get(etree.QName(element).namespace or "")
    if schema is None:
        name = etree.QName(element).localname
        raise SchemaValidationError(
            f"{name} is in no Gosuslugi namespace the hub has a schema for",
            errors=[f"unknown namespace of {name}"],
            element=name,
        )
    return schemas_dir / schema


def validate(element: etree._Element, schemas_dir: Path = PROJECT_SCHEMAS_DIR) -> None:
    """Check an application, a cancellation, the hub's answer, an order-status event or
    EPGU's response to it against the hub's schema for its namespace.

    Raises ``SchemaValidationError`` listing every violation with the quoted values masked
    (``hub.xml.xsd``); ``ConfigurationError`` when the schema file is not there.
    """
    validate_xsd(element, xsd_path(element, schemas_dir))
