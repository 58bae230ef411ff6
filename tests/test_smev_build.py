"""Unit tests of the SMEV envelope builders: order, namespaces, defaults, refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hub.smev import (
    Ack,
    FileStoreAttachment,
    MtomAttachment,
    Rejection,
    RequestStatus,
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
    operation_element,
    read_message,
    serialize,
)
from hub.smev.versions import SmevVersion

pytestmark = pytest.mark.unit

DS = "http://www.w3.org/2000/09/xmldsig#"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
BIZ = "urn://example/business/1.0"
MSG_ID = "ac9fbf27-8b8c-11eb-9086-e2bf794ac2e9"
ORIGINAL_ID = "0b6e4a02-8b8c-11eb-9086-e2bf794ac2e9"
VERSIONS = ("1.1", "1.2", "1.3")


class RecordingSigner:
    """Returns a minimal ds:Signature and remembers what it was asked to sign."""

    def __init__(self) -> None:
        self.signed: list[etree._Element] = []

    def __call__(self, element: etree._Element) -> etree._Element:
        self.signed.append(element)
        signature = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
        reference = etree.SubElement(
            etree.SubElement(signature, f"{{{DS}}}SignedInfo"), f"{{{DS}}}Reference"
        )
        reference.set("URI", f"#{element.get('Id')}")
        etree.SubElement(signature, f"{{{DS}}}SignatureValue").text = "AAAA"
        return signature


def content() -> etree._Element:
    root = etree.Element(f"{{{BIZ}}}Query", nsmap={"b": BIZ})
    etree.SubElement(root, f"{{{BIZ}}}Key").text = "1"
    return root


def names(element: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in element]


def ns(version: str) -> tuple[str, str]:
    v = SmevVersion(version)
    return v.ns.types, v.ns.basic


def full_request(**overrides: object) -> SendRequest:
    fields: dict[str, object] = {
        "content": content(),
        "reference_message_id": MSG_ID,
        "transaction_code": "TC",
        "node_id": "n1",
        "eol": datetime(2030, 1, 1, tzinfo=UTC),
        "test_message": True,
        "attachments": [
            MtomAttachment("a1", "application/pdf", b"pdf"),
            FileStoreAttachment("f-1", "hash", "application/zip"),
        ],
        "business_process_metadata": [etree.Element("{urn:bpm}frgu")],
    }
    fields.update(overrides)
    return SendRequest(**fields)  # type: ignore[arg-type]


# --- structure ------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_send_request_element_order_and_namespaces(version: str) -> None:
    signer = RecordingSigner()
    envelope = build_send_request(full_request(), version, signer)
    types, basic = ns(version)
    assert names(envelope) == ["Header", "Body"]
    op = operation_element(envelope)
    assert op.tag == f"{{{types}}}SendRequestRequest"
    assert names(op) == [
        "SenderProvidedRequestData",
        "AttachmentContentList",
        "CallerInformationSystemSignature",
    ]
    data = op[0]
    assert names(data) == [
        "MessageID",
        "ReferenceMessageID",
        "TransactionCode",
        "NodeID",
        "EOL",
        "MessagePrimaryContent",
        "AttachmentHeaderList",
        "RefAttachmentHeaderList",
        "BusinessProcessMetadata",
        "TestMessage",
    ]
    by_name = {etree.QName(c).localname: etree.QName(c).namespace for c in data}
    assert by_name["MessageID"] == types and by_name["TestMessage"] == types
    assert by_name["MessagePrimaryContent"] == basic
    assert by_name["AttachmentHeaderList"] == basic
    assert op[2].tag == f"{{{types}}}CallerInformationSystemSignature"
    assert op[2][0].tag == f"{{{DS}}}Signature"


@pytest.mark.parametrize("version", VERSIONS)
def test_signer_gets_the_placed_element_with_its_id(version: str) -> None:
    signer = RecordingSigner()
    envelope = build_send_request(full_request(), version, signer)
    (signed,) = signer.signed
    assert signed is operation_element(envelope)[0]
    assert signed.get("Id") == "SIGNED_BY_CONSUMER"
    assert signed.getroottree().getroot() is envelope


def test_attachment_headers_and_content() -> None:
    envelope = build_send_request(full_request(), "1.3")
    _, basic = ns("1.3")
    op = operation_element(envelope)
    header = op.find(f".//{{{basic}}}AttachmentHeader")
    assert header is not None and names(header) == ["contentId", "MimeType"]
    ref = op.find(f".//{{{basic}}}RefAttachmentHeader")
    assert ref is not None and names(ref) == ["uuid", "Hash", "MimeType"]
    item = op.find(f"{{{basic}}}AttachmentContentList/{{{basic}}}AttachmentContent")
    assert item is not None and [c.text for c in item] == ["a1", "cGRm"]


def test_rich_attachment_headers_in_1_3() -> None:
    attachments = [
        MtomAttachment("a1", "text/plain", b"x", namespace_uri="urn:a", signature_pkcs7=b"s"),
        FileStoreAttachment("f", "h", "text/plain", file_name="f.txt", namespace_uri="urn:a"),
    ]
    op = operation_element(build_send_request(full_request(attachments=attachments), "1.3"))
    _, basic = ns("1.3")
    header = op.find(f".//{{{basic}}}AttachmentHeader")
    ref = op.find(f".//{{{basic}}}RefAttachmentHeader")
    assert header is not None and names(header) == [
        "contentId",
        "NamespaceUri",
        "MimeType",
        "SignaturePKCS7",
    ]
    assert ref is not None and names(ref) == [
        "uuid",
        "FileName",
        "NamespaceUri",
        "Hash",
        "MimeType",
    ]


@pytest.mark.parametrize("version", ["1.1", "1.3"])
def test_minimal_request_has_no_chain_elements(version: str) -> None:
    data = operation_element(build_send_request(SendRequest(content()), version))[0]
    assert names(data) == ["MessageID", "MessagePrimaryContent"]
    assert len(operation_element(build_send_request(SendRequest(content()), version))) == 1


def test_1_2_defaults_reference_to_message_id() -> None:
    data = operation_element(
        build_send_request(SendRequest(content(), message_id=MSG_ID, transaction_code="T"), "1.2")
    )[0]
    assert names(data)[:3] == ["MessageID", "ReferenceMessageID", "TransactionCode"]
    assert data[1].text == MSG_ID


def test_1_2_without_a_transaction_code_goes_out_as_genuine_1_2_traffic_does() -> None:
    # No code configured: neither chain element (what SMEV accepts from real 1.2 clients),
    # never a build error that would reject every check the registry asks for.
    data = operation_element(build_send_request(SendRequest(content(), MSG_ID), "1.2"))[0]
    assert names(data) == ["MessageID", "MessagePrimaryContent"]


def test_an_explicit_reference_is_kept_on_1_2_without_a_transaction_code() -> None:
    request = SendRequest(content(), MSG_ID, reference_message_id=ORIGINAL_ID)
    data = operation_element(build_send_request(request, "1.2"))[0]
    assert names(data)[:2] == ["MessageID", "ReferenceMessageID"]
    assert data[1].text == ORIGINAL_ID


def test_generated_message_id_is_lower_case_time_based_uuid() -> None:
    data = operation_element(build_send_request(SendRequest(content())))[0]
    value = data[0].text
    assert value is not None and value == value.lower()
    parsed = uuid.UUID(value)
    assert parsed.version == 1
    stamp = datetime(1582, 10, 15, tzinfo=UTC) + timedelta(microseconds=parsed.time // 10)
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1)
    assert new_message_id() != new_message_id()


def test_content_is_copied_not_moved() -> None:
    original = content()
    build_send_request(SendRequest(original))
    assert original.getparent() is None and len(original) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_send_response_variants(version: str) -> None:
    types, _ = ns(version)
    signer = RecordingSigner()
    op = operation_element(
        build_send_response(SendResponse("to", content=content()), version, signer)
    )
    assert names(op) == ["SenderProvidedResponseData", "CallerInformationSystemSignature"]
    assert names(op[0]) == ["MessageID", "To", "MessagePrimaryContent"]
    assert op[0].get("Id") == "SIGNED_BY_CALLER"
    rejected = operation_element(
        build_send_response(
            SendResponse(
                "to", rejections=[Rejection("NO_DATA", "d"), Rejection("ACCESS_DENIED", "e")]
            ),
            version,
        )
    )
    assert names(rejected[0]) == ["MessageID", "To", "RequestRejected", "RequestRejected"]
    assert names(rejected[0][2]) == ["RejectionReasonCode", "RejectionReasonDescription"]
    status = operation_element(
        build_send_response(SendResponse("to", status=RequestStatus(5, "d", [("k", "v")])), version)
    )[0]
    assert names(status[2]) == ["StatusCode", "StatusParameter", "StatusDescription"]
    assert status[2].tag == f"{{{types}}}RequestStatus"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("build", [build_get_request, build_get_response])
def test_selector_order(version: str, build: object) -> None:
    _, basic = ns(version)
    selector = Selector(BIZ, "Query", node_id="n", timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    op = operation_element(build(selector, version, RecordingSigner()))  # type: ignore[operator]
    sel = op[0]
    assert sel.tag == f"{{{basic}}}MessageTypeSelector"
    assert names(sel) == ["NamespaceURI", "RootElementLocalName", "Timestamp", "NodeID"]
    assert sel[2].text == "2026-01-01T00:00:00.000+00:00"
    assert names(op) == ["MessageTypeSelector", "CallerInformationSystemSignature"]
    empty = operation_element(build(Selector(), version))[0]  # type: ignore[operator]
    assert names(empty) == ["Timestamp"]


@pytest.mark.parametrize("accepted", [True, False])
def test_ack(accepted: bool) -> None:
    op = operation_element(build_ack(Ack(MSG_ID, accepted=accepted), "1.2", RecordingSigner()))
    _, basic = ns("1.2")
    assert op[0].tag == f"{{{basic}}}AckTargetMessage"
    assert op[0].text == MSG_ID
    assert op[0].get("accepted") == str(accepted).lower()
    assert op[0].get("Id") == "SIGNED_BY_CALLER"


def test_get_status_requires_signer() -> None:
    with pytest.raises(SmevBuildError, match="needs CallerInformationSystemSignature"):
        build_get_status(StatusQuery(), "1.3")
    op = operation_element(build_get_status(StatusQuery(), "1.3", RecordingSigner()))
    assert names(op) == ["Timestamp", "CallerInformationSystemSignature"]


def test_eol_keeps_its_offset() -> None:
    eol = datetime(2030, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    data = operation_element(build_send_request(SendRequest(content(), eol=eol)))[0]
    assert data[1].text == "2030-05-01T12:00:00.000+03:00"


def test_serialize_is_utf8_with_declaration() -> None:
    raw = serialize(build_send_response(SendResponse("кому", status=RequestStatus(1, "ок"))))
    assert raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "кому".encode() in raw
    assert read_message(raw).to == "кому"


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=300))
def test_free_text_round_trips(description: str) -> None:
    rejection = Rejection("NO_DATA", description)
    envelope = build_send_response(SendResponse("to", rejections=[rejection]))
    message = read_message(serialize(envelope))
    assert message.kind == "rejected"
    expected = description.strip() or ""
    assert message.rejections[0].description == expected


# --- refusals -------------------------------------------------------------------------


def _biz(tag: str) -> etree._Element:
    return etree.Element(tag)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: build_send_request(SendRequest(content(), message_id=MSG_ID.upper())),
            "not a lower-case UUID",
        ),
        (
            lambda: build_send_request(SendRequest(content(), message_id=str(uuid.uuid4()))),
            "version-4 UUID",
        ),
        (lambda: build_send_request(SendRequest(_biz("NoNamespace"))), "namespace-qualified"),
        (lambda: build_send_request(SendRequest(_biz(f"{{{ns('1.3')[1]}}}X"))), "basic namespace"),
        (
            lambda: build_send_request(SendRequest(content(), eol=datetime(2030, 1, 1))),
            "no time zone",
        ),
        (lambda: build_send_request(SendRequest(content(), node_id="n" * 51)), "allows 50"),
        (lambda: build_send_request(SendRequest(content(), element_id="1bad")), "NCName"),
        (
            lambda: build_send_request(
                full_request(
                    attachments=[
                        MtomAttachment("a", "application/pdf", b""),
                        MtomAttachment("a", "text/plain", b""),
                    ]
                )
            ),
            "used twice",
        ),
        (
            lambda: build_send_request(
                full_request(attachments=[MtomAttachment("SIGNED_BY_CONSUMER", "text/plain", b"")])
            ),
            "used twice",
        ),
        (
            lambda: build_send_request(full_request(attachments=[MtomAttachment("a", "pdf", b"")])),
            "MimeType 'pdf'",
        ),
        (
            lambda: build_send_request(
                full_request(
                    attachments=[FileStoreAttachment("f", "h", "text/plain", file_name="x")]
                ),
                "1.2",
            ),
            "only in the 1.3 schema",
        ),
        (
            lambda: build_send_request(full_request(business_process_metadata=[_biz("x")])),
            "its own namespace",
        ),
        (lambda: build_send_response(SendResponse("to")), "exactly one of"),
        (
            lambda: build_send_response(
                SendResponse("to", content=content(), status=RequestStatus(1, "d"))
            ),
            "exactly one of",
        ),
        (
            lambda: build_send_response(SendResponse("", status=RequestStatus(1, "d"))),
            "To is required",
        ),
        (
            lambda: build_send_response(
                SendResponse(
                    "to",
                    status=RequestStatus(1, "d"),
                    attachments=[MtomAttachment("a", "text/plain", b"")],
                )
            ),
            "only go with content",
        ),
        (
            lambda: build_send_response(
                SendResponse("to", rejections=[Rejection("FAILURE", "d")]), "1.2"
            ),
            "not in the 1.2 schema",
        ),
        (
            lambda: build_send_response(SendResponse("to", status=RequestStatus(2**31, "d"))),
            "xs:int",
        ),
        (lambda: build_get_request(Selector(namespace_uri=BIZ)), "both namespace_uri"),
        (lambda: build_get_request(Selector(BIZ, "a:b")), "NCName"),
        (lambda: build_ack(Ack("not-a-uuid")), "not a lower-case UUID"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(make: object, match: str) -> None:
    with pytest.raises(SmevBuildError, match=match):
        make()  # type: ignore[operator]


def test_signer_must_return_a_signature() -> None:
    with pytest.raises(SmevBuildError, match=r"expected .*Signature"):
        build_ack(Ack(MSG_ID), "1.3", lambda element: etree.Element("NotASignature"))


def test_unknown_version() -> None:
    with pytest.raises(ValueError, match=r"unknown SMEV version '2\.0'"):
        build_get_request(version="2.0")
