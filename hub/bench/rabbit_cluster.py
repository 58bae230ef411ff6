"""A local RabbitMQ cluster for benchmarks and tests: three nodes (by default) beside the
machine's own broker, with their own node names, ports and data folders under a temporary
directory, joined with ``rabbitmqctl join_cluster``.

A single broker cannot show what the README promises of a cluster (quorum queues replicated
across nodes, a node that dies without losing a message), so ``hub bench --suite cluster`` and
the chaos tests start real nodes of their own: random node names, free ports and a private
folder under the system's temporary directory, never the machine's own broker (5672).
``rabbitmq_cluster`` is a context manager that kills and removes everything on the way out,
whatever happened inside. It lives in the package because the benchmark needs it and tests are
not part of the package; ``tests/support/replicated.py`` imports it from here and adds the
PostgreSQL pair, for which the shared helpers below are public.

RabbitMQ refuses to run as root: started by root, its wrapper scripts switch to the ``rabbitmq``
user, so the folder belongs to that user; a folder of its own under ``/tmp`` holds each cluster.
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

RABBITMQ_TOOLS = ("rabbitmq-server", "rabbitmqctl")
# Ports come from here, below Linux's ephemeral range: rabbitmqctl's own distribution port is
# the node's plus 10000, which must stay a valid port and clear of outgoing connections.
_PORTS = range(20000, 30000)
WAIT = 60.0  # longest any server start or state change may take before the harness gives up


# --- helpers (the tests' PostgreSQL pair uses them too) ----------------------------------


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


def run_tool(
    command: Sequence[str], env: dict[str, str] | None = None, timeout: float = WAIT
) -> str:
    """Run a tool; its output, or a ``RuntimeError`` that carries what it printed."""
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> float:
    """Poll ``condition`` until true; the seconds it took, ``TimeoutError`` naming ``what``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - start


def kill_processes_under(folder: Path) -> None:
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


def tool(name: str) -> str:
    """The full path of an installed tool (the name itself if none is found: then it fails)."""
    return shutil.which(name) or name


def missing_rabbitmq() -> str | None:
    """Why a cluster cannot start here, or None."""
    return missing_tools(RABBITMQ_TOOLS, "rabbitmq")


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
        own_tree(self.root, "rabbitmq")
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
        kill_processes_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def _boot(self, node: RabbitNode) -> None:
        """Start ``node`` detached (again, after a kill) and wait until it takes connections.

        Waiting on the AMQP port, not ``rabbitmqctl await_startup``: that one fails at once on
        a node not yet registered and polls a booting one only every ten seconds."""
        pid_file = node.folder / "pid"
        pid_file.unlink(missing_ok=True)
        subprocess.run(
            [tool("rabbitmq-server"), "-detached"],
            env=self._environment(node),
            capture_output=True,
            timeout=WAIT,
            check=True,
        )
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "pid")
        node.pid = int(pid_file.read_text())
        wait_until(lambda: _listening(node.port, node.pid), f"{node.name} to take connections")

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
            wait_until(lambda: not _alive(node.pid), f"{node.name} to die", 10)
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
        return run_tool([tool("rabbitmqctl"), "-q", "-n", node.name, *arguments])

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

        wait_until(elected, f"a new leader of {queue}")
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
        own_tree(cluster.root, "rabbitmq")
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def own_tree(root: Path, user: str) -> None:
    """Give ``root`` and all in it to ``user`` when we are root: the servers write there."""
    if os.geteuid() != 0:
        return
    shutil.chown(root, user, user)
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            shutil.chown(Path(folder) / name, user, user)
