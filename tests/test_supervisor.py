"""The supervisor behind ``hub run``: its back-off policy as pure logic, then real child
processes killed, crash-looping, and stopped (one of them refusing SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.journal.migrate import upgrade
from hub.services.supervisor import Backoff, ChildSpec, Supervisor, hub_children

# --- the policy ----------------------------------------------------------------------------
from tests.support.waiting import wait_for


@pytest.mark.unit
def test_the_delay_doubles_from_the_first_up_to_the_cap() -> None:
    backoff = Backoff(first=0.5, cap=30.0)
    assert [backoff.delay(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


@pytest.mark.unit
def test_quick_exits_count_up_and_a_stable_run_starts_afresh() -> None:
    backoff = Backoff(first=1.0, cap=8.0, stable_after=60.0)
    failures, delays = 0, []
    for ran_for in (0.1, 2.0, 59.9, 0.5, 60.0, 3.0, 1000.0):
        failures = backoff.failures_after(failures, ran_for)
        delays.append(backoff.delay(failures))
    assert delays == [1.0, 2.0, 4.0, 8.0, 1.0, 2.0, 1.0]


@pytest.mark.unit
def test_a_deployment_is_workers_one_relay_and_the_smev_client_when_configured() -> None:
    with_smev = hub_children(3, smev_client=True)
    assert [c.name for c in with_smev] == [
        "worker-1",
        "worker-2",
        "worker-3",
        "relay",
        "smev-client",
    ]
    assert {c.argv[:3] for c in with_smev} == {(sys.executable, "-m", "hub")}
    assert [c.argv[3] for c in with_smev] == ["worker"] * 3 + ["relay", "smev-client"]
    assert [c.name for c in hub_children(1, smev_client=False)] == ["worker-1", "relay"]


@pytest.mark.unit
def test_several_workers_need_a_shared_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BROKER_URL", "memory://")
    result = CliRunner().invoke(app, ["run", "--workers", "2"])
    assert result.exit_code == 2
    assert "needs a shared broker" in result.output


# --- real processes ------------------------------------------------------------------------


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def supervising(supervisor: Supervisor) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


SLEEPER = _python("import time; time.sleep(120)")
FAST = Backoff(first=0.1, cap=0.4, stable_after=10.0)


@pytest.mark.integration
def test_a_killed_child_is_started_again_and_stop_ends_every_child() -> None:
    supervisor = Supervisor([ChildSpec("a", SLEEPER), ChildSpec("b", SLEEPER)], FAST, poll=0.05)
    with supervising(supervisor):
        wait_for(lambda: len(supervisor.pids()) == 2)
        first = supervisor.pids()
        os.kill(first["a"], 9)
        wait_for(lambda: supervisor.pids().get("a") not in (None, first["a"]))
        assert supervisor.pids()["b"] == first["b"]
        running = supervisor.pids()
    assert supervisor.pids() == {}
    assert not any(_alive(pid) for pid in (*first.values(), *running.values()))


@pytest.mark.integration
def test_a_crash_looping_child_is_restarted_with_growing_delays(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    crash = _python(f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)")
    supervisor = Supervisor([ChildSpec("crash", crash)], FAST, poll=0.02)
    with supervising(supervisor):
        time.sleep(2.0)
    count = len(starts.read_text())
    # Delays 0.1, 0.2, 0.4, 0.4...: a handful of starts in 2 s, not one per poll.
    assert 3 <= count <= 2.0 / 0.4 + 3, count
    assert supervisor.children[0].failures >= count - 1


@pytest.mark.integration
def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = _python(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        f" open({str(ready)!r}, 'w').close(); time.sleep(120)"
    )
    supervisor = Supervisor([ChildSpec("stubborn", stubborn)], FAST, stop_timeout=0.5, poll=0.05)
    with supervising(supervisor) as stop:
        wait_for(ready.exists)
        process = supervisor.children[0].process
        assert process is not None
        stop.set()
        began = time.monotonic()
    assert 0.4 < time.monotonic() - began < 5
    assert process.returncode == -9
    assert not _alive(process.pid)


@pytest.mark.integration
def test_with_the_in_memory_broker_hub_run_stays_one_process(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(database)
    environment = {
        **os.environ,
        "HUB_BROKER_URL": "memory://",
        "HUB_DATABASE_URL": database,
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": "INFO",
    }
    environment.pop("HUB_SMEV_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "run"], env=environment, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    watchdog = threading.Timer(30, process.kill)  # a hung start fails instead of hanging
    watchdog.start()
    events = []
    for line in process.stderr:  # until both services run as threads of this process
        events.append(json.loads(line).get("event"))
        if events.count("service started") == 2:
            break
    assert events.count("service started") == 2, events
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    watchdog.cancel()
    assert "child started" not in events + [json.loads(x).get("event") for x in process.stderr]


@pytest.mark.integration
def test_a_child_that_cannot_be_started_is_tried_again_later(tmp_path: Path) -> None:
    missing = (str(tmp_path / "no-such-program"),)
    supervisor = Supervisor([ChildSpec("ghost", missing)], FAST, poll=0.02)
    with supervising(supervisor):
        time.sleep(1.0)
    # Delays 0.1, 0.2, 0.4: three or four attempts in a second, the supervisor still up.
    assert 2 <= supervisor.children[0].failures <= 5
