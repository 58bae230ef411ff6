"""The end-to-end benchmark's machinery with tiny counts: every command answered with the
event the population expects, and the figures sane, on the embedded stack and on PostgreSQL +
RabbitMQ (skipped locally when they are not running, failing in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from hub.bench.e2e import Options, Result, measure, percentile, table
from hub.journal.migrate import upgrade

pytestmark = pytest.mark.integration


def _sane(result: Result, count: int) -> None:
    assert (result.commands, result.answered, result.as_expected) == (count, count, count)
    assert result.throughput > 1
    assert result.latency_commands > 0
    assert result.latency_answered == result.latency_commands
    assert result.p50_ms is not None and result.p99_ms is not None
    assert 0 < result.p50_ms <= result.p99_ms < 60_000


def test_the_embedded_stack_answers_every_command(
    tmp_path: Path, fast_backend: object, reference_dir: Path
) -> None:
    options = Options(40, "thread", latency_seconds=1.0, smev_batch=20)
    result = measure("embedded", f"sqlite:///{tmp_path}/hub.db", "memory://", options, Console())
    _sane(result, 40)
    assert result.services == "threads of one process"


def test_the_production_stack_answers_every_command(
    pg_url: str, amqp_url: str, fast_backend: object, reference_dir: Path
) -> None:
    upgrade(pg_url)
    options = Options(60, "process", verify=True, separate=True, latency_seconds=1.0)
    result = measure("production", pg_url, amqp_url, options, Console())
    _sane(result, 60)
    assert result.services == "3 processes"
    assert "60/60" in _rendered(result)


def _rendered(result: Result) -> str:
    console = Console(width=200, record=True)
    console.print(table([result]))
    return console.export_text()


def test_percentiles_take_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99)) == (50.0, 99.0)
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None
