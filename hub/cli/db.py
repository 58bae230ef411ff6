"""``hub db upgrade``: bring the journal's database to the newest migration (Alembic)."""

from __future__ import annotations

import typer

from hub.cli._common import (
    guarded,
    make_settings,
    set_up_logging,
)

db_app = typer.Typer(no_args_is_help=True, help="The journal's database.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the journal's migrations (the embedded SQLite file is created if missing) and
    say which were applied."""
    from hub.journal.migrate import head_revision, upgrade  # noqa: PLC0415

    settings = make_settings()
    set_up_logging(settings)
    applied = guarded(lambda: upgrade(settings.database_url.get_secret_value()))
    if not applied:
        print(f"journal schema already up to date (revision {head_revision()})")
        return
    first, last = applied[0].revision, applied[-1].revision
    print(f"applied {first}→{last}" if first != last else f"applied {last}")
    for migration in applied:
        print(f"  {migration.revision} {migration.summary}")  # whole lines, never folded
