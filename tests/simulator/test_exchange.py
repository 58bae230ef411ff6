"""The SMEV simulator's exchange, in process: each rule of FACTS.md, each fault it answers
with, read back by the hub's own SMEV reader; every reply checked against the official
schemas."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from hub.crypto import GostBackend
from hub.crypto.xmldsig import XmlVerifier
from hub.simulator import Exchange, ExchangeConfig, FaultInjection, Quota, ReplyAddress
from hub.smev import (
    Ack,
    MtomAttachment,
    Rejection,
    RequestStatus,
    Selector,
    SendRequest,
    SendResponse,
    SmevMessage,
    StatusQuery,
    build_ack,
    build_get_request,
    build_get_response,
    build_get_status,
    build_send_request,
    build_send_response,
    operation_element,
    raise_for_fault,
    read_message,
    serialize,
)
from hub.smev import faults as f
from hub.smev.signing import sign_envelope
from hub.xml import parse_xml
from tests.support.simulator import (
    SOAP,
    ZAGS_NS,
    FakeClock,
    Party,
    assert_valid_reply,
    birth_request,
    birth_response,
    call,
    make_exchange,
    make_party,
    uuid1_at,
)

pytestmark = pytest.mark.unit

VERSIONS = ("1.1", "1.2", "1.3")
REQUEST_KIND = f"{{{ZAGS_NS}}}ROGDINFRequest"
RESPONSE_KIND = f"{{{ZAGS_NS}}}ROGDINFResponse"


@pytest.fixture(scope="module")
def hub(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "HUB")


@pytest.fixture(scope="module")
def zags(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "ZAGSIS")


@pytest.fixture(scope="module")
def stranger(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "STRANGER")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def exchange(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, clock: FakeClock
) -> Exchange:
    return world(fast_backend, reference_dir, hub, zags, clock)


def world(
    backend: GostBackend,
    reference_dir: Path,
    hub: Party,
    zags: Party,
    clock: FakeClock,
    **config: object,
) -> Exchange:
    """The hub and a ZAGS system that polls like the hub does (its certificate: ``zags``)."""
    settings = ExchangeConfig(xsd_dir=reference_dir / "smev" / "xsd", **config)  # type: ignore[arg-type]
    exchange = make_exchange(backend, reference_dir, (hub, zags), settings, clock)
    exchange.route(ZAGS_NS, zags.mnemonic)
    return exchange


def tc(version: str) -> str | None:
    return "TC-1" if version == "1.2" else None  # 1.2 requires TransactionCode


def send(exchange: Exchange, party: Party, version: str = "1.3", **fields: object) -> SmevMessage:
    content = fields.pop("content", None)
    request = SendRequest(
        content if content is not None else birth_request(),
        transaction_code=tc(version),
        **fields,  # type: ignore[arg-type]
    )
    return call(exchange, build_send_request(request, version, party.signer), version)


def poll(
    exchange: Exchange,
    party: Party,
    version: str = "1.3",
    *,
    responses: bool = False,
    selector: Selector | None = None,
) -> SmevMessage:
    build = build_get_response if responses else build_get_request
    return call(exchange, build(selector or Selector(), version, party.signer), version)


def ack(
    exchange: Exchange, party: Party, message_id: str | None, version: str = "1.3"
) -> SmevMessage:
    return call(exchange, build_ack(Ack(message_id or ""), version, party.signer), version)


def answer(
    exchange: Exchange, party: Party, to: str | None, version: str = "1.3", **fields: object
) -> SmevMessage:
    if not any(k in fields for k in ("content", "rejections", "status")):
        fields["content"] = birth_response()
    response = SendResponse(to or "", **fields)  # type: ignore[arg-type]
    return call(exchange, build_send_response(response, version, party.signer), version)


def fault_of(message: SmevMessage) -> f.SmevFaultError:
    with pytest.raises(f.SmevFaultError) as caught:
        raise_for_fault(message)
    return caught.value


# --- the exchange: request → provider → response → requester ---------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_request_and_response_go_round_with_acks(
    exchange: Exchange, hub: Party, zags: Party, version: str, reference_dir: Path
) -> None:
    xsd = reference_dir / "smev" / "xsd"
    sent = send(exchange, hub, version)
    assert sent.kind == "accepted" and sent.status_category == "requestIsQueued"
    assert_valid_reply(serialize_message(sent), version, xsd)

    request = poll(exchange, zags, version)
    assert request.kind == "request" and request.message_id == sent.message_id
    assert request.content_name == REQUEST_KIND and request.reply_to
    assert request.metadata is not None and request.metadata.sender == hub.mnemonic
    assert_valid_reply(serialize_message(request), version, xsd)
    assert ack(exchange, zags, request.message_id, version).kind == "ack"

    accepted = answer(exchange, zags, request.reply_to, version)
    assert accepted.kind == "accepted"
    response = poll(exchange, hub, version, responses=True)
    assert response.kind == "response" and response.original_message_id == sent.message_id
    assert response.content_name == RESPONSE_KIND and response.message_id == accepted.message_id
    assert_valid_reply(serialize_message(response), version, xsd)
    assert ack(exchange, hub, response.message_id, version).kind == "ack"

    assert poll(exchange, hub, version, responses=True).kind == "empty"
    assert poll(exchange, zags, version).kind == "empty"
    assert exchange.depths()["ZAGSIS"]["requests"] == exchange.depths()["HUB"]["responses"] == 0


def serialize_message(message: SmevMessage) -> bytes:
    return serialize(message.root)


def test_smev_signs_what_it_returns(
    exchange: Exchange, hub: Party, zags: Party, fast_backend: GostBackend
) -> None:
    verifier = XmlVerifier(fast_backend)
    sent = send(exchange, hub)
    request = poll(exchange, zags)
    for message, target in ((sent, "MessageMetadata"), (request, "Request")):
        [report] = verifier.verify_all(message.root)
        assert report.valid and report.reference == "#SIGNED_BY_SMEV"
        assert [etree.QName(e).localname for e in message.signed_elements] == [target]
        assert report.certificate is not None
        assert exchange.certificate is not None
        assert report.certificate.subject == exchange.certificate.subject


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_cancel_reaches_its_requests_recipient_signed_by_smev(  # noqa: PLR0917 - fixtures
    exchange: Exchange,
    hub: Party,
    zags: Party,
    version: str,
    fast_backend: GostBackend,
    reference_dir: Path,
) -> None:
    sent = send(exchange, hub, version)
    request = poll(exchange, zags, version)
    assert ack(exchange, zags, request.message_id, version).kind == "ack"
    cancel_id = exchange.push_cancel(hub.mnemonic, sent.message_id or "")
    assert poll(exchange, zags, "1.3").kind == "empty"  # 1.3 has no Cancel to deliver
    cancel = poll(exchange, zags, version)
    assert (cancel.kind, cancel.message_id, cancel.original_message_id) == (
        "cancel",
        cancel_id,
        sent.message_id,
    )
    assert cancel.metadata is not None and cancel.metadata.sender == hub.mnemonic
    assert_valid_reply(serialize_message(cancel), version, reference_dir / "smev" / "xsd")
    [report] = XmlVerifier(fast_backend).verify_all(cancel.root)
    assert report.valid and [etree.QName(e).localname for e in cancel.signed_elements] == ["Cancel"]
    assert ack(exchange, zags, cancel_id, version).kind == "ack"
    assert poll(exchange, zags, version).kind == "empty"


def test_replies_go_unsigned_when_told(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), sign_replies=False)
    assert send(exchange, hub).signed_elements == ()
    assert poll(exchange, zags).signed_elements == ()


def test_a_request_from_a_13_sender_reaches_a_12_reader_in_12_form(
    exchange: Exchange, hub: Party, zags: Party, reference_dir: Path
) -> None:
    sent = send(exchange, hub, "1.3")
    request = poll(exchange, zags, "1.2")
    assert request.version == "1.2" and request.message_id == sent.message_id
    assert request.reference_message_id == sent.message_id  # the chain's root: itself
    assert_valid_reply(serialize_message(request), "1.2", reference_dir / "smev" / "xsd")


def test_rejections_and_business_statuses_are_answers_too(
    exchange: Exchange, hub: Party, zags: Party
) -> None:
    send(exchange, hub)
    request = poll(exchange, zags)
    answer(exchange, zags, request.reply_to, status=RequestStatus(3, "В работе", (("k", "v"),)))
    answer(exchange, zags, request.reply_to, rejections=(Rejection("NO_DATA", "Нет сведений"),))
    status = poll(exchange, hub, responses=True)
    assert status.kind == "status" and status.request_status == RequestStatus(
        3, "В работе", (("k", "v"),)
    )
    ack(exchange, hub, status.message_id)
    rejected = poll(exchange, hub, responses=True)
    assert rejected.kind == "rejected" and rejected.rejection == Rejection(
        "NO_DATA", "Нет сведений"
    )
    assert rejected.original_message_id == status.original_message_id


def test_attachments_travel_with_the_request(exchange: Exchange, hub: Party, zags: Party) -> None:
    attachment = MtomAttachment("scan-1", "application/pdf", b"%PDF-1.4 scan")
    send(exchange, hub, attachments=(attachment,))
    request = poll(exchange, zags)
    [received] = request.attachments
    assert (received.kind, received.id, received.size) == ("mtom", "scan-1", 13)


# --- selectors -----------------------------------------------------------------------


def test_selector_picks_by_qualified_name_of_the_business_root(
    exchange: Exchange, hub: Party, zags: Party
) -> None:
    send(exchange, hub)
    other = Selector(ZAGS_NS, "ROGDINFResponse")
    assert poll(exchange, zags, selector=other).kind == "empty"
    found = poll(exchange, zags, selector=Selector(ZAGS_NS, "ROGDINFRequest"))
    assert found.kind == "request"


def test_response_selector_matches_the_answer_or_its_request(
    exchange: Exchange, hub: Party, zags: Party
) -> None:
    for _ in range(2):
        send(exchange, hub)
        answer(exchange, zags, poll(exchange, zags).reply_to)
    by_answer = poll(exchange, hub, responses=True, selector=Selector(ZAGS_NS, "ROGDINFResponse"))
    by_request = poll(exchange, hub, responses=True, selector=Selector(ZAGS_NS, "ROGDINFRequest"))
    assert by_answer.kind == by_request.kind == "response"
    assert by_answer.message_id != by_request.message_id


def test_a_response_goes_to_the_node_that_sent_the_request(
    exchange: Exchange, hub: Party, zags: Party
) -> None:
    send(exchange, hub, node_id="node-1")
    answer(exchange, zags, poll(exchange, zags).reply_to)
    assert poll(exchange, hub, responses=True, selector=Selector(node_id="node-2")).kind == "empty"
    found = poll(exchange, hub, responses=True, selector=Selector(node_id="node-1"))
    assert found.kind == "response"


def test_a_poller_without_node_gets_every_node(exchange: Exchange, hub: Party, zags: Party) -> None:
    send(exchange, hub, node_id="node-1")
    answer(exchange, zags, poll(exchange, zags).reply_to)
    assert poll(exchange, hub, responses=True).kind == "response"


def test_selector_for_a_kind_the_caller_does_not_serve_is_unknown_message_type(
    exchange: Exchange, hub: Party
) -> None:
    error = fault_of(poll(exchange, hub, selector=Selector(ZAGS_NS, "ROGDINFRequest")))
    assert isinstance(error, f.UnknownMessageTypeError)
    unknown = Selector("urn:unknown", "Anything")
    assert isinstance(
        fault_of(poll(exchange, hub, responses=True, selector=unknown)), f.UnknownMessageTypeError
    )


# --- Ack and the visibility timeout --------------------------------------------------


def test_an_unacked_message_comes_again_after_the_visibility_timeout(
    exchange: Exchange, hub: Party, zags: Party, clock: FakeClock
) -> None:
    send(exchange, hub)
    first = poll(exchange, zags)
    clock.advance(exchange.config.visibility_timeout - 1)
    assert poll(exchange, zags).kind == "empty"  # still in flight
    clock.advance(2)
    again = poll(exchange, zags)
    assert again.message_id == first.message_id
    assert serialize(again.root) == serialize(first.root)  # the same signed delivery
    assert ack(exchange, zags, again.message_id).kind == "ack"
    clock.advance(exchange.config.visibility_timeout * 2)
    assert poll(exchange, zags).kind == "empty"


def test_redelivery_keeps_the_order_of_the_queue(
    exchange: Exchange, hub: Party, zags: Party, clock: FakeClock
) -> None:
    first, second = send(exchange, hub), send(exchange, hub)
    assert poll(exchange, zags).message_id == first.message_id
    clock.advance(exchange.config.visibility_timeout + 1)
    assert [poll(exchange, zags).message_id for _ in range(2)] == [
        first.message_id,
        second.message_id,
    ]


def test_ack_after_the_timeout_but_before_redelivery_still_counts(
    exchange: Exchange, hub: Party, zags: Party, clock: FakeClock
) -> None:
    send(exchange, hub)
    taken = poll(exchange, zags)
    clock.advance(exchange.config.visibility_timeout + 1)
    send(exchange, hub)  # something else happens meanwhile
    assert ack(exchange, zags, taken.message_id).kind == "ack"
    assert poll(exchange, zags).message_id != taken.message_id


def test_acking_twice_an_unknown_or_someone_elses_message_is_target_not_found(
    exchange: Exchange, hub: Party, zags: Party, reference_dir: Path
) -> None:
    send(exchange, hub)
    taken = poll(exchange, zags)
    foreign = fault_of(ack(exchange, hub, taken.message_id))
    assert isinstance(foreign, f.TargetMessageIsNotFoundError)
    ack(exchange, zags, taken.message_id)
    twice = ack(exchange, zags, taken.message_id)
    error = fault_of(twice)
    assert isinstance(error, f.TargetMessageIsNotFoundError)
    assert error.fault.smev_error == "SMEV-501"
    assert_valid_reply(serialize_message(twice), "1.3", reference_dir / "smev" / "xsd")
    never = fault_of(ack(exchange, zags, str(uuid.uuid1())))
    assert isinstance(never, f.TargetMessageIsNotFoundError)


def test_a_message_that_was_never_handed_out_cannot_be_acked(
    exchange: Exchange, hub: Party, zags: Party
) -> None:
    sent = send(exchange, hub)
    assert isinstance(
        fault_of(ack(exchange, zags, sent.message_id)), f.TargetMessageIsNotFoundError
    )
    assert poll(exchange, zags).message_id == sent.message_id


# --- signatures ----------------------------------------------------------------------


def signature_fault(message: SmevMessage) -> str | None:
    error = fault_of(message)
    assert isinstance(error, f.SignatureVerificationFaultError)
    assert error.fault.smev_error == "SMEV-100" and error.faultcode == "soap:Server"
    return error.sub_type


def test_an_unsigned_message_gets_no_signature_found(
    exchange: Exchange, reference_dir: Path
) -> None:
    unsigned = call(exchange, build_send_request(SendRequest(birth_request())))
    assert signature_fault(unsigned) == "NoSignatureFound"
    assert_valid_reply(serialize_message(unsigned), "1.3", reference_dir / "smev" / "xsd")
    assert exchange.depths()["ZAGSIS"]["requests"] == 0


def test_a_changed_signed_value_is_signature_is_invalid(exchange: Exchange, hub: Party) -> None:
    envelope = build_send_request(SendRequest(birth_request()), "1.3", hub.signer)
    surname = next(e for e in envelope.iter() if etree.QName(e).localname == "Фамилия")
    surname.text = "Петров"
    assert signature_fault(call(exchange, envelope)) == "SignatureIsInvalid"


def test_a_signature_over_something_else_is_incorrect_signature_target(
    exchange: Exchange, hub: Party
) -> None:
    envelope = build_send_request(SendRequest(birth_request()), "1.3", hub.signer)
    data = operation_element(envelope)[0]
    data.set("Id", "ANOTHER")  # the signature still names the old Id
    assert signature_fault(call(exchange, envelope)) == "IncorrectSignatureTarget"


def test_an_envelope_without_header_is_poor_soap_envelope_format(
    exchange: Exchange, hub: Party
) -> None:
    envelope = build_send_request(SendRequest(birth_request()), "1.3", hub.signer)
    envelope.remove(envelope.find(f"{{{SOAP}}}Header"))
    assert signature_fault(call(exchange, envelope)) == "PoorSOAPEnvelopeFormat"


def test_an_expired_certificate_is_certificate_is_expired(
    exchange: Exchange, hub: Party, clock: FakeClock
) -> None:
    clock.advance(timedelta(days=400).total_seconds())
    envelope = build_get_request(Selector(), "1.3", hub.signer)
    assert signature_fault(call(exchange, envelope)) == "CertificateIsExpired"


def test_a_signature_without_certificate_is_certificate_is_not_found(
    exchange: Exchange, hub: Party
) -> None:
    envelope = build_get_request(Selector(), "1.3", hub.signer)
    key_info = next(e for e in envelope.iter() if etree.QName(e).localname == "KeyInfo")
    key_info.getparent().remove(key_info)
    assert signature_fault(call(exchange, envelope)) == "CertificateIsNotFound"


def test_an_unknown_certificate_is_sender_is_not_registered(
    exchange: Exchange, stranger: Party
) -> None:
    error = fault_of(poll(exchange, stranger))
    assert isinstance(error, f.SenderIsNotRegisteredError)


def test_open_registration_takes_any_validly_signed_caller(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, stranger: Party
) -> None:
    exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), open_registration=True)
    assert send(exchange, stranger).kind == "accepted"
    assert poll(exchange, zags).metadata.sender.startswith("IS")  # type: ignore[union-attr]


def test_verification_can_be_turned_off_but_the_certificate_still_names_the_caller(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), verify_signatures=False)
    envelope = build_send_request(SendRequest(birth_request()), "1.3", hub.signer)
    next(e for e in envelope.iter() if etree.QName(e).localname == "Фамилия").text = "Петров"
    assert call(exchange, envelope).kind == "accepted"
    unsigned = call(exchange, build_get_request(Selector(), "1.3"))
    assert signature_fault(unsigned) == "NoSignatureFound"


# --- MessageID -----------------------------------------------------------------------


def send_with_id(exchange: Exchange, party: Party, message_id: str) -> SmevMessage:
    envelope = build_send_request(SendRequest(birth_request()))
    operation_element(envelope)[0][0].text = message_id
    return call(exchange, sign_envelope(envelope, party.signer))


@pytest.mark.parametrize(
    "message_id",
    ["not-a-uuid", str(uuid.uuid4()), str(uuid.uuid1()).upper()],
    ids=["garbage", "version-4", "upper-case"],
)
def test_anything_but_a_lower_case_uuid1_is_invalid_message_id_format(
    exchange: Exchange, hub: Party, message_id: str
) -> None:
    error = fault_of(send_with_id(exchange, hub, message_id))
    assert isinstance(error, f.InvalidMessageIdFormatError)


def test_a_message_id_older_than_two_days_is_stale(
    exchange: Exchange, hub: Party, clock: FakeClock
) -> None:
    old = uuid1_at(clock.now - timedelta(days=2, minutes=1))
    assert isinstance(fault_of(send_with_id(exchange, hub, old)), f.StaleMessageIdError)
    recent = uuid1_at(clock.now - timedelta(days=1, hours=23))
    assert send_with_id(exchange, hub, recent).kind == "accepted"


def test_a_resent_message_is_already_sent_and_queued_once(
    exchange: Exchange, hub: Party, zags: Party, reference_dir: Path
) -> None:
    body = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
    assert exchange.handle(body, "1.3").status == 200
    again = exchange.handle(body, "1.3")
    message = read_message(again.body)
    error = fault_of(message)
    assert isinstance(error, f.MessageIsAlreadySentError)
    assert error.fault.action is f.FaultAction.TREAT_AS_SENT
    assert_valid_reply(again.body, "1.3", reference_dir / "smev" / "xsd")
    assert exchange.depths()["ZAGSIS"]["requests"] == 1


def test_a_reused_message_id_with_other_content_is_already_sent(
    exchange: Exchange, hub: Party
) -> None:
    message_id = str(uuid.uuid1())
    first = SendRequest(birth_request("Иванова"), message_id=message_id)
    second = SendRequest(birth_request("Петрова"), message_id=message_id)
    assert call(exchange, build_send_request(first, "1.3", hub.signer)).kind == "accepted"
    resent = call(exchange, build_send_request(second, "1.3", hub.signer))
    assert isinstance(fault_of(resent), f.MessageIsAlreadySentError)


def test_responses_are_checked_the_same_way(exchange: Exchange, hub: Party, zags: Party) -> None:
    send(exchange, hub)
    request = poll(exchange, zags)
    response = build_send_response(
        SendResponse(request.reply_to or "", birth_response()), "1.3", zags.signer
    )
    body = serialize(response)
    assert exchange.handle(body, "1.3").status == 200
    assert isinstance(
        fault_of(read_message(exchange.handle(body, "1.3").body)), f.MessageIsAlreadySentError
    )


# --- what SMEV refuses at once -------------------------------------------------------


def test_an_envelope_that_breaks_the_smev_schema_is_invalid_content(
    exchange: Exchange, hub: Party, reference_dir: Path
) -> None:
    envelope = build_send_request(SendRequest(birth_request(), transaction_code="TC"), "1.2")
    data = operation_element(envelope)[0]
    data.remove(data[3])  # MessagePrimaryContent, required by every version and by SMEV
    message = call(exchange, sign_envelope(envelope, hub.signer), "1.2")
    error = fault_of(message)
    assert isinstance(error, f.InvalidContentError)
    assert (
        error.fault.validation_errors
        and "MessagePrimaryContent" in error.fault.validation_errors[0].message
    )
    assert_valid_reply(serialize_message(message), "1.2", reference_dir / "smev" / "xsd")


@pytest.mark.parametrize("kept", [(), ("ReferenceMessageID",)], ids=["neither", "reference-only"])
def test_a_1_2_request_without_the_chain_fields_is_taken_as_real_smev_takes_it(
    exchange: Exchange, hub: Party, zags: Party, kept: tuple[str, ...]
) -> None:
    # The published 1.2 schema requires ReferenceMessageID and TransactionCode; genuine 1.2
    # traffic that SMEV accepts carries neither (FACTS.md).
    reference = str(uuid.uuid1()) if kept else None
    request = SendRequest(birth_request(), reference_message_id=reference)
    envelope = build_send_request(request, "1.2", hub.signer)
    data = operation_element(envelope)[0]
    assert [etree.QName(e).localname for e in data] == ["MessageID", *kept, "MessagePrimaryContent"]
    accepted = call(exchange, envelope, "1.2")
    assert accepted.kind == "accepted", accepted.fault
    delivered = poll(exchange, zags, "1.2")
    assert delivered.kind == "request" and delivered.transaction_code is None


def test_an_unregistered_kind_of_request_is_business_data_type_is_not_supported(
    exchange: Exchange, hub: Party, reference_dir: Path
) -> None:
    content = etree.Element("{urn:nobody}Query")
    message = send(exchange, hub, content=content)
    error = fault_of(message)
    assert isinstance(error, f.BusinessDataTypeIsNotSupportedError)
    assert error.fault.extra == {
        "RootElementLocalName": "Query",
        "RootElementNamespaceURI": "urn:nobody",
    }
    assert_valid_reply(serialize_message(message), "1.3", reference_dir / "smev" / "xsd")


def test_a_response_to_an_address_smev_never_gave_is_recipient_is_not_found(
    exchange: Exchange, zags: Party
) -> None:
    for to in ("eyJub3QiOiAiU01FViJ9", ReplyAddress("NOBODY", str(uuid.uuid1())).encode()):
        assert isinstance(fault_of(answer(exchange, zags, to)), f.RecipientIsNotFoundError)


def test_a_request_past_its_end_of_life_is_refused(
    exchange: Exchange, hub: Party, clock: FakeClock
) -> None:
    error = fault_of(send(exchange, hub, eol=clock.now - timedelta(minutes=1)))
    assert isinstance(error, f.EndOfLifeReachedError)
    assert send(exchange, hub, eol=clock.now + timedelta(hours=1)).kind == "accepted"


def test_a_call_that_is_not_a_smev_message_of_the_endpoint_is_a_plain_client_fault(
    exchange: Exchange, hub: Party
) -> None:
    other_version = serialize(build_get_request(Selector(), "1.2", hub.signer))
    for body in (b"<not-closed", b"<a/>", other_version):
        reply = exchange.handle(body, "1.3")
        message = read_message(reply.body)
        assert reply.status == 500 and message.fault is not None
        assert message.fault.type == "Unknown" and message.fault.faultcode == "soap:Client"


# --- asynchronous rejection (SMEV-403) -----------------------------------------------


def test_a_request_that_breaks_its_registered_schema_is_rejected_into_the_response_queue(
    exchange: Exchange, hub: Party, zags: Party, reference_dir: Path
) -> None:
    content = birth_request("Иванов")
    content.set("КолДок", "много")  # not a number: the ZAGS schema says no
    sent = send(exchange, hub, content=content)
    assert sent.kind == "accepted"  # taken, then rejected asynchronously
    assert poll(exchange, zags).kind == "empty"
    rejection = poll(exchange, hub, responses=True)
    assert rejection.kind == "async_status" and rejection.signed_by_smev_async
    assert rejection.original_message_id == sent.message_id
    assert rejection.status_category == "requestIsRejectedBySmev"
    assert rejection.fault is not None and rejection.fault.type == "InvalidContent"
    assert rejection.fault.smev_error == "SMEV-403"
    assert "много" not in etree.tostring(rejection.root, encoding="unicode")  # masked
    assert_valid_reply(serialize_message(rejection), "1.3", reference_dir / "smev" / "xsd")
    assert ack(exchange, hub, rejection.message_id).kind == "ack"


def test_a_response_that_breaks_its_schema_is_rejected_to_its_sender_only(
    exchange: Exchange, hub: Party, zags: Party
) -> None:
    send(exchange, hub)
    request = poll(exchange, zags)
    bad = birth_response()
    bad.set("КолДок", "много")
    accepted = answer(exchange, zags, request.reply_to, content=bad)
    assert accepted.kind == "accepted"
    assert poll(exchange, hub, responses=True).kind == "empty"
    rejection = poll(exchange, zags, responses=True)
    assert rejection.kind == "async_status" and rejection.original_message_id == accepted.message_id
    assert rejection.status_category == "responseIsRejectedBySmev"


# --- quotas --------------------------------------------------------------------------


def _scan(name: str, size: int) -> dict[str, object]:
    return {"attachments": (MtomAttachment(name, "application/pdf", b"%" * size),)}


def test_an_attachment_quota_drops_a_message_whose_attachments_exceed_it(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, clock: FakeClock
) -> None:
    # The faults XSD: the total size of the attachments exceeded the quota left; SMEV drops
    # the message. A size quota, not a rate: a message without attachments always fits.
    quotas = {ZAGS_NS: Quota(total_bytes=100, period=60)}
    exchange = world(fast_backend, reference_dir, hub, zags, clock, quotas=quotas)
    assert send(exchange, hub, **_scan("a1", 60)).kind == "accepted"
    over = send(exchange, hub, **_scan("a2", 60))
    error = fault_of(over)
    assert isinstance(error, f.QuoteLimitExceededError) and not error.retryable
    assert error.fault.extra == {"RemainedTotalQuoteSize": "40", "RealTotalAttachmentSize": "60"}
    assert_valid_reply(serialize_message(over), "1.3", reference_dir / "smev" / "xsd")
    assert [send(exchange, hub).kind for _ in range(5)] == ["accepted"] * 5
    assert send(exchange, hub, **_scan("a3", 40)).kind == "accepted"  # what is left fits
    request = poll(exchange, zags)
    assert answer(exchange, zags, request.reply_to).kind == "accepted"  # another sender's quota
    clock.advance(60)
    assert send(exchange, hub, **_scan("a4", 100)).kind == "accepted"


def test_a_dropped_message_is_never_delivered(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, clock: FakeClock
) -> None:
    exchange = world(fast_backend, reference_dir, hub, zags, clock, quotas={"*": Quota(10, 60)})
    dropped = send(exchange, hub, **_scan("a1", 11))
    assert isinstance(fault_of(dropped), f.QuoteLimitExceededError)
    assert poll(exchange, zags).kind == "empty"


# --- GetStatus -----------------------------------------------------------------------


def test_get_status_tells_what_happened_to_the_callers_messages(
    exchange: Exchange, hub: Party, zags: Party, reference_dir: Path
) -> None:
    sent = send(exchange, hub)
    ack(exchange, zags, poll(exchange, zags).message_id)
    seen = []
    for version in ("1.3", "1.2"):
        status = call(exchange, build_get_status(StatusQuery(), version, hub.signer), version)
        assert status.kind == "status" and status.original_message_id == sent.message_id
        assert_valid_reply(serialize_message(status), version, reference_dir / "smev" / "xsd")
        seen.append(status.status_category)
    assert seen == [
        "requestIsAcceptedBySmev",
        "responseIsDelivered",
    ]  # 1.2 has no messageIsDelivered
    empty = call(exchange, build_get_status(StatusQuery(), "1.3", hub.signer))
    assert empty.kind == "empty"


# --- fault injection -----------------------------------------------------------------


def test_injected_smev_failure_changes_nothing(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    faults = FaultInjection(failure_rate=1.0)
    exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), faults=faults)
    error = fault_of(send(exchange, hub))
    assert isinstance(error, f.SmevFailureError) and error.retryable
    assert exchange.depths()["ZAGSIS"]["requests"] == 0


def test_injected_failures_are_the_same_for_the_same_seed(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    body = serialize(build_get_request(Selector(), "1.3", zags.signer))

    def pattern(seed: int) -> list[int]:
        faults = FaultInjection(failure_rate=0.5, seed=seed)
        exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), faults=faults)
        return [exchange.handle(body, "1.3").status for _ in range(24)]

    assert pattern(7) == pattern(7)
    assert set(pattern(7)) == {200, 500}
    assert pattern(7) != pattern(8)


def test_duplicate_delivery_hands_a_message_out_once_more_after_its_ack(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    faults = FaultInjection(duplicate_rate=1.0)
    exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), faults=faults)
    sent = send(exchange, hub)
    deliveries = []
    for _ in range(3):
        message = poll(exchange, zags)
        deliveries.append(message.message_id)
        if message.kind == "request":
            ack(exchange, zags, message.message_id)
    assert deliveries == [sent.message_id, sent.message_id, None]


# --- agencies inside the simulator ---------------------------------------------------


class Registry:
    """A ZAGS emulator: answers every request at once, remembers what reaches it."""

    def __init__(self, answer: object = "content") -> None:
        self.answer = answer
        self.requests: list[SmevMessage] = []
        self.responses: list[SmevMessage] = []

    def on_request(self, request: SmevMessage) -> etree._Element | Rejection | None:
        self.requests.append(request)
        if self.answer == "content":
            return birth_response()
        if self.answer == "fail":
            raise RuntimeError("the emulator broke")
        return None if self.answer is None else Rejection("NO_DATA", "Нет сведений")

    def on_response(self, response: SmevMessage) -> None:
        self.responses.append(response)


@pytest.fixture
def agency_world(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, clock: FakeClock
) -> Exchange:
    exchange = make_exchange(fast_backend, reference_dir, (hub,), clock=clock)
    exchange.route("urn://x-artefacts-zags-rogdzp/root/112-23/4.0.1", "HUB")
    return exchange


def test_an_attached_agency_answers_at_once(agency_world: Exchange, hub: Party) -> None:
    registry = Registry()
    agency_world.attach("ZAGS", registry)
    sent = send(agency_world, hub)
    [request] = registry.requests
    assert request.kind == "request" and request.message_id == sent.message_id
    assert request.content_name == REQUEST_KIND
    response = poll(agency_world, hub, responses=True)
    assert response.kind == "response" and response.original_message_id == sent.message_id
    assert response.metadata is not None and response.metadata.sender == "ZAGS"


def test_an_agency_may_answer_later(agency_world: Exchange, hub: Party) -> None:
    registry = Registry(answer=None)
    agency_world.attach("ZAGS", registry)
    send(agency_world, hub)
    assert poll(agency_world, hub, responses=True).kind == "empty"
    agency_world.respond("ZAGS", registry.requests[0].reply_to or "", RequestStatus(1, "Принято"))
    assert poll(agency_world, hub, responses=True).kind == "status"


def test_an_agency_that_breaks_does_not_break_smev(agency_world: Exchange, hub: Party) -> None:
    agency_world.attach("ZAGS", Registry(answer="fail"))
    assert send(agency_world, hub).kind == "accepted"
    assert poll(agency_world, hub, responses=True).kind == "empty"


def test_an_agency_pushes_a_request_and_gets_the_answer(agency_world: Exchange, hub: Party) -> None:
    registry = Registry()
    agency_world.attach("ZAGS", registry)
    notice = etree.Element("{urn://x-artefacts-zags-rogdzp/root/112-23/4.0.1}Notice")
    pushed = agency_world.push_request("ZAGS", notice)
    request = poll(agency_world, hub)
    assert request.message_id == pushed and request.metadata is not None
    assert request.metadata.sender == "ZAGS"
    answer(agency_world, hub, request.reply_to, rejections=(Rejection("NO_DATA", "нет"),))
    [response] = registry.responses
    assert response.kind == "rejected" and response.original_message_id == pushed


def test_an_agencys_schema_breaking_answer_comes_back_to_it(
    agency_world: Exchange, hub: Party
) -> None:
    registry = Registry(answer=None)
    agency_world.attach("ZAGS", registry)
    send(agency_world, hub)
    bad = birth_response()
    bad.set("КолДок", "много")
    agency_world.respond("ZAGS", registry.requests[0].reply_to or "", bad)
    [rejection] = registry.responses
    assert rejection.kind == "async_status" and rejection.fault is not None
    assert rejection.fault.smev_error == "SMEV-403"
    assert poll(agency_world, hub, responses=True).kind == "empty"


# --- small parts ---------------------------------------------------------------------


def test_reply_address_round_trips_and_refuses_strangers() -> None:
    address = ReplyAddress("HUB", str(uuid.uuid1()), "n-1", None, "TC", REQUEST_KIND)
    assert ReplyAddress.decode(address.encode()) == address
    for text in (None, "", "not base64!", "eyJ4IjoxfQ==", "WzFd"):
        assert ReplyAddress.decode(text) is None


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        FaultInjection(failure_rate=1.5)
    with pytest.raises(ValueError, match="quota"):
        Quota(total_bytes=1, period=0)
    with pytest.raises(Exception, match="verifier"):
        Exchange(verifier=None, signer=None)
    config = ExchangeConfig(quotas={"*": Quota(1, 1), ZAGS_NS: Quota(5, 1)})
    assert config.quota_for(ZAGS_NS) == Quota(5, 1)
    assert config.quota_for("urn:other") == Quota(1, 1)
    assert replace(config, quotas={}).quota_for("urn:other") is None


def test_unknown_systems_are_a_configuration_error(exchange: Exchange) -> None:
    with pytest.raises(Exception, match="NOBODY"):
        exchange.route("urn:x", "NOBODY")
    with pytest.raises(Exception, match="NOBODY"):
        exchange.push_request("NOBODY", birth_request())


def test_replies_parse_with_the_hardened_parser(exchange: Exchange, hub: Party) -> None:
    reply = exchange.handle(serialize(build_get_request(Selector(), "1.3", hub.signer)), "1.3")
    assert parse_xml(reply.body).tag == f"{{{SOAP}}}Envelope"
