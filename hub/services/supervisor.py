"""``hub run`` on a shared broker: the hub's services as separate OS processes.

The supervisor starts ``hub worker`` × N, one ``hub relay`` and (with an SMEV endpoint) one
``hub smev-client``, each ``python -m hub <command>`` with the supervisor's environment.
A child that exits while the hub is running is started again after a back-off that doubles
up to a cap and starts afresh once the child has run stably. SIGTERM/SIGINT stop every child
with SIGTERM; those still running after a timeout get SIGKILL. The children write their
Prometheus metrics to one folder, fresh for each run (``metrics_folder``), where the
console adds them up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("hub.supervisor")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Resolved now: between fork and exec the child must not load libraries (locks may be held).
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


@dataclass(frozen=True)
class Backoff:
    """How long a child that exited waits before it is started again."""

    first: float = 0.5
    cap: float = 30.0
    stable_after: float = 60.0  # a child that ran this long had no trouble: start afresh

    def failures_after(self, failures: int, ran_for: float) -> int:
        """The count of consecutive failures once a child that ran ``ran_for`` s exits."""
        return 1 if ran_for >= self.stable_after else failures + 1

    def delay(self, failures: int) -> float:
        """Seconds before restart after ``failures`` consecutive failures (≥ 1)."""
        return float(min(self.cap, self.first * 2 ** max(0, failures - 1)))


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]


def hub_children(workers: int, *, smev_client: bool) -> list[ChildSpec]:
    """The processes of one hub deployment: workers, one relay, the SMEV client."""
    commands = [(f"worker-{n}", "worker") for n in range(1, workers + 1)] + [("relay", "relay")]
    commands += [("smev-client", "smev-client")] if smev_client else []
    return [ChildSpec(name, (sys.executable, "-m", "hub", cmd)) for name, cmd in commands]


@contextlib.contextmanager
def metrics_folder(configured: Path | None) -> Iterator[dict[str, str]]:
    """The environment that has a run's processes share their metrics in one folder:
    ``configured`` emptied of an earlier run's files, or a temporary one removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="hub-metrics-")) if configured is None else configured
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # counters of processes long gone would add up forever
        stale.unlink(missing_ok=True)
    try:
        yield {"HUB_METRICS_DIR": str(folder), "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    finally:
        if configured is None:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    start_at: float = 0.0  # while no process runs: when to start one


class Supervisor:
    """Keeps the children running until ``stop``; then stops them all."""

    def __init__(
        self,
        children: Sequence[ChildSpec],
        backoff: Backoff | None = None,
        stop_timeout: float = 30.0,
        poll: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.children = [_Child(spec) for spec in children]
        self.env = {**os.environ, **env} if env else None  # None: the supervisor's own
        self.backoff = backoff or Backoff()
        self.stop_timeout = stop_timeout
        self.poll = poll
        self.clock = clock

    def run(self, stop: threading.Event) -> None:
        """Supervise until ``stop`` is set, then stop the children (SIGTERM, then SIGKILL)."""
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(self.poll)
        finally:
            self.shutdown()

    def pids(self) -> dict[str, int]:
        """The running children's process ids by name."""
        return {c.spec.name: c.process.pid for c in self.children if c.process is not None}

    def tick(self) -> None:
        """Notice children that exited; start those whose back-off is over."""
        now = self.clock()
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                self._exited(child, child.process, now)
            if child.process is None and now >= child.start_at:
                self._start(child, now)

    def _start(self, child: _Child, now: float) -> None:
        try:
            # preexec_fn only makes one system call, through a function resolved before fork.
            child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                child.spec.argv,
                env=self.env,
                preexec_fn=_die_with_parent if _LIBC is not None else None,  # noqa: PLW1509
            )
        except OSError as exc:  # out of processes or memory: try again later, like a crash
            child.failures += 1
            child.start_at = now + self.backoff.delay(child.failures)
            log.error("child not started", service=child.spec.name, error=str(exc))
            return
        child.started = now
        log.info("child started", service=child.spec.name, pid=child.process.pid)

    def _exited(self, child: _Child, process: subprocess.Popen[bytes], now: float) -> None:
        ran_for = now - child.started
        child.failures = self.backoff.failures_after(child.failures, ran_for)
        delay = self.backoff.delay(child.failures)
        child.process, child.start_at = None, now + delay
        log.warning(
            "child exited",
            service=child.spec.name,
            pid=process.pid,
            exit=_describe(process.returncode),
            ran_for=round(ran_for, 1),
            failures=child.failures,
            restart_in=delay,
        )

    def shutdown(self) -> None:
        """SIGTERM to every running child; SIGKILL to those still running after the timeout."""
        running = [(c, c.process) for c in self.children if c.process is not None]
        for _, process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = self.clock() + self.stop_timeout
        for child, process in running:
            self._reap(child, process, deadline)
        log.info("supervisor stopped", services=[c.spec.name for c in self.children])

    def _reap(self, child: _Child, process: subprocess.Popen[bytes], deadline: float) -> None:
        try:
            process.wait(timeout=max(0.0, deadline - self.clock()))
        except subprocess.TimeoutExpired:
            log.warning("child killed", service=child.spec.name, pid=process.pid)
            process.kill()
            process.wait()
        child.process = None


def _describe(returncode: int) -> str:
    if returncode < 0:
        return signal.Signals(-returncode).name
    return f"code {returncode}"


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: should the supervisor itself be killed, the
    # kernel sends the child SIGTERM instead of leaving a second relay or SMEV client behind
    # for the next supervisor to duplicate.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
