"""``hub topology``: declare the exchanges and queues on the broker, or show them."""

from __future__ import annotations

import typer

from hub.cli._common import (
    guarded,
    make_hub,
)
from hub.cli.terminal import stdout as _stdout

topology_app = typer.Typer(no_args_is_help=True, help="Exchanges and queues on the broker.")


@topology_app.command("declare")
def topology_declare() -> None:
    """Declare exchanges, queues and bindings (idempotent), the registry's queue included."""
    hub = make_hub()
    topology = guarded(lambda: hub.topology)
    guarded(hub.bus.declare)
    _stdout.print(f"declared topology {topology.prefix!r} on the broker")
    _stdout.print(topology.events_summary(), markup=False, highlight=False)


@topology_app.command("show")
def topology_show() -> None:
    """Print the topology the hub declares."""
    hub = make_hub()
    topology = guarded(lambda: hub.topology)
    _stdout.print(topology.describe(), markup=False, highlight=False)
    _stdout.print(topology.events_summary(), markup=False, highlight=False)
