"""Engines for the journal's two databases, and the one way to run a transaction on them.

On PostgreSQL nothing may wait forever: a server that stopped answering, a lock never
released or a commit that waits for a synchronous standby that is gone (a promoted standby
still naming one, see README "Operating") must become a visible, retryable outage. An
engine made with a ``timeout`` gives every statement that long (the server's
``statement_timeout``) and every commit too: the server's timeout ends before the commit's
wait for the standby, so the commit is watched from here and cancelled when overdue (see
``_Watchdog``). Pooled connections are pinged before use, so a connection to a primary
that has gone is replaced, not handed out.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Transaction, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from hub.journal.errors import (
    DatabaseUnavailableError,
    JournalIntegrityError,
    SchemaOutdatedError,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
DATABASE_TIMEOUT = 30.0  # default seconds a PostgreSQL statement or commit may take
CONNECT_TIMEOUT = 10  # seconds libpq waits for each host of a URL that sets none itself
_MISSING_TABLE = "no such table"  # SQLite reports an unmigrated database as operational
READ_ONLY = "hub_read_only"  # execution option: a SQLite read needs no write lock
COMMIT_TIMEOUT = "hub_commit_timeout"  # execution option: seconds a commit may take

# Errors that say "the database is not there or not now": the caller should retry.
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


def make_engine(url: str | URL, *, pool_size: int = 5, timeout: float | None = None) -> Engine:
    """An engine tuned for the journal: SQLite in WAL mode, PostgreSQL through psycopg 3.

    ``timeout``: seconds a PostgreSQL statement or commit may take before it fails with
    ``DatabaseUnavailableError`` (None or 0: no limit, as migrations want)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pool_size)
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=10,
        pool_pre_ping=True,  # a failover leaves the pool full of connections to a dead server
    )
    event.listen(engine, "connect", _postgresql_connect)
    if not timeout:
        return engine
    event.listen(engine, "do_connect", _timeouts(timeout))
    return engine.execution_options(**{COMMIT_TIMEOUT: timeout})


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


def _timeouts(seconds: float) -> Any:
    """A ``do_connect`` hook giving each new connection the server's ``statement_timeout``
    and libpq's ``connect_timeout`` (per host), unless the URL sets them."""

    def connecting(_dialect: Any, _record: Any, _args: Any, parameters: dict[str, Any]) -> None:
        options = str(parameters.get("options") or "")
        if "statement_timeout" not in options:
            setting = f"-c statement_timeout={round(seconds * 1000)}"
            parameters["options"] = f"{options} {setting}".strip()
        parameters.setdefault("connect_timeout", CONNECT_TIMEOUT)

    return connecting


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
        with engine.connect() as connection, connection.begin() as begun:
            yield connection
            _commit(connection, begun)
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


def _commit(connection: Connection, begun: Transaction) -> None:
    """Commit, cancelled once the engine's commit timeout is over: ``DatabaseUnavailableError``.

    PostgreSQL answers a cancelled wait for the synchronous standby with a warning and a
    success: the row is committed on the primary alone. The hub never reports that as done
    (what it acknowledged upstream must be on the standby too): it raises, the caller retries
    (every write of the journal is idempotent), and the connection, cancelled, is dropped."""
    seconds = connection.get_execution_options().get(COMMIT_TIMEOUT)
    if not seconds:
        begun.commit()
        return
    driver = connection.connection.driver_connection
    with _WATCHDOG.watching(driver, seconds) as watch:
        begun.commit()
    if watch.fired:
        connection.invalidate()
        raise DatabaseUnavailableError(
            f"database unavailable: no commit within {seconds:g} s (a synchronous standby "
            "missing?); it may be committed on the primary alone",
            backend=connection.dialect.name,
        )


@dataclass(eq=False)
class _Watch:
    driver: Any  # the psycopg connection to cancel
    deadline: float
    fired: bool = False

    def __lt__(self, other: _Watch) -> bool:
        return self.deadline < other.deadline


@dataclass
class _Watchdog:
    """Cancels the commits that outlive their deadline, from one daemon thread per process
    (a timer thread per commit would cost more than most commits)."""

    _due: list[_Watch] = field(default_factory=list)  # a heap by deadline
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _pid: int | None = None

    @contextmanager
    def watching(self, driver: Any, seconds: float) -> Iterator[_Watch]:
        watch = _Watch(driver, time.monotonic() + seconds)
        with self._changed:
            self._start()
            heapq.heappush(self._due, watch)
            if self._due[0] is watch:  # the thread sleeps until the earliest deadline: a
                self._changed.notify()  # later one (every commit but the first) needs no wake
        try:
            yield watch
        finally:
            with self._changed:
                self._forget(watch)

    def _forget(self, watch: _Watch) -> None:
        # Commits end mostly in the order they began: the finished one is usually the top.
        if self._due and self._due[0] is watch:
            heapq.heappop(self._due)
        elif watch in self._due:
            self._due.remove(watch)
            heapq.heapify(self._due)

    def _start(self) -> None:
        if self._pid != os.getpid():  # never started, or started before a fork
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="hub-commit-watchdog", daemon=True).start()

    def _run(self) -> None:
        while True:
            for watch in self._overdue():
                with contextlib.suppress(Exception):  # already closed, server gone: moot
                    watch.driver.cancel_safe(timeout=5)

    def _overdue(self) -> list[_Watch]:
        """Wait until some watches are overdue; those, taken off the heap and fired."""
        with self._changed:
            while not self._due or self._due[0].deadline > time.monotonic():
                wait = self._due[0].deadline - time.monotonic() if self._due else None
                self._changed.wait(wait)
            overdue = []
            while self._due and self._due[0].deadline <= time.monotonic():
                watch = heapq.heappop(self._due)
                watch.fired = True
                overdue.append(watch)
            return overdue


_WATCHDOG = _Watchdog()


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
