"""``hub bench``: the benchmark suites behind the figures in the README (``hub.bench``)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from sqlalchemy.exc import SQLAlchemyError

from hub.cli._common import (
    EXIT_INVALID,
    fail,
)
from hub.cli.terminal import console as plain_console
from hub.cli.terminal import stdout as _stdout
from hub.errors import HubError


def bench(  # noqa: PLR0917 - each parameter is a command-line option
    suite: Annotated[
        Literal["smev", "translate", "backbone", "e2e", "encryption", "cluster", "all"],
        typer.Option(
            help="what to measure ('all' leaves out cluster, which starts RabbitMQ nodes)"
        ),
    ] = "all",
    seconds: Annotated[float, typer.Option(help="time per SMEV measurement")] = 2.0,
    backend: Annotated[
        list[str] | None, typer.Option(help="GOST backends to measure (default: all available)")
    ] = None,
    pg_admin_url: Annotated[
        str, typer.Option(help="PostgreSQL where a throw-away bench database is made")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    amqp_url: Annotated[str, typer.Option(help="RabbitMQ")] = "amqp://guest:guest@127.0.0.1:5672//",
    messages: Annotated[int, typer.Option(help="backlog drained for throughput")] = 20_000,
    memory_messages: Annotated[int, typer.Option(help="messages for the memory check")] = 100_000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (backbone)")] = 1,
    inputs: Annotated[
        int, typer.Option(min=1, help="distinct messages per kind (translate)")
    ] = 1_000,
    rounds: Annotated[int, typer.Option(min=1, help="passes over them (translate)")] = 7,
    count: Annotated[
        int, typer.Option(min=2, help="round trips on PostgreSQL + RabbitMQ (e2e)")
    ] = 3000,
    embedded_count: Annotated[int, typer.Option(min=2, help="round trips embedded (e2e)")] = 1000,
    simulator: Annotated[
        list[str] | None,
        typer.Option(help="e2e: the simulator in a child 'process' (default) and/or a 'thread'"),
    ] = None,
    simulator_verify: Annotated[
        str, typer.Option(help="e2e: the simulator checks the hub's signatures: on, off, both")
    ] = "on",
    as_json: Annotated[bool, typer.Option("--json", help="e2e: results as JSON on stdout")] = False,
    latency_seconds: Annotated[
        float, typer.Option(min=1, help="cluster: seconds of the latency phase per stack")
    ] = 10.0,
) -> None:
    """SMEV hot paths (5 KB signed response), translation into canonical events, and the
    inbound path on both stacks; ``cluster`` (only when asked for: it starts a local
    three-node RabbitMQ cluster, as root or the rabbitmq user) the inbound path on it beside
    the single broker, and the recovery from a node's death."""
    if suite in ("smev", "all"):
        from hub.bench.smev import run  # noqa: PLC0415

        run(seconds=seconds, backends=backend, console=_stdout)
    if suite in ("translate", "all"):
        from hub.bench.translate import run as run_translate  # noqa: PLC0415

        run_translate(_stdout, inputs, rounds)
    if suite in ("backbone", "all"):
        from hub.bench.backbone import run as run_backbone  # noqa: PLC0415

        try:
            run_backbone(
                _stdout, pg_admin_url, amqp_url, messages, memory_messages, workers=workers
            )
        except (HubError, OSError, SQLAlchemyError) as exc:
            # The inbound-path figures need PostgreSQL and RabbitMQ; say so, don't crash.
            _stdout.print(f"backbone benchmark skipped: {exc}", style="yellow")
            raise typer.Exit(EXIT_INVALID) from exc
    if suite in ("encryption", "all"):
        from hub.bench.encryption import run as run_encryption  # noqa: PLC0415

        run_encryption(_stdout, pg_admin_url, messages)
    if suite == "cluster":
        _bench_cluster(pg_admin_url, amqp_url, messages, latency_seconds)
    if suite in ("e2e", "all"):
        _bench_e2e(
            pg_admin_url,
            amqp_url,
            count,
            embedded_count,
            simulator,
            simulator_verify,
            as_json=as_json,
        )


def _bench_cluster(pg_admin_url: str, amqp_url: str, messages: int, seconds: float) -> None:
    from hub.bench.cluster import run  # noqa: PLC0415

    try:
        run(_stdout, pg_admin_url, amqp_url, messages, latency_seconds=seconds)
    except (HubError, OSError, SQLAlchemyError, RuntimeError) as exc:
        # TimeoutError is an OSError; RuntimeError: a RabbitMQ tool or node failed.
        _stdout.print(f"cluster benchmark failed: {exc}", style="yellow")
        raise typer.Exit(EXIT_INVALID) from exc


def _bench_e2e(  # noqa: PLR0917 - the e2e suite's options
    pg_admin_url: str,
    amqp_url: str,
    count: int,
    embedded_count: int,
    simulators: list[str] | None,
    verify: str,
    *,
    as_json: bool,
) -> None:
    from hub.bench.e2e import SIMULATOR_MODES, run  # noqa: PLC0415

    modes = simulators or ["process"]
    if any(m not in SIMULATOR_MODES for m in modes) or verify not in ("on", "off", "both"):
        fail("--simulator takes process or thread; --simulator-verify on, off or both")
    checks = {"on": [True], "off": [False], "both": [True, False]}[verify]
    console = plain_console(stderr=True) if as_json else _stdout  # stdout keeps only the JSON
    try:
        run(
            console,
            pg_admin_url,
            amqp_url,
            count,
            embedded_count,
            modes,  # type: ignore[arg-type]
            checks,
            as_json=as_json,
        )
    except (HubError, OSError, SQLAlchemyError) as exc:
        console.print(f"end-to-end benchmark failed: {exc}", style="yellow")
        raise typer.Exit(EXIT_INVALID) from exc
