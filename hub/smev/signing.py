"""Where a caller's signature goes in a SMEV message, for built and existing messages."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from hub.errors import SmevMessageError

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SIGNABLE = (
    "SenderProvidedRequestData",
    "SenderProvidedResponseData",
    "MessageTypeSelector",
    "AckTargetMessage",
    "Timestamp",
)
CALLER_SIGNATURE = "CallerInformationSystemSignature"
# Elements the caller's signature must follow, when present, to keep the schema's order.
_BEFORE_SIGNATURE = ("AttachmentContentList",)


def operation_element(envelope: etree._Element) -> etree._Element:
    """The SOAP Body's single child (SendRequestRequest, AckRequest, ...)."""
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    child = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if child is None:
        raise SmevMessageError("not a SOAP 1.1 envelope with an element inside soap:Body")
    return child


def signable_element(operation: etree._Element) -> etree._Element:
    """The element a caller signs in this operation (it carries the ``Id``)."""
    for child in operation:
        if isinstance(child.tag, str) and etree.QName(child).localname in SIGNABLE:
            return child
    name = etree.QName(operation).localname
    raise SmevMessageError(f"{name} has nothing a caller signs (none of {', '.join(SIGNABLE)})")


def place_signature(
    operation: etree._Element, signed: etree._Element, signature: etree._Element
) -> None:
    """Put ``signature`` in CallerInformationSystemSignature where the schema wants it,
    replacing any earlier one: after the signed element and any AttachmentContentList."""
    namespace = etree.QName(operation).namespace
    for old in operation.findall(f"{{{namespace}}}{CALLER_SIGNATURE}"):
        operation.remove(old)
    holder = etree.Element(f"{{{namespace}}}{CALLER_SIGNATURE}")
    holder.append(signature)
    anchor = signed
    for child in operation:
        if isinstance(child.tag, str) and etree.QName(child).localname in _BEFORE_SIGNATURE:
            anchor = child
    anchor.addnext(holder)


def sign_envelope(
    envelope: etree._Element, sign: Callable[[etree._Element], etree._Element]
) -> etree._Element:
    """Sign an existing message's signable element (``hub smev sign``, resends)."""
    operation = operation_element(envelope)
    target = signable_element(operation)
    if not target.get("Id"):
        target.set("Id", "SIGNED_BY_CALLER")
    place_signature(operation, target, sign(target))
    return envelope
