"""SMEV messages as SMEV delivers them (GetResponseResponse, GetRequestResponse), for
end-to-end tests."""

from __future__ import annotations

import uuid

BASE = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types"


def get_response(
    original_message_id: str,
    answer: bytes | None = None,
    *,
    rejection: tuple[str, str] | None = None,
    version: str = "1.3",
) -> bytes:
    """A GetResponseResponse carrying ``answer`` (a business element) or a rejection."""
    if rejection is not None:
        code, why = rejection
        inner = (
            f"<ns2:RequestRejected><ns2:RejectionReasonCode>{code}</ns2:RejectionReasonCode>"
            f"<ns2:RejectionReasonDescription>{why}</ns2:RejectionReasonDescription>"
            "</ns2:RequestRejected>"
        )
    else:
        inner = f"<MessagePrimaryContent>{(answer or b'').decode()}</MessagePrimaryContent>"
    message_id = str(uuid.uuid1())
    body = (
        '<ns2:ResponseMessage><ns2:Response Id="SIGNED_BY_SMEV">'
        f"<ns2:OriginalMessageId>{original_message_id}</ns2:OriginalMessageId>"
        f'<ns2:SenderProvidedResponseData Id="SIGNED_BY_PROVIDER">'
        f"<ns2:MessageID>{message_id}</ns2:MessageID><ns2:To>eyJ9</ns2:To>{inner}"
        "</ns2:SenderProvidedResponseData></ns2:Response></ns2:ResponseMessage>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ns2:GetResponseResponse xmlns:ns2="{BASE}/{version}" xmlns="{BASE}/basic/{version}">'
        f"{body}</ns2:GetResponseResponse></soap:Body></soap:Envelope>"
    ).encode()


def get_request(
    content: bytes,
    *,
    reply_to: str | None = "eyJzaWQiOjEsIm1uZW1vbmljIjoiRVBHVSJ9",
    message_id: str | None = None,
    version: str = "1.3",
    test_message: bool = False,
) -> bytes:
    """A GetRequestResponse carrying ``content`` (a business element), as an agency's request
    reaches the hub: with ``reply_to`` to answer it at, under ``message_id`` (a new one if not
    given: a resend of the same content is a new message); ``test_message``: a test request
    (TestMessage)."""
    reply = f"<ns2:ReplyTo>{reply_to}</ns2:ReplyTo>" if reply_to else ""
    test = "<ns2:TestMessage/>" if test_message else ""
    body = (
        '<ns2:RequestMessage><ns2:Request Id="SIGNED_BY_SMEV">'
        '<ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">'
        f"<ns2:MessageID>{message_id or uuid.uuid1()}</ns2:MessageID>"
        f"<MessagePrimaryContent>{content.decode()}</MessagePrimaryContent>{test}"
        f"</ns2:SenderProvidedRequestData>{reply}</ns2:Request></ns2:RequestMessage>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ns2:GetRequestResponse xmlns:ns2="{BASE}/{version}" xmlns="{BASE}/basic/{version}">'
        f"{body}</ns2:GetRequestResponse></soap:Body></soap:Envelope>"
    ).encode()


def get_cancel(message_reference: str, *, version: str = "1.2") -> bytes:
    """A GetRequestResponse carrying SMEV's Cancel (1.1/1.2 only) of the request sent under
    ``message_reference``, with MessageMetadata as SMEV fills it in."""
    body = (
        '<ns2:RequestMessage><ns2:Cancel Id="SIGNED_BY_SMEV">'
        f"<MessageReference>{message_reference}</MessageReference>"
        f"<ns2:MessageID>{uuid.uuid1()}</ns2:MessageID>"
        f"<ns2:MessageMetadata><ns2:MessageId>{uuid.uuid1()}</ns2:MessageId>"
        "<ns2:MessageType>CANCEL</ns2:MessageType>"
        "<ns2:Sender><ns2:Mnemonic>EPGU</ns2:Mnemonic></ns2:Sender>"
        "<ns2:SendingTimestamp>2026-03-01T00:00:00.000+03:00</ns2:SendingTimestamp>"
        "</ns2:MessageMetadata></ns2:Cancel></ns2:RequestMessage>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<ns2:GetRequestResponse xmlns:ns2="{BASE}/{version}" xmlns="{BASE}/basic/{version}">'
        f"{body}</ns2:GetRequestResponse></soap:Body></soap:Envelope>"
    ).encode()
