"""``hub console``: the console and the HTTP endpoints under uvicorn, until SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from hub.bootstrap import Hub
from hub.config import Settings
from hub.console.app import create_app
from hub.console.server import server_config
from hub.runtime import STOP_TIMEOUT, CrashGuard


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
        with CrashGuard(lambda: setattr(server, "should_exit", True), 2 * STOP_TIMEOUT) as guard:
            server.run()
        guard.raise_if_crashed()
    finally:
        hub.close()
