"""Slow and greedy clients on a real uvicorn server: trickled headers and bodies are cut off
(408), one address holds a bounded number of connections (503 with Retry-After past it, in
the endpoints' JSON error form), and while 200 connections trickle from one address another
client still gets the login page and /metrics at once."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.access import Role
from hub.bootstrap import Hub
from tests.support.console import console_hub, serving, token

pytestmark = pytest.mark.unit
ATTACKER = "127.0.0.2"  # the loopback network is all ours: another client address
HEAD = b"POST /inbound/zags HTTP/1.1\r\nHost: x\r\nX-Slow: "  # headers that never end
BODY = (
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 5000\r\n\r\ntoken="
)  # a body that never ends, to a page that reads it
UNREAD = (
    b"POST /inbound/zags HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
    b"Content-Length: 5000\r\n\r\n<x>"
)  # a body nobody reads (refused 401 first), trickled on after the answer


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    limits = {"console_header_timeout": 1.5, "console_body_timeout": 1.5}
    with console_hub(tmp_path, **limits) as made:
        yield made


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def body_of(answer: bytes) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return loaded


class Trickler:
    """``count`` connections from ``ATTACKER``, each sending one byte every ``every`` seconds;
    one cut off (answered or closed) is opened again at once, as an attacker would."""

    def __init__(self, port: int, count: int, starts: tuple[bytes, ...], every: float = 0.2):
        self.port, self.count, self.starts, self.every = port, count, starts, every
        self.answers: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.opened = 0

    def __enter__(self) -> Trickler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _open(self, n: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), 5, (ATTACKER, 0))
        sock.sendall(self.starts[n % len(self.starts)])
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self) -> None:
        socks = {n: self._open(n) for n in range(self.count)}
        received: dict[int, bytes] = {n: b"" for n in socks}
        try:
            while not self.stop.wait(self.every):
                for n, sock in list(socks.items()):
                    if self._closed(sock, received, n):
                        sock.close()
                        self.answers.append(received[n])
                        socks[n], received[n] = self._open(n), b""
                        continue
                    with contextlib.suppress(OSError):  # reset: closed, seen next round
                        sock.send(b"a")
        finally:
            for sock in socks.values():
                sock.close()

    @staticmethod
    def _closed(sock: socket.socket, received: dict[int, bytes], n: int) -> bool:
        while select.select([sock], [], [], 0)[0]:
            try:
                data = sock.recv(65536)
            except OSError:
                return True
            if not data:
                return True
            received[n] += data
        return False


def test_200_trickling_connections_do_not_keep_another_client_out(hub: Hub) -> None:
    monitor = {"authorization": f"Bearer {token(hub, Role.MONITOR, '*')}"}
    with serving(hub) as served:
        port = int(served.url.rsplit(":", 1)[1])
        with Trickler(port, 200, (HEAD, BODY, UNREAD)) as attack:
            deadline = time.monotonic() + 6  # a few rounds of the attacker's deadlines
            while time.monotonic() < deadline:
                started = time.monotonic()
                login = requests.get(f"{served.url}/login", timeout=5)
                metrics = requests.get(f"{served.url}/metrics", headers=monitor, timeout=5)
                assert (login.status_code, metrics.status_code) == (200, 200)
                assert time.monotonic() - started < 2.0, "the other client was held up"
                time.sleep(0.3)
    seen = Counter(status_of(a) for a in attack.answers)
    assert seen[503] >= 170 and seen[408] >= 10, seen  # refused places, and cut-off requests
    overloaded = next(a for a in attack.answers if status_of(a) == 503)
    assert b"\r\nretry-after: 5\r\n" in overloaded.lower()
    assert body_of(overloaded)["code"] == "OVERLOADED"
    assert body_of(overloaded)["status"] == 503


def test_headers_that_never_end_are_cut_off_with_a_408(hub: Hub) -> None:
    with serving(hub) as served:
        port = int(served.url.rsplit(":", 1)[1])
        answer, seconds = _trickle(port, HEAD, for_at_most=10)
    assert status_of(answer) == 408 and body_of(answer)["code"] == "REQUEST_TIMEOUT"
    assert 1.4 < seconds < 2.3, seconds  # the bytes that kept coming did not extend it


def test_a_body_that_never_ends_is_a_408_from_the_page(hub: Hub) -> None:
    with serving(hub) as served:
        port = int(served.url.rsplit(":", 1)[1])
        answer, seconds = _trickle(port, BODY, for_at_most=10)
        assert status_of(answer) == 408 and b"did not arrive within 1.5 s" in answer
        assert b"connection: close" in answer.lower() and 1.4 < seconds < 2.3, seconds
        machine = BODY.replace(b"/login", b"/inbound/zags").replace(
            b"application/x-www-form-urlencoded", b"text/xml"
        )
        answer, _ = _trickle(port, machine, for_at_most=10, token=token(hub, Role.AGENCY, "*"))
        assert status_of(answer) == 408 and body_of(answer)["code"] == "REQUEST_TIMEOUT"


def test_a_body_nobody_reads_is_closed_soon_after(hub: Hub) -> None:
    with serving(hub) as served:
        port = int(served.url.rsplit(":", 1)[1])
        answer, seconds = _trickle(port, UNREAD, for_at_most=15, on=True)
    assert status_of(answer) == 401  # answered at once; then the trickle is cut off
    assert 1.5 + 5 - 0.1 < seconds < 1.5 + 5 + 1.5, seconds


def test_one_address_holds_only_its_share_of_connections(hub: Hub) -> None:
    with serving(hub) as served:
        port = int(served.url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port), 5, (ATTACKER, 0)) for _ in range(20)]
        try:
            refused = socket.create_connection(("127.0.0.1", port), 5, (ATTACKER, 0))
            refused.settimeout(5)
            answer = refused.recv(65536)
            refused.close()
            assert status_of(answer) == 503 and body_of(answer)["code"] == "OVERLOADED"
            assert requests.get(f"{served.url}/login", timeout=5).status_code == 200
        finally:
            for sock in held:
                sock.close()


def _trickle(
    port: int, start: bytes, *, for_at_most: float, token: str = "", on: bool = False
) -> tuple[bytes, float]:
    """Send ``start``, then a byte every 0.1 s for 1.2 s (within the 1.5 s deadlines), then
    wait for the server to answer and close: its answer, and when it closed. Bytes that kept
    coming must not have moved the deadline (an idle timeout would answer at 2.7 s). The
    trickle stops before the answer, or the answer could be lost to a reset; ``on``: it goes
    on after the answer, until the server closes."""
    if token:
        start = start.replace(
            b"Host: x\r\n", f"Host: x\r\nAuthorization: Bearer {token}\r\n".encode()
        )
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), 5, (ATTACKER, 0)) as sock:
        sock.sendall(start)
        answer = b""
        while time.monotonic() - began < for_at_most:
            if select.select([sock], [], [], 0.1)[0]:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""  # what we sent after it closed: the answer is in hand
                if not data:
                    return answer, time.monotonic() - began
                answer += data
            elif (on and answer) or (not answer and time.monotonic() - began < 1.2):
                with contextlib.suppress(OSError):
                    sock.send(b"a")
    raise AssertionError(f"still open after {for_at_most} s; answered {answer[:80]!r}")
