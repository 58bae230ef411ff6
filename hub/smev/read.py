"""Reading any SMEV 3 message, leniently: replies, incoming messages and the hub's own.

Real SMEV replies break their own schema now and then (no HumanReadableName, 1.3 status
values in 1.2 replies), so nothing here validates: children are found by local name and
missing optional parts simply stay None. Only a body that is not a SOAP 1.1 envelope with a
SMEV 3 element (or a SOAP Fault) in it is refused, with ``SmevMessageError``.

Kinds: ``request`` (GetRequestResponse with a Request; SendRequestRequest), ``response`` /
``rejected`` / ``status`` (a Response with MessagePrimaryContent / RequestRejected /
RequestStatus; SendResponseRequest likewise), ``async_status`` (SMEV's AsyncProcessingStatus
in the response queue), ``status`` also for GetStatusResponse with a message, ``empty`` (an
empty queue), ``accepted`` (SendRequestResponse/SendResponseResponse), ``ack`` (AckRequest and
AckResponse), ``fault``, ``cancel`` (1.1/1.2 GetRequestResponse/Cancel); and two more:
``poll`` (the hub's own GetRequest/GetResponse/GetStatus/
GetIncomingQueueStatistics requests; a selector's filter goes to ``content_name``) and
``statistics`` (GetIncomingQueueStatisticsResponse, in ``queues``). For GetStatusResponse,
``status`` means SMEV's AsyncProcessingStatus (``status_category``), not a business
RequestStatus. Bytes that are not XML at all raise hub.xml's ``XmlError`` family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lxml import etree

from hub.errors import SmevMessageError
from hub.smev.faults import SmevFault, read_async_fault, read_soap_fault
from hub.smev.model import Rejection, RequestStatus
from hub.smev.versions import (
    SOAP12_ENV_NS,
    SOAP_ENV_NS,
    XMLDSIG_NS,
    version_of,
    version_of_namespace,
)
from hub.xml import Attachment, XmlDocument, parse_message
from hub.xml.navigate import all_children, child, children, first_child, localname, text

Kind = Literal[
    "request",
    "response",
    "rejected",
    "status",
    "async_status",
    "empty",
    "accepted",
    "ack",
    "fault",
    "cancel",
]
# The hub's own polls (GetRequest/GetResponse/GetStatus requests) read as "request" (the
# operation says which); queue statistics read as "status". A consumer's Cancel (1.1/1.2)
# reads as "cancel": ``message_id`` is the Cancel's own, ``original_message_id`` the
# MessageID of the request it cancels.
_Fields = dict[str, Any]

_REFERENCE_URIS = etree.XPath("//ds:Reference/@URI", namespaces={"ds": XMLDSIG_NS})
_WITH_ID = etree.XPath("//*[@Id]")


@dataclass(frozen=True, slots=True)
class SmevAttachment:
    """An attachment the message declares: inline (``mtom``) or in the file store."""

    kind: Literal["mtom", "filestore"]
    id: str
    mime_type: str | None = None
    size: int | None = None
    hash: str | None = None
    file_name: str | None = None
    namespace_uri: str | None = None
    # The file store's credentials: secrets, never in a repr or a dict
    user_name: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the file store's credentials are left out on purpose."""
        return {
            "kind": self.kind,
            "id": self.id,
            "mime_type": self.mime_type,
            "size": self.size,
            "hash": self.hash,
            "file_name": self.file_name,
            "namespace_uri": self.namespace_uri,
        }


@dataclass(frozen=True, slots=True)
class MessageMetadata:
    """SMEV's MessageMetadata: its own id for the message, routing and timestamps."""

    message_id: str | None = None
    message_type: str | None = None
    sender: str | None = None
    recipient: str | None = None
    sending_timestamp: str | None = None
    delivery_timestamp: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class SmevMessage:
    """One SMEV message, classified. ``to_dict()`` leaves out the business content."""

    version: str | None
    operation: str
    kind: Kind
    root: etree._Element = field(repr=False)
    message_id: str | None = None
    original_message_id: str | None = None
    reference_message_id: str | None = None
    transaction_code: str | None = None
    node_id: str | None = None
    status_category: str | None = None
    status_details: str | None = None
    content: etree._Element | None = field(default=None, repr=False)
    content_name: str | None = None
    fault: SmevFault | None = None
    attachments: tuple[SmevAttachment, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    request_status: RequestStatus | None = None
    reply_to: str | None = None
    to: str | None = None
    test_message: bool = False
    eol: str | None = None
    ack_accepted: bool | None = None
    signed_by_smev_async: bool = False
    metadata: MessageMetadata | None = None
    queues: tuple[tuple[str, int | None], ...] = ()
    mime_parts: tuple[Attachment, ...] = field(default=(), repr=False)

    @property
    def signed_elements(self) -> tuple[etree._Element, ...]:
        """Elements that a ds:Reference in this message points to (found on demand)."""
        return _signed_elements(self.root)

    @property
    def rejection(self) -> Rejection | None:
        """The first RequestRejected, if any."""
        return self.rejections[0] if self.rejections else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no business content, no file-store passwords)."""
        return {
            "version": self.version,
            "operation": self.operation,
            "kind": self.kind,
            "message_id": self.message_id,
            "original_message_id": self.original_message_id,
            "reference_message_id": self.reference_message_id,
            "transaction_code": self.transaction_code,
            "node_id": self.node_id,
            "status_category": self.status_category,
            "status_details": self.status_details,
            "content_name": self.content_name,
            "fault": self.fault.to_dict() if self.fault else None,
            "attachments": [a.to_dict() for a in self.attachments],
            "rejections": [{"code": r.code, "description": r.description} for r in self.rejections],
            "request_status": _status_dict(self.request_status),
            "reply_to": self.reply_to,
            "to": self.to,
            "test_message": self.test_message,
            "eol": self.eol,
            "ack_accepted": self.ack_accepted,
            "signed_by_smev_async": self.signed_by_smev_async,
            "metadata": _metadata_dict(self.metadata),
            "queues": [{"name": n, "pending": p} for n, p in self.queues],
            "signed_elements": [
                {"element": e.tag, "id": e.get("Id")} for e in self.signed_elements
            ],
        }


def read_message(source: bytes | XmlDocument, content_type: str | None = None) -> SmevMessage:
    """Classify a SMEV message given as bytes (plain or MTOM multipart) or a parsed document."""
    document = source if isinstance(source, XmlDocument) else parse_message(source, content_type)
    operation = _body_child(document.root)
    if operation.tag == f"{{{SOAP_ENV_NS}}}Fault":
        fields = _fault(operation)
    else:
        fields = _smev_operation(operation)
    return SmevMessage(
        root=document.root,
        mime_parts=document.attachments,
        **fields,
    )


# --- envelope ---------------------------------------------------------------------------


def _body_child(root: etree._Element) -> etree._Element:
    if root.tag == f"{{{SOAP12_ENV_NS}}}Envelope":
        raise SmevMessageError("SOAP 1.2 envelope: SMEV 3 speaks SOAP 1.1 only", line=1)
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        raise SmevMessageError(
            f"not a SOAP 1.1 envelope: the root element is {root.tag!r}", line=root.sourceline
        )
    bodies = root.findall(f"{{{SOAP_ENV_NS}}}Body")
    if len(bodies) != 1:
        # A second Body is how a reader is made to read what a signature does not cover.
        what = "no Body" if not bodies else f"{len(bodies)} Body elements"
        raise SmevMessageError(f"SOAP envelope has {what}", line=root.sourceline)
    operations = list(children(bodies[0]))
    if len(operations) != 1:
        what = "is empty: no SMEV operation element" if not operations else "holds more than one"
        raise SmevMessageError(f"SOAP Body {what}", line=bodies[0].sourceline)
    return operations[0]


def _smev_operation(operation: etree._Element) -> _Fields:
    version = version_of(operation)
    name = localname(operation)
    reader = _READERS.get(name)
    if reader is None:
        raise SmevMessageError(
            f"unsupported SMEV {version.value} operation element <{name}>",
            line=operation.sourceline,
            operation=name,
        )
    return {"version": version.value, "operation": name, **reader(operation)}


def _fault(fault: etree._Element) -> _Fields:
    parsed = read_soap_fault(fault)
    version = parsed.version or _declared_version(fault)
    return {"version": version, "operation": "Fault", "kind": "fault", "fault": parsed}


def _declared_version(element: etree._Element) -> str | None:
    # A fault without SMEV detail: fall back on a SMEV namespace declared in scope.
    for node in element.iter():
        for namespace in node.nsmap.values():
            version = version_of_namespace(namespace)
            if version is not None:
                return version.value
    return None


def _signed_elements(root: etree._Element) -> tuple[etree._Element, ...]:
    by_id = {str(e.get("Id")): e for e in _list(_WITH_ID(root))}
    targets = [str(uri)[1:] for uri in _list(_REFERENCE_URIS(root)) if str(uri).startswith("#")]
    return tuple(by_id[t] for t in dict.fromkeys(targets) if t in by_id)


def _list(result: Any) -> list[Any]:
    return result if isinstance(result, list) else []


# --- operations -------------------------------------------------------------------------


def _send_request_request(op: etree._Element) -> _Fields:
    data = child(op, "SenderProvidedRequestData")
    if data is None:
        raise _missing(op, "SenderProvidedRequestData")
    return {"kind": "request", **_request_data(data, child(op, "AttachmentContentList"), None)}


def _send_response_request(op: etree._Element) -> _Fields:
    data = child(op, "SenderProvidedResponseData")
    if data is None:
        raise _missing(op, "SenderProvidedResponseData")
    return _response_data(data, child(op, "AttachmentContentList"), None)


def _get_request_response(op: etree._Element) -> _Fields:
    message = child(op, "RequestMessage")
    request, cancel = child(message, "Request"), child(message, "Cancel")
    if request is not None:
        return _incoming_request(request, child(message, "AttachmentContentList"))
    if cancel is not None:
        return _cancel(cancel)
    return {"kind": "empty"}


def _incoming_request(request: etree._Element, contents: etree._Element | None) -> _Fields:
    data = child(request, "SenderProvidedRequestData")
    if data is None:
        raise _missing(request, "SenderProvidedRequestData")
    metadata = _metadata(child(request, "MessageMetadata"))
    fields = _request_data(data, contents, child(request, "FSAttachmentsList"))
    return {
        **fields,
        "kind": "request",
        "reply_to": text(request, "ReplyTo"),
        "metadata": metadata,
        "status_category": metadata.status if metadata else None,
    }


def _cancel(cancel: etree._Element) -> _Fields:
    metadata = _metadata(child(cancel, "MessageMetadata"))
    return {
        "kind": "cancel",
        "message_id": text(cancel, "MessageID"),
        "original_message_id": text(cancel, "MessageReference"),
        "metadata": metadata,
    }


def _get_response_response(op: etree._Element) -> _Fields:
    message = child(op, "ResponseMessage")
    response = child(message, "Response")
    if response is None:
        return {"kind": "empty"}
    data = child(response, "SenderProvidedResponseData")
    if data is None:
        raise _missing(response, "SenderProvidedResponseData")
    fields = _response_data(
        data, child(message, "AttachmentContentList"), child(response, "FSAttachmentsList")
    )
    metadata = _metadata(child(response, "MessageMetadata"))
    return {
        "original_message_id": text(response, "OriginalMessageId"),
        "reference_message_id": text(response, "ReferenceMessageID"),
        "transaction_code": text(response, "OriginalTransactionCode"),
        "status_category": metadata.status if metadata else None,
        "metadata": metadata,
        **{k: v for k, v in fields.items() if v is not None},
    }


def _get_status_response(op: etree._Element) -> _Fields:
    data = child(child(op, "SmevAsyncProcessingMessage"), "AsyncProcessingStatusData")
    status = child(data, "AsyncProcessingStatus")
    if status is None:
        return {"kind": "empty"}
    return {**_async_status(status), "kind": "status"}


def _accepted(op: etree._Element) -> _Fields:
    metadata = _metadata(child(op, "MessageMetadata"))
    if metadata is None:
        raise _missing(op, "MessageMetadata")
    return {
        "kind": "accepted",
        "message_id": metadata.message_id,
        "status_category": metadata.status,
        "metadata": metadata,
    }


def _ack_request(op: etree._Element) -> _Fields:
    target = child(op, "AckTargetMessage")
    if target is None:
        raise _missing(op, "AckTargetMessage")
    accepted = target.get("accepted")
    return {
        "kind": "ack",
        "message_id": text(target),
        "ack_accepted": None if accepted is None else accepted.strip() in ("true", "1"),
    }


def _poll(op: etree._Element) -> _Fields:
    selector = child(op, "MessageTypeSelector")
    namespace, root = text(selector, "NamespaceURI"), text(selector, "RootElementLocalName")
    return {
        "kind": "request",
        "content_name": f"{{{namespace}}}{root}" if namespace and root else None,
        "node_id": text(selector, "NodeID") or text(op, "NodeID"),
    }


def _statistics(op: etree._Element) -> _Fields:
    queues = tuple(
        (q.get("queueName", ""), _int(q.get("pendingMessageNumber")))
        for q in all_children(op, "QueueStatistics")
    )
    return {"kind": "status", "queues": queues}


def _ack_response(op: etree._Element) -> _Fields:
    return {"kind": "ack"}


_READERS: dict[str, Callable[[etree._Element], _Fields]] = {
    "SendRequestRequest": _send_request_request,
    "SendResponseRequest": _send_response_request,
    "GetRequestRequest": _poll,
    "GetResponseRequest": _poll,
    "GetStatusRequest": _poll,
    "GetIncomingQueueStatisticsRequest": _poll,
    "AckRequest": _ack_request,
    "SendRequestResponse": _accepted,
    "SendResponseResponse": _accepted,
    "GetRequestResponse": _get_request_response,
    "GetResponseResponse": _get_response_response,
    "GetStatusResponse": _get_status_response,
    "GetIncomingQueueStatisticsResponse": _statistics,
    "AckResponse": _ack_response,
}


# --- parts ------------------------------------------------------------------------------


def _request_data(
    data: etree._Element, contents: etree._Element | None, fs_list: etree._Element | None
) -> _Fields:
    content = first_child(child(data, "MessagePrimaryContent"))
    return {
        "message_id": text(data, "MessageID"),
        "reference_message_id": text(data, "ReferenceMessageID"),
        "transaction_code": text(data, "TransactionCode"),
        "node_id": text(data, "NodeID"),
        "eol": text(data, "EOL"),
        "content": content,
        "content_name": _clark(content),
        "test_message": child(data, "TestMessage") is not None,
        "attachments": _attachments(data, contents, fs_list),
    }


def _response_data(
    data: etree._Element, contents: etree._Element | None, fs_list: etree._Element | None
) -> _Fields:
    base: _Fields = {
        "message_id": text(data, "MessageID"),
        "to": text(data, "To"),
        "signed_by_smev_async": data.get("Id") == "SIGNED_ASYNC_BY_SMEV",
    }
    content = child(data, "MessagePrimaryContent")
    if content is not None:
        root = first_child(content)
        attachments = _attachments(data, contents, fs_list)
        return {
            **base,
            "kind": "response",
            "content": root,
            "content_name": _clark(root),
            "attachments": attachments,
        }
    rejections = all_children(data, "RequestRejected")
    if rejections:
        return {**base, "kind": "rejected", "rejections": tuple(map(_rejection, rejections))}
    status = child(data, "RequestStatus")
    if status is not None:
        return {**base, "kind": "status", "request_status": _request_status(status)}
    async_status = child(data, "AsyncProcessingStatus")
    if async_status is not None:
        return {**base, **_async_status(async_status)}
    raise SmevMessageError(
        "SenderProvidedResponseData has none of MessagePrimaryContent, RequestRejected, "
        "RequestStatus, AsyncProcessingStatus",
        line=data.sourceline,
    )


def _async_status(status: etree._Element) -> _Fields:
    smev_fault = child(status, "SmevFault")
    return {
        "kind": "async_status",
        "original_message_id": text(status, "OriginalMessageId"),
        "status_category": text(status, "StatusCategory"),
        "status_details": text(status, "StatusDetails"),
        "fault": read_async_fault(smev_fault) if smev_fault is not None else None,
    }


def _rejection(element: etree._Element) -> Rejection:
    return Rejection(
        text(element, "RejectionReasonCode") or "",
        text(element, "RejectionReasonDescription") or "",
    )


def _request_status(element: etree._Element) -> RequestStatus:
    parameters = tuple(
        (text(p, "Key") or "", text(p, "Value") or "")
        for p in all_children(element, "StatusParameter")
    )
    code = _int(text(element, "StatusCode"))
    return RequestStatus(
        code if code is not None else 0, text(element, "StatusDescription") or "", parameters
    )


def _metadata(element: etree._Element | None) -> MessageMetadata | None:
    if element is None:
        return None
    return MessageMetadata(
        message_id=text(element, "MessageId"),
        message_type=text(element, "MessageType"),
        sender=text(child(element, "Sender"), "Mnemonic"),
        recipient=text(child(element, "Recipient"), "Mnemonic"),
        sending_timestamp=text(element, "SendingTimestamp"),
        delivery_timestamp=text(element, "DeliveryTimestamp"),
        status=text(element, "Status"),
    )


def _attachments(
    data: etree._Element, contents: etree._Element | None, fs_list: etree._Element | None
) -> tuple[SmevAttachment, ...]:
    sizes = {
        text(c, "Id") or "": _base64_size(child(c, "Content"))
        for c in all_children(contents, "AttachmentContent")
    }
    mtom = [
        SmevAttachment(
            "mtom",
            text(h, "contentId") or "",
            text(h, "MimeType"),
            size=sizes.get(text(h, "contentId") or ""),
            namespace_uri=text(h, "NamespaceUri"),
        )
        for h in all_children(child(data, "AttachmentHeaderList"), "AttachmentHeader")
    ]
    return (*mtom, *_file_store(child(data, "RefAttachmentHeaderList"), fs_list))


def _file_store(
    headers: etree._Element | None, fs_list: etree._Element | None
) -> list[SmevAttachment]:
    access = {text(a, "uuid") or "": a for a in all_children(fs_list, "FSAttachment")}
    found = []
    for header in all_children(headers, "RefAttachmentHeader"):
        key = text(header, "uuid") or ""
        auth = access.pop(key, None)
        found.append(
            SmevAttachment(
                "filestore",
                key,
                text(header, "MimeType"),
                hash=text(header, "Hash"),
                file_name=text(header, "FileName") or text(auth, "FileName"),
                namespace_uri=text(header, "NamespaceUri"),
                user_name=text(auth, "UserName"),
                password=text(auth, "Password"),
            )
        )
    # Lenient: a file-store entry without its header is still an attachment.
    found.extend(
        SmevAttachment(
            "filestore",
            key,
            None,
            file_name=text(a, "FileName"),
            user_name=text(a, "UserName"),
            password=text(a, "Password"),
        )
        for key, a in access.items()
    )
    return found


def _base64_size(content: etree._Element | None) -> int | None:
    if content is None or content.text is None or first_child(content) is not None:
        return None  # absent, or an unresolved xop:Include
    data = "".join(content.text.split())
    return len(data) // 4 * 3 - data[-2:].count("=")


def _clark(element: etree._Element | None) -> str | None:
    return None if element is None else str(element.tag)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _missing(parent: etree._Element, name: str) -> SmevMessageError:
    return SmevMessageError(
        f"<{localname(parent)}> has no <{name}>: cannot read it as a SMEV message",
        line=parent.sourceline,
    )


def _status_dict(status: RequestStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {
        "code": status.code,
        "description": status.description,
        "parameters": [list(p) for p in status.parameters],
    }


def _metadata_dict(metadata: MessageMetadata | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    return asdict(metadata)


def raise_for_fault(message: SmevMessage) -> None:
    """Raise the typed SmevFaultError if ``message`` is a SOAP Fault; do nothing otherwise.

    SMEV's asynchronous rejection (an AsyncProcessingStatus with a SmevFault, in a queue) is
    a message to store, Ack and settle, not a failed call: its ``fault`` is not raised."""
    if message.kind == "fault" and message.fault is not None:
        raise message.fault.to_error()
