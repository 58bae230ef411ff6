"""Chaos on the database: ``hub run`` on a PostgreSQL primary with a synchronous standby (its
URL libpq's list of both hosts with ``target_session_attrs=read-write``) sees the primary
stopped at once and the standby promoted while the registry's checks and ZAGS's notices flow
through it. The hub must carry on against the new primary by itself, and nothing it
acknowledged upstream (a command taken off the broker, a SMEV message Acked, an event marked
published) may be missing: with synchronous replication every commit the hub saw was on the
standby too. ``tests/support/chaos.py`` counts; the broker is the machine's RabbitMQ."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.crypto import GostBackend
from hub.crypto.keys import Certificate, PrivateKey
from tests.support.chaos import (
    Feeder,
    Stage,
    assert_exactly_once,
    await_events,
    await_expected,
    chaos_stage,
)
from tests.support.replicated import PostgresPair, pair_for_test
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

SERVICES = {"worker-1", "worker-2", "relay", "smev-client"}
TIMEOUT = 90.0  # seconds the hub gets to deliver everything after the failover


@pytest.fixture
def pair() -> Iterator[PostgresPair]:
    with pair_for_test() as running:
        yield running


@pytest.fixture
def stage(  # noqa: PLR0917 - pytest fixtures
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pair: PostgresPair,
    amqp_url: str,
    topology_prefix: str,
    fast_backend: GostBackend,
    dev_key_pair: tuple[PrivateKey, Certificate],
    reference_dir: Path,
) -> Iterator[Stage]:
    with chaos_stage(
        monkeypatch,
        tmp_path,
        pair.url(),
        amqp_url,
        topology_prefix,
        fast_backend,
        dev_key_pair,
        reference_dir,
    ) as made:
        yield made


def test_the_database_fails_over_mid_stream(stage: Stage, pair: PostgresPair) -> None:
    deployment = stage.deploy()
    try:
        wait_for(lambda: deployment.started() == SERVICES, 30, deployment.tail)
        feeder = Feeder(stage, interval=0.5)
        assert await_events(stage, 3, 60), deployment.tail()
        assert feeder.sent < len(stage.checks), "everything was sent before the failover"
        promoted = pair.failover()
        began = time.monotonic()
        print(f"\nfailover: new primary on {pair.primary} after {promoted:.1f} s")
        feeder.join()
        assert await_expected(stage, TIMEOUT), (stage.registry.count_by_type(), deployment.tail())
        print(f"everything delivered {time.monotonic() - began:.1f} s after the failover")
        print(assert_exactly_once(stage, deployment.tail))
        print("\n".join(f"  {n} × {what}" for what, n in deployment.troubles().most_common()))
    finally:
        deployment.stop()
