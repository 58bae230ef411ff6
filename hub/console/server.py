"""Serving the console and the inbound endpoint: uvicorn, HTTPS, mutual TLS.

Uvicorn does not hand the peer's certificate to the application, so the HTTP protocol is
subclassed to put it into the ASGI TLS extension (``scope["extensions"]["tls"]``), where
any server that implements the extension puts it too.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.config import Settings
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
        http=PeerCertificateProtocol,
        lifespan="off",
        access_log=False,  # URLs hold ids only, but the structured log is the one place
        server_header=False,
        log_config=None,
        timeout_keep_alive=5,
        limit_concurrency=200,
        h11_max_incomplete_event_size=16 * 1024,
        **tls_options(settings),
    )
