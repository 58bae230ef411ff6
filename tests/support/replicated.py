"""Replicated engines on this machine, for tests and benchmarks: a three-node RabbitMQ cluster and
a PostgreSQL primary with a synchronous streaming standby.

Single servers cannot show what the README promises of a cluster (quorum queues replicated
across nodes, a database that fails over), so these helpers start real replicated servers of
their own: random node names, free ports and a private folder under the system's temporary
directory, never the machine's own broker (5672) or database (5432). Each is a context manager
that tears everything down on the way out, a failing test included; ``cluster_for_test`` and
``pair_for_test``, for fixtures, skip a test locally when the servers' tools are missing and
fail it in CI (``CI=true``).

The RabbitMQ cluster is ``hub.bench.rabbit_cluster`` (``hub bench --suite cluster`` starts it
too, and the package cannot import tests): it is re-exported here, with the helpers the
PostgreSQL pair shares with it.

Both servers refuse to run as root: started by root, RabbitMQ's wrapper scripts switch to the
``rabbitmq`` user and PostgreSQL's tools run here as ``postgres``, so their folders belong to
those users. A folder of its own under ``/tmp`` (not pytest's ``tmp_path``, which only root may
enter) holds each set of servers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from hub.bench.rabbit_cluster import (
    RABBITMQ_TOOLS,
    RabbitCluster,
    RabbitNode,
    free_ports,
    missing_tools,
    rabbitmq_cluster,
)
from hub.bench.rabbit_cluster import kill_processes_under as _kill_processes_under
from hub.bench.rabbit_cluster import own_tree as _own_tree
from hub.bench.rabbit_cluster import run_tool as _run
from hub.bench.rabbit_cluster import wait_until as _wait_until

__all__ = [
    "RABBITMQ_TOOLS",
    "PostgresPair",
    "RabbitCluster",
    "RabbitNode",
    "cluster_for_test",
    "free_ports",
    "missing_tools",
    "pair_for_test",
    "postgres_pair",
    "rabbitmq_cluster",
    "require",
]

PG_BIN = Path(os.environ.get("HUB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
_STANDBY = "s1"  # the standby's application_name, the one synchronous_standby_names waits for


# --- shared ---------------------------------------------------------------------------------


def _as(user: str, command: Sequence[str]) -> list[str]:
    """``command`` run as ``user`` when we are root (the servers refuse root)."""
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else list(command)


def require(reason: str | None) -> None:
    """Skip locally, fail in CI (it promises every server) when ``reason`` says one is missing."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass
class PostgresPair:
    """A primary and its synchronous streaming standby under ``root`` (see
    ``postgres_pair``); ``primary`` and ``standby`` are ports, swapped by ``failover``."""

    root: Path
    primary: int = 0
    standby: int = 0
    database: str = "hub"
    timings: dict[str, float] = field(default_factory=dict)
    folders: dict[int, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.primary, self.standby = free_ports(2)
        self.folders = {self.primary: self.root / "primary", self.standby: self.root / "standby"}

    def url(self, driver: str = "postgresql+psycopg") -> str:
        """Both servers in one SQLAlchemy URL, for the server that accepts writes.

        SQLAlchemy does not parse libpq's ``host1:p1,host2:p2`` authority (it reads a port
        out of it); the psycopg dialect takes the hosts as repeated ``host=HOST:PORT`` query
        parameters instead and gives them to libpq, which tries them in order and keeps the
        first that ``target_session_attrs=read-write`` accepts."""
        hosts = "&".join(f"host=127.0.0.1:{port}" for port in sorted((self.primary, self.standby)))
        return f"{driver}://postgres@/{self.database}?{hosts}&target_session_attrs=read-write"

    def libpq_url(self) -> str:
        """The same in libpq's own form, for ``psql`` and psycopg used directly."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in sorted((self.primary, self.standby)))
        return f"postgresql://postgres@{hosts}/{self.database}?target_session_attrs=read-write"

    def conninfo(self, port: int, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={port} user=postgres dbname={database} connect_timeout=5"

    # --- life cycle

    def start(self) -> None:
        """initdb the primary, copy it with pg_basebackup -R, start the standby and wait until
        the primary streams to it synchronously."""
        began = time.monotonic()
        primary, standby = self.folders[self.primary], self.folders[self.standby]
        self._pg("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync")
        _append(primary / "postgresql.conf", self._settings(self.primary))
        _append(primary / "pg_hba.conf", "host replication all 127.0.0.1/32 trust\n")
        self._pg("pg_ctl", "-D", str(primary), "-l", str(self.root / "primary.log"), "-w", "start")
        self.timings["primary started"] = time.monotonic() - began
        self._pg(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary), "-U", "postgres"),
            *("-D", str(standby), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        )
        conninfo = f"host=127.0.0.1 port={self.primary} user=postgres application_name={_STANDBY}"
        _append(
            standby / "postgresql.auto.conf",
            f"port = {self.standby}\nprimary_conninfo = '{conninfo}'\n",
        )
        self._pg("pg_ctl", "-D", str(standby), "-l", str(self.root / "standby.log"), "-w", "start")
        self.timings["replicating"] = _wait_until(self._synchronous, "synchronous standby")
        self.timings["pair ready"] = time.monotonic() - began
        self._sql(self.primary, f'CREATE DATABASE "{self.database}"')

    def _settings(self, port: int) -> str:
        # The standby copies these: the same port would clash, so it overrides ``port``.
        return (
            f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.root}'\n"
            "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
            f"synchronous_standby_names = '{_STANDBY}'\nsynchronous_commit = on\n"
            "fsync = off\nshared_buffers = 32MB\nmax_connections = 60\n"
        )

    def stop(self) -> None:
        """Stop both servers at once (``immediate``: their data goes) and remove the folder."""
        for folder in self.folders.values():
            if (folder / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    self._pg("pg_ctl", "-D", str(folder), "-m", "immediate", "-w", "stop")
        _kill_processes_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    # --- faults

    def failover(self) -> float:
        """Stop the primary at once, promote the standby and make it accept commits alone; the
        seconds from the stop to a new primary that commits.

        The promoted standby keeps ``synchronous_standby_names`` from the primary's copied
        configuration, so every commit on it would wait forever for a standby that no longer
        exists: the promotion clears it, as an operator must."""
        began = time.monotonic()
        old, new = self.folders[self.primary], self.folders[self.standby]
        self._pg("pg_ctl", "-D", str(old), "-m", "immediate", "-w", "stop")
        self._pg("pg_ctl", "-D", str(new), "-w", "promote")
        self._sql(self.standby, "ALTER SYSTEM SET synchronous_standby_names = ''")
        self._sql(self.standby, "SELECT pg_reload_conf()")
        self.primary, self.standby = self.standby, self.primary
        return time.monotonic() - began

    # --- questions

    def _synchronous(self) -> bool:
        rows = self._sql(self.primary, "SELECT sync_state FROM pg_stat_replication")
        return rows == [("sync",)]

    def in_recovery(self, port: int) -> bool:
        return self._sql(port, "SELECT pg_is_in_recovery()") == [(True,)]

    def _sql(self, port: int, statement: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.conninfo(port), autocommit=True) as connection:
            cursor = connection.execute(statement.encode())
            return list(cursor.fetchall()) if cursor.description else []

    def _pg(self, tool: str, *arguments: str) -> str:
        return _run(_as("postgres", [str(PG_BIN / tool), *arguments]))


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


@contextlib.contextmanager
def postgres_pair() -> Iterator[PostgresPair]:
    """A primary with a synchronous standby, stopped and removed on the way out."""
    pair = PostgresPair(Path(tempfile.mkdtemp(prefix="hub-pg-")))
    try:
        _own_tree(pair.root, "postgres")
        pair.start()
        yield pair
    finally:
        pair.stop()


# --- pytest -----------------------------------------------------------------------------------


@contextlib.contextmanager
def cluster_for_test(size: int = 3) -> Iterator[RabbitCluster]:
    """``rabbitmq_cluster`` for a fixture: skipped locally, failed in CI without the tools."""
    require(missing_tools(RABBITMQ_TOOLS, "rabbitmq"))
    with rabbitmq_cluster(size) as cluster:
        yield cluster


@contextlib.contextmanager
def pair_for_test() -> Iterator[PostgresPair]:
    """``postgres_pair`` for a fixture: skipped locally, failed in CI without the tools."""
    require(missing_tools([str(PG_BIN / tool) for tool in ("initdb", "pg_ctl")], "postgres"))
    with postgres_pair() as pair:
        yield pair
