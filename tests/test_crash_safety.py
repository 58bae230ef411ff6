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
from pathlib import Path

import pytest

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.journal.migrate import upgrade
from hub.routing.api import Outgoing
from tests.support import notice
from tests.support_bus import EventCollector, delete_topology

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[1]
MESSAGES = 2000


def _start(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", role],
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
        "HUB_ADAPTERS": '["tests.support:register"]',
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
