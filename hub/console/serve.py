"""``hub console``: the console and the HTTP endpoints under uvicorn, until SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
import uvicorn

from hub.access import AccessService
from hub.bootstrap import Hub
from hub.config import Settings
from hub.console.app import create_app
from hub.console.server import server_config
from hub.runtime import STOP_TIMEOUT, CrashGuard

log = structlog.get_logger("hub.console")
FLUSH_EVERY = 5.0  # seconds between writes of folded failed authentications


class _Server(uvicorn.Server):
    """Uvicorn, stopping gracefully on SIGTERM/SIGINT and then exiting 0 like the hub's other
    services (uvicorn itself raises the signal again once stopped)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve_console(settings: Settings) -> None:
    """Serve on ``console_host``:``console_port`` (HTTPS with ``tls_cert``/``tls_key``;
    client certificates asked for with ``tls_client_ca``) until SIGTERM. A thread that dies
    of an exception (a scrape's probe, anything a library started) stops the server:
    ``ServiceCrashedError`` then, for the command to exit non-zero."""
    hub = Hub(settings)
    try:
        server = _Server(server_config(create_app(hub), settings))
        stop = lambda: setattr(server, "should_exit", True)  # noqa: E731
        with folding_failures(hub.access), CrashGuard(stop, 2 * STOP_TIMEOUT) as guard:
            server.run()
        guard.raise_if_crashed()
    finally:
        hub.close()


@contextmanager
def folding_failures(access: AccessService, every: float = FLUSH_EVERY) -> Iterator[None]:
    """Writes the folded counts of failed authentications as their windows close, even when
    nobody authenticates any more, and every count still open when the console stops."""
    stop = threading.Event()

    def flush_until_stopped() -> None:
        while not stop.wait(every):
            try:
                access.flush_failed_authentications()
            except Exception as exc:  # kept for the next round: a database outage passes
                log.warning("failed authentications not written yet", error=type(exc).__name__)

    thread = threading.Thread(target=flush_until_stopped, name="auth-failures", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        access.flush_failed_authentications(everything=True)
