"""The protocol half of the hub's trust policy: which element of a SMEV message must carry a
signature the hub trusts, and when SMEV says the message was sent. Pure: no crypto here.

A message becomes facts only through the element that vouches for it (SMEV 3 types XSD,
1.1–1.3):

===========================================  ===========================  =========
message                                      vouching element             signed by
===========================================  ===========================  =========
GetResponseResponse (answer, rejection,       ResponseMessage/Response     SMEV
SMEV's asynchronous rejection)
GetRequestResponse (a request to the hub)    RequestMessage/Request       SMEV
GetRequestResponse (a Cancel, 1.1/1.2)       RequestMessage/Cancel        SMEV
GetStatusResponse (a status)                 .../AsyncProcessingStatusData SMEV
SendRequestRequest (a system posting as the  SenderProvidedRequestData    the caller
caller, ``POST /inbound``)
SendResponseRequest (likewise)               SenderProvidedResponseData   the caller
===========================================  ===========================  =========

The vouching element is found by the same path the reader (``hub.smev.read``) follows to the
business content, so the content the adapters read is always inside it: a validly signed
element copied elsewhere (a header, a wrapper, a second Body) vouches for nothing here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lxml import etree

from hub.errors import SignatureError
from hub.smev.read import SmevMessage
from hub.smev.signing import operation_element
from hub.xml.navigate import child, localname

Signer = Literal["smev", "caller"]


class SignatureCoverageError(SignatureError):
    """No trusted signature covers the content the hub would read (signature wrapping,
    duplicated ids, a message kind that carries no facts)."""

    code = "SIGNATURE_COVERAGE"


@dataclass(frozen=True, slots=True)
class Vouching:
    """The element whose signature vouches for a message, who is to have signed it, and when
    SMEV says the message was sent or delivered (None: SMEV does not say)."""

    element: etree._Element
    signer: Signer
    moment: datetime | None

    @property
    def name(self) -> str:
        return localname(self.element)


def vouching(message: SmevMessage) -> Vouching:
    """The vouching element of ``message``; ``SignatureCoverageError`` for a kind of message
    the hub takes no facts from, or one whose vouching element is missing."""
    operation = operation_element(message.root)
    rule = _RULES.get(localname(operation))
    if rule is None:
        raise SignatureCoverageError(
            f"{localname(operation)} carries nothing the hub takes as a fact",
            operation=localname(operation),
        )
    signer, find = rule
    element = find(operation)
    if element is None:
        raise SignatureCoverageError(
            f"{localname(operation)} has no element a signature could vouch for",
            operation=localname(operation),
        )
    return Vouching(element, signer, _moment(message))


def duplicated_ids(root: etree._Element) -> list[str]:
    """``Id`` values used by more than one element: a reference to one is ambiguous, the
    classic way to make a signature cover one element while a reader reads another."""
    counts = Counter(str(e.get("Id")) for e in root.iter() if e.get("Id") is not None)
    return sorted(value for value, count in counts.items() if count > 1)


def covers(element: etree._Element, inner: etree._Element | None) -> bool:
    """True when ``inner`` is ``element`` or lies inside it (None: nothing to cover)."""
    if inner is None:
        return True
    return inner is element or any(a is element for a in inner.iterancestors())


def _in(holder: str, *names: str) -> Callable[[etree._Element], etree._Element | None]:
    def find(operation: etree._Element) -> etree._Element | None:
        parent = child(operation, holder)
        return next((c for n in names if (c := child(parent, n)) is not None), None)

    return find


def _direct(name: str) -> Callable[[etree._Element], etree._Element | None]:
    return lambda operation: child(operation, name)


def _status(operation: etree._Element) -> etree._Element | None:
    return child(child(operation, "SmevAsyncProcessingMessage"), "AsyncProcessingStatusData")


_RULES: dict[str, tuple[Signer, Callable[[etree._Element], etree._Element | None]]] = {
    "GetResponseResponse": ("smev", _in("ResponseMessage", "Response")),
    "GetRequestResponse": ("smev", _in("RequestMessage", "Request", "Cancel")),
    "GetStatusResponse": ("smev", _status),
    "SendRequestRequest": ("caller", _direct("SenderProvidedRequestData")),
    "SendResponseRequest": ("caller", _direct("SenderProvidedResponseData")),
}


def _moment(message: SmevMessage) -> datetime | None:
    # Read from the MessageMetadata inside the vouching element, so SMEV's signature covers it.
    metadata = message.metadata
    stamp = metadata and (metadata.delivery_timestamp or metadata.sending_timestamp)
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
