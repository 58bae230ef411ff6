"""Replicated engines on this machine, for tests and benchmarks: a three-node RabbitMQ cluster and
a PostgreSQL primary with a synchronous streaming standby.

Single servers cannot show what the README promises of a cluster (quorum queues replicated
across nodes, a database that fails over), so these helpers start real replicated servers of
their own: random node names, free ports and a private folder under the system's temporary
directory, never the machine's own broker (5672) or database (5432). Each is a context manager
that tears everything down on the way out, a failing test included; ``cluster_for_test`` and
``pair_for_test``, for fixtures, skip a test locally when the servers' tools are missing and
fail it in CI (``CI=true``).

Both servers refuse to run as root: started by root, RabbitMQ's wrapper scripts switch to the
``rabbitmq`` user and PostgreSQL's tools run here as ``postgres``, so their folders belong to
those users. A folder of its own under ``/tmp`` (not pytest's ``tmp_path``, which only root may
enter) holds each set of servers.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("HUB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBITMQ_TOOLS = ("rabbitmq-server", "rabbitmqctl")
# Ports come from here, below Linux's ephemeral range: rabbitmqctl's own distribution port is
# the node's plus 10000, which must stay a valid port and clear of outgoing connections.
_PORTS = range(20000, 30000)
_STANDBY = "s1"  # the standby's application_name, the one synchronous_standby_names waits for
_WAIT = 60.0  # longest any server start or state change may take before the harness gives up


# --- shared ---------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports nothing listens on now, picked at random so that concurrent
    runs do not collide (a port could still be taken before the server binds it: rare, and
    the server's start then fails loudly)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.choice(_PORTS)
        if port not in ports and _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _as(user: str, command: Sequence[str]) -> list[str]:
    """``command`` run as ``user`` when we are root (the servers refuse root)."""
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else list(command)


def _run(command: Sequence[str], env: dict[str, str] | None = None, timeout: float = _WAIT) -> str:
    """Run a tool; its output, or a ``RuntimeError`` that carries what it printed."""
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = _WAIT) -> float:
    """Poll ``condition`` until true; the seconds it took, ``TimeoutError`` naming ``what``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - start


def _kill_processes_under(folder: Path) -> None:
    """SIGKILL every process whose command line names ``folder``: the servers started for it
    and nothing else, whatever state a failed test left them in."""
    marker = str(folder).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)


def missing_tools(tools: Sequence[str], user: str) -> str | None:
    """Why the servers cannot start here (a tool not installed, no way to become ``user``),
    or None."""
    absent = [tool for tool in tools if shutil.which(tool) is None and not Path(tool).exists()]
    if absent:
        return f"not installed: {', '.join(absent)}"
    try:
        pwd.getpwnam(user)
    except KeyError:
        return f"no {user} user to run the servers as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != user:
        return f"the servers run as {user}: start the tests as root or as {user}"
    return None


def require(reason: str | None) -> None:
    """Skip locally, fail in CI (it promises every server) when ``reason`` says one is missing."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


# --- RabbitMQ ---------------------------------------------------------------------------------


@dataclass
class RabbitNode:
    """One broker node: its Erlang node name, AMQP port and folder; ``pid`` of its VM."""

    name: str
    port: int
    dist_port: int
    folder: Path
    pid: int | None = None
    serving: bool = True  # False between stop_app and start_app

    @property
    def up(self) -> bool:
        return self.pid is not None and self.serving

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"


@dataclass
class RabbitCluster:
    """A RabbitMQ cluster of ``size`` nodes under ``root`` (see ``rabbitmq_cluster``)."""

    root: Path
    size: int = 3
    nodes: list[RabbitNode] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        ports = free_ports(2 * self.size)
        self.nodes = [
            RabbitNode(f"r{n}-{tag}@localhost", ports[2 * n], ports[2 * n + 1], self.root / f"r{n}")
            for n in range(self.size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The whole cluster as kombu's failover list, ``amqp://…;amqp://…;amqp://…``."""
        return ";".join(self.urls)

    def node(self, name: str) -> RabbitNode:
        return next(node for node in self.nodes if node.name == name)

    # --- life cycle

    def start(self) -> None:
        """Start every node at once, then join the others to the first one by one."""
        began = time.monotonic()
        _write(self.root / "enabled_plugins", "[].\n")  # no management listener on 15672
        _write(self.root / "rabbitmq.conf", "log.file.level = warning\nlog.console = false\n")
        for node in self.nodes:
            (node.folder / "log").mkdir(parents=True, exist_ok=True)
        _own_tree(self.root, "rabbitmq")
        with ThreadPoolExecutor(self.size) as pool:
            list(pool.map(self._boot, self.nodes))
        self.timings["nodes started"] = time.monotonic() - began
        first, others = self.nodes[0], self.nodes[1:]
        with ThreadPoolExecutor(self.size) as pool:
            # Each rabbitmqctl call starts a VM of its own (a second or two): stopping and
            # starting the joiners side by side saves that much; joins go one at a time.
            list(pool.map(self.stop_app, others))
            for node in others:
                self.ctl(node, "join_cluster", first.name)
            list(pool.map(self.start_app, others))
        self.await_running()
        self.timings["cluster formed"] = time.monotonic() - began

    def stop(self) -> None:
        """Kill every node (their data is thrown away with the folder) and remove it."""
        for node in self.nodes:
            if node.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, signal.SIGKILL)
        _kill_processes_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def _boot(self, node: RabbitNode) -> None:
        """Start ``node`` detached (again, after a kill) and wait until it takes connections.

        Waiting on the AMQP port, not ``rabbitmqctl await_startup``: that one fails at once on
        a node not yet registered and polls a booting one only every ten seconds."""
        pid_file = node.folder / "pid"
        pid_file.unlink(missing_ok=True)
        subprocess.run(
            ["rabbitmq-server", "-detached"],
            env=self._environment(node),
            capture_output=True,
            timeout=_WAIT,
            check=True,
        )
        _wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "pid")
        node.pid = int(pid_file.read_text())
        _wait_until(lambda: _listening(node.port, node.pid), f"{node.name} to take connections")

    def _environment(self, node: RabbitNode) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(node.port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_MNESIA_BASE": str(node.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.folder / "log"),
            "RABBITMQ_PID_FILE": str(node.folder / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
        }

    # --- faults

    def kill(self, node: RabbitNode) -> None:
        """``kill -9`` the node's VM: a crash, nothing flushed or said goodbye to."""
        if node.pid is not None:
            os.kill(node.pid, signal.SIGKILL)
            _wait_until(lambda: not _alive(node.pid), f"{node.name} to die", 10)
        node.pid = None

    def restart(self, node: RabbitNode) -> None:
        """Start a node again (after ``kill``, or stop it first); it rejoins the cluster."""
        if node.pid is not None:
            self.kill(node)
        self._boot(node)

    def stop_app(self, node: RabbitNode) -> None:
        """Stop RabbitMQ on the node but keep its VM: to the others it is as gone as behind a
        partition, and ``start_app`` heals it."""
        self.ctl(node, "stop_app")
        node.serving = False

    def start_app(self, node: RabbitNode) -> None:
        self.ctl(node, "start_app")
        node.serving = True

    # --- questions

    def ctl(self, node: RabbitNode, *arguments: str) -> str:
        """``rabbitmqctl -n NODE …`` (the wrapper becomes the rabbitmq user: same cookie)."""
        return _run(["rabbitmqctl", "-q", "-n", node.name, *arguments])

    def running_nodes(self, asking: RabbitNode | None = None) -> list[str]:
        """The nodes ``asking`` (default: the first live one) sees running in the cluster."""
        node = asking or self._asking()
        output = self.ctl(node, "eval", "rabbit_nodes:all_running().")
        return sorted(name for name in _atoms(output))

    def leader(self, queue: str, asking: RabbitNode | None = None) -> RabbitNode | None:
        """The node that leads quorum queue ``queue`` now; None while none does (an election
        after its leader died, or a leader the asking node still names but that is down)."""
        node = asking or self._asking()
        output = self.ctl(node, "list_queues", "--no-table-headers", "name", "leader")
        for line in output.splitlines():
            name, _, leader = line.strip().partition("\t")
            if name == queue:
                found = [n for n in self.nodes if n.name == leader.strip()]
                return found[0] if found and found[0].up else None
        raise LookupError(f"no queue {queue} on {node.name}")

    def await_leader(self, queue: str, other_than: RabbitNode | None = None) -> RabbitNode:
        """Wait until a live node other than ``other_than`` leads ``queue``; that node."""
        found: list[RabbitNode] = []

        def elected() -> bool:
            leader = self.leader(queue)
            found[:] = [leader] if leader is not None and leader is not other_than else []
            return bool(found)

        _wait_until(elected, f"a new leader of {queue}")
        return found[0]

    def await_running(self) -> None:
        """Wait until every node runs in the cluster again (after a restart or start_app)."""
        self.ctl(self._asking(), "await_online_nodes", str(self.size))

    def _asking(self) -> RabbitNode:
        """A node to put questions to: the first one up."""
        return next(node for node in self.nodes if node.up)


def _atoms(erlang_list: str) -> list[str]:
    """The node names in an Erlang list printed by ``eval``: ``['a@h','b@h']``."""
    inner = erlang_list.strip().strip("[]")
    return [atom.strip().strip("'") for atom in inner.split(",") if atom.strip()]


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie no longer does: nobody may have reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _listening(port: int, pid: int | None) -> bool:
    """Whether the node accepts connections on ``port``; ``RuntimeError`` if it died."""
    if not _alive(pid):
        raise RuntimeError(f"the node on port {port} died while starting (see its log folder)")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@contextlib.contextmanager
def rabbitmq_cluster(size: int = 3) -> Iterator[RabbitCluster]:
    """A running ``size``-node cluster, killed and removed on the way out whatever happened."""
    cluster = RabbitCluster(Path(tempfile.mkdtemp(prefix="hub-rabbit-")), size)
    try:
        _own_tree(cluster.root, "rabbitmq")
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _own_tree(root: Path, user: str) -> None:
    """Give ``root`` and all in it to ``user`` when we are root: the servers write there."""
    if os.geteuid() != 0:
        return
    shutil.chown(root, user, user)
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            shutil.chown(Path(folder) / name, user, user)


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
