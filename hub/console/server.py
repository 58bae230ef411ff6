"""Serving the console and the inbound endpoint: uvicorn, HTTPS, mutual TLS, and limits on
slow or greedy clients.

Uvicorn does not hand the peer's certificate to the application, so the HTTP protocol is
subclassed to put it into the ASGI TLS extension (``scope["extensions"]["tls"]``), where
any server that implements the extension puts it too.

The same protocol bounds what one client can hold: at most ``console_client_connections``
connections per client address and ``console_max_connections`` in all (a connection past
either is answered ``503`` with ``Retry-After`` and closed at once, so it never takes a
place), ``console_header_timeout`` seconds to send a request's headers (then ``408`` and
closed). The body's time is bounded by the application (``hub.console.web.BodyDeadline``:
``408``), and here too, a little later, for a body nobody reads. The address is the TCP
peer's: behind a reverse proxy, the proxy's.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.config import Settings
from hub.console.web import RETRY_AFTER
from hub.errors import ConfigurationError

ASGIApp = Callable[..., Any]


def _with_peer_certificate(app: ASGIApp, pem: str | None) -> ASGIApp:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            tls = {"client_cert_chain": [pem] if pem else [], "client_cert_error": None}
            scope["extensions"] = {**(scope.get("extensions") or {}), "tls": tls}
        await app(scope, receive, send)

    return wrapped


class PeerCertificateProtocol(H11Protocol):
    """HTTP/1.1 that tells the application which client certificate the peer presented."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = transport.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        self.app = _with_peer_certificate(self.app, ssl.DER_cert_to_PEM_cert(der) if der else None)


BODY_GRACE = 5.0  # the application answers a slow body first; this closes one nobody reads


@dataclass(frozen=True)
class ConnectionLimits:
    total: int
    per_client: int
    header_timeout: float
    body_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            settings.console_max_connections,
            settings.console_client_connections,
            settings.console_header_timeout,
            settings.console_body_timeout,
        )


def raw_error(status: int, reason: str, message: str, code: str, **headers: str) -> bytes:
    """A whole HTTP/1.1 answer in the machine endpoints' JSON error form, closing the
    connection: for refusals made before any request reached the application."""
    body = json.dumps({"error": message, "status": status, "code": code}).encode()
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        "cache-control: no-store",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


OVERLOADED = raw_error(
    503,
    "Service Unavailable",
    "too many connections from your address, or in all: try again shortly",
    "OVERLOADED",
    retry_after=str(RETRY_AFTER),
)
HEADERS_TOO_SLOW = raw_error(
    408, "Request Timeout", "the request's headers did not arrive in time", "REQUEST_TIMEOUT"
)


class GuardedProtocol(PeerCertificateProtocol):
    """HTTP/1.1 with a cap on connections per client address and in all, and deadlines on a
    request's headers and body. ``limits`` and ``clients`` belong to one server
    (``guarded_protocol`` makes the class for it)."""

    limits: ClassVar[ConnectionLimits]
    clients: ClassVar[Counter[str]]  # open connections by client address
    _address: str = ""
    _counted: bool = False
    _phase: str | None = None  # "head" or "body": what the running deadline is for
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else "unknown"
        if self.clients[self._address] >= self.limits.per_client or (
            len(self.connections) > self.limits.total
        ):
            self._refuse(OVERLOADED)
            return
        self.clients[self._address] += 1
        self._counted = True
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        if self._counted:
            self._counted = False
            self.clients[self._address] -= 1
            if self.clients[self._address] <= 0:
                del self.clients[self._address]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        """Runs the deadline that fits where the request is: its headers are coming (from
        the connection's start, or the next request's first byte: more bytes never extend
        it), its body is coming, or nothing is (uvicorn's keep-alive timeout then)."""
        state, (pending, _) = self.conn.their_state, self.conn.trailing_data
        phase = None
        if state is h11.IDLE and (pending or self._phase == "head" or not self._served):
            phase = "head"
        elif state is h11.SEND_BODY:
            phase = "body"
        if phase != self._phase:
            self._arm(phase)

    @property
    def _served(self) -> bool:
        return self.cycle is not None  # a request has been read on this connection

    def _arm(self, phase: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase == "head":
            self._deadline = self.loop.call_later(
                self.limits.header_timeout, self._refuse, HEADERS_TOO_SLOW
            )
        elif phase == "body":
            timeout = self.limits.body_timeout + BODY_GRACE
            self._deadline = self.loop.call_later(timeout, self.transport.close)

    def _refuse(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedProtocol]:
    """The protocol class of one server: its own limits and its own count of connections."""
    attributes = {"limits": limits, "clients": Counter()}
    return cast(type[GuardedProtocol], type("GuardedProtocol", (GuardedProtocol,), attributes))


def tls_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn's TLS options from settings: none (HTTP), HTTPS, or HTTPS asking for client
    certificates (optional: operators log in by token, agencies may present one)."""
    if settings.tls_cert is None and settings.tls_key is None:
        if settings.tls_client_ca is not None:
            raise ConfigurationError("HUB_TLS_CLIENT_CA needs HUB_TLS_CERT and HUB_TLS_KEY")
        return {}
    if settings.tls_cert is None or settings.tls_key is None:
        raise ConfigurationError("HTTPS needs both HUB_TLS_CERT and HUB_TLS_KEY")
    for path in (settings.tls_cert, settings.tls_key, settings.tls_client_ca):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"TLS file {path} does not exist")
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_cert),
        "ssl_keyfile": str(settings.tls_key),
        "ssl_context_factory": _modern_only,
    }
    if settings.tls_client_ca is not None:
        options |= {"ssl_ca_certs": str(settings.tls_client_ca), "ssl_cert_reqs": ssl.CERT_OPTIONAL}
    return options


def _modern_only(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def server_config(app: ASGIApp, settings: Settings, *, port: int | None = None) -> uvicorn.Config:
    """The uvicorn configuration for ``app`` on ``console_host``/``console_port``."""
    return uvicorn.Config(
        app,
        host=settings.console_host,
        port=settings.console_port if port is None else port,
        http=guarded_protocol(ConnectionLimits.of(settings)),
        lifespan="off",
        access_log=False,  # URLs hold ids only, but the structured log is the one place
        server_header=False,
        log_config=None,
        timeout_keep_alive=5,
        limit_concurrency=None,  # GuardedProtocol limits, and answers in the documented form
        h11_max_incomplete_event_size=16 * 1024,
        **tls_options(settings),
    )
