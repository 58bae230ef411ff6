"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to play a network outage."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

# libpq's sslmode: None leaves libpq's default ("prefer": TLS whenever the server offers it,
# as on a machine after .ci/tls-setup); "require" insists on it.
SSL_MODES = (None, "require")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses
    new ones until ``restore()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.up.set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self.lock:
            self.connections += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every open connection (like a cable pulled) and refuse new ones."""
        self.up.clear()
        with self.lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()


@contextlib.contextmanager
def proxy(host: str, port: int) -> Iterator[TcpProxy]:
    p = TcpProxy(host, port)
    try:
        yield p
    finally:
        p.close()


def database_through(p: TcpProxy, pg_url: str, sslmode: str | None) -> str:
    """``pg_url`` by way of the proxy, with ``sslmode`` (``require``: the test needs a server
    that offers TLS, skipped locally without one and failing in CI)."""
    url = make_url(pg_url).set(host="127.0.0.1", port=p.port)
    if sslmode is not None:
        _require_tls_offered(pg_url)
        url = url.update_query_dict({"sslmode": sslmode})
    return url.render_as_string(hide_password=False)


def _require_tls_offered(pg_url: str) -> None:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, sslmode="require", connect_timeout=5):
            return
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL offers no TLS (run .ci/tls-setup): {str(exc).strip()}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def uses_tls(url: str) -> bool:
    """Whether a connection made to ``url`` is encrypted."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, connect_timeout=5) as connection:
        return bool(connection.pgconn.ssl_in_use)
