"""SMEV 3 message-exchange versions: their namespaces and what differs between them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from hub.errors import SmevMessageError

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"
XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

_BASE = "urn://x-artefacts-smev-gov-ru/services/message-exchange"
_SMEV_NS = re.compile(
    r"^urn://x-artefacts-smev-gov-ru/services/message-exchange/"
    r"(?:types/(?:basic/|faults/|directive/|routing/)?)?(1\.[123])$"
)
_MESSAGE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_COMMON_STATUSES = frozenset(
    {
        "doesNotExist",
        "requestIsQueued",
        "requestIsAcceptedBySmev",
        "requestIsRejectedBySmev",
        "underProcessing",
        "responseIsAcceptedBySmev",
        "cancelled",
    }
)
_V13_STATUSES = frozenset(
    {
        "requestIsProcessed",
        "responseIsQueued",
        "responseIsRejectedBySmev",
        "responseIsProcessed",
        "messageIsArchived",
        "messageIsDelivered",
    }
)


@dataclass(frozen=True, slots=True)
class Namespaces:
    """The namespaces of one version; ``directive``/``routing`` exist from 1.3 on."""

    service: str
    types: str
    basic: str
    faults: str
    directive: str | None
    routing: str | None


class SmevVersion(StrEnum):
    """A message-exchange version; its value is the version string ("1.1", "1.2", "1.3")."""

    V1_1 = "1.1"
    V1_2 = "1.2"
    V1_3 = "1.3"

    @property
    def ns(self) -> Namespaces:
        """The namespaces of this version."""
        v = self.value
        extra = self is SmevVersion.V1_3
        return Namespaces(
            service=f"{_BASE}/{v}",
            types=f"{_BASE}/types/{v}",
            basic=f"{_BASE}/types/basic/{v}",
            faults=f"{_BASE}/types/faults/{v}",
            directive=f"{_BASE}/types/directive/{v}" if extra else None,
            routing=f"{_BASE}/types/routing/{v}" if extra else None,
        )

    @property
    def requires_reference_and_transaction(self) -> bool:
        """The published 1.2 schema requires ReferenceMessageID and TransactionCode in
        SenderProvidedRequestData (genuine 1.2 traffic omits both: see hub.smev.build)."""
        return self is SmevVersion.V1_2

    @property
    def rejection_codes(self) -> frozenset[str]:
        """RejectionReasonCode values the schema allows (1.2 has no FAILURE)."""
        codes = {"ACCESS_DENIED", "NO_DATA", "UNKNOWN_REQUEST_DESCRIPTION"}
        return frozenset(codes if self is SmevVersion.V1_2 else codes | {"FAILURE"})

    @property
    def status_categories(self) -> frozenset[str]:
        """InteractionStatusType values the schema of this version declares."""
        if self is SmevVersion.V1_3:
            return (_COMMON_STATUSES - {"responseIsDelivered"}) | _V13_STATUSES
        return _COMMON_STATUSES | {"responseIsDelivered"}

    @property
    def rich_attachment_headers(self) -> bool:
        """1.3 adds NamespaceUri (and FileName for file-store refs) to attachment headers."""
        return self is SmevVersion.V1_3


def as_version(value: str | SmevVersion) -> SmevVersion:
    """``"1.2"`` or ``SmevVersion.V1_2`` to ``SmevVersion.V1_2``; anything else is an error."""
    try:
        return SmevVersion(value)
    except ValueError as exc:
        known = ", ".join(v.value for v in SmevVersion)
        raise ValueError(f"unknown SMEV version {value!r}: expected one of {known}") from exc


def version_of_namespace(namespace: str | None) -> SmevVersion | None:
    """The version a SMEV namespace belongs to, or None for a foreign namespace."""
    found = _SMEV_NS.match(namespace or "")
    return SmevVersion(found.group(1)) if found else None


def version_of(element: etree._Element) -> SmevVersion:
    """The version of a SMEV element, from its own namespace."""
    namespace = etree.QName(element).namespace
    version = version_of_namespace(namespace)
    if version is None:
        raise SmevMessageError(
            f"<{etree.QName(element).localname}> is not a SMEV 3 element: "
            f"namespace {namespace!r} is not a message-exchange 1.1/1.2/1.3 namespace",
            namespace=namespace,
            line=element.sourceline,
        )
    return version


def is_message_id(value: str) -> bool:
    """True if ``value`` has the schema's UUID form (lower-case hex, 8-4-4-4-12)."""
    return _MESSAGE_ID.match(value) is not None
