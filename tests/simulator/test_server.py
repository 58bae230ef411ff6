"""The SMEV simulator over real HTTP on 127.0.0.1: the hub's own builders send, its reader
reads; injected latency and dropped connections; ``hub simulator serve``."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from hub.crypto import GostBackend
from hub.simulator import Exchange, ExchangeConfig, FaultInjection, MtomIds
from hub.simulator.server import SimulatorServer
from hub.smev import (
    Ack,
    MtomAttachment,
    Selector,
    SendRequest,
    SendResponse,
    SmevMessage,
    build_ack,
    build_get_request,
    build_get_response,
    build_send_request,
    build_send_response,
    raise_for_fault,
    read_message,
    serialize,
)
from hub.smev import faults as f
from hub.smev.transport import HttpTransport
from hub.xml import parse_message
from tests.support.simulator import (
    ZAGS_NS,
    FakeClock,
    Party,
    assert_valid_reply,
    birth_request,
    birth_response,
    make_exchange,
    make_party,
)

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
XML = {"Content-Type": "text/xml; charset=utf-8"}
WAIT = 10  # seconds: no call to the simulator takes longer


@pytest.fixture(scope="module")
def hub(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "HUB")


@pytest.fixture(scope="module")
def zags(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "ZAGSIS")


def exchange_for(
    backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, **config: object
) -> Exchange:
    settings = ExchangeConfig(xsd_dir=reference_dir / "smev" / "xsd", **config)  # type: ignore[arg-type]
    exchange = make_exchange(backend, reference_dir, (hub, zags), settings, FakeClock())
    exchange.route(ZAGS_NS, zags.mnemonic)
    return exchange


@pytest.fixture
def server(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> Iterator[SimulatorServer]:
    with SimulatorServer(exchange_for(fast_backend, reference_dir, hub, zags)) as running:
        yield running


class Client:
    """What the hub's SMEV client will do: build, sign, POST, read."""

    def __init__(self, server: SimulatorServer, party: Party, version: str = "1.3") -> None:
        self.url = server.endpoint(version)
        self.party, self.version = party, version
        self.session = requests.Session()

    def post(self, envelope: etree._Element) -> SmevMessage:
        reply = self.session.post(self.url, data=serialize(envelope), headers=XML, timeout=WAIT)
        assert reply.headers["content-type"].startswith("text/xml")
        message = read_message(reply.content, reply.headers["content-type"])
        assert (reply.status_code == 500) == (message.kind == "fault")
        return message

    def send(self, content: etree._Element | None = None) -> SmevMessage:
        tc = "TC-1" if self.version == "1.2" else None
        request = SendRequest(birth_request() if content is None else content, transaction_code=tc)
        return self.post(build_send_request(request, self.version, self.party.signer))

    def poll(self, *, responses: bool = False) -> SmevMessage:
        build = build_get_response if responses else build_get_request
        return self.post(build(Selector(), self.version, self.party.signer))

    def ack(self, message_id: str | None) -> SmevMessage:
        return self.post(build_ack(Ack(message_id or ""), self.version, self.party.signer))

    def answer(self, to: str | None) -> SmevMessage:
        response = SendResponse(to or "", content=birth_response())
        return self.post(build_send_response(response, self.version, self.party.signer))


@pytest.mark.parametrize("version", ["1.1", "1.2", "1.3"])
def test_a_request_and_its_response_go_round_over_http(
    server: SimulatorServer, hub: Party, zags: Party, version: str, reference_dir: Path
) -> None:
    requester, provider = Client(server, hub, version), Client(server, zags, version)
    sent = requester.send()
    assert sent.kind == "accepted" and sent.version == version
    request = provider.poll()
    assert request.kind == "request" and request.message_id == sent.message_id
    assert provider.ack(request.message_id).kind == "ack"
    assert provider.answer(request.reply_to).kind == "accepted"
    response = requester.poll(responses=True)
    assert response.kind == "response" and response.original_message_id == sent.message_id
    assert_valid_reply(serialize(response.root), version, reference_dir / "smev" / "xsd")
    assert requester.ack(response.message_id).kind == "ack"
    assert requester.poll(responses=True).kind == "empty"


def test_faults_come_with_http_500_and_read_as_typed_errors(
    server: SimulatorServer, hub: Party
) -> None:
    unsigned = serialize(build_get_request(Selector()))
    reply = requests.post(server.endpoint("1.3"), data=unsigned, headers=XML, timeout=WAIT)
    assert reply.status_code == 500
    message = read_message(reply.content)
    with pytest.raises(f.SignatureVerificationFaultError) as caught:
        raise_for_fault(message)
    assert caught.value.sub_type == "NoSignatureFound"
    with pytest.raises(f.TargetMessageIsNotFoundError):
        raise_for_fault(Client(server, hub).ack(str(uuid.uuid1())))


def test_what_is_not_a_smev_call_is_refused_plainly(server: SimulatorServer) -> None:
    assert (
        requests.post(f"{server.url}/smev/2.0", data=b"<a/>", headers=XML, timeout=WAIT).status_code
        == 404
    )
    assert requests.get(server.endpoint("1.3"), timeout=WAIT).status_code == 405
    broken = requests.post(server.endpoint("1.3"), data=b"<soap", headers=XML, timeout=WAIT)
    assert broken.status_code == 500
    assert read_message(broken.content).fault.faultcode == "soap:Client"  # type: ignore[union-attr]


def test_mtom_calls_are_read_with_their_parts(
    server: SimulatorServer, hub: Party, zags: Party
) -> None:
    attachment = MtomAttachment("scan-1", "application/pdf", b"%PDF-1.4 scan")
    envelope = build_send_request(
        SendRequest(birth_request(), attachments=(attachment,)), "1.3", hub.signer
    )
    body, content_type = mtom(envelope, "scan-1", b"%PDF-1.4 scan")
    reply = requests.post(
        server.endpoint("1.3"), data=body, headers={"Content-Type": content_type}, timeout=WAIT
    )
    assert read_message(reply.content).kind == "accepted"
    [received] = Client(server, zags).poll().attachments
    assert (received.id, received.size) == ("scan-1", 13)


def mtom(envelope: etree._Element, content_id: str, data: bytes) -> tuple[bytes, str]:
    """The envelope as multipart/related, the attachment's content as a binary part."""
    content = next(e for e in envelope.iter() if etree.QName(e).localname == "Content")
    content.text = None
    include = etree.SubElement(content, "{http://www.w3.org/2004/08/xop/include}Include")
    include.set("href", f"cid:{content_id}")
    boundary = "sim-boundary"
    root = serialize(envelope)
    body = (
        f'--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"'
        f"\r\nContent-ID: <root>\r\n\r\n".encode()
        + root
        + f"\r\n--{boundary}\r\nContent-Type: application/pdf\r\nContent-ID: <{content_id}>"
        "\r\nContent-Transfer-Encoding: binary\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        'start="<root>"; start-info="text/xml"'
    )
    return body, content_type


@pytest.mark.parametrize("ids", [MtomIds.CXF, MtomIds.CXF_ENCODED])
def test_cxf_mtom_replies_are_read_by_the_hubs_transport(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party, ids: MtomIds
) -> None:
    exchange = exchange_for(fast_backend, reference_dir, hub, zags, mtom=ids)
    scan = b"%PDF-1.4 \x00\r\n--not-a-boundary binary"
    attachment = MtomAttachment("scan-1", "application/pdf", scan)
    sent = build_send_request(
        SendRequest(birth_request(), attachments=(attachment,)), "1.3", hub.signer
    )
    with SimulatorServer(exchange) as server:
        transport = HttpTransport(server.endpoint("1.3"), timeout=WAIT)
        accepted = transport.call_raw(serialize(sent))
        taken = transport.call_raw(serialize(build_get_request(Selector(), "1.3", zags.signer)))
        empty = transport.call_raw(serialize(build_get_request(Selector(), "1.3", zags.signer)))
        with pytest.raises(f.SignatureVerificationFaultError):
            transport.call_raw(serialize(build_get_request(Selector())))
    for reply in (accepted, taken, empty):
        assert (reply.content_type or "").startswith("multipart/related")
    assert (accepted.message.kind, taken.message.kind, empty.message.kind) == (
        "accepted",
        "request",
        "empty",
    )
    [part] = parse_message(taken.body, taken.content_type).attachments
    assert part.data == scan and "@" in part.content_id
    assert b"%40cxf.apache.org" in taken.body  # the href is the name percent-encoded
    content = taken.message.root.find(".//{*}AttachmentContent/{*}Content")
    assert content is not None and base64.b64decode(content.text or "") == scan


def test_health_tells_the_queue_depths(server: SimulatorServer, hub: Party) -> None:
    Client(server, hub).send()
    health = requests.get(f"{server.url}/health", timeout=WAIT).json()
    assert health["status"] == "ok"
    assert health["systems"]["ZAGSIS"] == {"requests": 1, "responses": 0, "statuses": 0}


def test_concurrent_clients_get_each_message_exactly_once(
    server: SimulatorServer, hub: Party, zags: Party
) -> None:
    senders, count = 4, 10
    sent: list[str] = []
    received: list[str] = []

    def send_many() -> None:
        client = Client(server, hub)
        sent.extend(client.send().message_id or "" for _ in range(count))

    def drain() -> None:
        client, idle = Client(server, zags), 0
        while idle < 20:
            message = client.poll()
            if message.kind != "request":
                idle += 1
                continue
            received.append(message.message_id or "")
            assert client.ack(message.message_id).kind == "ack"

    workers = [threading.Thread(target=send_many) for _ in range(senders)]
    workers += [threading.Thread(target=drain) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(sent) == senders * count
    assert sorted(received) == sorted(sent)


# --- injected faults -----------------------------------------------------------------


def test_a_dropped_connection_has_no_answer_but_the_call_took_effect(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    exchange = exchange_for(
        fast_backend, reference_dir, hub, zags, faults=FaultInjection(drop_rate=1.0)
    )
    body = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
    with SimulatorServer(exchange) as server, pytest.raises(requests.ConnectionError):
        requests.post(server.endpoint("1.3"), data=body, headers=XML, timeout=WAIT)
    assert exchange.depths()["ZAGSIS"]["requests"] == 1
    with pytest.raises(f.MessageIsAlreadySentError):  # so the client's resend is safe
        raise_for_fault(read_message(exchange.handle(body, "1.3").body))


def test_latency_is_added_to_every_answer(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    faults = FaultInjection(latency=0.3, latency_jitter=0.1)
    exchange = exchange_for(fast_backend, reference_dir, hub, zags, faults=faults)
    with SimulatorServer(exchange) as server:
        client = Client(server, hub)
        started = time.monotonic()
        assert client.poll().kind == "empty"
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0


def test_a_stopped_server_releases_its_port(
    fast_backend: GostBackend, reference_dir: Path, hub: Party, zags: Party
) -> None:
    server = SimulatorServer(exchange_for(fast_backend, reference_dir, hub, zags)).start()
    port = server.port
    assert port > 0 and requests.get(f"{server.url}/health", timeout=WAIT).status_code == 200
    server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# --- hub simulator serve -------------------------------------------------------------


def test_hub_simulator_serve_answers_until_terminated(
    hub: Party, zags: Party, tmp_path: Path
) -> None:
    certificate = tmp_path / "hub.pem"
    certificate.write_bytes(hub.certificate.to_pem())
    command = [
        sys.executable,
        "-m",
        "hub",
        "simulator",
        "serve",
        "--port",
        "0",
        "--system",
        f"HUB={certificate}",
        "--route",
        f"{ZAGS_NS}=ZAGS",
    ]
    environment = {**os.environ, "HUB_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=PROJECT,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith("SMEV 3 simulator on http://127.0.0.1:"), process.stderr
        url = first.split(" on ")[1].strip()
        body = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
        reply = requests.post(f"{url}/smev/1.3", data=body, headers=XML, timeout=WAIT)
        assert read_message(reply.content).kind == "accepted"
        unknown = serialize(build_get_request(Selector(), "1.3", zags.signer))
        refused = read_message(
            requests.post(f"{url}/smev/1.3", data=unknown, headers=XML, timeout=WAIT).content
        )
        assert refused.fault is not None and refused.fault.type == "SenderIsNotRegistered"
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0


def test_hub_simulator_serve_with_a_population_answers_and_sends(
    hub: Party, tmp_path: Path, reference_dir: Path
) -> None:
    certificate = tmp_path / "hub.pem"
    certificate.write_bytes(hub.certificate.to_pem())
    command = [
        sys.executable,
        "-m",
        "hub",
        "simulator",
        "serve",
        "--port",
        "0",
        "--system",
        f"HUB={certificate}",
        "--population",
        "6",
        "--applications",
        "2",
        "--rate",
        "50",
    ]
    environment = {**os.environ, "HUB_REFERENCE_DIR": str(reference_dir)}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=PROJECT,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith("SMEV 3 simulator on http://127.0.0.1:"), process.stderr
        url = f"{first.split(' on ')[1].strip()}/smev/1.3"
        sent = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
        assert (
            read_message(requests.post(url, data=sent, headers=XML, timeout=WAIT).content).kind
            == "accepted"
        )
        names = {_poll(url, hub, build_get_request), _poll(url, hub, build_get_request)}
        assert {n.rpartition("}")[2] for n in names} == {"ApplicationRequest"}
        answer = _poll(url, hub, build_get_response)
        assert answer.endswith("ROGDINFResponse")  # ZAGS answered from its population
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0


def _poll(url: str, party: Party, build: object) -> str:
    """Poll until something comes; its business root's qualified name (Acked)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        body = serialize(build(Selector(), "1.3", party.signer))  # type: ignore[operator]
        message = read_message(requests.post(url, data=body, headers=XML, timeout=WAIT).content)
        if message.kind != "empty":
            ack = serialize(build_ack(Ack(message.message_id or ""), "1.3", party.signer))
            requests.post(url, data=ack, headers=XML, timeout=WAIT)
            return message.content_name or ""
        time.sleep(0.05)
    raise AssertionError("nothing came")


def test_hub_simulator_serve_refuses_bad_options(tmp_path: Path) -> None:
    for options in (
        ["--route", "no-equals-sign"],
        ["--failure-rate", "2"],
        ["--system", f"X={tmp_path / 'none.pem'}"],
        ["--mtom", "sometimes"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "hub", "simulator", "serve", *options],
            capture_output=True,
            text=True,
            check=False,
            cwd=PROJECT,
            timeout=60,
        )
        assert result.returncode == 2 and "hub: error:" in result.stderr, options


# --- the pure-Python backend ---------------------------------------------------------


@pytest.mark.slow
def test_the_pure_python_backend_checks_and_signs_the_same_way(
    pure_backend: GostBackend, reference_dir: Path
) -> None:
    sender = make_party(pure_backend, "HUB")
    exchange = Exchange.create(pure_backend, ExchangeConfig(), FakeClock())
    exchange.register_system("HUB", certificate=sender.certificate)
    exchange.register_system("ZAGS")
    exchange.route(ZAGS_NS, "ZAGS")
    body = serialize(build_send_request(SendRequest(birth_request()), "1.3", sender.signer))
    reply = exchange.handle(body, "1.3")
    assert read_message(reply.body).kind == "accepted"
    tampered = body.replace("Алёна".encode(), "Елена".encode())
    assert exchange.handle(tampered, "1.3").fault.sub_type == "SignatureIsInvalid"  # type: ignore[union-attr]
