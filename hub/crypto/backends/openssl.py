"""GOST through OpenSSL 3's GOST engine (Debian ``libengine-gost-openssl``), in-process.

The engine is reached with ctypes in the same libcrypto that Python's ``hashlib`` uses;
Streebog comes from the engine's provider (``gostprov``) through ``hashlib`` when it
loads, else from the engine's own digest. Key handles are cached per key, so the hot
path is one EVP_PKEY_CTX per signature.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hub.crypto.keys import PrivateKey, PublicKey
from hub.errors import BackendUnavailableError, SignatureError

_P = ctypes.c_void_p
_DIGEST_NAME = "md_gost12_256"
_CACHE_SIZE = 64


def _load_libcrypto() -> ctypes.CDLL:
    for name in ("libcrypto.so.3", ctypes.util.find_library("crypto")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    raise BackendUnavailableError("OpenSSL 3 libcrypto not found")


def _declare(lib: ctypes.CDLL) -> None:
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "OSSL_PROVIDER_load": (_P, [_P, ctypes.c_char_p]),
        "ENGINE_by_id": (_P, [ctypes.c_char_p]),
        "ENGINE_init": (ctypes.c_int, [_P]),
        "ENGINE_register_pkey_meths": (ctypes.c_int, [_P]),
        "ENGINE_register_pkey_asn1_meths": (ctypes.c_int, [_P]),
        "ENGINE_register_digests": (ctypes.c_int, [_P]),
        "EVP_get_digestbyname": (_P, [ctypes.c_char_p]),
        "EVP_Digest": (
            ctypes.c_int,
            [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _P, _P, _P],
        ),
        "d2i_PUBKEY": (_P, [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
        "d2i_PrivateKey": (_P, [ctypes.c_int, _P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
        "i2d_PUBKEY": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.c_void_p)]),
        "EVP_PKEY_free": (None, [_P]),
        "EVP_PKEY_CTX_new": (_P, [_P, _P]),
        "EVP_PKEY_CTX_free": (None, [_P]),
        "EVP_PKEY_sign_init": (ctypes.c_int, [_P]),
        "EVP_PKEY_sign": (
            ctypes.c_int,
            [
                _P,
                ctypes.c_char_p,
                ctypes.POINTER(ctypes.c_size_t),
                ctypes.c_char_p,
                ctypes.c_size_t,
            ],
        ),
        "EVP_PKEY_verify_init": (ctypes.c_int, [_P]),
        "EVP_PKEY_verify": (
            ctypes.c_int,
            [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t],
        ),
        "CRYPTO_free": (None, [_P, ctypes.c_char_p, ctypes.c_int]),
        "ERR_clear_error": (None, []),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


_NID_GOST2012_256 = 979


class _KeyCache:
    """A small LRU of EVP_PKEY handles that frees what it evicts."""

    def __init__(self, free: Callable[[int], None]) -> None:
        self._items: OrderedDict[bytes, int] = OrderedDict()
        self._free = free
        self._lock = threading.Lock()

    def get(self, der: bytes, load: Callable[[bytes], int]) -> int:
        with self._lock:
            handle = self._items.get(der)
            if handle is not None:
                self._items.move_to_end(der)
                return handle
            handle = load(der)
            self._items[der] = handle
            if len(self._items) > _CACHE_SIZE:
                self._free(self._items.popitem(last=False)[1])
            return handle


class OpenSSLBackend:
    """GOST R 34.10-2012 / 34.11-2012 from OpenSSL's GOST engine."""

    name = "openssl"

    def __init__(self, engine_id: str = "gost") -> None:
        self._lib = _load_libcrypto()
        _declare(self._lib)
        self._engine = self._load_engine(engine_id.encode())
        self._digest = self._pick_digest()
        self._public = _KeyCache(self._lib.EVP_PKEY_free)
        self._private = _KeyCache(self._lib.EVP_PKEY_free)

    def _load_engine(self, engine_id: bytes) -> int:
        lib = self._lib
        engine = lib.ENGINE_by_id(engine_id)
        if not engine or lib.ENGINE_init(engine) != 1:
            lib.ERR_clear_error()
            raise BackendUnavailableError(
                "OpenSSL GOST engine not found: install Debian's libengine-gost-openssl"
            )
        for register in ("pkey_meths", "pkey_asn1_meths", "digests"):
            getattr(lib, f"ENGINE_register_{register}")(engine)
        return int(engine)

    def _pick_digest(self) -> Callable[[bytes], bytes]:
        # The provider makes hashlib speak Streebog at C speed with no per-call ctypes cost.
        # "default" goes first: loading any provider explicitly stops its automatic load.
        self._lib.OSSL_PROVIDER_load(None, b"default")
        self._lib.OSSL_PROVIDER_load(None, b"gostprov")
        try:
            hashlib.new(_DIGEST_NAME, b"")
        except ValueError:
            self._lib.ERR_clear_error()
            return self._engine_digest
        return lambda data: hashlib.new(_DIGEST_NAME, data).digest()

    def digest(self, data: bytes) -> bytes:
        return self._digest(data)

    def _engine_digest(self, data: bytes) -> bytes:
        md = self._lib.EVP_get_digestbyname(_DIGEST_NAME.encode())
        out = ctypes.create_string_buffer(32)
        if not md or self._lib.EVP_Digest(data, len(data), out, None, md, self._engine) != 1:
            raise SignatureError("OpenSSL could not compute a Streebog-256 digest")
        return out.raw

    def sign(self, key: PrivateKey, digest: bytes) -> bytes:
        handle = self._private.get(key.to_der(), self._load_private)
        ctx = self._lib.EVP_PKEY_CTX_new(handle, self._engine)
        try:
            out = ctypes.create_string_buffer(64)
            size = ctypes.c_size_t(64)
            ok = self._lib.EVP_PKEY_sign_init(ctx) == 1 and (
                self._lib.EVP_PKEY_sign(ctx, out, ctypes.byref(size), digest, len(digest)) == 1
            )
        finally:
            self._lib.EVP_PKEY_CTX_free(ctx)
        if not ok or size.value != 64:
            self._lib.ERR_clear_error()
            raise SignatureError("OpenSSL GOST engine failed to sign")
        return out.raw

    def verify(self, key: PublicKey, digest: bytes, signature: bytes) -> bool:
        handle = self._public.get(key.to_der(), self._load_public)
        ctx = self._lib.EVP_PKEY_CTX_new(handle, self._engine)
        try:
            result = self._lib.EVP_PKEY_verify_init(ctx) == 1 and (
                self._lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest)) == 1
            )
        finally:
            self._lib.EVP_PKEY_CTX_free(ctx)
        if not result:
            self._lib.ERR_clear_error()
        return bool(result)

    def public_key(self, key: PrivateKey) -> PublicKey:
        handle = self._private.get(key.to_der(), self._load_private)
        buffer = ctypes.c_void_p()
        size = self._lib.i2d_PUBKEY(handle, ctypes.byref(buffer))
        if size <= 0:
            raise SignatureError("OpenSSL could not derive the public key")
        try:
            der = ctypes.string_at(buffer, size)
        finally:
            self._lib.CRYPTO_free(buffer, None, 0)
        return PublicKey.from_der(der)

    def _load_public(self, der: bytes) -> int:
        pointer = ctypes.c_char_p(der)
        handle = self._lib.d2i_PUBKEY(None, ctypes.byref(pointer), len(der))
        return self._checked(handle, "public key")

    def _load_private(self, der: bytes) -> int:
        pointer = ctypes.c_char_p(der)
        handle = self._lib.d2i_PrivateKey(_NID_GOST2012_256, None, ctypes.byref(pointer), len(der))
        return self._checked(handle, "private key")

    def _checked(self, handle: int | None, what: str) -> int:
        if not handle:
            self._lib.ERR_clear_error()
            raise SignatureError(f"OpenSSL GOST engine could not load the {what}")
        return int(handle)
