"""``hub console`` as an operator starts it: a process serving until SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hub.journal.sql import SqlJournal

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hub_console_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "HUB_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "console", "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        page = _first_response(f"http://127.0.0.1:{port}/login", process)
        assert page.status_code == 200 and "API token" in page.text
        assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_failed_authentications_it_counted_are_written_when_it_stops(tmp_path: Path) -> None:
    port, url = free_port(), f"sqlite:///{tmp_path / 'hub.db'}"
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "console", "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _first_response(f"http://127.0.0.1:{port}/login", process)
        statuses = [
            requests.get(
                f"http://127.0.0.1:{port}/metrics",
                timeout=5,
                headers={"authorization": f"Bearer hub_{n:012x}_{'s' * 43}"},
            ).status_code
            for n in range(40)
        ]
        assert statuses == [401] * 10 + [429] * 30
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    journal = SqlJournal.open(url)
    try:  # the window was still open: its count was written on the way out
        entries = [e for e in journal.audit_log(1000) if e.details.get("action") == "authenticate"]
    finally:
        journal.close()
    assert len(entries) == 2 and sum(int(e.details["count"]) for e in entries) == 40


def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "HUB_TLS_CERT": str(tmp_path / "missing.pem"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub", "console", "--port", "0"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "HUB_TLS_KEY" in done.stderr


def _first_response(url: str, process: subprocess.Popen[bytes]) -> requests.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("hub console did not start")
