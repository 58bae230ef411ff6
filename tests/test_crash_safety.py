"""Crash safety: `hub worker` killed with SIGKILL again and again loses and doubles nothing.

Real processes on PostgreSQL and RabbitMQ: 2,000 messages go in, the worker (and once the
relay) is killed at random moments and restarted, and a deduplicating consumer must see
every event exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.journal.migrate import upgrade
from hub.journal.records import InboundMessage
from hub.routing.api import Outgoing
from hub.services.ingress import hand_over
from tests.support.bus import EventCollector, delete_topology
from tests.support.notices import NOTICE, notice
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[1]
MESSAGES = 2000


def _start(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", role],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _feed(hub: Hub, bodies: list[bytes]) -> None:
    # Spread the load over a few seconds so the kills land mid-stream.
    for start in range(0, len(bodies), 100):
        hub.bus.publish(
            hub.topology.inbound_exchange.name,
            [
                Outgoing(body, "zags", {"x-hub-source": "smev"}, str(uuid.uuid4()), "text/xml")
                for body in bodies[start : start + 100]
            ],
        )
        time.sleep(0.4)


def test_sigkill_loses_and_doubles_nothing(
    pg_url: str, amqp_url: str, topology_prefix: str
) -> None:
    upgrade(pg_url)
    env = {
        **os.environ,
        "HUB_DATABASE_URL": pg_url,
        "HUB_BROKER_URL": amqp_url,
        "HUB_TOPOLOGY_PREFIX": topology_prefix,
        "HUB_ADAPTERS": '["tests.support.notices:register"]',
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_LOG_LEVEL": "WARNING",
    }
    settings = Settings(database_url=pg_url, broker_url=amqp_url, topology_prefix=topology_prefix)
    hub = bootstrap(settings)
    hub.bus.declare()
    rng = random.Random(20261128)
    bodies = [notice(f"child-{i % 50}", i) for i in range(MESSAGES)]
    try:
        with EventCollector(hub) as events:
            worker, relay = _start("worker", env), _start("relay", env)
            feeder = threading.Thread(target=_feed, args=(hub, bodies), daemon=True)
            feeder.start()
            mid_stream = 0
            for kill in range(6):
                time.sleep(rng.uniform(0.3, 1.5))
                victim = relay if kill == 2 else worker
                mid_stream += len(events.unique()) < MESSAGES
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                if victim is relay:
                    relay = _start("relay", env)
                else:
                    worker = _start("worker", env)
            feeder.join()
            deadline = time.monotonic() + 180
            while len(events.unique()) < MESSAGES and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(3)  # let a just-restarted process settle, then stop it the polite way
            for process in (worker, relay):
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=60) == 0
        unique = events.unique()
        assert mid_stream >= 3, "the kills did not land while messages were flowing"
        assert len(unique) == MESSAGES, f"{MESSAGES - len(unique)} events lost"
        assert {e["data"]["n"] for e in unique.values()} == set(range(MESSAGES))
        assert not hub.journal.pending_events(10)
        assert not hub.journal.failed()
    finally:
        delete_topology(amqp_url, hub.topology)
        hub.close()


def _received_total(folder: Path) -> float:
    """hub_messages_received_total over every process that wrote to ``folder``, the killed
    ones included (their files stay)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "hub_messages_received_total"
    )


def _stored_by_the_smev_client(hub: Hub, first: int, count: int) -> None:
    messages = [
        InboundMessage("smev", str(uuid.uuid4()), notice(f"s{n}", n), agency="zags", kind=NOTICE)
        for n in range(first, first + count)
    ]
    hand_over(hub.bus, hub.topology, messages, hub.journal.receive(messages))


def test_a_worker_killed_mid_batch_counts_every_message_received_once(
    pg_url: str, amqp_url: str, topology_prefix: str, tmp_path: Path
) -> None:
    upgrade(pg_url)
    folder = tmp_path / "metrics"
    env = {
        **os.environ,
        "HUB_DATABASE_URL": pg_url,
        "HUB_BROKER_URL": amqp_url,
        "HUB_TOPOLOGY_PREFIX": topology_prefix,
        "HUB_ADAPTERS": '["tests.support.notices:register_slow"]',
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_WORKER_BATCH": "10",  # 10 in hand, 10 more prefetched
        "HUB_METRICS_DIR": str(folder),
        "HUB_LOG_LEVEL": "WARNING",
    }
    settings = Settings(database_url=pg_url, broker_url=amqp_url, topology_prefix=topology_prefix)
    hub = bootstrap(settings)
    hub.bus.declare()
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        _feed(hub, [notice(f"child-{n}", n) for n in range(60)])  # delivered, not stored
        _stored_by_the_smev_client(hub, 60, 20)  # stored first, then delivered
        worker = _start("worker", env)
        wait_for(lambda: hub.journal.activity(since).processed >= 10, 60)
        worker.send_signal(signal.SIGKILL)  # mid-stream: a batch in hand, more prefetched
        worker.wait()
        processed_before = hub.journal.activity(since).processed
        assert processed_before < 80, "the kill came too late to land mid-stream"
        worker = _start("worker", env)
        wait_for(lambda: hub.journal.activity(since).processed == 80, 120)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        assert _received_total(folder) == 80
    finally:
        delete_topology(amqp_url, hub.topology)
        hub.close()
