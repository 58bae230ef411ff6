"""What SMEV checks before it takes a message, each failure as the fault SMEV answers with."""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from lxml import etree

from hub.adapters.gate import AgencySchemaError, SchemaCheck
from hub.crypto.xmldsig import DS_NS, XmlVerifier
from hub.errors import PermanentError, SchemaValidationError, SmevMessageError
from hub.reference import usable_xsd_dir
from hub.simulator.replies import Fault
from hub.smev.schemas import validate
from hub.smev.signing import CALLER_SIGNATURE, signable_element
from hub.smev.versions import SOAP_ENV_NS, SmevVersion, is_message_id
from hub.xml.navigate import child

SIGNATURE_ERROR = "SMEV-100"
SCHEMA_ERROR = "SMEV-403"
ACK_TARGET_ERROR = "SMEV-501"
_UUID_EPOCH = datetime(1582, 10, 15, tzinfo=UTC)
# A compiled XMLSchema must not validate from two threads at once (libxml2 keeps state).
_SCHEMA_LOCK = threading.Lock()
_LAX_CHAIN = ("ReferenceMessageID", "TransactionCode")  # required by 1.2's schema, not by SMEV
log = structlog.get_logger("hub.simulator")


class RefusedError(PermanentError):
    """SMEV refuses the call; ``fault`` is what it answers with."""

    code = "SMEV_SIMULATOR_REFUSED"

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.text, fault_type=fault.type)
        self.fault = fault


def refuse(
    fault_type: str | None,
    message: str,
    smev_error: str | None = None,
    *,
    validation_errors: tuple[str, ...] = (),
    extra: tuple[tuple[str, str], ...] = (),
    server: bool = False,
) -> RefusedError:
    """A ``RefusedError`` for ``fault_type`` (None: a SOAP fault without SMEV detail)."""
    return RefusedError(
        Fault(
            fault_type,
            message,
            smev_error,
            validation_errors=validation_errors,
            extra=extra,
            server=server,
        )
    )


def caller_certificate(
    envelope: etree._Element,
    operation: etree._Element,
    verifier: XmlVerifier | None,
    now: datetime,
) -> str:
    """The base64 certificate of the caller's signature (ЭП-ОВ) over the operation's signed
    element; checked with ``verifier`` unless it is None. SignatureVerificationFault if not."""
    if envelope.find(f"{{{SOAP_ENV_NS}}}Header") is None:
        raise _signature(
            "PoorSOAPEnvelopeFormat", "Недопустимый формат SOAP-конверта: нет soap:Header"
        )
    signature = _caller_signature(operation)
    _check_target(operation, signature)
    certificate = "".join((signature.findtext(f".//{{{DS_NS}}}X509Certificate") or "").split())
    if not certificate:
        raise _signature("CertificateIsNotFound", "Сертификат ЭП-ОВ не найден в подписи")
    if verifier is not None:
        check_signature_value(verifier, signature, now)
    return certificate


def check_message_id(value: str | None, now: datetime, stale_after: timedelta) -> datetime:
    """The time in a sender's MessageID (an RFC 4122 version-1 UUID); InvalidMessageIdFormat
    for anything else, StaleMessageId when older than ``stale_after``."""
    if value is None or not is_message_id(value):
        raise refuse("InvalidMessageIdFormat", f"MessageID {value!r} не является строкой UUID")
    parsed = uuid.UUID(value)
    if parsed.version != 1 or parsed.variant != uuid.RFC_4122:
        raise refuse(
            "InvalidMessageIdFormat",
            f"MessageID {value} не является UUID версии 1 (RFC 4122): версия {parsed.version}",
        )
    issued = uuid_time(parsed)
    if now - issued > stale_after:
        raise refuse(
            "StaleMessageId",
            f"MessageID {value} содержит устаревшую метку времени {issued:%Y-%m-%d %H:%M} UTC",
        )
    return issued


def uuid_time(value: uuid.UUID) -> datetime:
    """When a version-1 UUID was made (its 100 ns ticks since 1582-10-15)."""
    return _UUID_EPOCH + timedelta(microseconds=value.time // 10)


def envelope_schemas(xsd_dir: Path | None) -> Path | None:
    """The folder ``check_envelope`` reads, or None: the check off, said once here, when the
    official SMEV schemas are not all in ``xsd_dir`` (they are never copied into the
    project), instead of every call failing for a missing file."""
    usable = usable_xsd_dir(xsd_dir)
    if usable is None and xsd_dir is not None:
        log.warning(
            "simulator envelope schema check off",
            path=str(xsd_dir),
            why="official SMEV schemas not found (set HUB_REFERENCE_DIR or HUB_SMEV_XSD_DIR "
            "to them); every other check runs",
        )
    return usable


def check_envelope(operation: etree._Element, version: SmevVersion, xsd_dir: Path) -> None:
    """InvalidContent if the operation element breaks its version's official schema, as real
    SMEV applies it (see ``_as_smev_reads_it``)."""
    try:
        with _SCHEMA_LOCK:
            validate(_as_smev_reads_it(operation, version), version, xsd_dir)
    except SchemaValidationError as exc:
        raise refuse(
            "InvalidContent",
            f"Бизнес-конверт не соответствует схеме СМЭВ {version.value}",
            validation_errors=tuple(exc.errors),
        ) from exc


def _as_smev_reads_it(operation: etree._Element, version: SmevVersion) -> etree._Element:
    """Real SMEV takes a 1.2 SendRequest without ReferenceMessageID and TransactionCode,
    though its published schema requires both (FACTS.md): a copy with the missing ones filled
    in is what gets validated, so everything else the schema says still holds."""
    data = child(operation, "SenderProvidedRequestData")
    if version is not SmevVersion.V1_2 or data is None:
        return operation
    if all(child(data, name) is not None for name in _LAX_CHAIN):
        return operation
    lax = copy.deepcopy(operation)
    _fill_chain(child(lax, "SenderProvidedRequestData"), version)
    return lax


def _fill_chain(data: etree._Element | None, version: SmevVersion) -> None:
    anchor = child(data, "MessageID")
    if data is None or anchor is None:
        return  # nothing to fill in after: the schema reports what is wrong
    for name in _LAX_CHAIN:  # each in the schema's place, right after the one before
        present = child(data, name)
        if present is None:
            present = etree.Element(f"{{{version.ns.types}}}{name}")
            present.text = anchor.text if name == "ReferenceMessageID" else "-"
            anchor.addnext(present)
        anchor = present


def content_fault(content: etree._Element | None, schema: SchemaCheck | None) -> Fault | None:
    """SMEV's asynchronous rejection (SMEV-403) if business data breaks its registered schema;
    the errors are masked (they quote the values, personal data often)."""
    if content is None or schema is None:
        return None
    try:
        schema(content)
    except AgencySchemaError as exc:
        return Fault(
            "InvalidContent",
            f"Бизнес-данные не соответствуют зарегистрированной схеме: {exc.errors[0]}",
            SCHEMA_ERROR,
            validation_errors=tuple(exc.errors),
        )
    return None


def injected_rejection(content: etree._Element | None, marked: frozenset[str]) -> Fault | None:
    """SMEV-403 for content whose root element carries an attribute value in ``marked``
    (``FaultInjection.async_rejected``): SMEV took it, then refused its business data."""
    if content is None or not marked or marked.isdisjoint(content.attrib.values()):
        return None
    return Fault(
        "InvalidContent",
        "Бизнес-данные сообщения не соответствуют схеме, зарегистрированной в СМЭВ",
        SCHEMA_ERROR,
        validation_errors=("cvc-complex-type.2.4.b: the content of the request is not complete",),
    )


def _signature(sub_type: str, message: str) -> RefusedError:
    return RefusedError(
        Fault(
            "SignatureVerificationFault",
            message,
            SIGNATURE_ERROR,
            sub_type=sub_type,
            server=True,
        )
    )


def _caller_signature(operation: etree._Element) -> etree._Element:
    holder = operation.find(f"{{{etree.QName(operation).namespace}}}{CALLER_SIGNATURE}")
    signature = None if holder is None else holder.find(f"{{{DS_NS}}}Signature")
    if signature is None:
        raise _signature("NoSignatureFound", "ЭП-ОВ не найдена в документе")
    return signature


def _check_target(operation: etree._Element, signature: etree._Element) -> None:
    try:
        target = signable_element(operation)
    except SmevMessageError as exc:
        raise _signature(
            "IncorrectSignatureTarget", "В сообщении нет подписываемого элемента"
        ) from exc
    reference = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    uri = None if reference is None else reference.get("URI")
    if not target.get("Id") or uri != f"#{target.get('Id')}":
        name = etree.QName(target).localname
        raise _signature(
            "IncorrectSignatureTarget",
            f"ЭП-ОВ подписывает не ту часть сообщения: должен быть подписан {name}",
        )


def check_signature_value(verifier: XmlVerifier, signature: etree._Element, now: datetime) -> None:
    """SignatureVerificationFault (SignatureIsInvalid, CertificateIsExpired) unless
    ``signature`` holds at ``now``: the check the simulator makes of every signature it is sent."""
    report = verifier.verify(signature, now)
    if not report.valid:
        raise _signature("SignatureIsInvalid", "ЭП-ОВ не соответствует подписанным данным")
    if report.expired and report.certificate is not None:
        until = f"{report.certificate.not_after:%Y-%m-%d %H:%M}"
        raise _signature(
            "CertificateIsExpired",
            f"Срок действия сертификата ЭП-ОВ истёк. Сертификат действителен до {until}",
        )
