"""The hub's SMEV transport against the simulator over real HTTP on 127.0.0.1: answers read,
faults raised as their typed errors, no answer as a passing failure."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.crypto import GostBackend
from hub.errors import PermanentError
from hub.simulator import ExchangeConfig, FaultInjection
from hub.simulator.server import SimulatorServer
from hub.smev import (
    Selector,
    SendRequest,
    build_get_request,
    build_send_request,
    new_message_id,
    serialize,
)
from hub.smev import faults as f
from hub.smev.transport import HttpTransport, SmevUnreachableError
from tests.support.simulator import FakeClock, Party, birth_request, make_exchange, make_party

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def party(fast_backend: GostBackend) -> Party:
    return make_party(fast_backend, "HUB")


def _server(
    backend: GostBackend, reference_dir: Path, party: Party, faults: FaultInjection | None = None
) -> SimulatorServer:
    config = ExchangeConfig(xsd_dir=reference_dir / "smev" / "xsd")
    if faults is not None:
        config = ExchangeConfig(xsd_dir=reference_dir / "smev" / "xsd", faults=faults)
    return SimulatorServer(make_exchange(backend, reference_dir, (party,), config, FakeClock()))


@pytest.fixture
def transport(
    fast_backend: GostBackend, reference_dir: Path, party: Party
) -> Iterator[HttpTransport]:
    with _server(fast_backend, reference_dir, party) as server:
        client = HttpTransport(server.endpoint("1.3"), timeout=10)
        yield client
        client.close()


def test_an_answer_is_read(transport: HttpTransport, party: Party) -> None:
    sent = transport.call(
        serialize(build_send_request(SendRequest(birth_request()), "1.3", party.signer))
    )
    assert sent.kind == "accepted" and sent.message_id
    empty = transport.call(serialize(build_get_request(Selector(), "1.3", party.signer)))
    assert empty.kind == "empty"


def test_a_fault_is_raised_as_its_typed_error(transport: HttpTransport, party: Party) -> None:
    unsigned = serialize(build_get_request(Selector(), "1.3"))
    with pytest.raises(f.SignatureVerificationFaultError) as caught:
        transport.call(unsigned)
    assert isinstance(caught.value, PermanentError) or not caught.value.retryable
    resend = SendRequest(birth_request(), message_id=new_message_id())
    transport.call(serialize(build_send_request(resend, "1.3", party.signer)))
    with pytest.raises(f.MessageIsAlreadySentError) as again:
        transport.call(serialize(build_send_request(resend, "1.3", party.signer)))
    assert again.value.action == f.FaultAction.TREAT_AS_SENT


def test_a_dropped_connection_is_a_passing_failure(
    fast_backend: GostBackend, reference_dir: Path, party: Party
) -> None:
    faults = FaultInjection(drop_rate=1.0)
    with _server(fast_backend, reference_dir, party, faults) as server:
        transport = HttpTransport(server.endpoint("1.3"), timeout=10)
        with pytest.raises(SmevUnreachableError) as caught:
            transport.call(serialize(build_get_request(Selector(), "1.3", party.signer)))
    assert caught.value.retryable


def test_nobody_listening_is_a_passing_failure(party: Party) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = HttpTransport(f"http://127.0.0.1:{port}/smev/1.3", timeout=5)
    with pytest.raises(SmevUnreachableError, match="did not answer"):
        transport.call(serialize(build_get_request(Selector(), "1.3", party.signer)))


def test_an_answer_that_is_not_soap_is_a_passing_failure(
    transport: HttpTransport, party: Party
) -> None:
    elsewhere = HttpTransport(transport.endpoint.replace("/smev/1.3", "/health"), timeout=5)
    with pytest.raises(SmevUnreachableError, match="without a SOAP message"):
        elsewhere.call(serialize(build_get_request(Selector(), "1.3", party.signer)))
