"""``hub audit``: the audit log within the caller's scope: who did what to which message, and
who was refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hub.cli._common import (
    JsonOption,
    TokenOption,
    guarded,
    make_hub,
    principal,
)
from hub.cli.terminal import id_column, json_lines, text_columns
from hub.cli.terminal import stdout as _stdout
from hub.journal.records import AuditOutcome, AuditQuery

if TYPE_CHECKING:
    from hub.journal.records import AuditEntry


def audit(  # noqa: PLR0917 - each parameter is a command-line option
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    action: Annotated[str, typer.Option(help="done or refused: reveal, login, authenticate…")] = "",
    actor: Annotated[str, typer.Option(help="part of who: a token id, a name, an address")] = "",
    outcome: Annotated[AuditOutcome | None, typer.Option(help="allowed or denied")] = None,
    before: Annotated[int | None, typer.Option(min=1, help="older than entry #: next page")] = None,
    as_json: JsonOption = False,
    token: TokenOption = "",
) -> None:
    """The newest audit entries within your scope: who, when, what, why (auditors, admins)."""
    hub = make_hub()
    who = principal(hub, token)
    query = AuditQuery(action.strip() or None, actor.strip() or None, outcome, before)
    entries = guarded(lambda: hub.operations.audit_log(who, limit, query))
    if as_json:
        json_lines(_audit_fields(entry) for entry in entries)
        return
    table = Table(title="audit log")
    id_column(table, "#", (str(entry.entry_id) for entry in entries))
    text_columns(table, "when", "who", "action", "target", "why", "scope")
    for entry in entries:
        table.add_row(
            str(entry.entry_id),
            f"{entry.at:%Y-%m-%d %H:%M:%S}",
            entry.actor,
            entry.action,
            entry.target,
            entry.reason,
            entry.scope or "(region)",
        )
    _stdout.print(table)


def _audit_fields(entry: AuditEntry) -> dict[str, object]:
    return {
        "entry": entry.entry_id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "scope": entry.scope,
    }
