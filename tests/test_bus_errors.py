"""The bus's failures: an unreachable or lost broker is a passing failure, said plainly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hub.errors import ConfigurationError
from hub.routing.api import Delivery, Outgoing
from hub.routing.bus import (
    BrokerUnavailableError,
    KombuBus,
    PublishNotConfirmedError,
    consume_forever,
    create_bus,
    delete_topology,
)
from hub.routing.memory import MemoryBus
from hub.routing.topology import build_topology
from tests.support.proxy import TcpProxy, proxy

NOWHERE = "amqp://guest:secret@127.0.0.1:1//"  # nothing listens on port 1


@pytest.mark.unit
def test_an_unknown_broker_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="redis"):
        create_bus("redis://localhost", build_topology())


@pytest.mark.unit
def test_the_broker_url_chooses_the_bus() -> None:
    topology = build_topology()
    assert type(create_bus("memory://", topology)) is MemoryBus
    assert type(create_bus(NOWHERE, topology)) is KombuBus  # connects only when used
    with pytest.raises(ConfigurationError, match="memory"):
        KombuBus("memory://", topology)  # it would publish without emulating RabbitMQ


@pytest.mark.unit
@pytest.mark.parametrize("action", ["declare", "publish", "consume", "queue_depths"])
def test_an_unreachable_broker_is_a_passing_failure(action: str) -> None:
    bus = create_bus(NOWHERE, build_topology())
    calls = {
        "declare": bus.declare,
        "publish": lambda: bus.publish("hub.inbound", [Outgoing(b"x", "zags")]),
        "consume": lambda: bus.consume(["hub.commands"], lambda _b: None, stop=threading.Event()),
        "queue_depths": bus.queue_depths,
    }
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as caught:
        calls[action]()
    assert time.monotonic() - started < 1, "kombu retried instead of reporting"
    assert caught.value.retryable
    assert caught.value.__cause__ is not None
    assert "secret" not in str(caught.value.as_dict())


@pytest.mark.unit
def test_consume_forever_reconnects_until_stopped() -> None:
    stop, calls = threading.Event(), []

    class Flaky:
        def consume(self, *_args: object, **_options: object) -> None:
            calls.append(time.monotonic())
            if len(calls) < 3:
                raise BrokerUnavailableError("broker unavailable (test)")
            stop.set()

    consume_forever(Flaky(), ["q"], lambda _b: None, stop=stop)  # type: ignore[arg-type]
    assert len(calls) == 3
    assert calls[2] - calls[0] > 0.1  # it backed off between attempts


@pytest.fixture
def through_proxy(amqp_url: str, topology_prefix: str) -> Iterator[tuple[KombuBus, TcpProxy]]:
    topology = build_topology(topology_prefix)
    with proxy("127.0.0.1", 5672) as mq:
        bus = create_bus(f"amqp://guest:guest@127.0.0.1:{mq.port}//", topology)
        bus.declare()
        try:
            yield bus, mq
        finally:
            bus.close()
            delete_topology(amqp_url, topology)


@pytest.mark.integration
def test_a_lost_connection_ends_consume_with_a_passing_failure(
    through_proxy: tuple[KombuBus, TcpProxy],
) -> None:
    bus, mq = through_proxy
    failure: list[BaseException] = []

    def run() -> None:
        queue = bus.topology.work_queue("zags").name
        try:
            bus.consume([queue], lambda _b: None, stop=threading.Event())
        except BaseException as exc:
            failure.append(exc)

    consumer = threading.Thread(target=run, daemon=True)
    consumer.start()
    time.sleep(0.5)
    mq.cut()
    consumer.join(timeout=10)
    assert not consumer.is_alive()
    assert isinstance(failure[0], BrokerUnavailableError)


@pytest.mark.integration
def test_a_publish_on_a_lost_connection_is_never_reported_as_done(
    through_proxy: tuple[KombuBus, TcpProxy],
) -> None:
    bus, mq = through_proxy
    inbound = bus.topology.inbound_exchange.name
    bus.publish(inbound, [Outgoing(b"before", "zags")])
    mq.cut()
    with pytest.raises((BrokerUnavailableError, PublishNotConfirmedError)):
        bus.publish(inbound, [Outgoing(b"during", "zags")])
    mq.restore()
    bus.publish(inbound, [Outgoing(b"after", "zags")])  # a new connection, by itself
    received: list[Delivery] = []
    stop = threading.Event()

    def on_batch(batch: list[Delivery]) -> None:
        received.extend(batch)
        for delivery in batch:
            delivery.ack()
        if len(received) >= 2:
            stop.set()

    bus.consume([bus.topology.work_queue("zags").name], on_batch, stop=stop, max_wait=0.2)
    assert [d.body for d in received] == [b"before", b"after"]
