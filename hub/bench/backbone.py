"""``hub bench --suite backbone``: the inbound path without agency logic.

store in inbox → route → mark processed + outbox → relay publishes with confirms → a
consumer receives. Production parts (PostgreSQL, RabbitMQ) run the worker and the relay as
separate processes, as deployed; the embedded default runs them as threads in one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pika
from kombu.connection import Connection
from kombu.entity import Queue
from lxml import etree
from rich.console import Console
from rich.table import Table

from hub.adapters.router import Router, Translation
from hub.bench.raw_amqp import measure_raw, pika_parameters
from hub.bootstrap import Hub, bootstrap
from hub.canonical.drafts import EventDraft
from hub.config import Settings
from hub.errors import ConfigurationError
from hub.journal.records import InboxRecord
from hub.routing.api import Outgoing
from hub.routing.bus import delete_topology
from hub.smev import SendRequest, build_send_request, serialize
from hub.smev.read import SmevMessage

BENCH_NS = "urn://hub.bench.smev/ping/1.0"
PLUGIN = "hub.bench.backbone:register"


def register(router: Router) -> None:
    """Plug-in: one event per bench message (no agency logic)."""
    router.register_inbound(f"{{{BENCH_NS}}}Ping", _translate)


def _translate(message: SmevMessage, record: InboxRecord) -> Translation:
    content = message.content
    n = int(content.get("n", "0")) if content is not None else 0
    sent = float(content.get("sent", "0")) if content is not None else 0.0
    return Translation([EventDraft("bench.ping.received", f"s{n % 1000}", {"n": n, "sent": sent})])


def ping(n: int, sent: float = 0.0) -> bytes:
    content = etree.Element(f"{{{BENCH_NS}}}Ping", nsmap={"b": BENCH_NS})
    content.set("n", str(n))
    content.set("sent", repr(sent))
    etree.SubElement(content, f"{{{BENCH_NS}}}Padding").text = "x" * 400
    return serialize(build_send_request(SendRequest(content), "1.3"))


@dataclass
class Collector:
    """Counts events and their end-to-end latency (from the ``sent`` time in the payload),
    consuming the registry's queue as a registry would (the hub declared and bound it)."""

    url: str
    queue_name: str
    latencies: list[float] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    first_at: float | None = None  # perf_counter of the first event: startup is not throughput
    last_tag: int = 0
    acked_tag: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        if self.url.startswith("memory://"):
            self._run_memory()
        else:
            self._run_pika()

    def _run_memory(self) -> None:
        # The in-process broker only speaks kombu.
        queue = Queue(self.queue_name, no_declare=True)
        with Connection(self.url) as connection:
            callbacks = [self._on_kombu_message]
            with connection.Consumer(queue, callbacks=callbacks, accept=None) as consumer:
                consumer.qos(prefetch_count=1000)
                self.ready.set()
                while not self.stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=0.1)
            queue(connection.channel()).purge()  # what is left is not the next phase's

    def _on_kombu_message(self, _body: object, message: Any) -> None:
        self._count(message.body)
        message.ack()

    def _run_pika(self) -> None:
        # pika, with one multiple-ack per burst: the registry's consumer, not kombu's
        # per-message overhead, is what a deployment would run.
        # A cluster's ';'-separated list: its first node (each node serves every queue).
        connection = pika.BlockingConnection(pika_parameters(self.url.split(";")[0]))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1000)
        channel.basic_consume(self.queue_name, self._on_message)
        self.ready.set()
        try:
            while not self.stop.is_set():
                connection.process_data_events(time_limit=0.05)
                self._ack(channel)
            channel.queue_purge(self.queue_name)  # what is left is not the next phase's
        finally:
            connection.close()

    def _on_message(self, channel: Any, method: Any, _props: object, body: bytes) -> None:
        self._count(body)
        self.last_tag = method.delivery_tag
        if method.delivery_tag % 100 == 0:
            self._ack(channel)

    def _count(self, body: bytes) -> None:
        data = json.loads(body)["data"]
        if data["sent"]:
            self.latencies.append(time.time() - data["sent"])
        if self.first_at is None:
            self.first_at = time.perf_counter()
        self.seen.add(data["n"])

    def _ack(self, channel: Any) -> None:
        if self.last_tag > self.acked_tag:
            channel.basic_ack(self.last_tag, multiple=True)
            self.acked_tag = self.last_tag


@contextlib.contextmanager
def collecting(hub: Hub) -> Iterator[Collector]:
    registry = hub.topology.registry_queue
    if registry is None:
        raise ConfigurationError("the backbone benchmark consumes the registry's queue")
    collector = Collector(hub.settings.broker_url.get_secret_value(), registry.name)
    thread = threading.Thread(target=collector.run, daemon=True)
    thread.start()
    collector.ready.wait(10)
    try:
        yield collector
    finally:
        collector.stop.set()
        thread.join(10)


@contextlib.contextmanager
def services(hub: Hub, separate_processes: bool, workers: int = 1) -> Iterator[int]:
    """Worker(s) and relay running; yields the pid whose memory to watch (the first worker)."""
    if not separate_processes:
        stop = threading.Event()
        threads = [
            threading.Thread(target=s.run, args=(stop,), daemon=True)
            for s in (hub.worker, hub.relay)
        ]
        for thread in threads:
            thread.start()
        yield os.getpid()
        stop.set()
        for thread in threads:
            thread.join(30)
        return
    env = {**os.environ, **_env(hub.settings)}
    processes = [
        subprocess.Popen([sys.executable, "-m", "hub", role], env=env)
        for role in ("worker",) * workers + ("relay",)
    ]
    yield processes[0].pid
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def _env(settings: Settings) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": settings.database_url.get_secret_value(),
        "HUB_BROKER_URL": settings.broker_url.get_secret_value(),
        "HUB_TOPOLOGY_PREFIX": settings.topology_prefix,
        "HUB_ADAPTERS": json.dumps([PLUGIN]),
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_WORKER_BATCH": str(settings.worker_batch),
    }


def _publish(hub: Hub, first: int, count: int, sent: float = 0.0, batch: int = 200) -> None:
    for start in range(first, first + count, batch):
        hub.bus.publish(
            hub.topology.inbound_exchange.name,
            [
                Outgoing(
                    ping(n, sent),
                    "zags",
                    {"x-hub-source": "smev"},
                    str(uuid.uuid4()),
                    "text/xml",
                )
                for n in range(start, min(start + batch, first + count))
            ],
        )


def _wait(collector: Collector, total: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while len(collector.seen) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(collector.seen) >= total


@dataclass
class Result:
    stack: str
    throughput: float
    p50_ms: float | None
    p99_ms: float | None
    latency_rate: float
    rss_start_mb: float | None
    rss_end_mb: float | None
    raw_rabbitmq: float | None


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def throughput(hub: Hub, messages: int, separate: bool, workers: int = 1) -> float:
    """Sustained rate: a backlog of ``messages`` drained end to end, timed from the first
    event out (process start-up and connecting are not part of a sustained rate)."""
    with collecting(hub) as collector:
        _publish(hub, 0, messages)
        with services(hub, separate, workers):
            _wait(collector, messages, timeout=messages / 100 + 60)
            done = time.perf_counter()
    if collector.first_at is None or len(collector.seen) < 2:
        return 0.0
    return (len(collector.seen) - 1) / (done - collector.first_at)


def memory(hub: Hub, messages: int, separate: bool, console: Console) -> tuple[float, float]:
    """The worker's resident memory after the first and the last tenth of ``messages``."""
    step = messages // 10
    samples: list[float] = []
    with collecting(hub) as collector, services(hub, separate) as pid:
        for tenth in range(10):
            _publish(hub, tenth * step, step)
            _wait(collector, (tenth + 1) * step, timeout=step / 100 + 60)
            samples.append(_rss_mb(pid))
            console.print(f"  {len(collector.seen):,} messages: worker RSS {samples[-1]:,.0f} MB")
    return samples[0], samples[-1]


def latency(
    hub: Hub, rate: float, seconds: float, separate: bool, workers: int = 1
) -> tuple[float, float]:
    """p50 and p99 end-to-end latency (ms) with messages arriving at ``rate`` per second."""
    with collecting(hub) as collector, services(hub, separate, workers):
        time.sleep(3)  # services connected and idle
        total = int(rate * seconds)
        step = 20
        start = time.perf_counter()
        for i in range(0, total, step):
            due = start + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            _publish_timed(hub, 10_000_000 + i, step)
        _wait(collector, total, timeout=60)
    values = sorted(collector.latencies)
    return statistics.median(values) * 1000, values[int(len(values) * 0.99) - 1] * 1000


def _publish_timed(hub: Hub, first: int, count: int) -> None:
    now = time.time()
    hub.bus.publish(
        hub.topology.inbound_exchange.name,
        [
            Outgoing(ping(n, now), "zags", {"x-hub-source": "smev"}, str(uuid.uuid4()), "text/xml")
            for n in range(first, first + count)
        ],
    )


def table(results: list[Result]) -> Table:
    out = Table(title="hub bench: inbound path (store → route → outbox → relay → consumer)")
    for column in (
        "stack",
        "msg/s sustained",
        "p50 ms",
        "p99 ms",
        "at msg/s",
        "RSS MB start→end",
        "share of raw RabbitMQ",
    ):
        out.add_column(column)
    for r in results:
        out.add_row(
            r.stack,
            f"{r.throughput:,.0f}",
            _ms(r.p50_ms),
            _ms(r.p99_ms),
            f"{r.latency_rate:,.0f}",
            f"{r.rss_start_mb:,.0f}→{r.rss_end_mb:,.0f}" if r.rss_start_mb else "—",
            f"{r.throughput / r.raw_rabbitmq:.0%} of {r.raw_rabbitmq:,.0f}"
            if r.raw_rabbitmq
            else "—",
        )
    return out


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def run_stack(
    name: str,
    database_url: str,
    broker_url: str,
    *,
    messages: int,
    separate: bool,
    console: Console,
    memory_messages: int = 0,
    workers: int = 1,
) -> Result:
    """All figures for one stack (a fresh topology prefix each time)."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url,
        broker_url=broker_url,
        topology_prefix=prefix,
        require_signatures=False,
        adapters=(PLUGIN,),
    )
    hub = bootstrap(settings)
    hub.bus.declare()
    try:
        console.print(f"{name}: draining a backlog of {messages:,} messages…")
        rate = throughput(hub, messages, separate, workers)
        console.print(f"{name}: latency at {rate / 2:,.0f} msg/s…")
        p50, p99 = latency(hub, rate / 2, 10, separate, workers)
        rss: tuple[float | None, float | None] = (None, None)
        if memory_messages:
            console.print(f"{name}: memory over {memory_messages:,} messages…")
            rss = memory(hub, memory_messages, separate, console)
        return Result(name, rate, p50, p99, rate / 2, *rss, None)
    finally:
        delete_topology(
            hub.settings.broker_url.get_secret_value(), hub.topology, tls=hub.broker_tls
        )
        hub.close()


@contextlib.contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    """A throw-away PostgreSQL database, migrated."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from hub.journal.migrate import upgrade  # noqa: PLC0415

    admin = make_url(admin_url)
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(
    console: Console,
    pg_admin_url: str,
    amqp_url: str,
    messages: int = 20_000,
    memory_messages: int = 100_000,
    *,
    workers: int = 1,
) -> list[Result]:
    """Production parts and the embedded default, side by side."""
    import tempfile  # noqa: PLC0415

    results = []
    with bench_database(pg_admin_url) as database:
        production = run_stack(
            f"PostgreSQL + RabbitMQ ({workers} worker, 1 relay processes)",
            database,
            amqp_url,
            messages=messages,
            separate=True,
            console=console,
            memory_messages=memory_messages,
            workers=workers,
        )
    console.print("raw RabbitMQ (pika publish + consume of the same bodies)…")
    production.raw_rabbitmq = measure_raw(amqp_url, messages, size=len(ping(0))).raw_round_trip
    results.append(production)
    with tempfile.TemporaryDirectory() as folder:
        results.append(
            run_stack(
                "embedded: SQLite + in-memory broker (one process)",
                f"sqlite:///{folder}/hub.db",
                "memory://",
                messages=messages // 4,
                separate=False,
                console=console,
            )
        )
    console.print(table(results))
    return results
