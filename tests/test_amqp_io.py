"""The batched py-amqp transport over a real socket pair: frames cut exactly, a timeout loses
no half-read frame, a corked batch leaves in one write (the bus contract runs it on RabbitMQ)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from hub.routing._amqp import _Tcp, kombu_transport

pytestmark = pytest.mark.unit  # a socket pair in this process, no broker


def _frame(payload: bytes, kind: int = 3, channel: int = 1) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


class _Counting:
    """A socket method wrapper that counts its calls."""

    def __init__(self, method: Any) -> None:
        self.method, self.calls = method, 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.method(*args)


@pytest.fixture
def pair() -> Iterator[tuple[_Tcp, socket.socket]]:
    ours, peer = socket.socketpair()
    transport = _Tcp("127.0.0.1:5672")
    transport.sock = ours
    transport._quick_recv = _Counting(ours.recv)
    transport._write = _Counting(ours.sendall)
    transport.connected = True
    try:
        yield transport, peer
    finally:
        ours.close()
        peer.close()


def test_frames_sent_together_are_read_with_one_recv(pair: tuple[_Tcp, socket.socket]) -> None:
    transport, peer = pair
    payloads = [b"", b"a", b"x" * 1400, bytes(range(256)) * 40]
    peer.sendall(b"".join(_frame(p) for p in payloads))
    got = [transport.read_frame() for _ in payloads]
    assert got == [(3, 1, p) for p in payloads]
    assert transport._quick_recv.calls == 1  # py-amqp's own transport: 3 per frame


def test_a_frame_larger_than_the_read_chunk_is_read_whole(
    pair: tuple[_Tcp, socket.socket],
) -> None:
    transport, peer = pair
    big = bytes(n % 253 for n in range(200_000))
    peer.sendall(_frame(big) + _frame(b"next"))
    assert transport.read_frame() == (3, 1, big)
    assert transport.read_frame() == (3, 1, b"next")


def test_a_timeout_mid_frame_keeps_what_was_read(pair: tuple[_Tcp, socket.socket]) -> None:
    transport, peer = pair
    whole = _frame(b"half here, half later")
    peer.sendall(whole[:12])
    with pytest.raises(socket.timeout), transport.having_timeout(0.05):
        transport.read_frame()
    peer.sendall(whole[12:])
    with transport.having_timeout(1):
        assert transport.read_frame() == (3, 1, b"half here, half later")


def test_a_closed_peer_is_an_error_not_a_hang(pair: tuple[_Tcp, socket.socket]) -> None:
    transport, peer = pair
    peer.sendall(_frame(b"last")[:5])
    peer.close()
    with pytest.raises(OSError, match="unexpectedly closed"):
        transport.read_frame()


def test_no_socket_timeout_is_set_for_a_frame_already_read_in(
    pair: tuple[_Tcp, socket.socket],
) -> None:
    transport, peer = pair
    peer.sendall(_frame(b"one") + _frame(b"two"))
    with transport.having_timeout(2):
        transport.read_frame()
    assert transport.sock.gettimeout() is None
    with transport.having_timeout(2) as sock:
        assert sock.gettimeout() is None  # the second frame is buffered: nothing to wait for
        assert transport.read_frame() == (3, 1, b"two")
    with transport.having_timeout(2) as sock:
        assert sock.gettimeout() == 2  # nothing buffered: a real wait, bounded


def test_a_corked_batch_leaves_in_one_write(pair: tuple[_Tcp, socket.socket]) -> None:
    transport, peer = pair
    frames = [_frame(f"message {n}".encode()) for n in range(100)]
    with transport.corked():
        for frame in frames:
            transport.write(memoryview(bytearray(frame)))  # py-amqp reuses its buffer
    assert transport._write.calls == 1
    received = b""
    while len(received) < sum(map(len, frames)):
        received += peer.recv(65536)
    assert received == b"".join(frames)


def test_a_batch_that_fails_while_corked_sends_nothing(
    pair: tuple[_Tcp, socket.socket],
) -> None:
    transport, peer = pair
    with pytest.raises(RuntimeError), transport.corked():
        transport.write(_frame(b"first"))
        raise RuntimeError("encoding the second message failed")
    assert transport._write.calls == 0
    transport.write(_frame(b"after"))  # uncorked again: written at once
    assert peer.recv(100) == _frame(b"after")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "KombuTransport"),
        ("AMQPS://rabbit.example:5671//", "KombuTlsTransport"),
        ("memory://", None),
    ],
)
def test_the_transport_follows_the_url_scheme(url: str, name: str | None) -> None:
    chosen = kombu_transport(url)
    assert (chosen.__name__ if chosen else None) == name
