"""What every ``hub`` command shares: settings and the hub, failing with one line and an
exit code, bounded input, who runs the command (its token)."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from hub.access.policy import Principal
from hub.access.tokens import InvalidTokenError
from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.errors import HubError
from hub.files import InputTooLargeError, read_bounded

T = TypeVar("T")


EXIT_INVALID = 1


EXIT_BAD_INPUT = 2


STDIN = "-"


FileArg = Annotated[
    Path, typer.Argument(help="message file (XML, XML with BOM, or MTOM); - for standard input")
]


ContentType = Annotated[
    str | None, typer.Option("--content-type", help="HTTP Content-Type of the body, for MTOM")
]


def make_settings(**values: Any) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"HUB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid settings: {problems}")


def make_hub() -> Hub:
    settings = make_settings()
    set_up_logging(settings)
    return bootstrap(settings)


def set_up_logging(settings: Settings) -> None:
    from hub.logging import configure_logging  # noqa: PLC0415 - logging is set up per command

    configure_logging(
        level=settings.log_level,
        json=None if settings.log_format == "auto" else settings.log_format == "json",
    )


def xml_limit(hub: Hub) -> int:
    return hub.settings.xml_max_bytes


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    # One line on stderr: scripts read the exit code, people read this.
    print(f"hub: error: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(code)


def read_input(path: Path, limit: int) -> bytes:
    """The bytes of a file the user names (``-``: standard input), refused when over
    ``limit`` (HUB_XML_MAX_BYTES): at most ``limit`` + 1 bytes are read, so /dev/zero or an
    endless pipe is refused as too large instead of filling the memory."""
    source = sys.stdin.buffer if str(path) == STDIN else path
    try:
        return read_bounded(source, limit, "standard input" if str(path) == STDIN else None)
    except InputTooLargeError as exc:
        fail(f"{exc} (HUB_XML_MAX_BYTES)")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def command_json(path: Path, limit: int) -> dict[str, Any]:
    try:
        data = json.loads(read_input(path, limit))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{path}: not JSON: {exc}")
    if not isinstance(data, dict):
        fail(f"{path}: a registry command is a JSON object")
    return data


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except HubError as exc:
        fail(str(exc))


TOKEN_ENV = "HUB_TOKEN"  # noqa: S105 - the variable's name, not a token

TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar=TOKEN_ENV,
        show_default=False,
        help=f"your API token (`hub tokens create`); better from the {TOKEN_ENV} environment "
        "variable, which shell history does not keep",
    ),
]
Admin = Annotated[
    str,
    typer.Option(
        "--actor", envvar="HUB_OPERATOR", help="who acts (for the audit log; default: you)"
    ),
]


def principal(hub: Hub, token: str) -> Principal:
    """Who runs an operator command: the holder of ``token``; exit code 2 when there is none
    or it is not valid (the attempt is audited)."""
    if not token.strip():
        fail(f"this command needs your API token: --token or {TOKEN_ENV} (`hub tokens create`)")
    access = guarded(lambda: hub.access)  # opens the journal: its errors are not the token's
    try:
        return access.authenticate(token)
    except InvalidTokenError as exc:
        fail(f"{exc} (give a valid token with --token or {TOKEN_ENV})")
    except HubError as exc:
        fail(str(exc))


def database_actor(actor: str) -> str:
    return f"{actor or getpass.getuser()} (database access)"


JsonOption = Annotated[
    bool, typer.Option("--json", help="one JSON object per line, for scripts; nothing cut")
]
