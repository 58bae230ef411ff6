"""``hub failed``: failed messages for operators: list (grouped by fingerprint), show
(masked; revealed only with a reason, audited), replay (or dry-run it), discard."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from hub.cli._common import (
    EXIT_INVALID,
    JsonOption,
    TokenOption,
    fail,
    guarded,
    make_hub,
    principal,
)
from hub.cli.terminal import id_column, json_lines, styled, text_columns
from hub.cli.terminal import stdout as _stdout

if TYPE_CHECKING:
    from hub.journal.records import FailedGroup, FailedMessage


failed_app = typer.Typer(no_args_is_help=True, help="Failed messages: list, show, replay, discard.")


@failed_app.command("list")
def failed_list(  # noqa: PLR0917 - each parameter is a command-line option
    agency: Annotated[str | None, typer.Option(help="only this agency")] = None,
    error: Annotated[str | None, typer.Option(help="only this error type")] = None,
    since: Annotated[datetime | None, typer.Option(help="failed last at or after (ISO)")] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="list this group's messages with their ids, not the groups"),
    ] = None,
    as_json: JsonOption = False,
    token: TokenOption = "",
) -> None:
    """Open failed messages within your scope, grouped by cause (fingerprint), with counts;
    with --group, the messages of one group, each with the id that show, replay and discard
    take."""
    hub = make_hub()
    who = principal(hub, token)
    after = _aware(since)
    operations = hub.operations
    if group is not None:
        failed = guarded(
            lambda: operations.failed(
                who, agency=agency, error_type=error, since=after, fingerprint=group
            )
        )
        _print_failed_messages(failed, group, as_json)
    else:
        groups = guarded(
            lambda: operations.groups(who, agency=agency, error_type=error, since=after)
        )
        _print_failed_groups(groups, as_json)


def _print_failed_groups(groups: list[FailedGroup], as_json: bool) -> None:
    if as_json:
        json_lines(_group_fields(g) for g in groups)
        return
    table = Table(title=f"failed messages: {sum(g.count for g in groups)} in {len(groups)} groups")
    id_column(table, "group", (g.fingerprint for g in groups))
    text_columns(table, "count", "error", "agency", "reason", "first", "last")
    for g in groups:
        table.add_row(
            g.fingerprint,
            str(g.count),
            g.error_type,
            g.agency or "—",
            _masked(g.reason)[:80],
            f"{g.first_failed_at:%Y-%m-%d %H:%M}",
            f"{g.last_failed_at:%Y-%m-%d %H:%M}",
        )
    _stdout.print(table)


def _print_failed_messages(failed: list[FailedMessage], group: str, as_json: bool) -> None:
    if as_json:
        json_lines(_failed_message_fields(f) for f in failed)
        return
    # One cause: agency, kind, error and the reason's shape are the group's, said once.
    first = failed[0] if failed else None
    cause = f" ({first.error_type}, {first.agency or '—'})" if first else ""
    table = Table(
        title=f"group {group}{cause}: {len(failed)} open failed messages",
        caption=_masked(first.reason) if first else None,
    )
    id_column(table, "id", (f.failed_id for f in failed))
    text_columns(table, "attempts", "first", "last")
    for f in failed:
        table.add_row(
            f.failed_id,
            str(f.attempts),
            f"{f.first_failed_at:%Y-%m-%d %H:%M}",
            f"{f.last_failed_at:%Y-%m-%d %H:%M}",
        )
    _stdout.print(table)


def _masked(text: str) -> str:
    from hub.protection.masking import mask_text  # noqa: PLC0415 - loads the masking rules

    return mask_text(text)


def _group_fields(group: FailedGroup) -> dict[str, object]:
    return {
        "group": group.fingerprint,
        "count": group.count,
        "error": group.error_type,
        "agency": group.agency,
        "reason": _masked(group.reason),
        "first_failed_at": group.first_failed_at,
        "last_failed_at": group.last_failed_at,
    }


def _failed_message_fields(failed: FailedMessage) -> dict[str, object]:
    return {
        "id": failed.failed_id,
        "inbox_id": failed.inbox_id,
        "group": failed.fingerprint,
        "agency": failed.agency,
        "kind": failed.kind,
        "error": failed.error_type,
        "reason": _masked(failed.reason),
        "attempts": failed.attempts,
        "first_failed_at": failed.first_failed_at,
        "last_failed_at": failed.last_failed_at,
        "status": failed.status,
        "scope": failed.scope,
    }


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@failed_app.command("show")
def failed_show(
    failed_id: Annotated[str, typer.Argument(help="failed message id")],
    reveal: Annotated[bool, typer.Option(help="show personal data in clear (audited)")] = False,
    reason: Annotated[str, typer.Option(help="why you need to see it (with --reveal)")] = "",
    token: TokenOption = "",
) -> None:
    """One failed message within your scope: error, traceback, attempts and the stored
    message (personal data masked; --reveal shows it, audited, to those allowed)."""
    from hub.protection.masking import mask_text  # noqa: PLC0415 - loads the masking rules

    if reveal and not reason.strip():
        fail("--reveal needs --reason: revealing personal data is audited")
    hub = make_hub()
    who = principal(hub, token)
    if reveal:
        view = guarded(lambda: hub.operations.reveal(who, failed_id, reason))
    else:
        view = guarded(lambda: hub.operations.show(who, failed_id))
    show = (lambda text: text) if view.revealed else mask_text
    for key, value in _failed_fields(view).items():
        _stdout.print(styled(key, "bold"), f": {show(str(value))}", sep="", highlight=False)
    _stdout.print(styled("message", "bold"), ":", sep="", highlight=False)
    _stdout.print(view.body, highlight=False)
    _stdout.print(styled("traceback", "bold"), ":", sep="", highlight=False)
    _stdout.print(view.traceback, highlight=False)


def _failed_fields(view: Any) -> dict[str, object]:
    failed = view.failed
    return {
        "failed id": failed.failed_id,
        "inbox id": failed.inbox_id,
        "status": failed.status,
        "agency": failed.agency,
        "kind": failed.kind,
        "scope": failed.scope or "(region)",
        "source": view.source,
        "external id": view.external_id,
        "error": failed.error_type,
        "reason": failed.reason,
        "attempts": failed.attempts,
        "first failed": failed.first_failed_at,
        "last failed": failed.last_failed_at,
        "group": failed.fingerprint,
        "received": view.received_at,
        "bytes": view.size,
    }


@failed_app.command("replay")
def failed_replay(
    ids: Annotated[list[str] | None, typer.Argument(help="failed message ids")] = None,
    group: Annotated[str | None, typer.Option("--group", help="every open one of a group")] = None,
    everything: Annotated[bool, typer.Option("--all", help="every open failed message")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show, change nothing")] = False,
    token: TokenOption = "",
) -> None:
    """Process failed messages within your scope again from their stored bytes with the
    current code."""
    from rich.progress import track  # noqa: PLC0415

    from hub.access.policy import Action  # noqa: PLC0415

    hub = make_hub()
    who = principal(hub, token)
    chosen = guarded(
        lambda: hub.operations.select(who, ids or [], group, everything, Action.REPLAY)
    )
    if dry_run:
        for failed in track(chosen, description="dry run", console=_stdout):
            _print_dry_run(guarded(functools.partial(hub.operations.dry_run, who, failed)))
        return
    results = []
    for start in track(range(0, len(chosen), 100), description="replaying", console=_stdout):
        batch = chosen[start : start + 100]
        results += guarded(functools.partial(hub.operations.replay, who, batch))
    _print_replay(results)


def _print_dry_run(result: Any) -> None:
    _stdout.print(
        f"{result.failed_id}: would be {result.status}"
        + (f" ({result.reason})" if result.reason else ""),
        highlight=False,
    )
    for event in result.events:
        _stdout.print(f"  would publish {event.event_id} {event.routing_key} {event.subject}")
    for event in result.published_before:
        state = "published" if event.published_at else "waiting in outbox"
        _stdout.print(f"  before: {event.event_id} {event.routing_key} ({state})")


def _print_replay(results: list[Any]) -> None:
    table = Table(title="replay")
    for column in ("failed id", "outcome", "events", "reason"):
        table.add_column(column)
    for r in results:
        table.add_row(r.failed_id, r.status, str(len(r.events)), r.reason or "")
    _stdout.print(table)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_INVALID)


@failed_app.command("discard")
def failed_discard(
    failed_id: Annotated[str, typer.Argument(help="failed message id")],
    reason: Annotated[str, typer.Option("--reason", help="why it is given up (audited)")],
    token: TokenOption = "",
) -> None:
    """Give a failed message within your scope up for good, with a reason (kept, audited,
    never deleted)."""
    hub = make_hub()
    who = principal(hub, token)
    guarded(lambda: hub.operations.discard(who, failed_id, reason))
    _stdout.print(f"discarded {failed_id}")
