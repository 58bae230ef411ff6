"""py-amqp's socket I/O, batched: the same protocol code with far fewer system calls.

py-amqp asks the socket for exactly the bytes of each frame part (two ``recv`` calls per frame,
six per delivered message), sets the socket's timeout around every frame, and writes every
published message with its own ``sendall``. On loopback each call costs tens of microseconds
(the kernel hands the bytes to the peer in the same call): the relay spent a quarter of its
time in ``sendall``. Here reads take what the socket has, up to 64 KiB; a frame already read
in needs no timeout; and a publisher can *cork* the connection so that a batch of messages
leaves in one write.
"""

from __future__ import annotations

import contextlib
import errno
import struct
from collections.abc import Iterator
from typing import Any

from amqp import transport as amqp_transport
from kombu.transport import pyamqp

_CHUNK = 65536
_AGAIN = (errno.EAGAIN, errno.EINTR)
_SIZE = struct.Struct(">I")  # a frame's payload size, after its type and channel


class _Batched:
    """Mixed into py-amqp's TCP and TLS transports (which keep their ``_read_buffer`` API)."""

    _rbuf: bytes = b""
    _rpos: int = 0
    _corked: list[bytes] | None = None
    _quick_recv: Any
    sock: Any
    raise_on_initial_eintr: bool

    @property
    def _read_buffer(self) -> bytes:
        # py-amqp puts a half-read frame back here on a timeout; read it out the same way.
        return self._rbuf[self._rpos :]

    @_read_buffer.setter
    def _read_buffer(self, value: bytes) -> None:
        self._rbuf, self._rpos = bytes(value), 0

    def _read(self, n: int, initial: bool = False) -> bytes:
        buf, pos = self._rbuf, self._rpos
        while len(buf) - pos < n:
            try:
                chunk = self._quick_recv(max(_CHUNK, n - (len(buf) - pos)))
            except OSError as exc:
                if exc.errno in _AGAIN and not (initial and self.raise_on_initial_eintr):
                    continue
                self._rbuf, self._rpos = buf, pos
                if exc.errno in _AGAIN:
                    raise TimeoutError() from exc
                raise
            if not chunk:
                self._rbuf, self._rpos = buf, pos
                raise OSError("Server unexpectedly closed connection")
            buf, pos = buf[pos:] + chunk, 0
        self._rbuf, self._rpos = buf, pos + n
        return buf[pos : pos + n]

    @contextlib.contextmanager
    def having_timeout(self, timeout: float | None) -> Iterator[Any]:
        # py-amqp sets the socket's timeout around every frame it reads (two system calls)
        # even when the frame is already here and reading it cannot block.
        if self._frame_buffered():
            yield self.sock
        else:
            with super().having_timeout(timeout) as sock:  # type: ignore[misc]
                yield sock

    def _frame_buffered(self) -> bool:
        buf, pos = self._rbuf, self._rpos
        if len(buf) - pos < 7:
            return False
        size: int = _SIZE.unpack_from(buf, pos + 3)[0]
        return len(buf) - pos >= size + 8

    def write(self, s: bytes | memoryview) -> None:
        if self._corked is not None:
            self._corked.append(bytes(s))  # py-amqp reuses the buffer behind ``s``
            return
        super().write(s)  # type: ignore[misc]

    @contextlib.contextmanager
    def corked(self) -> Iterator[None]:
        """Hold every frame written inside the block; send them in one write at its end.

        On an exception nothing is sent: the caller drops the connection (its channel's
        state is unknown) and publishes the batch again."""
        self._corked = []
        try:
            yield
            frames = b"".join(self._corked)
        finally:
            self._corked = None
        if frames:
            super().write(frames)  # type: ignore[misc]


class _Tcp(_Batched, amqp_transport.TCPTransport):  # type: ignore[misc]
    pass


class _Tls(_Batched, amqp_transport.SSLTransport):  # type: ignore[misc]
    pass


class _Connection(pyamqp.Connection):
    def Transport(  # noqa: N802 (py-amqp's name)
        self,
        host: str,
        connect_timeout: float | None,
        ssl: Any = False,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        **kwargs: Any,
    ) -> _Batched:
        kind = _Tls if ssl else _Tcp
        return kind(
            host,
            connect_timeout=connect_timeout,
            ssl=ssl,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            **kwargs,
        )


class KombuTransport(pyamqp.Transport):
    """kombu's ``amqp://`` transport on the batched py-amqp connection."""

    Connection = _Connection


class KombuTlsTransport(pyamqp.SSLTransport):
    """kombu's ``amqps://`` transport on the batched py-amqp connection."""

    Connection = _Connection


def kombu_transport(url: str) -> type[Any] | None:
    """The transport class for a broker URL; ``None`` (kombu's choice) for anything else."""
    scheme = url.split("://", 1)[0].lower()
    return {"amqp": KombuTransport, "pyamqp": KombuTransport, "amqps": KombuTlsTransport}.get(
        scheme
    )


def corked(connection: Any) -> contextlib.AbstractContextManager[None]:
    """``corked()`` of a kombu connection's transport, or a no-op where it has none."""
    transport = getattr(getattr(connection, "connection", None), "transport", None)
    return transport.corked() if isinstance(transport, _Batched) else contextlib.nullcontext()
