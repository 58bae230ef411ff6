"""``hub keys data-key``, ``hub keys rotate`` and ``hub retention purge``.

Like ``hub tokens``, these are for those with access to the journal's database and its keys
(the deployment's root of trust): no API token is asked for; the actor goes to the audit log.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hub.access.scopes import REGION
from hub.cli._common import Admin, database_actor, fail, guarded, make_hub
from hub.cli.terminal import stdout as _stdout
from hub.errors import HubError
from hub.protection.keyring import new_key_entry

retention_app = typer.Typer(
    no_args_is_help=True, help="Retention: delete processed messages older than the limit."
)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_stdout,
    )


def register(keys_app: typer.Typer, app: typer.Typer) -> None:
    """Add the commands to ``hub keys`` and ``hub retention``."""
    keys_app.command("data-key")(keys_data_key)
    keys_app.command("rotate")(keys_rotate)
    retention_app.command("purge")(retention_purge)
    app.add_typer(retention_app, name="retention")


def keys_data_key(
    key_id: Annotated[
        str | None, typer.Option("--id", help="the key's id (default: dated)")
    ] = None,
) -> None:
    """Print a new random AES-256 data key as ``ID:BASE64``: append it to
    HUB_ENCRYPTION_KEYS (and keep a copy offline: without it the data is lost)."""
    entry = guarded(lambda: new_key_entry(key_id))
    print(entry)


def keys_rotate(
    batch: Annotated[int, typer.Option(min=1, help="rows re-sealed per transaction")] = 500,
    actor: Admin = "",
) -> None:
    """Re-seal every row not under the active data key (HUB_ENCRYPTION_KEY_ID, or the last
    listed); afterwards older keys can be removed from HUB_ENCRYPTION_KEYS. Audited."""
    journal = guarded(lambda: make_hub().journal)
    done = total = 0
    with _progress() as progress:
        task = progress.add_task("re-sealing rows", total=None)
        try:
            for done, total in journal.rotate_keys(batch):
                progress.update(task, completed=done, total=total)
        except HubError as exc:
            fail(str(exc))
    details = {"resealed": done, "batch": batch}
    journal.audit(
        database_actor(actor), "rotate_keys", "journal", "data key rotation", details, scope=REGION
    )
    _stdout.print(f"{done} of {total} rows re-sealed under the active key")


def retention_purge(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="delete what was received this many days ago or earlier "
            "(default: HUB_RETENTION_DAYS)",
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="messages deleted per transaction")] = 500,
    actor: Admin = "",
) -> None:
    """Delete processed, duplicate and discarded messages older than the limit, with their
    published events and resolved failures (open failures and unpublished events stay).
    Audited with the count."""
    hub = make_hub()
    days = older_than_days or hub.settings.retention_days
    if days <= 0:
        fail(
            "no retention limit: give --older-than-days N or set HUB_RETENTION_DAYS (0 keeps "
            "everything)"
        )
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with _progress() as progress:
        task = progress.add_task(f"deleting messages received before {cutoff:%Y-%m-%d}")
        advance = functools.partial(progress.advance, task)
        purge = hub.journal.purge_processed
        deleted = guarded(lambda: purge(cutoff, database_actor(actor), batch, on_batch=advance))
    _stdout.print(f"{deleted} messages deleted (received before {cutoff:%Y-%m-%d %H:%M} UTC)")
