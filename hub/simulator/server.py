"""The simulator over HTTP: one SOAP endpoint per version (``/smev/1.1``, ``/smev/1.2``,
``/smev/1.3``) and ``/health``, served by uvicorn on 127.0.0.1.

``SimulatorServer`` runs it in a background thread (tests, ``hub demo``); ``serve`` keeps it
running until SIGINT/SIGTERM (``hub simulator serve``). Injected latency and
dropped connections happen here; everything else is the Exchange's.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.crypto import GostBackend
from hub.crypto.keys import Certificate
from hub.errors import ConfigurationError
from hub.runtime import stop_event
from hub.simulator.config import ExchangeConfig, FaultInjection
from hub.simulator.exchange import Exchange
from hub.simulator.state import smev_identity
from hub.smev.versions import SmevVersion

DEFAULT_HOST = "127.0.0.1"
_DROP = "hub.simulator.drop"
_VERSIONS = frozenset(v.value for v in SmevVersion)


class _DroppingProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol that also lets the app close the connection without an
    answer, which ASGI cannot say: the transport's ``abort`` goes into the scope."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {_DROP: {"abort": self.transport.abort}}


class _Chaos:
    """Latency and dropped connections, drawn from their own seeded generator."""

    def __init__(self, faults: FaultInjection) -> None:
        self.faults = faults
        # Repeatable by seed, not secret.
        self._random = random.Random(f"server:{faults.seed}")  # noqa: S311

    def delay(self) -> float:
        jitter = self.faults.latency_jitter
        extra = self._random.uniform(0, jitter) if jitter else 0.0
        return self.faults.latency + extra

    def drop(self) -> bool:
        rate = self.faults.drop_rate
        return rate > 0 and self._random.random() < rate


def create_app(exchange: Exchange) -> Starlette:
    """The ASGI app serving ``exchange``."""
    chaos = _Chaos(exchange.config.faults)

    async def soap(request: Request) -> Response:
        version = request.path_params["version"]
        if version not in _VERSIONS:
            return Response(f"no SMEV {version} endpoint here", 404, media_type="text/plain")
        reply = exchange.handle(await request.body(), version, request.headers.get("content-type"))
        delay = chaos.delay()
        if delay:
            await asyncio.sleep(delay)
        if chaos.drop():
            await _abort(request)
        return Response(reply.body, reply.status, media_type=reply.content_type)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "systems": exchange.depths()})

    routes = [Route("/smev/{version}", soap, methods=["POST"]), Route("/health", health)]
    return Starlette(routes=routes)


async def _abort(request: Request) -> None:
    abort: Callable[[], None] = request.scope["extensions"][_DROP]["abort"]
    abort()
    # Let the protocol learn the connection is gone, so the answer is never written.
    for _ in range(3):
        await asyncio.sleep(0)


def _config(exchange: Exchange) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(exchange),
        http=_DroppingProtocol,
        lifespan="off",
        log_config=None,  # the hub's logging stays as configured
        access_log=False,
        timeout_keep_alive=30,  # pollers keep their connection between polls
    )


def _listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server((host, port), backlog=2048)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


class SimulatorServer:
    """The simulator in a background thread; ``port=0`` takes a free port (see ``port``)."""

    def __init__(self, exchange: Exchange, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.exchange = exchange
        self._socket = _listen(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(_config(exchange))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="smev-simulator",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def endpoint(self, version: str | SmevVersion = SmevVersion.V1_3) -> str:
        """The SOAP endpoint of one version."""
        return f"{self.url}/smev/{SmevVersion(version).value}"

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError(f"the SMEV simulator did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def build_exchange(
    backend: GostBackend,
    config: ExchangeConfig,
    systems: Mapping[str, Certificate],
    routes: Mapping[str, str],
    schemas: Mapping[str, Path],
    *,
    state: Path | None = None,
) -> Exchange:
    """An exchange signing with the SMEV key kept in ``state`` (none: a fresh key):
    ``systems`` by their certificates, requests of each namespace in ``routes`` to that
    system, business data checked against ``schemas``."""
    identity = None if state is None else smev_identity(backend, state)
    exchange = Exchange.create(backend, config, identity=identity)
    for mnemonic, certificate in systems.items():
        exchange.register_system(mnemonic, certificate=certificate)
    for namespace, mnemonic in routes.items():
        exchange.register_system(mnemonic)
        exchange.route(namespace, mnemonic)
    for namespace, xsd in schemas.items():
        exchange.register_schema(namespace, xsd)
    return exchange


def serve(
    exchange: Exchange,
    host: str = DEFAULT_HOST,
    port: int = 0,
    on_ready: Callable[[str], Any] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (by default: until SIGINT/SIGTERM); ``on_ready`` gets the
    base URL once connections are accepted."""
    stop = stop or stop_event()
    with SimulatorServer(exchange, host, port) as server:
        if on_ready is not None:
            on_ready(server.url)
        stop.wait()
