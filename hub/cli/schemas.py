"""``hub schemas export``: write the JSON Schemas of the canonical events and commands and
the AsyncAPI document, made from the models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._common import (
    fail,
)
from hub.cli.terminal import stdout as _stdout

schemas_app = typer.Typer(
    no_args_is_help=True, help="The canonical events' and commands' schemas, and AsyncAPI."
)


@schemas_app.command("export")
def schemas_export(
    folder: Annotated[Path, typer.Option(help="where the files go")] = Path("schemas/canonical"),
    asyncapi: Annotated[
        Path, typer.Option(help="the AsyncAPI document (refers to the schemas in --folder)")
    ] = Path("schemas/asyncapi.yaml"),
    check: Annotated[
        bool, typer.Option("--check", help="only say whether the files are up to date")
    ] = False,
) -> None:
    """Write the JSON Schemas of the canonical events and registry commands (made from
    ``hub.canonical.models``) and the AsyncAPI document of the hub's messaging."""
    from hub.canonical.jsonschemas import schema_files  # noqa: PLC0415
    from hub.routing.asyncapi import asyncapi_files  # noqa: PLC0415

    files = schema_files(folder) | asyncapi_files(asyncapi, folder)
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text("utf-8") != text]
    if check:
        if stale:
            fail(f"out of date: {', '.join(map(str, stale))} (run hub schemas export)", 1)
        _stdout.print(f"{len(files)} files up to date")
        return
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
    _stdout.print(f"{len(stale)} of {len(files)} files written")
