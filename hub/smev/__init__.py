"""The SMEV 3 message layer: build what the hub sends, read what it receives, name faults."""

from hub.smev.build import (
    Ack,
    ElementSigner,
    FileStoreAttachment,
    MtomAttachment,
    Selector,
    SendRequest,
    SendResponse,
    SmevBuildError,
    StatusQuery,
    build_ack,
    build_get_request,
    build_get_response,
    build_get_status,
    build_send_request,
    build_send_response,
    new_message_id,
    serialize,
)
from hub.smev.faults import FaultAction, SmevFault, SmevFaultError
from hub.smev.model import Rejection, RequestStatus
from hub.smev.read import (
    MessageMetadata,
    SmevAttachment,
    SmevMessage,
    raise_for_fault,
    read_message,
)
from hub.smev.schemas import SmevSchemas, load_schema, validate
from hub.smev.signing import operation_element, sign_envelope
from hub.smev.versions import SmevVersion, version_of

__all__ = [
    "Ack",
    "ElementSigner",
    "FaultAction",
    "FileStoreAttachment",
    "MessageMetadata",
    "MtomAttachment",
    "Rejection",
    "RequestStatus",
    "Selector",
    "SendRequest",
    "SendResponse",
    "SmevAttachment",
    "SmevBuildError",
    "SmevFault",
    "SmevFaultError",
    "SmevMessage",
    "SmevSchemas",
    "SmevVersion",
    "StatusQuery",
    "build_ack",
    "build_get_request",
    "build_get_response",
    "build_get_status",
    "build_send_request",
    "build_send_response",
    "load_schema",
    "new_message_id",
    "operation_element",
    "raise_for_fault",
    "read_message",
    "serialize",
    "sign_envelope",
    "validate",
    "version_of",
]
