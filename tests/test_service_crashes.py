"""A thread of a service process that dies of an unexpected exception takes its process down
with a non-zero exit (logged first), so the supervisor restarts it: real ``hub`` processes
with a bug injected by a plug-in (``tests/support/crash.py``), never a half-dead process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub.access import Role
from hub.bootstrap import Hub
from hub.config import Settings
from hub.errors import RetryableError
from hub.runtime import CRASHED, backoff_forever, failures_after
from hub.services.supervisor import Backoff, ChildSpec, Supervisor
from tests.support.console import token
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent


def _environment(tmp_path: Path, plugin: str) -> dict[str, str]:
    environment = {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "HUB_BROKER_URL": "memory://",
        "HUB_ADAPTERS": json.dumps([f"tests.support.crash:{plugin}"]),
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": "INFO",
        "HUB_REQUIRE_SIGNATURES": "false",
    }
    environment.pop("HUB_SMEV_ENDPOINT", None)
    return environment


@contextmanager
def _hub_process(args: list[str], environment: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _exit_and_log(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, list[Any]]:
    """The process's exit code (killed, and the test failed, if it is still running after
    ``timeout``) and its JSON log lines."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"the process lived on for {timeout} s with a crashed thread")
    return process.returncode, [json.loads(x) for x in err.splitlines() if x.startswith("{")]


def _crashed(lines: list[Any]) -> list[Any]:
    return [line for line in lines if line.get("event") == "thread crashed"]


@pytest.mark.integration
def test_a_worker_whose_sweeper_dies_exits_non_zero(tmp_path: Path) -> None:
    # Before: the consumer went on and no stored-but-unfinished message was ever swept again.
    with _hub_process(["worker"], _environment(tmp_path, "break_the_sweeper")) as process:
        code, lines = _exit_and_log(process)
    assert code == CRASHED
    [crash] = _crashed(lines)
    assert crash["thread"] == "worker-sweeper" and crash["level"] == "critical"
    assert crash["error_type"] == "RuntimeError" and "injected bug" in crash["exception"]
    assert any(line.get("event") == "stopped" for line in lines)  # the worker stopped cleanly


@pytest.mark.integration
def test_a_relay_whose_service_thread_dies_exits_non_zero(tmp_path: Path) -> None:
    # Before: logged, and the process exited 0 as if stopped on purpose.
    with _hub_process(["relay"], _environment(tmp_path, "break_the_relay")) as process:
        code, lines = _exit_and_log(process)
    assert code == CRASHED
    assert [c["thread"] for c in _crashed(lines)] == ["relay"]


@pytest.mark.integration
def test_hub_run_on_memory_dies_with_any_of_its_threads(tmp_path: Path) -> None:
    with _hub_process(["run"], _environment(tmp_path, "stray_thread")) as process:
        code, lines = _exit_and_log(process)
    assert code == CRASHED
    assert [c["thread"] for c in _crashed(lines)] == ["stray"]


@pytest.mark.integration
def test_the_supervisor_restarts_a_child_whose_thread_crashed(tmp_path: Path) -> None:
    argv = (sys.executable, "-m", "hub", "worker")
    environment = _environment(tmp_path, "break_the_sweeper")
    supervisor = Supervisor(
        [ChildSpec("worker-1", argv)], Backoff(first=0.1), poll=0.05, env=environment
    )
    stop = threading.Event()
    runner = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    runner.start()
    try:
        wait_for(lambda: supervisor.children[0].process is not None)
        first = supervisor.children[0].process
        assert first is not None
        wait_for(lambda: supervisor.pids().get("worker-1") not in (None, first.pid), 60)
        assert first.returncode == CRASHED
    finally:
        stop.set()
        runner.join(timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int, bearer: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"authorization": f"Bearer {bearer}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - a local test server
            pass
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass  # the console may stop while answering: the exit code is what counts


@pytest.mark.integration
def test_the_console_exits_non_zero_when_a_thread_of_it_dies(tmp_path: Path) -> None:
    environment = _environment(tmp_path, "stray_thread")
    settings = Settings(database_url=environment["HUB_DATABASE_URL"], adapters=())
    hub = Hub(settings)
    try:
        monitor = token(hub, Role.MONITOR, "*")
    finally:
        hub.close()
    port = _free_port()
    with _hub_process(["console", "--port", str(port)], environment) as process:
        wait_for(lambda: _listening(port) or process.poll() is not None)
        _scrape(port, monitor)  # the scrape loads the adapters: the stray thread starts
        code, lines = _exit_and_log(process)
    assert code == CRASHED
    assert [c["thread"] for c in _crashed(lines)] == ["stray"]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# --- back-off: a service that was up long backs off afresh at its next outage -------------------


@pytest.mark.unit
def test_failures_count_up_while_quick_and_start_afresh_after_a_long_run() -> None:
    failures = 0
    counted = []
    for ran_for in (0.1, 0.1, 0.1, 3600.0, 0.1):
        failures = failures_after(failures, ran_for)
        counted.append(failures)
    assert counted == [1, 2, 3, 1, 2]


class _RecordingStop(threading.Event):
    """A stop event that records how long each back-off waited (the logs may go anywhere,
    depending on how an earlier test configured structlog)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(round(timeout or 0.0, 2))
        return super().wait(timeout)


@pytest.mark.unit
def test_backoff_forever_restarts_its_delays_after_a_healthy_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hub.runtime.HEALTHY_AFTER", 0.3)
    monkeypatch.setattr("hub.runtime.random.uniform", lambda low, _high: low)  # no jitter
    stop = _RecordingStop()
    calls = []

    def operation() -> None:
        calls.append(time.monotonic())
        if len(calls) == 4:
            time.sleep(0.4)  # up for a while, then the next outage
        if len(calls) == 5:
            stop.set()
        raise RetryableError("database unavailable")

    backoff_forever(operation, stop, "test")
    # Doubling while the failures come quickly; after the healthy run, the first step again.
    assert stop.waits == [0.2, 0.4, 0.8, 0.2, 0.4]
