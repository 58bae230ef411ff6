"""Unit tests of the lenient SMEV reader: genuine samples, every kind, odd replies, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from hub.errors import MalformedXmlError, SmevMessageError
from hub.smev import (
    Ack,
    MtomAttachment,
    Rejection,
    RequestStatus,
    Selector,
    SendRequest,
    SendResponse,
    StatusQuery,
    build_ack,
    build_get_request,
    build_get_response,
    build_get_status,
    build_send_request,
    build_send_response,
    read_message,
    serialize,
)
from hub.smev.faults import InvalidContentError
from hub.xml import parse_message

pytestmark = pytest.mark.unit

VERSIONS = ("1.1", "1.2", "1.3")
MID = "1e5a1f4c-2b3d-11f0-8000-0242ac120002"
ORIG = "0a1b2c3d-2b3d-11f0-8000-0242ac120002"
BIZ = "urn://example/business/1.0"
DS = "http://www.w3.org/2000/09/xmldsig#"


def envelope(version: str, operation: str, inner: str = "") -> bytes:
    base = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ns2:{operation} xmlns:ns2="{base}/{version}" xmlns="{base}/basic/{version}">'
        f"{inner}</ns2:{operation}></soap:Body></soap:Envelope>"
    ).encode()


def metadata(status: str = "responseIsDelivered", full: bool = True) -> str:
    sender = "<ns2:Mnemonic>SND</ns2:Mnemonic>"
    if full:
        sender += "<ns2:HumanReadableName>Отправитель</ns2:HumanReadableName>"
    return (
        f"<ns2:MessageMetadata><ns2:MessageId>{MID}</ns2:MessageId>"
        f"<ns2:MessageType>RESPONSE</ns2:MessageType><ns2:Sender>{sender}</ns2:Sender>"
        "<ns2:SendingTimestamp>2026-05-01T10:00:00.000+03:00</ns2:SendingTimestamp>"
        f"<ns2:Status>{status}</ns2:Status></ns2:MessageMetadata>"
    )


def response_message(
    version: str, answer: str, data_id: str = "SIGNED_BY_PROVIDER", meta: str | None = None
) -> bytes:
    return envelope(
        version,
        "GetResponseResponse",
        (
            '<ns2:ResponseMessage><ns2:Response Id="SIGNED_BY_SMEV">'
            f"<ns2:OriginalMessageId>{ORIG}</ns2:OriginalMessageId>"
            "<ns2:OriginalTransactionCode>TC</ns2:OriginalTransactionCode>"
            f"<ns2:ReferenceMessageID>{ORIG}</ns2:ReferenceMessageID>"
            f'<ns2:SenderProvidedResponseData Id="{data_id}"><ns2:MessageID>{MID}</ns2:MessageID>'
            f"<ns2:To>eyJ9</ns2:To>{answer}</ns2:SenderProvidedResponseData>"
            f"{meta if meta is not None else metadata()}</ns2:Response>"
            "</ns2:ResponseMessage>"
        ),
    )


CONTENT = (
    f'<MessagePrimaryContent><b:Answer xmlns:b="{BIZ}"><b:V>1</b:V></b:Answer>'
    "</MessagePrimaryContent>"
)
REJECTED = (
    "<ns2:RequestRejected><ns2:RejectionReasonCode>NO_DATA</ns2:RejectionReasonCode>"
    "<ns2:RejectionReasonDescription>нет данных</ns2:RejectionReasonDescription>"
    "</ns2:RequestRejected>"
)
STATUS = (
    "<ns2:RequestStatus><ns2:StatusCode>7</ns2:StatusCode><ns2:StatusParameter>"
    "<ns2:Key>k</ns2:Key><ns2:Value>v</ns2:Value></ns2:StatusParameter>"
    "<ns2:StatusDescription>в работе</ns2:StatusDescription></ns2:RequestStatus>"
)
ASYNC = (
    f"<ns2:AsyncProcessingStatus><ns2:OriginalMessageId>{ORIG}</ns2:OriginalMessageId>"
    "<ns2:StatusCategory>requestIsRejectedBySmev</ns2:StatusCategory>"
    "<ns2:StatusDetails>не прошло</ns2:StatusDetails>"
    "<ns2:SmevFault><Code>SMEV-403</Code><Description>SMEV-403: не соответствует схеме"
    "</Description></ns2:SmevFault></ns2:AsyncProcessingStatus>"
)


# --- genuine samples ------------------------------------------------------------------


def test_sample_send_request_response(smev_samples_dir: Path) -> None:
    raw = (smev_samples_dir / "send-request-response-1.2-signed.xml").read_bytes()
    message = read_message(raw)
    assert (message.version, message.operation, message.kind) == (
        "1.2",
        "SendRequestResponse",
        "accepted",
    )
    assert message.message_id == "ac9fbf27-8b8c-11eb-9086-e2bf794ac2e9"
    assert message.status_category == "requestIsQueued"
    assert message.metadata is not None and message.metadata.sender == "77BD01"
    assert [e.get("Id") for e in message.signed_elements] == ["SIGNED_BY_SMEV"]
    json.dumps(message.to_dict())


def test_sample_empty_queue_with_bom(smev_samples_dir: Path) -> None:
    raw = (smev_samples_dir / "get-response-empty-queue-1.2.xml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    message = read_message(raw)
    assert (message.version, message.kind, message.message_id) == ("1.2", "empty", None)


def test_sample_fault(smev_samples_dir: Path) -> None:
    message = read_message((smev_samples_dir / "fault-signature-verification-1.2.xml").read_bytes())
    assert (message.version, message.operation, message.kind) == ("1.2", "Fault", "fault")
    assert message.fault is not None
    assert (message.fault.type, message.fault.sub_type) == (
        "SignatureVerificationFault",
        "CertificateIsExpired",
    )


def test_sample_truncated_ack_request(smev_samples_dir: Path) -> None:
    message = read_message((smev_samples_dir / "ack-request-signed-1.2-truncated.xml").read_bytes())
    assert (message.version, message.kind, message.message_id, message.ack_accepted) == (
        "1.2",
        "ack",
        "acbc78b7-9466-11ea-b8f2-637c98c72989",
        True,
    )
    assert [e.get("Id") for e in message.signed_elements] == ["SIGNED_BY_CALLER"]


# --- every kind, every version ---------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_incoming_request(version: str) -> None:
    raw = envelope(
        version,
        "GetRequestResponse",
        (
            '<ns2:RequestMessage><ns2:Request Id="SIGNED_BY_SMEV">'
            '<ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">'
            f"<ns2:MessageID>{MID}</ns2:MessageID><ns2:ReferenceMessageID>{ORIG}"
            "</ns2:ReferenceMessageID><ns2:TransactionCode>TC</ns2:TransactionCode>"
            f"<ns2:NodeID>n1</ns2:NodeID>{CONTENT}"
            "<AttachmentHeaderList><AttachmentHeader><contentId>a1</contentId>"
            "<MimeType>application/pdf</MimeType></AttachmentHeader></AttachmentHeaderList>"
            "<RefAttachmentHeaderList><RefAttachmentHeader><uuid>f-1</uuid><Hash>h</Hash>"
            "<MimeType>application/zip</MimeType></RefAttachmentHeader></RefAttachmentHeaderList>"
            "<ns2:TestMessage/></ns2:SenderProvidedRequestData>"
            f"{metadata('requestIsQueued')}"
            "<FSAttachmentsList><FSAttachment><uuid>f-1</uuid><UserName>u</UserName>"
            "<Password>secret</Password><FileName>big.zip</FileName></FSAttachment>"
            "</FSAttachmentsList><ns2:ReplyTo>eyJyZXBseSI6MX0=</ns2:ReplyTo></ns2:Request>"
            "<AttachmentContentList><AttachmentContent><Id>a1</Id><Content>aGVsbG8=</Content>"
            "</AttachmentContent></AttachmentContentList>"
            "</ns2:RequestMessage>"
        ),
    )
    message = read_message(raw)
    assert (message.version, message.kind) == (version, "request")
    assert (message.message_id, message.reference_message_id) == (MID, ORIG)
    assert (message.transaction_code, message.node_id) == ("TC", "n1")
    assert message.reply_to == "eyJyZXBseSI6MX0="
    assert message.content_name == f"{{{BIZ}}}Answer"
    assert message.content is not None and message.content[0].text == "1"
    assert message.test_message is True
    mtom, filestore = message.attachments
    assert (mtom.kind, mtom.id, mtom.mime_type, mtom.size) == ("mtom", "a1", "application/pdf", 5)
    assert (filestore.kind, filestore.file_name, filestore.password) == (
        "filestore",
        "big.zip",
        "secret",
    )
    assert "secret" not in json.dumps(message.to_dict())
    assert "secret" not in repr(message)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("answer", "kind"),
    [(CONTENT, "response"), (REJECTED, "rejected"), (STATUS, "status")],
)
def test_responses(version: str, answer: str, kind: str) -> None:
    message = read_message(response_message(version, answer))
    assert (message.version, message.kind) == (version, kind)
    assert (message.message_id, message.original_message_id) == (MID, ORIG)
    assert (message.reference_message_id, message.transaction_code) == (ORIG, "TC")
    assert message.status_category == "responseIsDelivered"
    assert message.to == "eyJ9"


def test_response_parts() -> None:
    assert read_message(response_message("1.3", REJECTED)).rejection == Rejection(
        "NO_DATA", "нет данных"
    )
    status = read_message(response_message("1.3", STATUS)).request_status
    assert status == RequestStatus(7, "в работе", (("k", "v"),))
    response = read_message(response_message("1.3", CONTENT))
    assert response.content_name == f"{{{BIZ}}}Answer" and response.fault is None


@pytest.mark.parametrize("version", VERSIONS)
def test_async_status_from_smev(version: str) -> None:
    message = read_message(response_message(version, ASYNC, data_id="SIGNED_ASYNC_BY_SMEV"))
    assert (message.kind, message.signed_by_smev_async) == ("async_status", True)
    assert message.status_category == "requestIsRejectedBySmev"
    assert (message.original_message_id, message.message_id) == (ORIG, MID)
    assert message.status_details == "не прошло"
    assert message.fault is not None and message.fault.error_class is InvalidContentError


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "operation", ["GetRequestResponse", "GetResponseResponse", "GetStatusResponse"]
)
def test_empty_queues(version: str, operation: str) -> None:
    message = read_message(envelope(version, operation))
    assert (message.operation, message.kind) == (operation, "empty")


@pytest.mark.parametrize("version", VERSIONS)
def test_get_status_response(version: str) -> None:
    raw = envelope(
        version,
        "GetStatusResponse",
        (
            "<ns2:SmevAsyncProcessingMessage>"
            f'<ns2:AsyncProcessingStatusData Id="S">{ASYNC}</ns2:AsyncProcessingStatusData>'
            "</ns2:SmevAsyncProcessingMessage>"
        ),
    )
    message = read_message(raw)
    assert (message.kind, message.original_message_id) == ("status", ORIG)
    assert message.status_category == "requestIsRejectedBySmev"
    assert message.fault is not None and message.fault.smev_error == "SMEV-403"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("operation", ["SendRequestResponse", "SendResponseResponse"])
def test_accepted(version: str, operation: str) -> None:
    raw = envelope(version, operation, metadata("requestIsQueued"))
    message = read_message(raw)
    assert (message.kind, message.message_id, message.status_category) == (
        "accepted",
        MID,
        "requestIsQueued",
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_ack_response(version: str) -> None:
    assert read_message(envelope(version, "AckResponse")).kind == "ack"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_cancel(version: str) -> None:
    raw = envelope(
        version,
        "GetRequestResponse",
        (
            "<ns2:RequestMessage><ns2:Cancel>"
            f'<MessageReference Id="R">{ORIG}</MessageReference><ns2:MessageID>{MID}'
            f"</ns2:MessageID>{metadata('cancelled')}</ns2:Cancel></ns2:RequestMessage>"
        ),
    )
    message = read_message(raw)
    assert (message.kind, message.message_id, message.original_message_id) == ("cancel", MID, ORIG)
    assert message.content is None  # a Cancel carries no business content


def test_queue_statistics() -> None:
    raw = envelope(
        "1.2",
        "GetIncomingQueueStatisticsResponse",
        '<ns2:QueueStatistics queueName="q" pendingMessageNumber="4"/>',
    )
    assert read_message(raw).queues == (("q", 4),)


# --- odd but real --------------------------------------------------------------------


def test_1_3_status_in_a_1_2_reply_and_missing_human_readable_name() -> None:
    raw = response_message("1.2", CONTENT, meta=metadata("messageIsDelivered", full=False))
    message = read_message(raw)
    assert (message.version, message.kind) == ("1.2", "response")
    assert message.status_category == "messageIsDelivered"
    assert message.metadata is not None and message.metadata.sender == "SND"


def test_mtom_wrapped_reply() -> None:
    soap = envelope(
        "1.3",
        "GetResponseResponse",
        (
            "<ns2:ResponseMessage><ns2:Response>"
            f'<ns2:SenderProvidedResponseData Id="P"><ns2:MessageID>{MID}</ns2:MessageID>'
            f"<ns2:To>t</ns2:To>{CONTENT}<AttachmentHeaderList><AttachmentHeader>"
            "<contentId>a1</contentId><MimeType>application/pdf</MimeType></AttachmentHeader>"
            "</AttachmentHeaderList></ns2:SenderProvidedResponseData>"
            f"{metadata()}</ns2:Response><AttachmentContentList><AttachmentContent><Id>a1</Id>"
            '<Content><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
            'href="cid:part1@smev"/></Content></AttachmentContent></AttachmentContentList>'
            "</ns2:ResponseMessage>"
        ),
    )
    body = (
        b"--MIME_boundary\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n'
        b"Content-ID: <root@smev>\r\n\r\n" + soap + b"\r\n"
        b"--MIME_boundary\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\nContent-ID: <part1@smev>\r\n\r\n"
        b"%PDF-1.4 twelve\r\n--MIME_boundary--\r\n"
    )
    content_type = (
        'multipart/related; type="application/xop+xml"; '
        'boundary="MIME_boundary"; start="<root@smev>"; start-info="text/xml"'
    )
    message = read_message(body, content_type)
    assert (message.version, message.kind, message.message_id) == ("1.3", "response", MID)
    (attachment,) = message.attachments
    assert (attachment.id, attachment.size) == ("a1", len(b"%PDF-1.4 twelve"))
    assert len(message.mime_parts) == 1
    assert read_message(parse_message(body, content_type)).kind == "response"


def test_comments_and_whitespace_are_ignored() -> None:
    raw = envelope(
        "1.2", "SendRequestResponse", "\n  <!-- hi -->\n  " + metadata("requestIsQueued") + "\n"
    )
    assert read_message(raw).message_id == MID


# --- the hub's own messages ----------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_reads_what_the_builders_make(version: str) -> None:
    content = etree.Element(f"{{{BIZ}}}Q")
    tc = "TC"
    cases = {
        "request": build_send_request(
            SendRequest(
                content,
                transaction_code=tc,
                attachments=[MtomAttachment("a", "text/plain", b"abc")],
            ),
            version,
        ),
        "response": build_send_response(SendResponse("to", content=content), version),
        "rejected": build_send_response(
            SendResponse("to", rejections=[Rejection("NO_DATA", "d")]), version
        ),
        "status": build_send_response(SendResponse("to", status=RequestStatus(1, "d")), version),
        "ack": build_ack(Ack(MID), version),
    }
    for kind, built in cases.items():
        message = read_message(serialize(built))
        assert (message.version, message.kind) == (version, kind)
    request = read_message(serialize(cases["request"]))
    assert request.attachments[0].size == 3 and request.transaction_code == tc
    poll = read_message(serialize(build_get_response(Selector(BIZ, "Q", node_id="n"), version)))
    assert (poll.kind, poll.content_name, poll.node_id) == ("request", f"{{{BIZ}}}Q", "n")
    status = build_get_status(StatusQuery(), version, lambda e: etree.Element(f"{{{DS}}}Signature"))
    assert read_message(serialize(status)).kind == "request"
    assert read_message(serialize(build_get_request(version=version))).kind == "request"


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"<a/>", "not a SOAP 1.1 envelope"),
        (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"/>', "SOAP 1.2"),
        (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>', "no Body"),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b"<!-- nothing --></s:Body></s:Envelope>",
            "Body is empty",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<x:Op xmlns:x="urn:other"/></s:Body></s:Envelope>',
            "not a SMEV 3 element",
        ),
        (envelope("1.3", "Frobnicate"), "unsupported SMEV 1.3 operation"),
        (envelope("1.2", "SendRequestResponse"), "has no <MessageMetadata>"),
        (envelope("1.2", "AckRequest"), "has no <AckTargetMessage>"),
        (response_message("1.2", ""), "none of MessagePrimaryContent"),
    ],
)
def test_not_a_smev_message(raw: bytes, match: str) -> None:
    with pytest.raises(SmevMessageError, match=match):
        read_message(raw)


def test_malformed_xml_is_an_xml_error() -> None:
    with pytest.raises(MalformedXmlError):
        read_message(b"<soap:Envelope")
