"""Engines for the journal's two databases, and the one way to run a transaction on them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from hub.journal.errors import (
    DatabaseUnavailableError,
    JournalIntegrityError,
    SchemaOutdatedError,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
_MISSING_TABLE = "no such table"  # SQLite reports an unmigrated database as operational
READ_ONLY = "hub_read_only"  # execution option: a SQLite read needs no write lock

# Errors that say "the database is not there or not now": the caller should retry.
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


def make_engine(url: str | URL, *, pool_size: int = 5) -> Engine:
    """An engine tuned for the journal: SQLite in WAL mode, PostgreSQL through psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pool_size)
    engine = create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, pool_timeout=10
    )
    event.listen(engine, "connect", _postgresql_connect)
    return engine


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL, ``None`` for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sqlite_engine(url: URL, pool_size: int) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, pool_size=pool_size, connect_args={"check_same_thread": False, "timeout": 30}
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _postgresql_connect(dbapi_connection: Any, _record: Any) -> None:
    # Bulk inserts bind whole columns as arrays (``Statements.bulk_insert``). psycopg dumps an
    # array in text form in Python, escaping every element (raw messages: ~50 µs each); the
    # binary form packs them as they are, about ten times faster.
    from psycopg.types.array import ListBinaryDumper  # noqa: PLC0415 - PostgreSQL only

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off so that "begin" below decides the lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a message acknowledged upstream survives a power cut, not just a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front: a deferred transaction that reads and then writes
    # fails at once with "database is locked" when another writer got there first, whatever
    # the busy timeout; IMMEDIATE waits its turn instead.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction; driver failures become the hub's errors (retryable or not)."""
    try:
        with engine.begin() as connection:
            yield connection
    except UNAVAILABLE as error:
        if _MISSING_TABLE in cause_of(error):
            raise SchemaOutdatedError(
                f"the journal's tables are missing ({cause_of(error)}): run the migrations"
            ) from error
        raise DatabaseUnavailableError(
            f"database unavailable: {cause_of(error)}", backend=engine.dialect.name
        ) from error
    except (exc.IntegrityError, exc.DataError) as error:
        raise JournalIntegrityError(
            f"the database refused the write: {cause_of(error)}", backend=engine.dialect.name
        ) from error
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        raise DatabaseUnavailableError(
            f"database connection lost: {cause_of(error)}", backend=engine.dialect.name
        ) from error


def driver_errors(connection: Connection) -> tuple[type[Exception], ...]:
    """The driver's own errors that mean "not there or not now" (DB-API ``OperationalError``,
    ``InterfaceError``), for calls made on the driver connection itself: SQLAlchemy translates
    errors only of the calls it makes."""
    dbapi = connection.dialect.loaded_dbapi
    return (dbapi.OperationalError, dbapi.InterfaceError)


def cause_of(error: Exception) -> str:
    """The first line of the driver's message: SQLAlchemy's own text repeats parameters
    (message bodies), so it is never used."""
    own = getattr(error, "orig", None) if isinstance(error, exc.SQLAlchemyError) else error
    lines = str(own or "").strip().splitlines()
    return lines[0] if lines else type(error).__name__
