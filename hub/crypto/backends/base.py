"""The interface every GOST implementation offers the signing code."""

from __future__ import annotations

from typing import Protocol

from hub.crypto.keys import PrivateKey, PublicKey


class GostBackend(Protocol):
    """Streebog-256 and GOST R 34.10-2012-256 with SMEV's byte orders.

    ``digest`` is the Streebog output as the standard writes it; ``sign`` and
    ``verify`` read that digest as a little-endian integer and write the signature
    as s‖r, each 32 bytes big-endian (the layout of ds:SignatureValue).
    """

    name: str

    def digest(self, data: bytes) -> bytes: ...

    def sign(self, key: PrivateKey, digest: bytes) -> bytes: ...

    def verify(self, key: PublicKey, digest: bytes, signature: bytes) -> bool: ...

    def public_key(self, key: PrivateKey) -> PublicKey: ...
