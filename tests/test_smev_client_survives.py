"""The SMEV client survives every real reply (issue 15, items 1, 2 and 9): SMEV's asynchronous
rejection is a message stored, acked and settled; a fault on a poll never ends the client;
a plain server fault passes; SMEV's signature is checked before the Ack says "accepted".

Real parts throughout: the simulator's exchange, a real HTTP server serving SMEV's genuine
bytes, the embedded journal and broker, the worker and the relay."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.bootstrap import Hub, bootstrap
from hub.canonical.events import REQUEST_REJECTED
from hub.canonical.ids import inbox_id_for
from hub.config import Settings
from hub.crypto.keys import Certificate
from hub.crypto.xmldsig import LocalKeySigner
from hub.journal.records import InboxStatus, OutboundState
from hub.simulator import ExchangeConfig
from hub.simulator.population import Population, zags_notices
from hub.simulator.transport import ExchangeTransport
from hub.simulator.world import World, build_world
from hub.smev import SmevMessage, read_message
from hub.smev.transport import HttpTransport, SmevReply
from tests.support.bus import EventCollector
from tests.support.notices import running
from tests.support.simulator import birth_request, make_party, uuid1_at
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

ORIGINAL = "ac9fbf27-8b8c-11eb-9086-e2bf794ac2e9"  # the request the genuine sample rejects
DELIVERED = "ad1d4183-8b8c-11eb-9ae4-fa163e6269f4"  # the MessageID SMEV delivered it under
PLAIN_FAULT = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Internal Error</faultstring>"
    b"</soap:Fault></soap:Body></soap:Envelope>"
)


@dataclass
class Recording:
    """The real transport, noting what the hub sent (to see its Acks)."""

    inner: Any
    sent: list[SmevMessage] = field(default_factory=list)

    def call_raw(self, envelope: bytes) -> SmevReply:
        self.sent.append(read_message(envelope))
        reply: SmevReply = self.inner.call_raw(envelope)
        return reply

    def close(self) -> None:
        self.inner.close()

    def acks(self) -> list[tuple[str | None, bool | None]]:
        return [(m.message_id, m.ack_accepted) for m in self.sent if m.operation == "AckRequest"]


def _hub(tmp_path: Path, prefix: str, transport: Any, key: Any, backend: Any, **more: Any) -> Hub:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        broker_url="memory://",
        topology_prefix=prefix,
        smev_resend_after=0.01,
        smev_poll_interval=0.05,
        **more,
    )
    signer = LocalKeySigner(backend, key[0], key[1])
    hub = bootstrap(settings, key_signer=signer, transport=transport, crypto=backend)
    hub.bus.declare()
    return hub


def _state(hub: Hub, request_id: str) -> OutboundState | None:
    stored = hub.journal.outbound(request_id)
    return stored.state if stored is not None else None


# --- SMEV's genuine asynchronous rejection over HTTP ------------------------------------


class _Smev(http.server.BaseHTTPRequestHandler):
    """Serves the genuine SMEV-403 rejection once, then the genuine empty queue; notes the
    calls it gets (operation and, for an Ack, its target and ``accepted``)."""

    rejection: bytes = b""
    empty: bytes = b""
    calls: list[SmevMessage]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = read_message(body)
        self.calls.append(message)
        if message.operation == "GetResponseRequest":
            handed = sum(1 for c in self.calls if c.operation == "GetResponseRequest")
            self._answer(self.rejection if handed == 1 else self.empty)
        elif message.operation == "AckRequest":
            self._answer(self._ack_response())
        else:
            self._answer(self.empty.replace(b"GetResponseResponse", b"GetRequestResponse"))

    def _ack_response(self) -> bytes:
        return self.empty.replace(b"GetResponseResponse", b"AckResponse")

    def _answer(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def genuine_smev(smev_samples_dir: Path) -> Iterator[tuple[str, list[SmevMessage]]]:
    calls: list[SmevMessage] = []
    handler = type(
        "Handler",
        (_Smev,),
        {
            "rejection": (smev_samples_dir / "get-response-async-rejected-1.2.xml").read_bytes(),
            "empty": (smev_samples_dir / "get-response-empty-queue-1.2.xml").read_bytes(),
            "calls": calls,
        },
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/smev/1.2", calls
    finally:
        server.shutdown()
        server.server_close()


def _genuine_hub(
    tmp_path: Path,
    prefix: str,
    endpoint: str,
    key: Any,
    backend: Any,
    *,
    trusted: tuple[Path, ...] = (),
) -> Hub:
    hub = _hub(
        tmp_path,
        prefix,
        HttpTransport(endpoint, timeout=10),
        key,
        backend,
        smev_version="1.2",
        require_signatures=True,
        trusted_certificates=trusted,
    )
    payload = etree.tostring(birth_request(number="r-1"), encoding="UTF-8")
    hub.journal.create_outbound("req-1", "zags", "rogdinf", payload, ORIGINAL)
    hub.journal.claim_outbound(10, timedelta(0))  # sent long ago, and SMEV took it
    hub.journal.mark_accepted(["req-1"])
    return hub


def test_the_genuine_async_rejection_is_stored_acked_and_settled(
    tmp_path: Path,
    topology_prefix: str,
    genuine_smev: tuple[str, list[SmevMessage]],
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
) -> None:
    endpoint, calls = genuine_smev
    hub = _genuine_hub(tmp_path, topology_prefix, endpoint, dev_key_pair, fast_backend)
    try:
        with EventCollector(hub) as events, running(hub.worker, hub.relay):
            assert hub.smev_client.take("responses") == 1  # no InvalidContentError raised
            wait_for(lambda: bool(events.received))
        [event] = events.received
        assert event["type"] == REQUEST_REJECTED and event["data"]["request_id"] == "req-1"
        assert event["data"]["code"] == "FAILURE"
        reason = event["data"]["reason"]
        assert reason.startswith("SMEV-403") and "InvalidContent" in reason
        assert "cvc-complex-type.2.4.b" in reason  # SMEV's validation error
        assert _state(hub, "req-1") is OutboundState.REJECTED
        acks = [(c.message_id, c.ack_accepted) for c in calls if c.operation == "AckRequest"]
        assert acks == [(DELIVERED, True)]  # SMEV's signature holds: accepted
        stored = hub.journal.inbox(inbox_id_for("smev", DELIVERED))
        assert stored is not None and stored.status is InboxStatus.PROCESSED
    finally:
        hub.close()


def test_smevs_signature_by_an_untrusted_certificate_is_acked_false_and_kept_failed(
    tmp_path: Path,
    topology_prefix: str,
    genuine_smev: tuple[str, list[SmevMessage]],
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
) -> None:
    # The hub trusts only its own certificate here: SMEV's signature is not one it accepts.
    own = tmp_path / "own.pem"
    own.write_bytes(dev_key_pair[1].to_pem())
    endpoint, calls = genuine_smev
    hub = _genuine_hub(
        tmp_path, topology_prefix, endpoint, dev_key_pair, fast_backend, trusted=(own,)
    )
    try:
        with running(hub.worker, hub.relay):
            assert hub.smev_client.take("responses") == 1
            inbox_id = inbox_id_for("smev", DELIVERED)
            wait_for(lambda: _status(hub, inbox_id) is InboxStatus.FAILED)
        acks = [(c.message_id, c.ack_accepted) for c in calls if c.operation == "AckRequest"]
        assert acks == [(DELIVERED, False)]
        assert _state(hub, "req-1") is OutboundState.ACCEPTED  # not settled by a forgery
    finally:
        hub.close()


def _status(hub: Hub, inbox_id: str) -> InboxStatus | None:
    stored = hub.journal.inbox(inbox_id)
    return stored.status if stored is not None else None


# --- the simulator: rejections, faults and SMEV's signature --------------------------


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(3, 4, reference_date=date(2026, 3, 1))


def _world(
    backend: Any, certificate: Certificate, population: Population, reference: Path, **config: Any
) -> World:
    return build_world(
        backend,
        certificate,
        population,
        reference,
        ExchangeConfig(verify_signatures=False, **config),
    )


def _invalid_request(hub: Hub, request_id: str) -> None:
    """A request SMEV takes and then rejects asynchronously: not ZAGS's registered schema."""
    content = birth_request(number=request_id)
    content.set("ТипАГС", "not-a-code")
    payload = etree.tostring(content, encoding="UTF-8")
    hub.journal.create_outbound(request_id, "zags", "rogdinf", payload, uuid1_at(datetime.now(UTC)))


def test_a_request_smev_rejects_asynchronously_ends_rejected_and_the_client_runs_on(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
    population: Population,
    reference_dir: Path,
) -> None:
    world = _world(fast_backend, dev_key_pair[1], population, reference_dir)
    transport = Recording(ExchangeTransport(world.exchange))
    hub = _hub(
        tmp_path,
        topology_prefix,
        transport,
        dev_key_pair,
        fast_backend,
        require_signatures=True,
        smev_status_every=0,
    )
    _invalid_request(hub, "req-1")
    client = hub.smev_client
    stop = threading.Event()
    crashed: list[BaseException] = []
    runner = threading.Thread(target=_run, args=(client, stop, crashed), daemon=True)
    try:
        with EventCollector(hub) as events, running(hub.worker, hub.relay):
            runner.start()
            wait_for(lambda: bool(events.received))
            time.sleep(3)  # several seconds more of rounds: nothing ends the client
            assert runner.is_alive() and not crashed
        [event] = events.received
        assert event["type"] == REQUEST_REJECTED and "SMEV-403" in event["data"]["reason"]
        assert _state(hub, "req-1") is OutboundState.REJECTED
        assert client.stats["failed rounds"] == 0 and client.stats["taken"] == 1
        assert [accepted for _, accepted in transport.acks()] == [True]
        assert world.exchange.depths()["HUB"]["responses"] == 0  # acked: SMEV holds nothing
    finally:
        stop.set()
        runner.join(20)
        hub.close()
    assert not crashed


def test_smevs_rejection_read_by_get_status_settles_the_request_once(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
    population: Population,
    reference_dir: Path,
) -> None:
    world = _world(fast_backend, dev_key_pair[1], population, reference_dir)
    hub = _hub(
        tmp_path,
        topology_prefix,
        ExchangeTransport(world.exchange),
        dev_key_pair,
        fast_backend,
        require_signatures=True,
    )
    _invalid_request(hub, "req-1")
    client = hub.smev_client
    try:
        with EventCollector(hub) as events, running(hub.worker, hub.relay):
            assert client.send_pending() == 1
            assert client.read_statuses() >= 1  # GetStatus alone: the response queue untouched
            wait_for(lambda: _state(hub, "req-1") is OutboundState.REJECTED)
            assert client.take("responses") == 1  # the same refusal through GetResponse
            time.sleep(1)
        [event] = events.received  # one event: the second copy is the same fact
        assert event["type"] == REQUEST_REJECTED and "SMEV-403" in event["data"]["reason"]
        assert client.stats["rejections by SMEV"] == 1
    finally:
        hub.close()


def test_a_fault_on_every_poll_never_ends_the_client(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
    population: Population,
    reference_dir: Path,
) -> None:
    # SMEV knows another certificate as the hub's: SenderIsNotRegistered, a permanent fault,
    # on every call.
    stranger = make_party(fast_backend, "STRANGER")
    world = _world(fast_backend, stranger.certificate, population, reference_dir)
    hub = _hub(
        tmp_path,
        topology_prefix,
        ExchangeTransport(world.exchange),
        dev_key_pair,
        fast_backend,
        require_signatures=False,
    )
    client = hub.smev_client
    stop = threading.Event()
    crashed: list[BaseException] = []
    runner = threading.Thread(target=_run, args=(client, stop, crashed), daemon=True)
    try:
        runner.start()
        wait_for(lambda: client.stats["failed rounds"] >= 3, 10)
        assert runner.is_alive() and not crashed
        failing = _sample(hub, "hub_smev_failing_rounds", loop="poll")
        assert failing is not None and failing >= 3
        counted = _sample(
            hub,
            "hub_smev_failed_rounds_total",
            loop="poll",
            error_type="SenderIsNotRegisteredError",
        )
        assert counted is not None and counted >= 3
    finally:
        stop.set()
        runner.join(20)
        hub.close()
    assert not runner.is_alive() and not crashed  # stopped from outside, cleanly


def _run(client: Any, stop: threading.Event, crashed: list[BaseException]) -> None:
    try:
        client.run(stop)
    except BaseException as exc:  # what the test asserts never happens
        crashed.append(exc)


def _sample(hub: Hub, name: str, **labels: str) -> float | None:
    registry = hub.metrics.registry
    assert registry is not None
    return registry.get_sample_value(name, labels)


def test_smevs_broken_signature_is_acked_false_and_the_message_kept_failed(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
    population: Population,
    reference_dir: Path,
) -> None:
    world = _world(fast_backend, dev_key_pair[1], population, reference_dir)
    transport = Recording(ExchangeTransport(world.exchange))
    hub = _hub(
        tmp_path, topology_prefix, transport, dev_key_pair, fast_backend, require_signatures=True
    )
    zags = world.agencies.zags
    world.exchange.damage_next(zags.mnemonic)  # altered on the way, after SMEV signed it
    [pushed] = zags.push_notices(world.exchange, zags_notices(population)[:1])
    client = hub.smev_client
    try:
        with running(hub.worker, hub.relay):
            assert client.take("requests") == 1
            assert transport.acks() == [(pushed, False)]
            inbox_id = inbox_id_for("smev", pushed)
            wait_for(lambda: _status(hub, inbox_id) is InboxStatus.FAILED)  # still stored
        assert client.stats["SMEV signatures rejected"] == 1
        [failed] = hub.journal.failed()
        assert failed.error_type == "SignatureError"
    finally:
        hub.close()


# --- a plain soap:Server fault, over HTTP ---------------------------------------------


class _PlainFault(http.server.BaseHTTPRequestHandler):
    """Real SMEV now and then: HTTP 500, a faultstring, no detail."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(PLAIN_FAULT)))
        self.end_headers()
        self.wfile.write(PLAIN_FAULT)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def plain_fault_smev() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PlainFault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/smev/1.3"
    finally:
        server.shutdown()
        server.server_close()


def test_a_plain_server_fault_postpones_a_send_and_fails_a_poll_in_passing(
    tmp_path: Path,
    topology_prefix: str,
    plain_fault_smev: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
) -> None:
    hub = _hub(
        tmp_path,
        topology_prefix,
        HttpTransport(plain_fault_smev, timeout=10),
        dev_key_pair,
        fast_backend,
        require_signatures=False,
    )
    payload = etree.tostring(birth_request(number="r-1"), encoding="UTF-8")
    hub.journal.create_outbound("req-1", "zags", "rogdinf", payload, uuid1_at(datetime.now(UTC)))
    client = hub.smev_client
    stop = threading.Event()
    crashed: list[BaseException] = []
    runner = threading.Thread(target=_run, args=(client, stop, crashed), daemon=True)
    try:
        runner.start()
        wait_for(
            lambda: client.stats["failed rounds"] >= 2 and client.stats["sends postponed"] >= 2, 10
        )
        assert runner.is_alive() and not crashed
        assert _state(hub, "req-1") is OutboundState.SENT  # not rejected: sent again later
        assert client.stats["refused by SMEV"] == 0
        counted = _sample(
            hub, "hub_smev_failed_rounds_total", loop="poll", error_type="SmevPassingFaultError"
        )
        assert counted is not None and counted >= 2
    finally:
        stop.set()
        runner.join(20)
        hub.close()
    assert not crashed
