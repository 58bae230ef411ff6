"""``hub command send``: publish a registry command exactly as the registry does.

The message is the one ``hub.simulator.registry.command_message`` makes for the reference
registry (the command's ``type`` as routing key, its ``request_id`` as ``message_id``, JSON,
a trace id in ``x-hub-trace-id``), so what works from here works from the registry, and
the other way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.canonical.jsonschemas import validate_command
from hub.cli._common import EXIT_BAD_INPUT, command_json, fail, make_hub, xml_limit
from hub.cli.terminal import stdout as _stdout
from hub.errors import HubError
from hub.services import tracing

if TYPE_CHECKING:
    from hub.bootstrap import Hub
    from hub.routing.api import Outgoing

EXIT_NOT_PUBLISHED = 1

command_app = typer.Typer(
    no_args_is_help=True, help="Registry commands: send one to the hub as the registry does."
)


@command_app.command("send")
def command_send(
    file: Annotated[
        Path, typer.Argument(help="The command, a JSON object; - reads standard input.")
    ],
    trace_id: Annotated[
        str | None,
        typer.Option(
            "--trace-id",
            help="Trace id to send (1 to 128 of A-Z a-z 0-9 . _ : -). "
            "Default: the one the hub derives from the request id.",
        ),
    ] = None,
) -> None:
    """Check a registry command against its JSON Schema, then publish it to the commands
    exchange with its type as routing key and its request id as message id. Prints the
    request id and the trace id. Exit code 2: the command is not valid; 1: the broker did
    not take it."""
    from hub.simulator.registry import command_message  # noqa: PLC0415 - loads kombu: not for every command

    hub = make_hub()
    try:
        command = command_json(file, xml_limit(hub))
        _check(command, file)
        trace = _trace_id(trace_id, str(command["request_id"]))
        published = command_message(command, trace)
        _publish(hub, published)
    finally:
        hub.close()
    exchange = hub.topology.commands_exchange.name
    _print_sent(published.routing_key, exchange, published.message_id, trace)


def _publish(hub: Hub, message: Outgoing) -> None:
    from hub.routing.bus import BrokerUnavailableError  # noqa: PLC0415
    from hub.simulator.registry import publish_commands  # noqa: PLC0415 - loads kombu

    try:
        publish_commands(hub.bus, hub.topology, [message])
    except BrokerUnavailableError as exc:
        fail(f"the broker did not take the command: {exc}", EXIT_NOT_PUBLISHED)
    except HubError as exc:  # most often: the hub's topology is not declared on this broker
        exchange = hub.topology.commands_exchange.name
        hint = f"the hub's services or `hub topology declare` make {exchange!r} and its queue"
        fail(f"the broker did not take the command: {exc} ({hint})", EXIT_NOT_PUBLISHED)


def _check(command: dict[str, Any], file: Path) -> None:
    try:
        validate_command(command)
    except HubError as exc:  # names the field and the rule, never the value
        fail(f"{file}: not a valid registry command: {exc}", EXIT_BAD_INPUT)


def _trace_id(given: str | None, request_id: str) -> str:
    if given is None:
        return tracing.derived("command", request_id)  # what the hub would take without one
    checked = tracing.valid(given)
    if checked is None:
        fail("--trace-id: expected 1 to 128 of A-Z a-z 0-9 . _ : -", EXIT_BAD_INPUT)
    return checked


def _print_sent(kind: str, exchange: str, request_id: str | None, trace: str) -> None:
    _stdout.print(f"published {kind} to {exchange!r}", markup=False, highlight=False)
    _stdout.print(f"request_id {request_id}", markup=False, highlight=False)
    _stdout.print(f"trace_id {trace}", markup=False, highlight=False)
