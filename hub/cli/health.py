"""``hub health``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hub.cli._common import (
    EXIT_INVALID,
    fail,
    make_hub,
)
from hub.cli.terminal import stdout as _stdout


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
    from hub.services.health import CHECKS, check_health, render  # noqa: PLC0415

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
