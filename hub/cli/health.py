"""``hub health``: the dependencies, the backlog and the queue depths, as tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from hub.cli._common import (
    EXIT_INVALID,
    fail,
    make_hub,
)
from hub.cli.terminal import stdout as _stdout
from hub.cli.terminal import styled
from hub.services.health import OK, HealthReport, counts_dict


def health(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    check: Annotated[
        list[str] | None,
        typer.Option(help="only these: broker, database, smev, files (default: all)"),
    ] = None,
    max_age: Annotated[
        float | None,
        typer.Option(min=0.0, help="unhealthy if the oldest unprocessed message is older (s)"),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds each dependency gets")] = 5.0,
) -> None:
    """Broker, database and SMEV reachable, the files the services need there, queue
    depths, backlog; exit 1 if unhealthy."""
    from hub.services.health import CHECKS, check_health  # noqa: PLC0415

    unknown = sorted(set(check or ()) - set(CHECKS))
    if unknown:
        fail(f"--check {', '.join(unknown)}: expected one of {', '.join(CHECKS)}")
    only = [name for name in CHECKS if name in (check or CHECKS)]
    hub = make_hub()
    report = check_health(hub, timeout=timeout, max_age=max_age, only=only)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _stdout.print(render(report))
    if not report.healthy:
        raise typer.Exit(EXIT_INVALID)


def render(report: HealthReport) -> Group:
    """The report as Rich tables: dependencies, then the backlog and queue depths."""
    verdict = styled("healthy", "green") if report.healthy else styled("UNHEALTHY", "red")
    checks = Table(title=Text.assemble("hub health: ", verdict))
    for column in ("dependency", "status", "detail"):
        checks.add_column(column)
    for check in report.checks:
        colour = "green" if check.status == OK else "red" if not check.healthy else "yellow"
        checks.add_row(check.name, styled(check.status, colour), check.detail)
    return Group(checks, _backlog_table(report))


def _backlog_table(report: HealthReport) -> Table:
    table = Table(title="backlog", show_header=False)
    age = report.oldest_age
    limit = f" (limit {report.max_age:g} s)" if report.max_age is not None else ""
    table.add_row("oldest unprocessed", ("—" if age is None else f"{age:.0f} s") + limit)
    for name, value in (counts_dict(report.counts) or {}).items():
        table.add_row(name.replace("_", " "), _plain(value))
    for queue, depth in sorted(report.queue_depths.items()):
        table.add_row(f"queue {queue}", str(depth))
    return table


def _plain(value: object) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {count}" for key, count in value.items())
    return str(value)
