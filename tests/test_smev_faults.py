"""Unit tests of SMEV faults: every type to its class, retryability and action."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from hub.errors import HubError
from hub.smev import SmevFaultError, raise_for_fault, read_message
from hub.smev import faults as f
from hub.smev.faults import FaultAction

pytestmark = pytest.mark.unit

EXPECTED: dict[str, tuple[type[SmevFaultError], bool, FaultAction]] = {
    "SMEVFailure": (f.SmevFailureError, True, FaultAction.RETRY),
    "MessageIsAlreadySent": (f.MessageIsAlreadySentError, False, FaultAction.TREAT_AS_SENT),
    "StaleMessageId": (f.StaleMessageIdError, False, FaultAction.NEW_MESSAGE_ID),
    "InvalidMessageIdFormat": (f.InvalidMessageIdFormatError, False, FaultAction.FAIL),
    "InvalidContent": (f.InvalidContentError, False, FaultAction.FAIL),
    "SignatureVerificationFault": (f.SignatureVerificationFaultError, False, FaultAction.FAIL),
    "BusinessDataTypeIsNotSupported": (
        f.BusinessDataTypeIsNotSupportedError,
        False,
        FaultAction.FAIL,
    ),
    "UnknownMessageType": (f.UnknownMessageTypeError, False, FaultAction.FAIL),
    "TransactionCodeInvalid": (f.TransactionCodeInvalidError, False, FaultAction.FAIL),
    "AttachmentSizeLimitExceeded": (f.AttachmentSizeLimitExceededError, False, FaultAction.FAIL),
    "AttachmentContentMiscoordination": (
        f.AttachmentContentMiscoordinationError,
        False,
        FaultAction.FAIL,
    ),
    "QuoteLimitExceeded": (f.QuoteLimitExceededError, False, FaultAction.NEW_MESSAGE_LATER),
    "AccessDenied": (f.AccessDeniedError, False, FaultAction.FAIL),
    "SenderIsNotRegistered": (f.SenderIsNotRegisteredError, False, FaultAction.FAIL),
    "RecipientIsNotFound": (f.RecipientIsNotFoundError, False, FaultAction.FAIL),
    "DestinationOverflow": (f.DestinationOverflowError, True, FaultAction.SLOW_DOWN),
    "TargetMessageIsNotFound": (f.TargetMessageIsNotFoundError, False, FaultAction.FAIL),
    "EndOfLifeReached": (f.EndOfLifeReachedError, False, FaultAction.FAIL),
    "RequestIsNotFound": (f.RequestIsNotFoundError, False, FaultAction.FAIL),
    "IncorrectResponseContentType": (f.IncorrectResponseContentTypeError, False, FaultAction.FAIL),
}


def soap_fault(
    detail: str, faultstring: str = "отказ", version: str = "1.3", faultcode: str = "soap:Client"
) -> bytes:
    faults = f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/faults/{version}"
    basic = f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/{version}"
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f"<soap:Fault><faultcode>{faultcode}</faultcode><faultstring>{faultstring}</faultstring>"
        f'<detail xmlns:f="{faults}" xmlns="{basic}">{detail}</detail>'
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def test_every_fault_type_is_known() -> None:
    assert set(f.FAULT_TYPES) == set(EXPECTED)


@pytest.mark.parametrize("version", ["1.1", "1.2", "1.3"])
@pytest.mark.parametrize("fault_type", sorted(EXPECTED))
def test_fault_type_maps_to_class(fault_type: str, version: str) -> None:
    detail = f"<f:{fault_type}><Code>C-1</Code><Description>D</Description></f:{fault_type}>"
    message = read_message(soap_fault(detail, version=version))
    cls, retryable, action = EXPECTED[fault_type]
    assert message.kind == "fault" and message.version == version
    fault = message.fault
    assert fault is not None
    assert (fault.type, fault.code, fault.description, fault.faultcode) == (
        fault_type,
        "C-1",
        "D",
        "soap:Client",
    )
    assert (fault.retryable, fault.action) == (retryable, action)
    with pytest.raises(cls) as caught:
        raise_for_fault(message)
    error = caught.value
    assert isinstance(error, SmevFaultError) and isinstance(error, HubError)
    assert (error.retryable, error.action, error.smev_code, error.description) == (
        retryable,
        action,
        "C-1",
        "D",
    )
    assert (error.faultcode, error.faultstring) == ("soap:Client", "отказ")
    json.dumps(error.as_dict())


def test_genuine_signature_fault(smev_samples_dir: Path) -> None:
    message = read_message((smev_samples_dir / "fault-signature-verification-1.2.xml").read_bytes())
    with pytest.raises(f.SignatureVerificationFaultError) as caught:
        raise_for_fault(message)
    error = caught.value
    assert error.sub_type == "CertificateIsExpired"
    assert error.smev_code == "tsmev3:PRODUCTION_AREA:TSMEV3_CORE2 : TR:SYNC:SPS:4"
    assert error.description is not None and error.description.startswith("SMEV-100:")
    assert error.fault.smev_error == "SMEV-100"
    assert error.faultcode == "soap:Server"
    assert (error.retryable, error.action) == (False, FaultAction.FAIL)
    assert "CertificateIsExpired" in str(error)


@pytest.mark.parametrize(
    "sub_type",
    [
        "PoorSOAPEnvelopeFormat",
        "NoSignatureFound",
        "IncorrectSignatureTarget",
        "SignatureIsInvalid",
        "CertificateIsNotFound",
        "CertificateIsExpired",
    ],
)
def test_signature_sub_types(sub_type: str) -> None:
    detail = (
        f"<f:SignatureVerificationFault><f:SignatureVerificationFault>{sub_type}"
        "</f:SignatureVerificationFault></f:SignatureVerificationFault>"
    )
    fault = read_message(soap_fault(detail)).fault
    assert fault is not None and fault.sub_type == sub_type


def test_invalid_content_lists_validation_errors() -> None:
    detail = (
        "<f:InvalidContent><Code>SMEV-403</Code>"
        '<f:ValidationError errorPosition="12">cvc-complex-type.2.4.a</f:ValidationError>'
        '<f:ValidationError errorPosition="x">second</f:ValidationError></f:InvalidContent>'
    )
    fault = read_message(soap_fault(detail)).fault
    assert fault is not None
    assert [(e.message, e.position) for e in fault.validation_errors] == [
        ("cvc-complex-type.2.4.a", 12),
        ("second", None),
    ]


def test_type_specific_fields_are_kept() -> None:
    detail = (
        "<f:QuoteLimitExceeded><f:RemainedTotalQuoteSize>10</f:RemainedTotalQuoteSize>"
        "<f:RealTotalAttachmentSize>20</f:RealTotalAttachmentSize></f:QuoteLimitExceeded>"
    )
    fault = read_message(soap_fault(detail)).fault
    assert fault is not None
    assert fault.extra == {"RemainedTotalQuoteSize": "10", "RealTotalAttachmentSize": "20"}


def test_unknown_fault_type_falls_back() -> None:
    message = read_message(soap_fault("<f:BrandNewFault><Code>X</Code></f:BrandNewFault>"))
    assert message.fault is not None and message.fault.type == "BrandNewFault"
    with pytest.raises(f.UnknownSmevFaultError):
        raise_for_fault(message)


def test_fault_without_detail() -> None:
    raw = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Internal Error"
        b"</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    )
    message = read_message(raw)
    assert (message.kind, message.version) == ("fault", None)
    # Real SMEV answers so now and then: a passing failure, like SMEVFailure.
    assert message.fault is not None and message.fault.error_class is f.SmevServerFaultError
    assert message.fault.faultstring == "Internal Error"
    assert (message.fault.retryable, message.fault.action) == (True, FaultAction.RETRY)
    with pytest.raises(f.SmevServerFaultError) as caught:
        raise_for_fault(message)
    assert caught.value.retryable


@pytest.mark.parametrize("faultcode", ["soap:Server", "Server", "SOAP-ENV:Server.Busy"])
def test_an_unknown_server_fault_passes(faultcode: str) -> None:
    raw = soap_fault("<f:BrandNewFault><Code>X</Code></f:BrandNewFault>", faultcode=faultcode)
    fault = read_message(raw).fault
    assert fault is not None and fault.error_class is f.SmevServerFaultError
    assert fault.retryable


def test_an_unknown_client_fault_does_not_pass() -> None:
    fault = read_message(soap_fault("<f:BrandNewFault/>", faultcode="soap:Client")).fault
    assert fault is not None and fault.error_class is f.UnknownSmevFaultError
    assert not fault.retryable


def test_a_known_server_fault_keeps_its_type() -> None:
    # faultcode Server does not make a refusal passing: SMEV-100 comes as soap:Server too.
    raw = soap_fault(
        "<f:InvalidContent><Code>SMEV-403</Code></f:InvalidContent>", faultcode="soap:Server"
    )
    fault = read_message(raw).fault
    assert fault is not None and fault.error_class is f.InvalidContentError
    assert not fault.retryable


def test_smev_error_number_identifies_a_bare_fault() -> None:
    raw = soap_fault("", faultstring="SMEV-501: сообщение не найдено")
    message = read_message(raw)
    assert message.version == "1.3"  # from the namespaces declared on detail
    assert message.fault is not None and message.fault.type == "TargetMessageIsNotFound"


def test_no_fault_no_raise(smev_samples_dir: Path) -> None:
    message = read_message((smev_samples_dir / "get-response-empty-queue-1.2.xml").read_bytes())
    raise_for_fault(message)  # nothing to raise
    assert message.fault is None


def test_smevs_asynchronous_rejection_is_a_message_not_a_raised_fault(
    smev_samples_dir: Path,
) -> None:
    raw = (smev_samples_dir / "get-response-async-rejected-1.2.xml").read_bytes()
    message = read_message(raw)
    raise_for_fault(message)  # a message to store, Ack and settle: nothing to raise
    assert (message.kind, message.status_category) == ("async_status", "requestIsRejectedBySmev")
    fault = message.fault
    assert fault is not None
    assert (fault.type, fault.smev_error) == ("InvalidContent", "SMEV-403")  # from xsi:type
    assert fault.code == "tsmev3:P:TSMEV3_ASYNC_CORE1:TR:ASYNC:PP:BSV:3"
    [error] = fault.validation_errors
    assert error.position == -1 and error.message.startswith("cvc-complex-type.2.4.b")


def test_async_fault_type_from_xsi_type() -> None:
    element = etree.fromstring(
        b'<SmevFault xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:f="urn:f"'
        b' xsi:type="f:AccessDenied"><Code>C</Code><Description>?</Description></SmevFault>'
    )
    assert f.read_async_fault(element).type == "AccessDenied"


def test_async_fault_unknown_number() -> None:
    element = etree.fromstring(
        b'<SmevFault xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2">'
        b"<Code>SMEV-999</Code><Description>?</Description></SmevFault>"
    )
    fault = f.read_async_fault(element)
    assert (fault.type, fault.version, fault.smev_error) == ("Unknown", "1.2", "SMEV-999")
    assert isinstance(fault.to_error(), f.UnknownSmevFaultError)
