"""Deliveries as SMEV makes them, signed, and the parts an attacker copies (trust tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from hub.crypto.backends.base import GostBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner
from hub.simulator import replies
from hub.smev import SendRequest, SendResponse, build_send_request, build_send_response
from hub.smev.signing import operation_element, sign_envelope
from hub.smev.versions import SmevVersion
from tests.support.notices import NOTICE, NOTICE_NS

ANSWER = f"{{{NOTICE_NS}}}Answer"
ORIGINAL_ID = "6f1c2a10-9f6e-11ee-8c90-0242ac120002"


@dataclass(frozen=True)
class Party:
    signer: XmlSigner
    certificate: Certificate


@dataclass(frozen=True)
class Keys:
    smev: Party  # SMEV's certificate, pinned
    sender: Party  # the agency's information system (not pinned: SMEV vouches for it)
    attacker: Party  # a key the attacker made
    lapsed: Party  # an old SMEV certificate, pinned but valid only in the past


def make_keys(backend: GostBackend) -> Keys:
    past = datetime.now(UTC) - timedelta(days=400)
    return Keys(
        _party(backend, "SMEV"),
        _party(backend, "ZAGS information system"),
        _party(backend, "attacker"),
        _party(backend, "SMEV 2025", not_before=past, days=30),
    )


def _party(backend: GostBackend, name: str, **validity: Any) -> Party:
    key = generate_private_key()
    certificate = self_signed_certificate(backend, key, name, **validity)
    return Party(XmlSigner(LocalKeySigner(backend, key, certificate), backend), certificate)


# --- genuine deliveries ----------------------------------------------------------------


def _content(tag: str, subject: str) -> etree._Element:
    content = etree.Element(tag, nsmap={"t": NOTICE_NS})
    content.set("n", "1")
    etree.SubElement(content, f"{{{NOTICE_NS}}}Subject").text = subject
    return content


def _metadata(kind: str, sent_at: datetime) -> replies.Metadata:
    return replies.Metadata(
        "1b7e4a52-9f6e-11ee-8c90-0242ac120002",
        kind,
        replies.Party("ZAGS01", "ZAGS"),
        sent_at,
        replies.Party("HUB01", "hub"),
    )


def request_delivery(
    version: SmevVersion,
    keys: Keys,
    *,
    subject: str = "child-1",
    smev: Party | None = None,
    sent_at: datetime | None = None,
    beside_content: Sequence[etree._Element] = (),
) -> etree._Element:
    """GetRequestResponse as SMEV delivers a notice: the sender's and SMEV's signatures."""
    chain = {"transaction_code": "tc-1"} if version is SmevVersion.V1_2 else {}
    sent = build_send_request(SendRequest(_content(NOTICE, subject), **chain), version)
    one(sent, "MessagePrimaryContent").extend(beside_content)
    sign_envelope(sent, keys.sender.signer)
    data, signature = _sender_parts(sent, "SenderProvidedRequestData")
    metadata = _metadata("REQUEST", sent_at or datetime.now(UTC))
    envelope = replies.request_delivery(version, data, metadata, "reply-to", None, None)
    return _signed_by_smev(envelope, "Request", signature, smev or keys.smev)


def response_delivery(
    version: SmevVersion, keys: Keys, *, subject: str = "child-1", smev: Party | None = None
) -> etree._Element:
    """GetResponseResponse as SMEV delivers an agency's answer to the hub's request."""
    sent = build_send_response(
        SendResponse("reply-to", _content(ANSWER, subject)), version, keys.sender.signer
    )
    data, signature = _sender_parts(sent, "SenderProvidedResponseData")
    metadata = _metadata("RESPONSE", datetime.now(UTC))
    original = replies.Original(ORIGINAL_ID, ORIGINAL_ID, "tc-1")
    envelope = replies.response_delivery(version, data, metadata, original, None, None)
    return _signed_by_smev(envelope, "Response", signature, smev or keys.smev)


def _sender_parts(sent: etree._Element, name: str) -> tuple[etree._Element, etree._Element]:
    operation = operation_element(sent)
    data = one(operation, name)
    signature = one(operation, "CallerInformationSystemSignature")[0]
    return data, signature


def _signed_by_smev(
    envelope: etree._Element, name: str, sender_signature: etree._Element, smev: Party
) -> etree._Element:
    element = one(envelope, name)
    types = etree.QName(element).namespace
    holder = etree.SubElement(element, f"{{{types}}}SenderInformationSystemSignature")
    holder.append(sender_signature)
    message = element.getparent()
    assert message is not None
    etree.SubElement(message, f"{{{types}}}SMEVSignature").append(smev.signer(element))
    return envelope


def one(root: etree._Element, name: str) -> etree._Element:
    [found] = root.iterfind(f".//{{*}}{name}")
    return found


def smev_fragment(version: SmevVersion, keys: Keys, element_id: str) -> list[etree._Element]:
    """A genuine SMEV-signed MessageMetadata with its SMEVSignature, as in any public
    SendRequestResponse (here signed by the pinned SMEV key)."""
    accepted = replies.accepted(
        version, "SendRequestResponse", _metadata("REQUEST", datetime.now(UTC)), None
    )
    metadata = one(accepted, "MessageMetadata")
    metadata.set("Id", element_id)
    types = etree.QName(metadata).namespace
    signature = etree.Element(f"{{{types}}}SMEVSignature")
    signature.append(keys.smev.signer(metadata))
    return [metadata, signature]
