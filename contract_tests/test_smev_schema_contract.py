"""Every message the builders make, in every version, validates against the official schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from hub.crypto import GostBackend
from hub.crypto.xmldsig import XmlVerifier
from hub.errors import SchemaValidationError
from hub.smev import (
    Ack,
    FileStoreAttachment,
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
    operation_element,
    read_message,
    serialize,
    validate,
)
from hub.smev.build import ElementSigner
from hub.xml import parse_xml

pytestmark = pytest.mark.contract

VERSIONS = ("1.1", "1.2", "1.3")
ZAGS = "urn://x-artefacts-zags-rogdinf/root/112-51/4.0.1"
BPM = "urn://x-artefacts-smev-gov-ru/services/message-exchange/business-process-metadata/1.0"
MSK = timezone(timedelta(hours=3))
Case = Callable[[str, ElementSigner], etree._Element]


def _content() -> etree._Element:
    root = etree.Element(f"{{{ZAGS}}}ROGDINFRequest", nsmap={"z": ZAGS})
    etree.SubElement(root, f"{{{ZAGS}}}ИдЗапрос").text = "42"
    return root


def _attachments(version: str) -> list[MtomAttachment | FileStoreAttachment]:
    rich = version == "1.3"
    return [
        MtomAttachment(
            "att-1",
            "application/pdf",
            b"%PDF-1.4 ...",
            signature_pkcs7=b"\x30\x03",
            namespace_uri="urn:attachment" if rich else None,
        ),
        MtomAttachment("att-2", "image/jpeg", b"\xff\xd8\xff"),
        FileStoreAttachment(
            "0f4c2a4e-1111-4222-8333-444455556666",
            "qUqP5cyxm6YcTAhz05Hph5gvu9M=",
            "application/zip",
            file_name="scan.zip" if rich else None,
            namespace_uri="urn:attachment" if rich else None,
            signature_pkcs7=b"\x30\x03",
        ),
    ]


def _tc(version: str) -> str | None:
    return "TC-1" if version == "1.2" else None  # only 1.2's published schema requires it


def send_request_minimal(version: str, signer: ElementSigner) -> etree._Element:
    return build_send_request(SendRequest(_content(), transaction_code=_tc(version)), version)


def send_request_full(version: str, signer: ElementSigner) -> etree._Element:
    metadata = etree.Element(f"{{{BPM}}}frgu")
    metadata.text = "1234567890"
    req = SendRequest(
        _content(),
        reference_message_id="ac9fbf27-8b8c-11eb-9086-e2bf794ac2e9",
        transaction_code="TC-1",
        node_id="node-01",
        eol=datetime(2031, 1, 1, 12, 0, tzinfo=MSK),
        test_message=True,
        attachments=_attachments(version),
        business_process_metadata=[metadata],
    )
    return build_send_request(req, version, signer)


def send_response_content_minimal(version: str, signer: ElementSigner) -> etree._Element:
    return build_send_response(SendResponse("eyJ0byI6MX0=", content=_content()), version)


def send_response_content_full(version: str, signer: ElementSigner) -> etree._Element:
    resp = SendResponse("eyJ0byI6MX0=", content=_content(), attachments=_attachments(version))
    return build_send_response(resp, version, signer)


def send_response_rejected(version: str, signer: ElementSigner) -> etree._Element:
    resp = SendResponse("to", rejections=[Rejection("NO_DATA", "нет")])
    return build_send_response(resp, version)


def send_response_rejected_full(version: str, signer: ElementSigner) -> etree._Element:
    codes = sorted(
        {"ACCESS_DENIED", "UNKNOWN_REQUEST_DESCRIPTION"}
        | ({"FAILURE"} if version != "1.2" else set())
    )
    rejections = [Rejection(code, f"reason {code}") for code in codes]
    return build_send_response(SendResponse("to", rejections=rejections), version, signer)


def send_response_status(version: str, signer: ElementSigner) -> etree._Element:
    return build_send_response(SendResponse("to", status=RequestStatus(3, "исполнено")), version)


def send_response_status_full(version: str, signer: ElementSigner) -> etree._Element:
    status = RequestStatus(-7, "ждём", parameters=[("a", "1"), ("b", "")])
    return build_send_response(SendResponse("to", status=status), version, signer)


def get_request_minimal(version: str, signer: ElementSigner) -> etree._Element:
    return build_get_request(version=version)


def get_request_full(version: str, signer: ElementSigner) -> etree._Element:
    selector = Selector(
        ZAGS,
        "ROGDINFRequest",
        node_id="node-01",
        timestamp=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        element_id="SEL_1",
    )
    return build_get_request(selector, version, signer)


def get_response_minimal(version: str, signer: ElementSigner) -> etree._Element:
    return build_get_response(version=version)


def get_response_full(version: str, signer: ElementSigner) -> etree._Element:
    selector = Selector(ZAGS, "ROGDINFResponse", node_id="node-01")
    return build_get_response(selector, version, signer)


def ack_minimal(version: str, signer: ElementSigner) -> etree._Element:
    return build_ack(Ack("acbc78b7-9466-11ea-b8f2-637c98c72989"), version)


def ack_full(version: str, signer: ElementSigner) -> etree._Element:
    return build_ack(Ack("acbc78b7-9466-11ea-b8f2-637c98c72989", accepted=False), version, signer)


def get_status_minimal(version: str, signer: ElementSigner) -> etree._Element:
    return build_get_status(version=version, signer=signer)  # the schema requires a signature


def get_status_full(version: str, signer: ElementSigner) -> etree._Element:
    query = StatusQuery(datetime(2026, 5, 1, 9, 30, tzinfo=MSK), element_id="TS_1")
    return build_get_status(query, version, signer)


CASES: dict[str, Case] = {
    case.__name__: case
    for case in (
        send_request_minimal,
        send_request_full,
        send_response_content_minimal,
        send_response_content_full,
        send_response_rejected,
        send_response_rejected_full,
        send_response_status,
        send_response_status_full,
        get_request_minimal,
        get_request_full,
        get_response_minimal,
        get_response_full,
        ack_minimal,
        ack_full,
        get_status_minimal,
        get_status_full,
    )
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_built_message_validates(
    case: str,
    version: str,
    element_signer: ElementSigner,
    smev_xsd_dir: Path,
    fast_backend: GostBackend,
) -> None:
    envelope = CASES[case](version, element_signer)
    validate(operation_element(envelope), version, smev_xsd_dir)
    # What goes on the wire, parsed back, validates too, and its signature holds.
    received = parse_xml(serialize(envelope))
    validate(received, version, smev_xsd_dir)
    reports = XmlVerifier(fast_backend).verify_all(received)
    signed = received.findall(".//{*}CallerInformationSystemSignature")
    assert len(reports) == len(signed)
    assert all(r.valid for r in reports), reports


@pytest.mark.parametrize("version", VERSIONS)
def test_signed_messages_carry_the_signature(version: str, element_signer: ElementSigner) -> None:
    message = read_message(serialize(send_request_full(version, element_signer)))
    assert [e.get("Id") for e in message.signed_elements] == ["SIGNED_BY_CONSUMER"]


def test_schema_rejects_a_broken_message_with_line_numbers(smev_xsd_dir: Path) -> None:
    op = operation_element(build_send_request(SendRequest(_content()), "1.3"))
    data = op[0]
    data.remove(data[0])  # drop MessageID
    with pytest.raises(SchemaValidationError) as caught:
        validate(op, "1.3", smev_xsd_dir)
    errors = caught.value.errors
    assert len(errors) == 1
    assert errors[0].startswith("line 3: ")  # in the indented copy of SendRequestRequest
    types = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3"
    assert f"Expected is ( {{{types}}}MessageID" in errors[0]


def test_other_versions_schema_refuses_the_message(smev_xsd_dir: Path) -> None:
    op = operation_element(build_ack(Ack("acbc78b7-9466-11ea-b8f2-637c98c72989"), "1.2"))
    with pytest.raises(SchemaValidationError, match=r"1\.3 schema"):
        validate(op, "1.3", smev_xsd_dir)


def test_genuine_ack_request_validates(smev_samples_dir: Path, smev_xsd_dir: Path) -> None:
    root = parse_xml((smev_samples_dir / "ack-request-signed-1.2-truncated.xml").read_bytes())
    validate(root, "1.2", smev_xsd_dir)
