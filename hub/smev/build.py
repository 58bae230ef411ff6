"""Builders of outgoing SMEV 3 SOAP 1.1 envelopes, for message-exchange 1.1, 1.2 and 1.3.

Each ``build_*`` function takes a plain dataclass and returns the ``soap:Envelope`` element.
Input is checked against what the schema of the chosen version demands, so a message that
builds also validates (see contract_tests/test_smev_schema_contract.py). MTOM attachment
content is written inline as base64; turning it into an XOP multipart is the transport's job.

Choices where the schema leaves room:
- The published 1.2 schema requires ReferenceMessageID and TransactionCode, yet genuine 1.2
  traffic that SMEV accepts carries neither (FACTS.md). So TransactionCode is written only
  when given (the hub's configured code, ``HUB_SMEV_TRANSACTION_CODE``), never made up and
  its absence never an error; with one given, 1.2 also gets ReferenceMessageID (defaulting to
  the MessageID, the schema's rule for the root of a chain) and the message is schema-valid;
  without, 1.2 goes out in the shape of genuine traffic, neither element. Other versions
  write each only when given.
- Id attributes default to ``SIGNED_BY_CONSUMER`` for SenderProvidedRequestData and
  ``SIGNED_BY_CALLER`` for the other signed elements.
- MessageID values given by the caller must be lower-case version-1 UUIDs (what SMEV
  accepts); generated ones come from ``uuid.uuid1()``.
"""

from __future__ import annotations

import base64
import copy
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from lxml import etree

from hub.errors import PermanentError
from hub.smev.model import Rejection, RequestStatus
from hub.smev.signing import place_signature
from hub.smev.versions import SOAP_ENV_NS, XMLDSIG_NS, SmevVersion, as_version, is_message_id

_NCNAME = re.compile(r"^[^\W\d][\w.\-]*$")
_MIME = re.compile(r"^(text|image|audio|video|application)/[a-zA-Z0-9\-+.]*$")


class SmevBuildError(PermanentError):
    """The input cannot make a message the SMEV schema of that version accepts."""

    code = "SMEV_BUILD"


class ElementSigner(Protocol):
    """Given the element to sign (already placed in the envelope, carrying its Id
    attribute), return a ds:Signature element."""

    def __call__(self, element: etree._Element) -> etree._Element: ...


@dataclass(frozen=True, slots=True)
class MtomAttachment:
    """A small file sent inside the message (AttachmentHeader + AttachmentContent)."""

    content_id: str
    mime_type: str
    content: bytes
    namespace_uri: str | None = None  # 1.3 only
    signature_pkcs7: bytes | None = None


@dataclass(frozen=True, slots=True)
class FileStoreAttachment:
    """A large file already uploaded to the SMEV file store (RefAttachmentHeader)."""

    uuid: str
    hash: str
    mime_type: str
    file_name: str | None = None  # 1.3 only
    namespace_uri: str | None = None  # 1.3 only
    signature_pkcs7: bytes | None = None


OutgoingAttachment = MtomAttachment | FileStoreAttachment


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Input of SendRequestRequest. ``content`` is the business root element (copied)."""

    content: etree._Element
    message_id: str | None = None
    reference_message_id: str | None = None
    transaction_code: str | None = None
    node_id: str | None = None
    eol: datetime | None = None
    test_message: bool = False
    attachments: Sequence[OutgoingAttachment] = ()
    business_process_metadata: Sequence[etree._Element] = ()
    element_id: str = "SIGNED_BY_CONSUMER"


@dataclass(frozen=True, slots=True)
class SendResponse:
    """Input of SendResponseRequest: exactly one of content, rejections, status."""

    to: str
    content: etree._Element | None = None
    rejections: Sequence[Rejection] = ()
    status: RequestStatus | None = None
    message_id: str | None = None
    attachments: Sequence[OutgoingAttachment] = ()
    element_id: str = "SIGNED_BY_CALLER"


@dataclass(frozen=True, slots=True)
class Selector:
    """MessageTypeSelector of GetRequest/GetResponse; no namespace/root means any type."""

    namespace_uri: str | None = None
    root_element: str | None = None
    node_id: str | None = None
    timestamp: datetime | None = None
    element_id: str = "SIGNED_BY_CALLER"


@dataclass(frozen=True, slots=True)
class Ack:
    """Input of AckRequest: the MessageID of the received message and whether it was taken."""

    message_id: str
    accepted: bool = True
    element_id: str = "SIGNED_BY_CALLER"


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """Input of GetStatusRequest (a signed Timestamp)."""

    timestamp: datetime | None = None
    element_id: str = "SIGNED_BY_CALLER"


@dataclass(slots=True)
class _Doc:
    version: SmevVersion
    envelope: etree._Element
    operation: etree._Element
    ids: set[str] = field(default_factory=set)

    def t(self, parent: etree._Element, name: str, value: str | None = None) -> etree._Element:
        return _sub(parent, self.version.ns.types, name, value)

    def b(self, parent: etree._Element, name: str, value: str | None = None) -> etree._Element:
        return _sub(parent, self.version.ns.basic, name, value)

    def signable(self, parent: etree._Element, ns: str, name: str, id_: str) -> etree._Element:
        self.ids.add(_ncname(id_, f"{name}/@Id"))
        element = _sub(parent, ns, name)
        element.set("Id", id_)
        return element


def new_message_id() -> str:
    """A fresh MessageID: a lower-case RFC 4122 version-1 UUID with the current time."""
    return str(uuid.uuid1())


def build_send_request(
    req: SendRequest, version: str | SmevVersion = "1.3", signer: ElementSigner | None = None
) -> etree._Element:
    """SendRequestRequest envelope; signed by ``signer`` when given."""
    doc = _start(version, "SendRequestRequest")
    data = doc.signable(
        doc.operation, doc.version.ns.types, "SenderProvidedRequestData", req.element_id
    )
    message_id = _own_message_id(req.message_id)
    doc.t(data, "MessageID", message_id)
    _request_chain(doc, data, req, message_id)
    _optional(doc, data, "NodeID", _limited(req.node_id, 50, "NodeID"))
    _optional(doc, data, "EOL", _timestamp(req.eol, "EOL") if req.eol else None)
    _primary_content(doc, data, req.content)
    _attachment_headers(doc, data, req.attachments)
    _process_metadata(doc, data, req.business_process_metadata)
    if req.test_message:
        doc.t(data, "TestMessage")
    _attachment_contents(doc, req.attachments)
    return _finish(doc, data, signer, required=False)


def build_send_response(
    resp: SendResponse, version: str | SmevVersion = "1.3", signer: ElementSigner | None = None
) -> etree._Element:
    """SendResponseRequest envelope with content, rejection(s) or a business status."""
    _one_answer(resp)
    doc = _start(version, "SendResponseRequest")
    data = doc.signable(
        doc.operation, doc.version.ns.types, "SenderProvidedResponseData", resp.element_id
    )
    doc.t(data, "MessageID", _own_message_id(resp.message_id))
    doc.t(data, "To", _required(_limited(resp.to, 4000, "To"), "To"))
    if resp.content is not None:
        _primary_content(doc, data, resp.content)
        _attachment_headers(doc, data, resp.attachments)
        _attachment_contents(doc, resp.attachments)
    for rejection in resp.rejections:
        _rejection(doc, data, rejection)
    if resp.status is not None:
        _request_status(doc, data, resp.status)
    return _finish(doc, data, signer, required=False)


def build_get_request(
    selector: Selector = Selector(),
    version: str | SmevVersion = "1.3",
    signer: ElementSigner | None = None,
) -> etree._Element:
    """GetRequestRequest envelope: poll the incoming request queue."""
    return _build_get("GetRequestRequest", selector, version, signer)


def build_get_response(
    selector: Selector = Selector(),
    version: str | SmevVersion = "1.3",
    signer: ElementSigner | None = None,
) -> etree._Element:
    """GetResponseRequest envelope: poll the queue of responses to the hub's requests."""
    return _build_get("GetResponseRequest", selector, version, signer)


def build_ack(
    ack: Ack, version: str | SmevVersion = "1.3", signer: ElementSigner | None = None
) -> etree._Element:
    """AckRequest envelope confirming one received message."""
    doc = _start(version, "AckRequest")
    target = doc.signable(doc.operation, doc.version.ns.basic, "AckTargetMessage", ack.element_id)
    target.set("accepted", "true" if ack.accepted else "false")
    target.text = _message_ref(ack.message_id, "AckTargetMessage")
    return _finish(doc, target, signer, required=False)


def build_get_status(
    query: StatusQuery = StatusQuery(),
    version: str | SmevVersion = "1.3",
    signer: ElementSigner | None = None,
) -> etree._Element:
    """GetStatusRequest envelope; every version's schema requires its signature."""
    doc = _start(version, "GetStatusRequest")
    stamp = doc.signable(doc.operation, doc.version.ns.basic, "Timestamp", query.element_id)
    stamp.text = _timestamp(query.timestamp or datetime.now(UTC), "Timestamp")
    return _finish(doc, stamp, signer, required=True)


def serialize(envelope: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration, byte for byte what was signed (no re-indenting)."""
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


# --- envelope and signature -----------------------------------------------------------


def _start(version: str | SmevVersion, operation: str) -> _Doc:
    v = as_version(version)
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soap": SOAP_ENV_NS})
    etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Header")
    body = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    op = etree.SubElement(
        body, f"{{{v.ns.types}}}{operation}", nsmap={"ns": v.ns.types, "basic": v.ns.basic}
    )
    return _Doc(v, envelope, op)


def _finish(
    doc: _Doc, signable: etree._Element, signer: ElementSigner | None, *, required: bool
) -> etree._Element:
    if signer is None:
        if required:
            raise SmevBuildError(
                f"{etree.QName(doc.operation).localname} needs CallerInformationSystemSignature "
                f"(required by the {doc.version.value} schema) but no signer was given"
            )
        return doc.envelope
    place_signature(doc.operation, signable, _signature(signer, signable))
    return doc.envelope


def _signature(signer: ElementSigner, signable: etree._Element) -> etree._Element:
    signature = signer(signable)
    if not isinstance(signature.tag, str) or signature.tag != f"{{{XMLDSIG_NS}}}Signature":
        raise SmevBuildError(
            f"signer returned <{signature.tag}> for <{etree.QName(signable).localname}>: "
            f"expected {{{XMLDSIG_NS}}}Signature"
        )
    return signature


def _build_get(
    operation: str, selector: Selector, version: str | SmevVersion, signer: ElementSigner | None
) -> etree._Element:
    doc = _start(version, operation)
    sel = doc.signable(
        doc.operation, doc.version.ns.basic, "MessageTypeSelector", selector.element_id
    )
    if (selector.namespace_uri is None) != (selector.root_element is None):
        raise SmevBuildError(
            "MessageTypeSelector needs both namespace_uri and root_element, or neither (got "
            f"namespace_uri={selector.namespace_uri!r}, root_element={selector.root_element!r})"
        )
    if selector.namespace_uri is not None and selector.root_element is not None:
        doc.b(sel, "NamespaceURI", selector.namespace_uri)
        doc.b(sel, "RootElementLocalName", _ncname(selector.root_element, "RootElementLocalName"))
    doc.b(sel, "Timestamp", _timestamp(selector.timestamp or datetime.now(UTC), "Timestamp"))
    if selector.node_id is not None:
        doc.b(sel, "NodeID", _limited(selector.node_id, 50, "NodeID"))
    return _finish(doc, sel, signer, required=False)


# --- request and response parts ---------------------------------------------------------


def _request_chain(doc: _Doc, data: etree._Element, req: SendRequest, message_id: str) -> None:
    code = _limited(req.transaction_code, 1500, "TransactionCode")
    reference = req.reference_message_id
    if reference is None and code is not None and doc.version.requires_reference_and_transaction:
        reference = message_id  # the root of a chain refers to itself
    if reference is not None:
        doc.t(data, "ReferenceMessageID", _message_ref(reference, "ReferenceMessageID"))
    _optional(doc, data, "TransactionCode", code)


def _primary_content(doc: _Doc, data: etree._Element, content: etree._Element) -> None:
    namespace = etree.QName(content).namespace if isinstance(content.tag, str) else None
    if namespace is None or namespace == doc.version.ns.basic:
        raise SmevBuildError(
            "MessagePrimaryContent needs exactly one namespace-qualified business root "
            f"element outside the SMEV basic namespace; got {content.tag!r}"
        )
    holder = doc.b(data, "MessagePrimaryContent")
    root = copy.deepcopy(content)
    root.tail = None
    holder.append(root)


def _process_metadata(doc: _Doc, data: etree._Element, items: Sequence[etree._Element]) -> None:
    if not items:
        return
    holder = doc.t(data, "BusinessProcessMetadata")
    for item in items:
        if etree.QName(item).namespace in (None, doc.version.ns.types):
            raise SmevBuildError(
                f"BusinessProcessMetadata item {item.tag!r} must be in its own namespace"
            )
        holder.append(copy.deepcopy(item))


def _one_answer(resp: SendResponse) -> None:
    given = [
        name
        for name, present in (
            ("content", resp.content is not None),
            ("rejections", bool(resp.rejections)),
            ("status", resp.status is not None),
        )
        if present
    ]
    if len(given) != 1:
        raise SmevBuildError(
            "SenderProvidedResponseData needs exactly one of content, rejections, status; "
            f"got {given or 'none'}"
        )
    if resp.attachments and resp.content is None:
        raise SmevBuildError("attachments can only go with content, not a rejection or status")


def _rejection(doc: _Doc, data: etree._Element, rejection: Rejection) -> None:
    if rejection.code not in doc.version.rejection_codes:
        allowed = ", ".join(sorted(doc.version.rejection_codes))
        raise SmevBuildError(
            f"RejectionReasonCode {rejection.code!r} is not in the {doc.version.value} "
            f"schema (allowed: {allowed})"
        )
    holder = doc.t(data, "RequestRejected")
    doc.t(holder, "RejectionReasonCode", rejection.code)
    description = _limited(rejection.description, 4000, "RejectionReasonDescription")
    doc.t(holder, "RejectionReasonDescription", description)


def _request_status(doc: _Doc, data: etree._Element, status: RequestStatus) -> None:
    if not -(2**31) <= status.code < 2**31:
        raise SmevBuildError(f"StatusCode {status.code} does not fit xs:int")
    holder = doc.t(data, "RequestStatus")
    doc.t(holder, "StatusCode", str(status.code))
    for key, value in status.parameters:
        parameter = doc.t(holder, "StatusParameter")
        doc.t(parameter, "Key", key)
        doc.t(parameter, "Value", value)
    doc.t(holder, "StatusDescription", _limited(status.description, 4000, "StatusDescription"))


# --- attachments ------------------------------------------------------------------------


def _attachment_headers(
    doc: _Doc, data: etree._Element, attachments: Sequence[OutgoingAttachment]
) -> None:
    mtom = [a for a in attachments if isinstance(a, MtomAttachment)]
    refs = [a for a in attachments if isinstance(a, FileStoreAttachment)]
    if mtom:
        holder = doc.b(data, "AttachmentHeaderList")
        for item in mtom:
            _mtom_header(doc, holder, item)
    if refs:
        holder = doc.b(data, "RefAttachmentHeaderList")
        for ref in refs:
            _ref_header(doc, holder, ref)


def _mtom_header(doc: _Doc, holder: etree._Element, item: MtomAttachment) -> None:
    content_id = _ncname(item.content_id, "AttachmentHeader/contentId")
    if content_id in doc.ids:
        raise SmevBuildError(f"attachment content id {content_id!r} is used twice in the message")
    doc.ids.add(content_id)
    header = doc.b(holder, "AttachmentHeader")
    doc.b(header, "contentId", content_id)
    _optional_rich(doc, header, "NamespaceUri", item.namespace_uri)
    doc.b(header, "MimeType", _mime(item.mime_type))
    _pkcs7(doc, header, item.signature_pkcs7)


def _ref_header(doc: _Doc, holder: etree._Element, ref: FileStoreAttachment) -> None:
    header = doc.b(holder, "RefAttachmentHeader")
    doc.b(header, "uuid", _required(ref.uuid, "RefAttachmentHeader/uuid"))
    _optional_rich(doc, header, "FileName", ref.file_name)
    _optional_rich(doc, header, "NamespaceUri", ref.namespace_uri)
    doc.b(header, "Hash", _required(ref.hash, "RefAttachmentHeader/Hash"))
    doc.b(header, "MimeType", _mime(ref.mime_type))
    _pkcs7(doc, header, ref.signature_pkcs7)


def _attachment_contents(doc: _Doc, attachments: Sequence[OutgoingAttachment]) -> None:
    mtom = [a for a in attachments if isinstance(a, MtomAttachment)]
    if not mtom:
        return
    holder = doc.b(doc.operation, "AttachmentContentList")
    for item in mtom:
        content = doc.b(holder, "AttachmentContent")
        doc.b(content, "Id", item.content_id)
        doc.b(content, "Content", base64.b64encode(item.content).decode("ascii"))


def _optional_rich(doc: _Doc, parent: etree._Element, name: str, value: str | None) -> None:
    if value is None:
        return
    if not doc.version.rich_attachment_headers:
        raise SmevBuildError(
            f"attachment header {name} exists only in the 1.3 schema, not {doc.version.value}"
        )
    doc.b(parent, name, value)


def _pkcs7(doc: _Doc, header: etree._Element, signature: bytes | None) -> None:
    if signature is not None:
        doc.b(header, "SignaturePKCS7", base64.b64encode(signature).decode("ascii"))


# --- values -----------------------------------------------------------------------------


def _sub(parent: etree._Element, ns: str, name: str, value: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if value is not None:
        element.text = value
    return element


def _optional(doc: _Doc, parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        doc.t(parent, name, value)


def _own_message_id(value: str | None) -> str:
    if value is None:
        return new_message_id()
    value = _message_ref(value, "MessageID")
    if value[14] != "1":
        raise SmevBuildError(
            f"MessageID {value!r} is a version-{value[14]} UUID; SMEV wants version 1 "
            "(time-based): leave message_id empty to generate one"
        )
    return value


def _message_ref(value: str, name: str) -> str:
    if not is_message_id(value):
        raise SmevBuildError(f"{name} {value!r} is not a lower-case UUID (8-4-4-4-12 hex digits)")
    return value


def _ncname(value: str, name: str) -> str:
    if not _NCNAME.match(value):
        raise SmevBuildError(f"{name} {value!r} is not an XML NCName (letters, digits, _ . -)")
    return value


def _mime(value: str) -> str:
    if not _MIME.match(value):
        raise SmevBuildError(
            f"MimeType {value!r} is not a type/subtype of text, image, audio, video or application"
        )
    return value


def _limited(value: str | None, limit: int, name: str) -> str | None:
    if value is not None and len(value) > limit:
        raise SmevBuildError(f"{name} is {len(value)} characters long; the schema allows {limit}")
    return value


def _required(value: str | None, name: str) -> str:
    if not value:
        raise SmevBuildError(f"{name} is required and must not be empty")
    return value


def _timestamp(value: datetime, name: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise SmevBuildError(f"{name} {value.isoformat()} has no time zone: pass an aware datetime")
    return value.isoformat(timespec="milliseconds")
