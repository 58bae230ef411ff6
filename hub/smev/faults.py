"""SMEV 3 faults: what SMEV refused, and what the hub should do about it.

A SOAP fault (or SMEV's own ``SmevFault`` inside an AsyncProcessingStatus) is read into a
``SmevFault`` value; ``SmevFault.to_error()`` turns it into the typed ``SmevFaultError``
subclass whose ``retryable`` and ``action`` say what to do next.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from lxml import etree

from hub.errors import HubError
from hub.smev.versions import version_of_namespace
from hub.xml.navigate import all_children, child, children, first_child, localname, text

_SMEV_ERROR = re.compile(r"SMEV-\d+")
# SMEV's async SmevFault carries no fault type, only Code/Description; the error numbers
# documented for the transport faults identify the type.
_TYPE_BY_SMEV_ERROR = {
    "SMEV-100": "SignatureVerificationFault",
    "SMEV-403": "InvalidContent",
    "SMEV-501": "TargetMessageIsNotFound",
}
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_STRUCTURED = frozenset({"Code", "Description", "SignatureVerificationFault", "ValidationError"})


class FaultAction(StrEnum):
    """What the caller should do after a fault."""

    RETRY = "retry"
    TREAT_AS_SENT = "treat_as_sent"
    NEW_MESSAGE_ID = "new_message_id"
    # SMEV dropped the message: once the quota allows, send a new one (a new MessageID).
    NEW_MESSAGE_LATER = "new_message_later"
    SLOW_DOWN = "slow_down"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class ValidationErrorItem:
    """One InvalidContent/ValidationError: SMEV's text and its ``errorPosition``."""

    message: str
    position: int | None


@dataclass(frozen=True, slots=True)
class SmevFault:
    """A fault as SMEV reported it. ``type`` is the fault element's local name."""

    type: str
    code: str | None = None
    description: str | None = None
    sub_type: str | None = None
    faultcode: str | None = None
    faultstring: str | None = None
    validation_errors: tuple[ValidationErrorItem, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, hash=False)
    version: str | None = None

    @property
    def error_class(self) -> builtins.type[SmevFaultError]:
        """The exception class for this fault type: UnknownSmevFaultError if unknown, or
        SmevServerFaultError for an unknown one SMEV blames on itself (faultcode Server)."""
        known = _BY_TYPE.get(self.type)
        if known is not None:
            return known
        return SmevServerFaultError if _is_server(self.faultcode) else UnknownSmevFaultError

    @property
    def retryable(self) -> bool:
        """Whether sending the same message again can succeed."""
        return self.error_class.retryable

    @property
    def action(self) -> FaultAction:
        """What to do next."""
        return self.error_class.action

    @property
    def smev_error(self) -> str | None:
        """SMEV's error number (``SMEV-100``...) found in the code, description or faultstring."""
        for value in (self.code, self.description, self.faultstring):
            found = _SMEV_ERROR.search(value or "")
            if found:
                return found.group(0)
        return None

    def to_error(self) -> SmevFaultError:
        """The typed exception for this fault."""
        return self.error_class(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, including ``retryable`` and ``action``."""
        return {
            "type": self.type,
            "sub_type": self.sub_type,
            "code": self.code,
            "description": self.description,
            "smev_error": self.smev_error,
            "faultcode": self.faultcode,
            "faultstring": self.faultstring,
            "validation_errors": [
                {"message": e.message, "position": e.position} for e in self.validation_errors
            ],
            "extra": dict(self.extra),
            "retryable": self.retryable,
            "action": self.action.value,
        }


class SmevFaultError(HubError):
    """SMEV refused a message. ``smev_code``/``description`` are SMEV's own Code/Description.

    (``code`` stays the hub-wide error code of ``HubError``, so SMEV's Code is ``smev_code``.)
    """

    code: ClassVar[str] = "SMEV_FAULT"
    fault_type: ClassVar[str] = "Unknown"
    action: ClassVar[FaultAction] = FaultAction.FAIL

    def __init__(self, fault: SmevFault) -> None:
        details = fault.to_dict()
        details["smev_code"] = details.pop("code")
        super().__init__(_describe(fault), **details)
        self.fault = fault
        self.smev_code = fault.code
        self.description = fault.description
        self.faultcode = fault.faultcode
        self.faultstring = fault.faultstring
        self.sub_type = fault.sub_type


def _describe(fault: SmevFault) -> str:
    kind = f"{fault.type}/{fault.sub_type}" if fault.sub_type else fault.type
    said = fault.description or fault.faultstring or "no description"
    code = f" [{fault.code}]" if fault.code else ""
    return f"SMEV fault {kind}{code}: {said}"


_BY_TYPE: dict[str, type[SmevFaultError]] = {}


def _register(cls: type[SmevFaultError]) -> type[SmevFaultError]:
    _BY_TYPE[cls.fault_type] = cls
    return cls


class UnknownSmevFaultError(SmevFaultError):
    """A fault the hub does not know, blamed on the caller (faultcode Client): fail, look."""


class SmevServerFaultError(UnknownSmevFaultError):
    """A plain ``soap:Server`` fault (a faultstring, no SMEV detail) or an unknown fault SMEV
    blames on itself: it occurs in real traffic and passes, like SMEVFailure (FACTS.md)."""

    retryable = True
    action = FaultAction.RETRY


@_register
class SmevFailureError(SmevFaultError):
    """SMEV infrastructure failure: retry without limit."""

    fault_type = "SMEVFailure"
    retryable = True
    action = FaultAction.RETRY


@_register
class MessageIsAlreadySentError(SmevFaultError):
    """That MessageID was already accepted: stop resending, treat the message as sent."""

    fault_type = "MessageIsAlreadySent"
    action = FaultAction.TREAT_AS_SENT


@_register
class StaleMessageIdError(SmevFaultError):
    """The MessageID's timestamp is too old (or the clock is wrong): build a new MessageID."""

    fault_type = "StaleMessageId"
    action = FaultAction.NEW_MESSAGE_ID


@_register
class InvalidMessageIdFormatError(SmevFaultError):
    fault_type = "InvalidMessageIdFormat"


@_register
class InvalidContentError(SmevFaultError):
    """Business data breaks its registered schema; ``fault.validation_errors`` lists why."""

    fault_type = "InvalidContent"


@_register
class SignatureVerificationFaultError(SmevFaultError):
    """ЭП-ОВ rejected; ``sub_type`` says why (CertificateIsExpired, SignatureIsInvalid...)."""

    fault_type = "SignatureVerificationFault"


@_register
class BusinessDataTypeIsNotSupportedError(SmevFaultError):
    fault_type = "BusinessDataTypeIsNotSupported"


@_register
class UnknownMessageTypeError(SmevFaultError):
    fault_type = "UnknownMessageType"


@_register
class TransactionCodeInvalidError(SmevFaultError):
    fault_type = "TransactionCodeInvalid"


@_register
class AttachmentSizeLimitExceededError(SmevFaultError):
    fault_type = "AttachmentSizeLimitExceeded"


@_register
class AttachmentContentMiscoordinationError(SmevFaultError):
    fault_type = "AttachmentContentMiscoordination"


@_register
class QuoteLimitExceededError(SmevFaultError):
    """The attachments exceed what is left of SMEV's attachment quota; SMEV dropped the
    message (the faults XSD and WSDL). The same message never goes again: once the quota
    allows, a *new* message (a new MessageID) does. Details: RemainedTotalQuoteSize,
    RealTotalAttachmentSize (bytes, in ``fault.extra``). A size quota, not a message rate."""

    fault_type = "QuoteLimitExceeded"
    action = FaultAction.NEW_MESSAGE_LATER


@_register
class AccessDeniedError(SmevFaultError):
    fault_type = "AccessDenied"


@_register
class SenderIsNotRegisteredError(SmevFaultError):
    fault_type = "SenderIsNotRegistered"


@_register
class RecipientIsNotFoundError(SmevFaultError):
    fault_type = "RecipientIsNotFound"


@_register
class DestinationOverflowError(SmevFaultError):
    """The recipient's queue is full; the schema says to keep sending: back off and retry."""

    fault_type = "DestinationOverflow"
    retryable = True
    action = FaultAction.SLOW_DOWN


@_register
class TargetMessageIsNotFoundError(SmevFaultError):
    """Ack of an unknown or already acknowledged message (SMEV-501)."""

    fault_type = "TargetMessageIsNotFound"


@_register
class EndOfLifeReachedError(SmevFaultError):
    """The message outlived its EOL; only a rebuilt message with a later EOL can go."""

    fault_type = "EndOfLifeReached"


@_register
class RequestIsNotFoundError(SmevFaultError):
    fault_type = "RequestIsNotFound"


@_register
class IncorrectResponseContentTypeError(SmevFaultError):
    fault_type = "IncorrectResponseContentType"


FAULT_TYPES: tuple[str, ...] = tuple(_BY_TYPE)


def read_soap_fault(fault: etree._Element) -> SmevFault:
    """Read a SOAP 1.1 ``Fault`` element, with SMEV's detail when there is one."""
    faultcode = text(fault, "faultcode")
    faultstring = text(fault, "faultstring")
    detail = _smev_detail(child(fault, "detail"))
    if detail is None:
        kind = _resolve_type(None, faultstring)
        return SmevFault(kind, faultcode=faultcode, faultstring=faultstring)
    return _from_detail(detail, faultcode, faultstring)


def read_async_fault(smev_fault: etree._Element) -> SmevFault:
    """Read the ``SmevFault`` of an AsyncProcessingStatus: Code, Description, and when SMEV
    gives them its ``xsi:type`` (the fault type) and ValidationErrors."""
    code, description = text(smev_fault, "Code"), text(smev_fault, "Description")
    namespace = etree.QName(smev_fault).namespace
    version = version_of_namespace(namespace)
    return SmevFault(
        _resolve_type(_xsi_type(smev_fault), code, description),
        code=code,
        description=description,
        validation_errors=_validation_errors(smev_fault),
        version=version.value if version else None,
    )


def _is_server(faultcode: str | None) -> bool:
    # "soap:Server", "Server", "SOAP-ENV:Server.Busy": the SOAP 1.1 Server class, any prefix.
    return (faultcode or "").rpartition(":")[2].startswith("Server")


def _xsi_type(element: etree._Element) -> str | None:
    # xsi:type="ns3:InvalidContent": the local part names the fault type.
    value = element.get(_XSI_TYPE)
    return value.rpartition(":")[2] if value else None


def _smev_detail(detail: etree._Element | None) -> etree._Element | None:
    # Prefer the element in a SMEV namespace; gateways sometimes add their own detail.
    candidates = list(children(detail))
    for candidate in candidates:
        if version_of_namespace(etree.QName(candidate).namespace) is not None:
            return candidate
    return candidates[0] if candidates else None


def _from_detail(
    detail: etree._Element, faultcode: str | None, faultstring: str | None
) -> SmevFault:
    code, description = text(detail, "Code"), text(detail, "Description")
    version = version_of_namespace(etree.QName(detail).namespace)
    return SmevFault(
        _resolve_type(localname(detail), code, description, faultstring),
        code=code,
        description=description,
        sub_type=text(detail, "SignatureVerificationFault"),
        faultcode=faultcode,
        faultstring=faultstring,
        validation_errors=_validation_errors(detail),
        extra=_extra(detail),
        version=version.value if version else None,
    )


def _resolve_type(name: str | None, *texts: str | None) -> str:
    if name in _BY_TYPE:
        return name
    for value in texts:
        found = _SMEV_ERROR.search(value or "")
        if found and found.group(0) in _TYPE_BY_SMEV_ERROR:
            return _TYPE_BY_SMEV_ERROR[found.group(0)]
    return name or "Unknown"


def _validation_errors(detail: etree._Element) -> tuple[ValidationErrorItem, ...]:
    return tuple(
        ValidationErrorItem(text(item) or "", _int_or_none(item.get("errorPosition")))
        for item in all_children(detail, "ValidationError")
    )


def _extra(detail: etree._Element) -> dict[str, str]:
    # Type-specific leaves: RootElementLocalName, PermittedTotalAttachmentSize, ...
    return {
        localname(node): text(node) or ""
        for node in children(detail)
        if localname(node) not in _STRUCTURED and first_child(node) is None
    }


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
