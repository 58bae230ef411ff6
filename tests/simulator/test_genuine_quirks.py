"""The simulator's ``Quirks``, each held against SMEV's genuine captures
(``../shared/smev/samples``): the simulator must write the same element structure, and the
hub's reader and trust policy must take it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from hub.crypto import GostBackend
from hub.crypto.xmldsig import DS_NS, XmlVerifier
from hub.services.trust import TrustPolicy
from hub.simulator import Exchange, ExchangeConfig, FaultInjection, MtomIds, Quirks
from hub.simulator.exchange import PLAIN_FAULT
from hub.smev import SmevMessage, build_get_status, read_message
from hub.smev import faults as f
from hub.xml import parse_xml
from tests.simulator.test_exchange import ack, answer, fault_of, poll, send, world
from tests.support.simulator import (
    FakeClock,
    Party,
    birth_request,
    birth_response,
    call,
    make_party,
)

pytestmark = pytest.mark.unit

ASYNC_REJECTED = "get-response-async-rejected-1.2.xml"
SIGNATURE_FAULT = "fault-signature-verification-1.2.xml"
# The test's 1.2 requests carry TransactionCode and ReferenceMessageID (the hub's build
# still requires them for 1.2), so SMEV names them in the Response; the genuine one had none.
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CHAIN_IDS = {"OriginalTransactionCode", "ReferenceMessageID"}


@pytest.fixture(scope="module")
def hub(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "HUB")


@pytest.fixture(scope="module")
def zags(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "ZAGSIS")


def quirky(
    backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, **quirks: bool
) -> Exchange:
    """The hub and a polling ZAGS, with the ``quirks`` named."""
    return world(backend, reference_dir, hub, zags, FakeClock(), quirks=Quirks(**quirks))


def shape(element: etree._Element) -> tuple[object, ...]:
    """Local names, nested, repeats of a name collapsed; a ds:Signature is one leaf."""
    name = etree.QName(element).localname
    if etree.QName(element).namespace == DS_NS:
        return (name,)
    children: list[tuple[object, ...]] = []
    for item in element:
        if isinstance(item.tag, str) and (not children or children[-1][0] != _name(item)):
            children.append(shape(item))
    return (name, tuple(children))


def _name(element: etree._Element) -> str:
    return etree.QName(element).localname


def without(element: etree._Element, names: set[str]) -> etree._Element:
    """A copy of ``element`` without the elements ``names`` (the original stays signed)."""
    element = copy.deepcopy(element)
    for item in [e for e in element.iter() if isinstance(e.tag, str) and _name(e) in names]:
        item.getparent().remove(item)  # type: ignore[union-attr]
    return element


def genuine(samples: Path, name: str, path: str) -> etree._Element:
    found = parse_xml((samples / name).read_bytes()).find(path)
    assert found is not None
    return found


def trusted_by(exchange: Exchange, backend: GostBackend) -> TrustPolicy:
    assert exchange.certificate is not None
    return TrustPolicy(XmlVerifier(backend), frozenset({exchange.certificate.sha256}))


def signer_subject(message: SmevMessage, holder: str, backend: GostBackend) -> str:
    signature = message.root.find(f".//{{*}}{holder}/{{{DS_NS}}}Signature")
    assert signature is not None
    report = XmlVerifier(backend).verify(signature, datetime.now(UTC))
    assert report.valid and report.certificate is not None
    return report.certificate.subject


def test_smevs_async_rejection_has_the_genuine_shape_and_the_hub_trusts_it(
    fast_backend: GostBackend, reference_dir: Path, smev_samples_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(
        fast_backend,
        reference_dir,
        hub,
        zags,
        sender_signatures=True,
        smev_codes=True,
        delivery_metadata=True,
        newer_statuses=True,
    )
    content = birth_request()
    content.set("КолДок", "много")  # breaks the registered schema: SMEV-403
    sent = send(exchange, hub, "1.2", content=content)
    rejection = poll(exchange, hub, "1.2", responses=True)

    ours = without(rejection.root.find(".//{*}ResponseMessage"), CHAIN_IDS)  # type: ignore[arg-type]
    assert shape(ours) == shape(genuine(smev_samples_dir, ASYNC_REJECTED, ".//{*}ResponseMessage"))
    assert signer_subject(rejection, "SenderInformationSystemSignature", fast_backend) == (
        exchange.certificate.subject  # type: ignore[union-attr]
    )
    trusted_by(exchange, fast_backend).check(rejection, datetime.now(UTC))
    smev_fault = rejection.root.find(".//{*}SmevFault")
    assert smev_fault is not None and smev_fault.get(XSI_TYPE) == "ns3:InvalidContent"
    assert rejection.fault is not None and rejection.fault.type == "InvalidContent"
    assert rejection.fault.code and rejection.fault.code.startswith("tsmev3:P:")
    assert rejection.fault.smev_error == "SMEV-403" and rejection.fault.validation_errors
    assert rejection.original_message_id == sent.message_id
    assert ack(exchange, hub, rejection.message_id, "1.2").kind == "ack"


def test_the_senders_signature_comes_inside_request_and_response(
    fast_backend: GostBackend, reference_dir: Path, smev_samples_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(
        fast_backend, reference_dir, hub, zags, sender_signatures=True, delivery_metadata=True
    )
    send(exchange, hub, "1.2")
    request = poll(exchange, zags, "1.2")
    assert _name(request.root.find(".//{*}Request")[-1]) == "SenderInformationSystemSignature"  # type: ignore[index]
    assert signer_subject(request, "SenderInformationSystemSignature", fast_backend) == (
        hub.certificate.subject
    )
    trusted_by(exchange, fast_backend).check(request, datetime.now(UTC))
    ack(exchange, zags, request.message_id, "1.2")

    answer(exchange, zags, request.reply_to, "1.2")
    response = poll(exchange, hub, "1.2", responses=True)
    ours = without(response.root.find(".//{*}Response"), CHAIN_IDS)  # type: ignore[arg-type]
    theirs = genuine(smev_samples_dir, ASYNC_REJECTED, ".//{*}Response")
    # The same parts in the same order (the data inside differs: content, not a rejection).
    assert [_name(e) for e in ours] == [_name(e) for e in theirs]
    assert shape(ours.find("{*}MessageMetadata")) == shape(theirs.find("{*}MessageMetadata"))  # type: ignore[arg-type]
    assert signer_subject(response, "SenderInformationSystemSignature", fast_backend) == (
        zags.certificate.subject
    )
    trusted_by(exchange, fast_backend).check(response, datetime.now(UTC))


def test_an_agency_inside_the_simulator_signs_with_its_own_key_in_any_version(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(fast_backend, reference_dir, hub, zags, sender_signatures=True)
    send(exchange, hub, "1.3")
    request = poll(exchange, zags, "1.3")
    exchange.respond("ZAGS", request.reply_to or "", birth_response(), version="1.3")
    response = poll(exchange, hub, "1.2", responses=True)  # moved to 1.2's namespaces
    signer = signer_subject(response, "SenderInformationSystemSignature", fast_backend)
    assert "ЕГР ЗАГС" in signer  # the agency's name, as registered
    trusted_by(exchange, fast_backend).check(response, datetime.now(UTC))


def test_without_the_quirk_no_sender_signature_is_delivered(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(fast_backend, reference_dir, hub, zags)
    send(exchange, hub)
    assert poll(exchange, zags).root.find(".//{*}SenderInformationSystemSignature") is None


def test_a_soap_fault_has_smevs_code_string_as_in_the_genuine_capture(
    fast_backend: GostBackend, reference_dir: Path, smev_samples_dir: Path, hub: Party, zags: Party
) -> None:
    clock = FakeClock()
    config = ExchangeConfig(quirks=Quirks(smev_codes=True))
    old = make_party(fast_backend, "OLD", days=1)  # valid until about now
    exchange = world(fast_backend, reference_dir, hub, old, clock, quirks=config.quirks)
    clock.advance(3600)
    refused = send(exchange, old, "1.2")
    ours = refused.root.find(".//{*}Fault")
    assert ours is not None
    assert shape(ours) == shape(genuine(smev_samples_dir, SIGNATURE_FAULT, ".//{*}Fault"))
    error = fault_of(refused)
    assert isinstance(error, f.SignatureVerificationFaultError)
    assert error.fault.sub_type == "CertificateIsExpired" and error.fault.smev_error == "SMEV-100"
    assert (error.fault.code or "").startswith("tsmev3:PRODUCTION_AREA:")


def test_1_2_replies_carry_1_3_statuses_as_real_smev_writes_them(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(
        fast_backend, reference_dir, hub, zags, newer_statuses=True, delivery_metadata=True
    )
    send(exchange, hub, "1.2")
    request = poll(exchange, zags, "1.2")
    assert request.metadata is not None and request.metadata.status == "messageIsDelivered"
    ack(exchange, zags, request.message_id, "1.2")
    statuses = list(_statuses(exchange, hub, "1.2"))
    assert "messageIsDelivered" in statuses  # 1.3's name; 1.2's schema knows none such
    bad = birth_response()
    bad.set("КолДок", "много")
    answer(exchange, zags, request.reply_to, "1.2", content=bad)
    assert "responseIsRejectedBySmev" in list(_statuses(exchange, zags, "1.2"))


def test_without_the_quirk_1_2_gets_its_own_status_names(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(fast_backend, reference_dir, hub, zags, delivery_metadata=True)
    send(exchange, hub, "1.2")
    request = poll(exchange, zags, "1.2")
    assert request.metadata is not None and request.metadata.status == "responseIsDelivered"


def _statuses(exchange: Exchange, party: Party, version: str) -> Iterator[str | None]:
    """Every status waiting for ``party``, read through GetStatus."""
    while True:
        status = call(exchange, build_get_status(version=version, signer=party.signer), version)
        if status.kind == "empty":
            return
        yield status.status_category


def test_a_delivery_says_when_it_was_delivered(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    clock = FakeClock()
    exchange = world(
        fast_backend, reference_dir, hub, zags, clock, quirks=Quirks(delivery_metadata=True)
    )
    send(exchange, hub, "1.3")
    clock.advance(90)
    request = poll(exchange, zags, "1.3")
    assert request.metadata is not None and request.metadata.delivery_timestamp
    delivered = datetime.fromisoformat(request.metadata.delivery_timestamp)
    assert delivered == clock.now.replace(microsecond=clock.now.microsecond // 1000 * 1000)
    assert request.metadata.sending_timestamp != request.metadata.delivery_timestamp


def test_plain_server_faults_come_at_their_rate_and_pass(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    faults = FaultInjection(plain_fault_rate=1.0)
    exchange = world(fast_backend, reference_dir, hub, zags, FakeClock(), faults=faults)
    reply = exchange.handle(b"<whatever/>", "1.2")
    root = parse_xml(reply.body)
    fault = root.find(".//{*}Fault")
    assert reply.status == 500 and fault is not None
    assert [(_name(e), e.text) for e in fault] == [
        ("faultcode", "soap:Server"),
        ("faultstring", PLAIN_FAULT),
    ]
    error = fault_of(read_message(reply.body))
    assert error.retryable and isinstance(error, f.SmevServerFaultError)


def test_the_head_message_comes_again_until_it_is_acked(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = quirky(fast_backend, reference_dir, hub, zags, head_until_acked=True)
    first, second = send(exchange, hub), send(exchange, hub)
    assert [poll(exchange, zags).message_id for _ in range(3)] == [first.message_id] * 3
    ack(exchange, zags, first.message_id)
    assert poll(exchange, zags).message_id == second.message_id


def test_the_genuine_quirks_profile_turns_everything_on() -> None:
    config = ExchangeConfig.genuine_quirks(visibility_timeout=2.0)
    assert config.quirks == Quirks.genuine() and all(
        getattr(config.quirks, name) for name in Quirks.__dataclass_fields__
    )
    assert config.mtom is MtomIds.CXF_ENCODED and config.faults.plain_fault_rate > 0
    assert config.visibility_timeout == 2.0
