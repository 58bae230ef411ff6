"""The ``hub`` command line: the commands of every group, put together in the order
``hub --help`` lists them. Each group lives in a module of its own beside this one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from hub.cli import (
    attachments,
    audit,
    bench,
    commands,
    db,
    demo,
    failed,
    health,
    keys,
    protection,
    schemas,
    services,
    simulator,
    smev,
    tokens,
    topology,
    translate,
)
from hub.cli._common import fail, make_settings
from hub.cli.helptext import plain_helps
from hub.errors import HubError

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # Typer bundles its own Click


class _HubCommands(TyperGroup):
    """The ``hub`` group: a hub error escaping any command (a journal sealed under a key
    that is not configured, an unreachable database) ends it with one line and exit code 2,
    never a traceback, whichever command opened the journal first."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            fail(str(exc))


app = typer.Typer(
    cls=_HubCommands, no_args_is_help=True, help="Interagency integration hub (SMEV 3)."
)
app.add_typer(smev.smev_app, name="smev")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(db.db_app, name="db")
app.add_typer(topology.topology_app, name="topology")
app.add_typer(failed.failed_app, name="failed")
app.add_typer(schemas.schemas_app, name="schemas")
app.add_typer(tokens.tokens_app, name="tokens")
protection.register(keys.keys_app, app)  # hub keys data-key / rotate, hub retention purge
keys.keys_app.command("generate")(keys.keys_generate)  # after them, as `hub keys --help` lists
app.add_typer(simulator.simulator_app, name="simulator")
app.add_typer(attachments.attachments_app, name="attachments")
app.add_typer(commands.command_app, name="command")


def show_config() -> None:
    """Print the effective settings (secrets masked)."""
    print(json.dumps(make_settings().masked(), ensure_ascii=False, indent=2))


# Top-level commands, in the order `hub --help` lists them.
app.command("translate")(translate.translate)
app.command("config")(show_config)
app.command("bench")(bench.bench)
app.command("worker")(services.worker)
app.command("relay")(services.relay)
app.command("console")(services.console_command)
app.command("smev-client")(services.smev_client)
app.command("run")(services.run_all)
app.command("audit")(audit.audit)
app.command("demo")(demo.demo)
app.command("health")(health.health)

plain_helps(app)  # last: after every command is registered

if __name__ == "__main__":  # pragma: no cover
    app()
