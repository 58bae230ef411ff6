"""``hub translate``: what the hub would make of a message or an answer, without storing or
publishing anything (the worker's own functions, through the intake gate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli._common import (
    ContentType,
    command_json,
    fail,
    make_hub,
    read_input,
    xml_limit,
)
from hub.cli.terminal import stdout as _stdout
from hub.errors import HubError


def translate(
    file: Annotated[
        Path | None,
        typer.Argument(help="SMEV message or business payload (XML); - for standard input"),
    ] = None,
    command: Annotated[
        Path | None,
        typer.Option(
            "--command", help="registry command (JSON) that the message answers; - for stdin"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one CloudEvent per line")] = False,
    content_type: ContentType = None,
) -> None:
    """Print the events a message becomes (and the requests it would send); exit 2 if it
    cannot be translated. With only ``--command``: what the command sends."""
    from hub.services.preview import preview, preview_command  # noqa: PLC0415

    hub = make_hub()
    order = command_json(command, xml_limit(hub)) if command is not None else None
    try:
        if file is None:
            if order is None:
                fail("give a message FILE, a --command, or both")
            result = preview_command(order, hub.router)
        else:
            raw = read_input(file, xml_limit(hub))
            result = preview(
                raw, hub.router, hub.xml_limits, command=order, content_type=content_type
            )
    except HubError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    _print_preview(result, as_json)


def _print_preview(result: Any, as_json: bool) -> None:
    if as_json:
        for event in result.events:
            print(json.dumps(event, ensure_ascii=False))
        for request in result.requests:
            print(json.dumps(_request_fields(request), ensure_ascii=False))
        return
    for event in result.events:
        _stdout.print(f"{event['type']} {event['subject']}", style="bold")
        _stdout.print_json(json.dumps(event["data"], ensure_ascii=False))
    for request in result.requests:
        _stdout.print(f"request to {request.agency} ({request.kind})", style="bold")
        _stdout.print(request.content.decode())
    if not result.events and not result.requests:
        _stdout.print("no events and no requests")


def _request_fields(request: Any) -> dict[str, object]:
    return {
        "request": request.request_id,
        "agency": request.agency,
        "kind": request.kind,
        "content": request.content.decode(),
        "reply_to": request.reply_to,
    }
