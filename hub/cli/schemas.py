"""``hub schemas export``: write the JSON Schemas of the canonical events and commands and
the AsyncAPI document, made from the models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._common import (
    fail,
    make_settings,
)
from hub.cli.terminal import stdout as _stdout

schemas_app = typer.Typer(
    no_args_is_help=True, help="The canonical events' and commands' schemas, and AsyncAPI."
)


@schemas_app.command("export")
def schemas_export(
    folder: Annotated[
        Path | None, typer.Option(help="where the files go [default: HUB_SCHEMAS_DIR/canonical]")
    ] = None,
    asyncapi: Annotated[
        Path | None,
        typer.Option(
            help="the AsyncAPI document (refers to the schemas in --folder) "
            "[default: HUB_SCHEMAS_DIR/asyncapi.yaml]"
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="only say whether the files are up to date")
    ] = False,
) -> None:
    """Write the JSON Schemas of the canonical events and registry commands (made from
    ``hub.canonical.models``) and the AsyncAPI document of the hub's messaging, into the
    hub's schemas folder (``HUB_SCHEMAS_DIR``) unless told where."""
    from hub.canonical.jsonschemas import schema_files  # noqa: PLC0415
    from hub.routing.asyncapi import asyncapi_files  # noqa: PLC0415

    if folder is None or asyncapi is None:  # settings only when they name a default
        schemas_dir = make_settings().schemas_dir
        folder = folder or schemas_dir / "canonical"
        asyncapi = asyncapi or schemas_dir / "asyncapi.yaml"
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
