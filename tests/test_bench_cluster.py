"""``hub bench --suite cluster`` with tiny counts, the cluster's stack only (the single node's
is the backbone suite's, tested in test_bench_backbone): it drains its backlog and measures
latency, and killing the node that leads the work queue loses nothing, with the hub's worker
and relay finding a live node by themselves."""

from __future__ import annotations

import pytest
from rich.console import Console

from hub.bench.cluster import run
from hub.bench.rabbit_cluster import missing_rabbitmq
from tests.support.replicated import require

pytestmark = pytest.mark.integration


def test_the_cluster_suite_measures_both_stacks_and_a_recovery(pg_url: str, amqp_url: str) -> None:
    """(``pg_url``'s database only serves to make the suite's own throw-away databases.)"""
    require(missing_rabbitmq())
    console = Console(record=True, width=160)
    result = run(
        console,
        pg_url,
        amqp_url,
        messages=200,
        latency_seconds=1,
        recovery_rate=100,
        settle_seconds=1,
        single_node=False,
    )
    assert [s.stack for s in result.stacks] == ["three-node cluster"]
    assert all(s.throughput > 0 and s.p99_ms is not None for s in result.stacks)
    recovery = result.recovery
    assert recovery.sent > 0
    assert recovery.lost == 0
    assert 0 < recovery.first_event_s < 30
    printed = console.export_text()
    assert "three-node cluster" in printed
    assert "first event sent after the kill" in printed
