"""Pure-Python GOST through ``gostcrypto``: correct everywhere, about 100x slower."""

from __future__ import annotations

from typing import Any

from gostcrypto import gosthash, gostsignature

from hub.crypto.keys import CURVES, PrivateKey, PublicKey
from hub.errors import SignatureError


def _signer(curve_oid: str) -> Any:
    curve = gostsignature.CURVES_R_1323565_1_024_2019[CURVES[curve_oid]]
    return gostsignature.new(gostsignature.MODE_256, curve)


def _as_gostcrypto_digest(digest: bytes) -> bytearray:
    if len(digest) != 32:
        raise SignatureError(f"a Streebog-256 digest is 32 bytes, got {len(digest)}")
    # gostcrypto reads the digest big-endian; SMEV (and the standard's test vectors) little.
    return bytearray(digest[::-1])


class PureBackend:
    """GOST R 34.10-2012 / 34.11-2012 in pure Python (gostcrypto)."""

    name = "pure"

    def digest(self, data: bytes) -> bytes:
        return bytes(gosthash.new("streebog256", data=bytearray(data)).digest())

    def sign(self, key: PrivateKey, digest: bytes) -> bytes:
        secret = bytearray(key.secret.to_bytes(32, "big"))
        r_s = _signer(key.curve_oid).sign(secret, _as_gostcrypto_digest(digest))
        return bytes(r_s[32:] + r_s[:32])

    def verify(self, key: PublicKey, digest: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        point = bytearray(key.x.to_bytes(32, "big") + key.y.to_bytes(32, "big"))
        r_s = bytearray(signature[32:] + signature[:32])
        try:
            return bool(_signer(key.curve_oid).verify(point, _as_gostcrypto_digest(digest), r_s))
        except gostsignature.GOSTSignatureError:
            return False

    def public_key(self, key: PrivateKey) -> PublicKey:
        point = _signer(key.curve_oid).public_key_generate(
            bytearray(key.secret.to_bytes(32, "big"))
        )
        x, y = bytes(point[:32]), bytes(point[32:])
        return PublicKey(key.curve_oid, int.from_bytes(x, "big"), int.from_bytes(y, "big"))
