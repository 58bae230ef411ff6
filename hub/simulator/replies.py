"""What SMEV itself writes: accepted-message metadata, deliveries, statuses and faults.

Every builder returns a ``soap:Envelope`` that validates against the official schema of its
version (see tests/simulator): 1.1 and 1.2 metadata carry DestinationName and
SupplementaryData, 1.2 responses carry the original's ids. SMEV signs the element with
``Id="SIGNED_BY_SMEV"`` into SMEVSignature when a signer is given.

``Style`` writes them as the genuine captures show instead (``Quirks``): metadata without
what real SMEV omits, fault codes as SMEV spells them, ``xsi:type`` on an asynchronous
SmevFault. Those no longer validate, as real SMEV's replies do not.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from hub.simulator.filestore import FileAccess
from hub.smev.build import ElementSigner
from hub.smev.versions import SOAP_ENV_NS, Namespaces, SmevVersion

SIGNED_BY_SMEV = "SIGNED_BY_SMEV"
SIGNED_ASYNC_BY_SMEV = "SIGNED_ASYNC_BY_SMEV"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# SMEV's Code strings, in the form of the genuine captures (sync: a SOAP fault; async: an
# AsyncProcessingStatus); the SMEV-nnn number goes in front of Description.
SYNC_CODE = "tsmev3:PRODUCTION_AREA:TSMEV3_CORE2 : TR:SYNC:SPS:{n}"
ASYNC_CODE = "tsmev3:P:TSMEV3_ASYNC_CORE1:TR:ASYNC:PP:BSV:{n}"
INTERACTION_TYPE = "OIV2OIV"
# Fault types whose schema type extends basic:SmevFault (the others are empty basic:Void).
_WITH_CODE = frozenset(
    {
        "BusinessDataTypeIsNotSupported",
        "InvalidContent",
        "TransactionCodeInvalid",
        "AttachmentSizeLimitExceeded",
        "QuoteLimitExceeded",
        "SignatureVerificationFault",
        "DestinationOverflow",
    }
)
_STATUS_DETAILS_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Party:
    """An information system as SMEV names it in metadata."""

    mnemonic: str
    name: str


@dataclass(frozen=True, slots=True)
class Metadata:
    """MessageMetadata: SMEV's record of one message."""

    message_id: str
    message_type: str  # REQUEST or RESPONSE
    sender: Party
    sending_timestamp: datetime
    recipient: Party | None = None
    status: str | None = None
    content_type: str | None = None  # 1.1/1.2 DetectedContentTypeName
    delivered: datetime | None = None  # DeliveryTimestamp (a delivery, genuine style)


@dataclass(frozen=True, slots=True)
class Style:
    """How SMEV's replies are written: ``genuine_metadata`` and ``smev_codes`` as the
    ``Quirks`` of the same names (``delivery_metadata``, ``smev_codes``) say."""

    genuine_metadata: bool = False
    smev_codes: bool = False


@dataclass(frozen=True, slots=True)
class Fault:
    """A refusal: ``type`` is the fault element (None: a plain SOAP fault, no SMEV detail)."""

    type: str | None
    message: str
    smev_error: str | None = None
    sub_type: str | None = None
    validation_errors: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    server: bool = False

    @property
    def text(self) -> str:
        """faultstring and Description: SMEV puts its error number in front."""
        return f"{self.smev_error}:{self.message}" if self.smev_error else self.message


@dataclass(frozen=True, slots=True)
class AsyncStatus:
    """AsyncProcessingStatus: what SMEV did with a message sent earlier."""

    original_message_id: str
    category: str
    details: str | None = None
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class Original:
    """The request a response answers, as the response's delivery names it."""

    message_id: str
    reference_message_id: str | None = None
    transaction_code: str | None = None


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")


def _nsmap(ns: Namespaces) -> dict[Any, str]:
    # The prefixes of SMEV's own replies (see the genuine samples); the None key (default
    # namespace) is fine for lxml, not for its stubs.
    return {"ns2": ns.types, None: ns.basic, "ns3": ns.faults}


class _Doc:
    """One envelope under construction, with the namespaces of its version."""

    def __init__(self, version: SmevVersion, operation: str, style: Style = Style()) -> None:
        self.version = version
        self.style = style
        self.ns = version.ns
        self.envelope, body = _envelope()
        self.op = etree.SubElement(body, f"{{{self.ns.types}}}{operation}", nsmap=_nsmap(self.ns))

    def t(self, parent: etree._Element, name: str, value: str | None = None) -> etree._Element:
        return _sub(parent, self.ns.types, name, value)

    def smev_signature(
        self, parent: etree._Element, signed: etree._Element, signer: ElementSigner | None
    ) -> etree._Element:
        if signer is not None:
            self.t(parent, "SMEVSignature").append(signer(signed))
        return self.envelope


def accepted(
    version: SmevVersion, operation: str, metadata: Metadata, signer: ElementSigner | None
) -> etree._Element:
    """SendRequestResponse / SendResponseResponse: the message is taken."""
    doc = _Doc(version, operation)
    signed = _metadata(doc, doc.op, metadata, SIGNED_BY_SMEV)
    return doc.smev_signature(doc.op, signed, signer)


def request_delivery(  # noqa: PLR0917 - the parts of one Request
    version: SmevVersion,
    data: etree._Element,
    metadata: Metadata,
    reply_to: str,
    attachments: etree._Element | None,
    signer: ElementSigner | None,
    *,
    file_access: Sequence[FileAccess] = (),
    sender_signature: etree._Element | None = None,
    style: Style = Style(),
) -> etree._Element:
    """GetRequestResponse with a Request; ``data`` (SenderProvidedRequestData) moves in;
    ``file_access`` becomes its FSAttachmentsList, ``sender_signature`` (the sender's
    ds:Signature over ``data``) its SenderInformationSystemSignature."""
    doc = _Doc(version, "GetRequestResponse", style)
    holder = doc.t(doc.op, "RequestMessage")
    request = doc.t(holder, "Request")
    request.set("Id", SIGNED_BY_SMEV)
    request.append(data)
    _metadata(doc, request, metadata)
    _file_access(doc, request, file_access)
    doc.t(request, "ReplyTo", reply_to)
    _sender_signature(doc, request, sender_signature)
    _attachments(holder, attachments)
    return doc.smev_signature(holder, request, signer)


def _file_access(doc: _Doc, parent: etree._Element, documents: Sequence[FileAccess]) -> None:
    if not documents:
        return
    holder = _sub(parent, doc.ns.basic, "FSAttachmentsList")
    for document in documents:
        entry = _sub(holder, doc.ns.basic, "FSAttachment")
        for name, value in (
            ("uuid", document.uuid),
            ("UserName", document.user_name),
            ("Password", document.password),
            ("FileName", document.file_name),
        ):
            _sub(entry, doc.ns.basic, name, value)


def cancel_delivery(
    version: SmevVersion, message_reference: str, metadata: Metadata, signer: ElementSigner | None
) -> etree._Element:
    """GetRequestResponse with SMEV's Cancel (1.1/1.2) of the request sent under
    ``message_reference``; ``metadata.message_id`` is the Cancel's own MessageID."""
    if version is SmevVersion.V1_3:
        raise ValueError("message-exchange 1.3 has no Cancel")
    doc = _Doc(version, "GetRequestResponse")
    holder = doc.t(doc.op, "RequestMessage")
    cancel = doc.t(holder, "Cancel")
    cancel.set("Id", SIGNED_BY_SMEV)
    _sub(cancel, doc.ns.basic, "MessageReference", message_reference)
    doc.t(cancel, "MessageID", metadata.message_id)
    _metadata(doc, cancel, metadata)
    return doc.smev_signature(holder, cancel, signer)


def response_delivery(  # noqa: PLR0917 - the parts of one Response
    version: SmevVersion,
    data: etree._Element,
    metadata: Metadata,
    original: Original,
    attachments: etree._Element | None,
    signer: ElementSigner | None,
    *,
    sender_signature: etree._Element | None = None,
    style: Style = Style(),
) -> etree._Element:
    """GetResponseResponse with a Response; ``data`` (SenderProvidedResponseData) moves in,
    ``sender_signature`` goes after MessageMetadata, as in the genuine capture."""
    doc = _Doc(version, "GetResponseResponse", style)
    holder = doc.t(doc.op, "ResponseMessage")
    response = doc.t(holder, "Response")
    response.set("Id", SIGNED_BY_SMEV)
    _original(doc, response, original)
    response.append(data)
    _metadata(doc, response, metadata)
    _sender_signature(doc, response, sender_signature)
    _attachments(holder, attachments)
    return doc.smev_signature(holder, response, signer)


def async_status_data(
    version: SmevVersion, message_id: str, to: str, status: AsyncStatus, style: Style = Style()
) -> etree._Element:
    """SenderProvidedResponseData that SMEV itself sends (SIGNED_ASYNC_BY_SMEV), e.g. SMEV-403."""
    ns = version.ns
    data = etree.Element(f"{{{ns.types}}}SenderProvidedResponseData", nsmap=_nsmap(ns))
    data.set("Id", SIGNED_ASYNC_BY_SMEV)
    _sub(data, ns.types, "MessageID", message_id)
    _sub(data, ns.types, "To", to)
    _async_status(ns, data, status, style)
    return data


def status_delivery(
    version: SmevVersion,
    status: AsyncStatus | None,
    signer: ElementSigner | None,
    style: Style = Style(),
) -> etree._Element:
    """GetStatusResponse: one status, or none (an empty status queue)."""
    doc = _Doc(version, "GetStatusResponse", style)
    if status is None:
        return doc.envelope
    holder = doc.t(doc.op, "SmevAsyncProcessingMessage")
    data = doc.t(holder, "AsyncProcessingStatusData")
    data.set("Id", SIGNED_BY_SMEV)
    _async_status(doc.ns, data, status, style)
    return doc.smev_signature(holder, data, signer)


def empty(version: SmevVersion, operation: str) -> etree._Element:
    """An answer without content: an empty queue, or AckResponse."""
    return _Doc(version, operation).envelope


def fault(version: SmevVersion, refusal: Fault, style: Style = Style()) -> etree._Element:
    """A SOAP 1.1 Fault; with the SMEV fault element in ``detail`` when the type is known."""
    envelope, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV_NS}}}Fault")
    code = "soap:Server" if refusal.server else "soap:Client"
    etree.SubElement(element, "faultcode").text = code
    etree.SubElement(element, "faultstring").text = refusal.text
    if refusal.type is not None:
        _fault_detail(version.ns, etree.SubElement(element, "detail"), refusal, style)
    return envelope


def in_version(data: etree._Element, source: SmevVersion, target: SmevVersion) -> etree._Element:
    """A copy of Sender-provided data moved from one version's namespaces to another's, as
    SMEV hands a 1.3 sender's message to a 1.2 reader; 1.2's required chain ids are filled."""
    moved = copy.deepcopy(data)
    if source is target:
        return moved
    names = {source.ns.types: target.ns.types, source.ns.basic: target.ns.basic}
    for element in moved.iter():
        if isinstance(element.tag, str):
            qname = etree.QName(element)
            if qname.namespace in names:
                element.tag = f"{{{names[qname.namespace]}}}{qname.localname}"
    if target is SmevVersion.V1_2 and etree.QName(moved).localname == "SenderProvidedRequestData":
        _fill_chain(moved, target.ns.types)
    return moved


def _fill_chain(data: etree._Element, types: str) -> None:
    # 1.2 requires ReferenceMessageID (the chain's root: the message itself) and then
    # TransactionCode, right after MessageID.
    message_id = data.find(f"{{{types}}}MessageID")
    if message_id is None:
        return
    reference = data.find(f"{{{types}}}ReferenceMessageID")
    if reference is None:
        reference = etree.Element(f"{{{types}}}ReferenceMessageID")
        reference.text = message_id.text
        message_id.addnext(reference)
    if data.find(f"{{{types}}}TransactionCode") is None:
        code = etree.Element(f"{{{types}}}TransactionCode")
        code.text = ""
        reference.addnext(code)


# --- parts ----------------------------------------------------------------------------


def _sub(parent: etree._Element, ns: str, name: str, value: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if value is not None:
        element.text = value
    return element


def _metadata(
    doc: _Doc, parent: etree._Element, meta: Metadata, element_id: str | None = None
) -> etree._Element:
    # 1.1 and 1.2 want more, in this order; real SMEV leaves it out (the genuine capture).
    legacy = doc.version is not SmevVersion.V1_3 and not doc.style.genuine_metadata
    element = doc.t(parent, "MessageMetadata")
    if element_id is not None:
        element.set("Id", element_id)
    doc.t(element, "MessageId", meta.message_id)
    doc.t(element, "MessageType", meta.message_type)
    _party(doc, element, "Sender", meta.sender)
    doc.t(element, "SendingTimestamp", _time(meta.sending_timestamp))
    if legacy:
        doc.t(element, "DestinationName", meta.recipient.mnemonic if meta.recipient else "SMEV")
    if meta.recipient is not None:
        _party(doc, element, "Recipient", meta.recipient)
    if legacy:
        supplementary = doc.t(element, "SupplementaryData")
        if meta.content_type is not None:
            doc.t(supplementary, "DetectedContentTypeName", meta.content_type[:500])
        doc.t(supplementary, "InteractionType", INTERACTION_TYPE)
    if meta.delivered is not None:
        doc.t(element, "DeliveryTimestamp", _time(meta.delivered))
    if meta.status is not None:
        doc.t(element, "Status", meta.status)
    return element


def _party(doc: _Doc, parent: etree._Element, name: str, party: Party) -> None:
    element = doc.t(parent, name)
    doc.t(element, "Mnemonic", party.mnemonic)
    if not doc.style.genuine_metadata:
        doc.t(element, "HumanReadableName", party.name)


def _original(doc: _Doc, response: etree._Element, original: Original) -> None:
    # 1.2 requires all three; the others write what is known, and so does real SMEV.
    required = doc.version is SmevVersion.V1_2 and not doc.style.genuine_metadata
    doc.t(response, "OriginalMessageId", original.message_id)
    code = original.transaction_code
    if code is not None or required:
        doc.t(response, "OriginalTransactionCode", code or "")
    reference = original.reference_message_id or (original.message_id if required else None)
    if reference is not None:
        doc.t(response, "ReferenceMessageID", reference)


def _sender_signature(doc: _Doc, parent: etree._Element, signature: etree._Element | None) -> None:
    if signature is not None:
        doc.t(parent, "SenderInformationSystemSignature").append(signature)


def _attachments(holder: etree._Element, attachments: etree._Element | None) -> None:
    if attachments is not None:
        holder.append(copy.deepcopy(attachments))


def _async_status(
    ns: Namespaces, parent: etree._Element, status: AsyncStatus, style: Style
) -> None:
    element = _sub(parent, ns.types, "AsyncProcessingStatus")
    _sub(element, ns.types, "OriginalMessageId", status.original_message_id)
    _sub(element, ns.types, "StatusCategory", status.category)
    if status.details is not None:
        _sub(element, ns.types, "StatusDetails", status.details[:_STATUS_DETAILS_LIMIT])
    if status.fault is not None:
        _smev_fault(ns, _sub(element, ns.types, "SmevFault"), status.fault, style)


def _smev_fault(ns: Namespaces, element: etree._Element, fault: Fault, style: Style) -> None:
    if not style.smev_codes or fault.type not in _WITH_CODE:
        _sub(element, ns.basic, "Code", fault.smev_error or fault.type)
        _sub(element, ns.basic, "Description", fault.text)
        return
    # As the genuine capture: the fault's own type by xsi:type, with its details.
    element.set(f"{{{XSI_NS}}}type", f"ns3:{fault.type}")
    _sub(element, ns.basic, "Code", ASYNC_CODE.format(n=_code_number(fault)))
    _sub(element, ns.basic, "Description", fault.text)
    errors = fault.validation_errors or ((fault.message,) if fault.type == "InvalidContent" else ())
    for message in errors:
        _sub(element, ns.faults, "ValidationError", message).set("errorPosition", "-1")


def _code_number(fault: Fault) -> int:
    # A stable small number per fault type, like the last part of SMEV's codes.
    return sorted(_WITH_CODE).index(fault.type or "") + 1 if fault.type in _WITH_CODE else 0


def _fault_detail(ns: Namespaces, detail: etree._Element, refusal: Fault, style: Style) -> None:
    element = etree.SubElement(detail, f"{{{ns.faults}}}{refusal.type}", nsmap=_nsmap(ns))
    if refusal.type not in _WITH_CODE:
        return  # basic:Void: the element says it all
    code = refusal.smev_error or refusal.type
    if style.smev_codes:
        code = SYNC_CODE.format(n=_code_number(refusal))
    _sub(element, ns.basic, "Code", code)
    _sub(element, ns.basic, "Description", refusal.text)
    for position, message in enumerate(refusal.validation_errors, start=1):
        _sub(element, ns.faults, "ValidationError", message).set("errorPosition", str(position))
    if refusal.sub_type is not None:
        _sub(element, ns.faults, "SignatureVerificationFault", refusal.sub_type)
    for name, value in refusal.extra:
        _sub(element, ns.faults, name, value)


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")
