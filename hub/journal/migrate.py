"""Alembic migrations for the journal, run from code: no ``alembic.ini`` is needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from hub.journal.engine import make_engine, transaction

_LOCK_KEY = 0x4855424A524E4C  # "HUBJRNL": the advisory lock migrations hold on PostgreSQL
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Migration:
    """One migration script: its revision id and what it does (its docstring)."""

    revision: str
    summary: str


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code, with the scripts shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as attributes, not options: an ini option would choke on '%' in a password.
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def upgrade(url: str) -> list[Migration]:
    """Bring the database at ``url`` to the newest revision; the migrations applied, oldest
    first (none when it was there already)."""
    engine = make_engine(url, pool_size=1)
    try:
        with transaction(engine) as connection:
            return upgrade_connection(connection)
    finally:
        engine.dispose()


def upgrade_connection(connection: Connection) -> list[Migration]:
    """Upgrade to the newest revision inside the caller's transaction; what was applied."""
    if connection.dialect.name == "postgresql":
        # Several hub processes starting at once: one migrates, the others wait, then no-op.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(alembic_config(connection=connection), "head")
    return migrations_after(before)


def migrations_after(revision: str | None) -> list[Migration]:
    """The migrations newer than ``revision`` (``None``: all of them), oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    newer = scripts.iterate_revisions("head", revision or "base")
    return [Migration(s.revision, " ".join((s.doc or "").split())) for s in reversed(list(newer))]


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` before the first migration."""
    engine = make_engine(url, pool_size=1)
    try:
        with transaction(engine) as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
