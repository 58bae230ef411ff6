"""The bus's own throughput on RabbitMQ, next to raw pika on the same broker and bodies.

Both sides use a quorum queue, so the difference is the client, not the queue type. The
raw side is an upper bound: pika publishes without confirms (timed until the queue holds
every message) and acks every 100th delivery with ``multiple``; the bus publishes with
confirms in batches and acks each delivery.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pika

from hub.routing.api import Delivery, Outgoing
from hub.routing.bus import KombuBus, delete_topology
from hub.routing.topology import Topology, build_topology


@dataclass(frozen=True)
class Throughput:
    """Messages per second: the hub's bus and raw pika, publishing and consuming."""

    messages: int
    size: int
    batch: int
    hub_publish: float
    hub_consume: float
    raw_publish: float
    raw_consume: float

    @property
    def hub_round_trip(self) -> float:
        return _serial(self.hub_publish, self.hub_consume)

    @property
    def raw_round_trip(self) -> float:
        """Publish then consume, as one rate: the figure to compare the hub with."""
        return _serial(self.raw_publish, self.raw_consume)

    @property
    def share(self) -> float:
        return self.hub_round_trip / self.raw_round_trip


def _serial(first: float, second: float) -> float:
    return 1 / (1 / first + 1 / second)


def measure_raw(url: str, n: int = 10_000, size: int = 1024, batch: int = 100) -> Throughput:
    """Publish ``n`` bodies of ``size`` bytes and consume them back, through the bus and
    through pika alone; every queue and exchange made for it is deleted afterwards."""
    body = os.urandom(size)
    hub_publish, hub_consume = _hub(url, n, body, batch)
    raw_publish, raw_consume = _raw(url, n, body)
    return Throughput(n, size, batch, hub_publish, hub_consume, raw_publish, raw_consume)


def _hub(url: str, n: int, body: bytes, batch: int) -> tuple[float, float]:
    topology = build_topology(f"bench{uuid.uuid4().hex[:8]}", agencies=("zags",))
    bus = KombuBus(url, topology)
    bus.declare()
    try:
        messages = [
            Outgoing(body, "zags", {}, str(i), "application/octet-stream") for i in range(n)
        ]
        start = time.perf_counter()
        for first in range(0, n, batch):
            bus.publish(topology.inbound_exchange.name, messages[first : first + batch])
        published = time.perf_counter() - start
        return n / published, n / _hub_consume(bus, topology, n, batch)
    finally:
        bus.close()
        delete_topology(url, topology)


def _hub_consume(bus: KombuBus, topology: Topology, n: int, batch: int) -> float:
    stop, seen = threading.Event(), [0]

    def on_batch(deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            delivery.ack()
        seen[0] += len(deliveries)
        if seen[0] >= n:
            stop.set()

    start = time.perf_counter()
    queue = topology.work_queue("zags").name
    bus.consume([queue], on_batch, stop=stop, prefetch=2 * batch, max_batch=batch)
    return time.perf_counter() - start


def _raw(url: str, n: int, body: bytes) -> tuple[float, float]:
    queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        published = _raw_publish(channel, queue, n, body)
        return n / published, n / _raw_consume(channel, queue, n)
    finally:
        with contextlib.suppress(Exception):
            connection.channel().queue_delete(queue)
        connection.close()


def _raw_publish(channel: Any, queue: str, n: int, body: bytes) -> float:
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/octet-stream")
    start = time.perf_counter()
    for i in range(n):
        properties.message_id = str(i)
        channel.basic_publish("", queue, body, properties)
    while channel.queue_declare(queue, passive=True).method.message_count < n:
        time.sleep(0.001)  # until the broker holds every message
    return time.perf_counter() - start


def _raw_consume(channel: Any, queue: str, n: int) -> float:
    channel.basic_qos(prefetch_count=200)
    start = time.perf_counter()
    for count, (method, _properties, _body) in enumerate(channel.consume(queue), start=1):
        if count % 100 == 0 or count == n:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if count == n:
            break
    channel.cancel()
    return time.perf_counter() - start


def pika_parameters(url: str) -> Any:
    """pika's connection parameters for a kombu-style AMQP URL."""
    # kombu reads "amqp://host//" as the vhost "/", pika as ""; pika wants it quoted.
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) or "/"
    return pika.URLParameters(urlunsplit(parts._replace(path="/" + quote(vhost, safe=""))))
