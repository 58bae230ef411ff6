"""A stock zeep client built from the official SMEV 3 WSDL talks to the simulator.

zeep gets what every real SMEV client adds to it, as a plugin: a soap:Header and the caller's
GOST signature over the operation's signed element (the hub's signer). Everything else,
requests and the parsing of replies and faults, is zeep's reading of the official WSDL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep import Client, Plugin
from zeep.exceptions import Fault

from hub.crypto import GostBackend
from hub.crypto.xmldsig import XmlSigner
from hub.simulator.server import SimulatorServer
from hub.smev import (
    Selector,
    SendRequest,
    build_get_response,
    build_send_request,
    new_message_id,
    read_message,
    serialize,
)
from hub.smev.signing import sign_envelope
from tests.support.simulator import (
    SOAP,
    ZAGS_NS,
    Party,
    birth_request,
    birth_response,
    make_exchange,
    make_party,
)

pytestmark = pytest.mark.contract

VERSIONS = ("1.1", "1.2", "1.3")
SERVICE = "urn://x-artefacts-smev-gov-ru/services/message-exchange"


class CallerSignature(Plugin):  # type: ignore[misc]
    """Adds soap:Header (unless ``header`` is False) and signs the outgoing call with
    ``signer`` (unless it is None)."""

    def __init__(self, signer: XmlSigner | None, *, header: bool = True) -> None:
        self.signer, self.header = signer, header

    def egress(
        self, envelope: etree._Element, http_headers: dict[str, str], operation: Any, options: Any
    ) -> tuple[etree._Element, dict[str, str]]:
        if self.header and envelope.find(f"{{{SOAP}}}Header") is None:
            envelope.insert(0, etree.Element(f"{{{SOAP}}}Header"))
        if self.signer is not None:
            sign_envelope(envelope, self.signer)
        return envelope, http_headers


@pytest.fixture(scope="module")
def hub(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "HUB")


@pytest.fixture(scope="module")
def zags(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "ZAGSIS")


@pytest.fixture(scope="module")
def server(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> Iterator[SimulatorServer]:
    exchange = make_exchange(fast_backend, reference_dir, (hub, zags))
    exchange.route(ZAGS_NS, zags.mnemonic)
    with SimulatorServer(exchange) as running:
        yield running


def service(
    reference_dir: Path, server: SimulatorServer, version: str, plugin: Plugin | None
) -> Any:
    wsdl = reference_dir / "smev" / "xsd" / f"smev-message-exchange-service-{version}.wsdl"
    client = Client(str(wsdl), plugins=[plugin] if plugin else [])
    binding = f"{{{SERVICE}/{version}}}SMEVMessageExchangeSoap11Binding"
    return client.create_service(binding, server.endpoint(version))


def selector() -> dict[str, Any]:
    # zeep insists on the optional NamespaceURI/RootElementLocalName pair: give it.
    return {
        "NamespaceURI": ZAGS_NS,
        "RootElementLocalName": "ROGDINFRequest",
        "Timestamp": datetime.now(UTC),
        "Id": "SIGNED_BY_CALLER",
    }


def ack_target(message_id: str) -> dict[str, Any]:
    return {"_value_1": message_id, "Id": "SIGNED_BY_CALLER", "accepted": True}


def fault_element(fault: Fault) -> tuple[str, str | None]:
    """The SMEV fault's element name and, for a signature fault, its reason."""
    element = fault.detail[0]
    reason = element.find(f"{{{etree.QName(element).namespace}}}SignatureVerificationFault")
    return etree.QName(element).localname, None if reason is None else reason.text


@pytest.mark.parametrize("version", VERSIONS)
def test_get_request_on_an_empty_queue_and_ack_of_nothing(
    reference_dir: Path, server: SimulatorServer, zags: Party, version: str
) -> None:
    smev = service(reference_dir, server, version, CallerSignature(zags.signer))
    assert smev.GetRequest(MessageTypeSelector=selector()) is None
    with pytest.raises(Fault) as caught:
        smev.Ack(AckTargetMessage=ack_target(new_message_id()))
    assert fault_element(caught.value) == ("TargetMessageIsNotFound", None)
    assert caught.value.message.startswith("SMEV-501")


def test_zeep_as_provider_takes_acks_and_answers_a_hub_request(
    reference_dir: Path, server: SimulatorServer, hub: Party, zags: Party
) -> None:
    exchange = server.exchange
    body = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
    sent = read_message(exchange.handle(body, "1.3").body)
    smev = service(reference_dir, server, "1.3", CallerSignature(zags.signer))
    message = smev.GetRequest(MessageTypeSelector=selector())
    request = message.Request
    assert request.SenderProvidedRequestData.MessageID == sent.message_id
    assert request.MessageMetadata.Sender.Mnemonic == "HUB"
    assert smev.Ack(AckTargetMessage=ack_target(sent.message_id or "")) is None
    data = {
        "Id": "SIGNED_BY_CALLER",
        "MessageID": new_message_id(),
        "To": request.ReplyTo,
        "MessagePrimaryContent": {"_value_1": birth_response()},
    }
    accepted = smev.SendResponse(SenderProvidedResponseData=data)
    assert accepted.MessageMetadata.Status == "responseIsAcceptedBySmev"
    poll = serialize(build_get_response(Selector(), "1.3", hub.signer))
    response = read_message(exchange.handle(poll, "1.3").body)
    assert response.kind == "response" and response.original_message_id == sent.message_id
    assert response.message_id == data["MessageID"]


def test_a_zeep_built_12_request_reaches_a_13_reader(
    reference_dir: Path, server: SimulatorServer, hub: Party, zags: Party
) -> None:
    message_id = new_message_id()
    data = {
        "Id": "SIGNED_BY_CONSUMER",
        "MessageID": message_id,
        "ReferenceMessageID": message_id,
        "TransactionCode": "TC-1",
        "MessagePrimaryContent": {"_value_1": birth_request()},
    }
    smev = service(reference_dir, server, "1.2", CallerSignature(hub.signer))
    accepted = smev.SendRequest(SenderProvidedRequestData=data)
    assert accepted.MessageMetadata.MessageId == message_id
    assert accepted.MessageMetadata.Status == "requestIsQueued"
    reader = service(reference_dir, server, "1.3", CallerSignature(zags.signer))
    delivered = reader.GetRequest(MessageTypeSelector=selector())
    assert delivered.Request.SenderProvidedRequestData.TransactionCode == "TC-1"
    reader.Ack(AckTargetMessage=ack_target(message_id))


@pytest.mark.parametrize(
    ("signed", "reason"),
    [(False, "NoSignatureFound"), (True, "PoorSOAPEnvelopeFormat")],
    ids=["unsigned", "signed-without-header"],
)
def test_zeep_reads_the_signature_fault(
    reference_dir: Path, server: SimulatorServer, zags: Party, signed: bool, reason: str
) -> None:
    plugin = CallerSignature(zags.signer, header=False) if signed else CallerSignature(None)
    smev = service(reference_dir, server, "1.3", plugin)
    with pytest.raises(Fault) as caught:
        smev.GetRequest(MessageTypeSelector=selector())
    assert fault_element(caught.value) == ("SignatureVerificationFault", reason)
    assert caught.value.code == "soap:Server" and "SMEV-100" in caught.value.message
