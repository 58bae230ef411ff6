"""One holder per journal for a role (the relay): a PostgreSQL advisory lock.

Events about one subject leave in the order they were written only if one relay publishes
them. Every ``hub run`` process starts a relay; the one that holds the lock publishes, the
others wait as hot standbys and take over when its connection (and so its lock) goes away.
SQLite serves one process, which always leads.

The lock lives on the server, not in the data: after a failover nobody holds it on the new
primary, and every relay must find that out itself. A standby between two tries sleeps on
its connection's socket, so it learns at once that the old primary is gone (not at its next
try) and contends for the lock on the new one.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, exc, text

from hub.journal.engine import UNAVAILABLE, cause_of, driver_errors
from hub.journal.errors import DatabaseUnavailableError

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_ALIVE = text("SELECT 1")
_WATCH_SLICE = 0.25  # longest a standby sleeping on its connection goes without seeing stop
# Sent by every transaction that writes events (at its commit): the leading relay wakes at
# once instead of polling the outbox.
OUTBOX_CHANNEL = "hub_outbox"


def lock_key(role: str) -> int:
    """The advisory lock's 64-bit key for ``role`` (stable across processes)."""
    digest = hashlib.sha256(f"hub-lead:{role}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Lease:
    """The lead, held while its connection lives; ``check`` says whether it still does."""

    def __init__(self, connection: Connection | None) -> None:
        self._connection = connection

    def check(self) -> None:
        """Raise ``DatabaseUnavailableError`` if the lock's connection is gone."""
        if self._connection is None:
            return
        with _unavailable("lost the lead"):
            self._connection.execute(_ALIVE)
            self._connection.rollback()

    @property
    def notified(self) -> bool:
        """Whether ``wait_for_events`` wakes on new events (PostgreSQL), not only on time."""
        return self._connection is not None

    def wait_for_events(self, stop: threading.Event, timeout: float) -> None:
        """Return when events were written since the last call, or after ``timeout``."""
        if self._connection is None:
            stop.wait(timeout)
            return
        # psycopg's own call: SQLAlchemy never sees its errors (a cut under TLS raises
        # psycopg.OperationalError here), so the guard names the driver's errors too.
        with _unavailable("lost the lead", driver_errors(self._connection)):
            driver = self._connection.connection.driver_connection
            for _ in driver.notifies(timeout=timeout, stop_after=1):  # type: ignore[union-attr]
                pass


@contextmanager
def lead(
    engine: Engine, role: str, stop: threading.Event, poll: float = 2.0
) -> Iterator[Lease | None]:
    """Wait for the lead for ``role`` and hold it for the block; ``None`` if ``stop`` came
    first."""
    if engine.dialect.name != "postgresql":
        yield Lease(None)
        return
    with _unavailable("cannot take the lead"):
        connection = engine.connect()
    try:
        if not _wait_for_lock(connection, role, stop, poll):
            yield None
            return
        with _unavailable("cannot listen for events"):
            connection.exec_driver_sql(f"LISTEN {OUTBOX_CHANNEL}")
            connection.commit()
        yield Lease(connection)
    finally:
        connection.invalidate()  # closing the session releases the lock; never reused


def _wait_for_lock(connection: Connection, role: str, stop: threading.Event, poll: float) -> bool:
    while not stop.is_set():
        with _unavailable("cannot take the lead"):
            taken = bool(connection.execute(_TRY_LOCK, {"key": lock_key(role)}).scalar())
            connection.commit()
        if taken:
            return True
        _sleep_watching(connection, stop, poll)
    return False


def _sleep_watching(connection: Connection, stop: threading.Event, seconds: float) -> None:
    """Wait ``seconds`` (less if ``stop``) on the connection's socket: a connection that dies
    meanwhile (its server stopped, a failover) raises ``DatabaseUnavailableError`` at once.
    No channel is listened to on it yet: only the server's going away wakes it early."""
    deadline = time.monotonic() + seconds
    with _unavailable("lost the database while waiting", driver_errors(connection)):
        driver = connection.connection.driver_connection
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            for _ in driver.notifies(timeout=min(left, _WATCH_SLICE)):  # type: ignore[union-attr]
                pass


@contextmanager
def _unavailable(what: str, driver: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """A lost or refused connection becomes ``DatabaseUnavailableError`` (the relay backs off
    and takes the lead again): SQLAlchemy's errors as in ``transaction``, and ``driver``'s own
    for calls made on the driver connection directly."""
    unavailable: tuple[type[Exception], ...] = (*UNAVAILABLE, *driver)
    try:
        yield
    except unavailable as error:
        raise DatabaseUnavailableError(
            f"{what}: database unavailable: {cause_of(error)}"
        ) from error
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        raise DatabaseUnavailableError(f"{what}: connection lost: {cause_of(error)}") from error
