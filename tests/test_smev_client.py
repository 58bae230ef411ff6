"""The SMEV client's sending rules, against the simulator's exchange in process (the
transport's in-memory twin) with a real journal: what each SMEV answer does to a request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.bootstrap import Hub
from hub.canonical.events import REQUEST_REJECTED
from hub.crypto.keys import Certificate
from hub.journal.records import OutboundState
from hub.services.processing import Processor
from hub.services.ratelimit import RateLimiter
from hub.simulator import ExchangeConfig, replies
from hub.simulator.checks import refuse
from hub.simulator.population import Population
from hub.simulator.transport import ExchangeTransport
from hub.simulator.world import World, build_world
from hub.smev import SendRequest, build_send_request, raise_for_fault, read_message, serialize
from hub.smev.read import SmevMessage
from hub.smev.transport import SmevReply
from hub.smev.versions import SmevVersion
from tests.support.bus import EventCollector
from tests.support.notices import running
from tests.support.simulator import birth_request, hub_on_exchange, uuid1_at

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(3, 4, reference_date=date(2026, 3, 1))


Make = Callable[..., tuple[Hub, World]]  # (config=None, **settings) → a hub and its SMEV


@pytest.fixture
def make(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    fast_backend: object,
    dev_key_pair: tuple[object, Certificate],
    population: Population,
    reference_dir: Path,
) -> Iterator[Make]:
    made: list[Hub] = []

    def build(config: ExchangeConfig | None = None, **settings: Any) -> tuple[Hub, World]:
        config = config or ExchangeConfig(verify_signatures=False)
        world = build_world(fast_backend, dev_key_pair[1], population, reference_dir, config)  # type: ignore[arg-type]
        hub = hub_on_exchange(
            tmp_path,
            topology_prefix,
            world.exchange,
            dev_key_pair,
            fast_backend,
            smev_resend_after=0.01,
            **settings,
        )
        made.append(hub)
        return hub, world

    yield build
    for hub in made:
        hub.close()


def _request(hub: Hub, name: str, message_id: str, content: etree._Element | None = None) -> None:
    element = content if content is not None else birth_request(number=name)
    payload = etree.tostring(element, encoding="UTF-8")
    hub.journal.create_outbound(name, "zags", "rogdinf", payload, message_id)


def test_an_accepted_request_is_noted_in_one_batch(make: Make) -> None:
    hub, _ = make()
    for n in range(3):
        _request(hub, f"req-{n}", str(uuid1_at(datetime.now(UTC))))
    assert hub.smev_client.send_pending() == 3
    states = {hub.journal.outbound(f"req-{n}").state for n in range(3)}  # type: ignore[union-attr]
    assert states == {OutboundState.ACCEPTED}
    assert hub.smev_client.send_pending() == 0


@dataclass
class _Recorder:
    """An agency system that keeps what SMEV delivers to it and answers nothing."""

    requests: list[SmevMessage] = field(default_factory=list)

    def on_request(self, request: SmevMessage) -> None:
        self.requests.append(request)

    def on_response(self, response: SmevMessage) -> None:
        pass


@pytest.mark.parametrize("code", ["TC-7", None])
def test_a_1_2_request_carries_the_configured_transaction_code_or_none(
    make: Make, code: str | None
) -> None:
    hub, world = make(smev_version="1.2", smev_transaction_code=code)
    zags = _Recorder()
    world.exchange.attach(world.agencies.zags.mnemonic, zags)
    _request(hub, "req-1", str(uuid1_at(datetime.now(UTC))))
    hub.smev_client.send_pending()
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.state is OutboundState.ACCEPTED
    [delivered] = zags.requests
    assert delivered.version == "1.2" and delivered.transaction_code == code
    expected_reference = stored.smev_message_id if code else None  # the root of its chain
    assert delivered.reference_message_id == expected_reference


def test_a_stale_message_id_is_replaced_and_the_request_sent_at_once(make: Make) -> None:
    hub, _ = make()
    stale = uuid1_at(datetime.now(UTC) - timedelta(days=5))
    _request(hub, "req-1", stale)
    hub.smev_client.send_pending()
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.state is OutboundState.ACCEPTED
    assert stored.smev_message_id != stale and stored.attempts == 2


def test_a_resend_smev_already_has_counts_as_accepted(make: Make) -> None:
    hub, world = make()
    message_id = uuid1_at(datetime.now(UTC))
    _request(hub, "req-1", message_id)
    # An earlier try reached SMEV, but its answer was lost on the way back.
    earlier = build_send_request(
        SendRequest(birth_request(number="req-1"), message_id), "1.3", hub.signer
    )
    assert world.exchange.handle(serialize(earlier), "1.3").status == 200
    hub.smev_client.send_pending()
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.state is OutboundState.ACCEPTED
    assert stored.smev_message_id == message_id


class _QuotaSpentOnce:
    """SMEV whose attachment quota is spent for the first SendRequest: that message is
    dropped with the simulator's own QuoteLimitExceeded; every other call goes to the
    simulator. (The hub's requests carry no attachments, so the simulator's size quota,
    tested with its own senders, never catches them.) ``sent`` lists the MessageIDs tried."""

    def __init__(self, inner: ExchangeTransport) -> None:
        self.inner, self.sent, self.dropped = inner, list[str](), False

    def call_raw(self, envelope: bytes) -> SmevReply:
        message_id = etree.fromstring(envelope).findtext(
            ".//{*}SenderProvidedRequestData/{*}MessageID"
        )
        if message_id is None:
            return self.inner.call_raw(envelope)
        self.sent.append(message_id)
        if self.dropped:
            return self.inner.call_raw(envelope)
        self.dropped = True
        spent = (("RemainedTotalQuoteSize", "0"), ("RealTotalAttachmentSize", "1024"))
        fault = refuse("QuoteLimitExceeded", "квота исчерпана", extra=spent).fault
        raise_for_fault(read_message(serialize(replies.fault(SmevVersion.V1_3, fault))))
        raise AssertionError("a fault must raise")  # pragma: no cover

    def close(self) -> None:
        self.inner.close()


def test_a_message_dropped_for_the_quota_goes_again_as_a_new_message(make: Make) -> None:
    hub, _ = make()
    client = hub.smev_client
    client.limiter = RateLimiter({("zags", "*"): 1000.0})
    transport = _QuotaSpentOnce(client.transport)  # type: ignore[arg-type]
    client.transport = transport
    first = uuid1_at(datetime.now(UTC))
    _request(hub, "req-1", first)
    client.send_pending()
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.state is OutboundState.SENT
    assert stored.smev_message_id != first  # the dropped message is never sent again
    assert client.stats["dropped by SMEV's quota"] == 1
    assert client.limiter.wait_time("zags", "rogdinf") == 0  # the rate limits are their own
    time.sleep(0.05)  # resend_after
    client.send_pending()
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.state is OutboundState.ACCEPTED
    assert transport.sent == [first, stored.smev_message_id]


def _refused_request_events(hub: Hub) -> list[dict[str, Any]]:
    """Send a request for content no agency takes (SMEV refuses it); the events it becomes."""
    nobody = etree.Element("{urn://nobody/1.0}Query")
    nobody.text = "x"
    _request(hub, "req-1", uuid1_at(datetime.now(UTC)), nobody)
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        hub.smev_client.send_pending()
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not events.received and datetime.now(UTC) < deadline:
            time.sleep(0.05)
    return events.received


def test_a_permanent_refusal_is_kept_and_becomes_request_rejected(make: Make) -> None:
    hub, _ = make()
    events = _refused_request_events(hub)
    [event] = events
    assert event["type"] == REQUEST_REJECTED
    assert event["data"]["request_id"] == "req-1"
    assert event["data"]["code"]
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.state is OutboundState.REJECTED
    assert hub.smev_client.stats["refused by SMEV"] == 1


def test_what_the_client_stored_is_processed_once_by_the_worker(
    make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Already in the inbox: the worker's process-then-store fast path would find it stored
    # and process it a second time on the careful path.
    hub, _ = make()
    processed: list[str] = []
    process = Processor.process
    monkeypatch.setattr(
        Processor,
        "process",
        lambda self, record: processed.append(record.inbox_id) or process(self, record),
    )
    events = _refused_request_events(hub)
    assert len(events) == 1
    assert len(processed) == 1


def test_a_request_that_cannot_be_built_is_refused_not_retried_forever(make: Make) -> None:
    hub, _ = make()
    hub.journal.create_outbound(
        "req-1", "zags", "rogdinf", b"<unclosed", str(uuid1_at(datetime.now(UTC)))
    )
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        assert hub.smev_client.round().sent == 1
        deadline = time.monotonic() + 20
        while not events.received and time.monotonic() < deadline:
            time.sleep(0.05)
    [event] = events.received
    assert (event["type"], event["data"]["code"]) == (REQUEST_REJECTED, "FAILURE")
    assert event["data"]["reason"].startswith("XML_MALFORMED: ")  # the fault, in words
    assert hub.smev_client.send_pending() == 0


def test_sending_and_taking_run_side_by_side(make: Make) -> None:
    # A SendRequest that hangs (a slow SMEV) must not hold up taking answers, nor the reverse.
    hub, _ = make()
    client = hub.smev_client
    sending, release, taken_meanwhile = threading.Event(), threading.Event(), threading.Event()
    take_all = client._take_all

    def hanging_send() -> int:
        sending.set()
        release.wait(10)
        return 0

    def take() -> int:
        if sending.is_set() and not release.is_set():
            taken_meanwhile.set()
        return take_all()

    client.send_pending = hanging_send  # type: ignore[method-assign]
    client._take_all = take  # type: ignore[method-assign]
    stop = threading.Event()
    runner = threading.Thread(target=client.run, args=(stop,), daemon=True)
    runner.start()
    try:
        assert taken_meanwhile.wait(10), "no poll while a send was hanging"
    finally:
        release.set()
        stop.set()
        runner.join(10)
    assert not runner.is_alive()


def test_a_bug_in_either_loop_ends_both_and_is_raised(make: Make) -> None:
    hub, _ = make()
    client = hub.smev_client

    def broken() -> int:
        raise RuntimeError("a bug while sending")

    client.send_pending = broken  # type: ignore[method-assign]
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="a bug while sending"):
        client.run(threading.Event())  # never stopped from outside: the crash ends it
    assert time.monotonic() - started < 5
