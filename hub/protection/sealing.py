"""Sealing values at rest with AES-256-GCM, bound to where they are stored.

A sealed value (a blob) is ``b"HS1"``, the key id's length and the key id, a 12-byte random
nonce and the ciphertext with its tag. The caller passes a context (the table, column and row
id) as associated data: a blob copied into another row or column no longer opens.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Protocol

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.errors import PermanentError
from hub.protection.keyring import Keyring, parse_keyring

if TYPE_CHECKING:
    from hub.config import Settings

log = structlog.get_logger("hub.protection")

PLAIN = "plain"  # the key id of values stored in clear
MAGIC = b"HS1"
NONCE_BYTES = 12
_INDEX_INFO = b"hub index key v1"
_warned = threading.Event()


class SealingError(PermanentError):
    """A sealed value cannot be opened: unknown key, wrong key, or not where it was sealed."""

    code = "SEALING"


class Sealer(Protocol):
    """Seals values for storage and opens them again."""

    @property
    def key_id(self) -> str:
        """The id new values are sealed under (``plain``: stored in clear)."""
        ...

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this sealer can open."""
        ...

    @property
    def explicit_index_key(self) -> bytes | None:
        """``HUB_INDEX_KEY`` when it was given."""
        ...

    def index_key(self) -> bytes:
        """The secret of keyed hashes in indexes: the explicit one, else derived (HKDF)."""
        ...

    def seal(self, plain: bytes, context: bytes) -> bytes: ...

    def open(self, blob: bytes, context: bytes) -> bytes: ...

    def key_id_of(self, blob: bytes) -> str: ...


def _derive(material: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=_INDEX_INFO).derive(material)


def _explicit(index_key: bytes | None) -> bytes | None:
    # Any length of secret given: HKDF makes a 32-byte HMAC key of it.
    return _derive(index_key) if index_key else None


class PlainSealer:
    """No keys configured: values are stored as they are (development and the demo only)."""

    key_id = PLAIN
    key_ids = frozenset({PLAIN})

    def __init__(self, index_key: bytes | None = None) -> None:
        self.explicit_index_key = _explicit(index_key)

    def index_key(self) -> bytes:
        return self.explicit_index_key or _derive(b"")

    def seal(self, plain: bytes, context: bytes) -> bytes:
        return plain

    def open(self, blob: bytes, context: bytes) -> bytes:
        return blob

    def key_id_of(self, blob: bytes) -> str:
        return PLAIN


class AesGcmSealer:
    """AES-256-GCM under the keyring's keys; new values under the active one."""

    def __init__(self, keyring: Keyring, index_key: bytes | None = None) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}
        self._active = keyring.active
        self._derived = _derive(keyring.keys[keyring.active])
        self.explicit_index_key = _explicit(index_key)
        self._prefix = MAGIC + bytes([len(self._active)]) + self._active.encode()

    @property
    def key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def index_key(self) -> bytes:
        return self.explicit_index_key or self._derived

    def seal(self, plain: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return self._prefix + nonce + self._ciphers[self._active].encrypt(nonce, plain, context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        key_id = self.key_id_of(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealingError(
                f"value sealed under key {key_id!r}, which is not configured", key_id=key_id
            )
        start = len(MAGIC) + 1 + len(key_id)
        nonce, sealed = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
        try:
            return cipher.decrypt(nonce, sealed, context)
        except InvalidTag as exc:
            raise SealingError(
                f"value under key {key_id!r} does not open here: wrong key material, altered, "
                "or moved from another row",
                key_id=key_id,
            ) from exc

    def key_id_of(self, blob: bytes) -> str:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
            raise SealingError("not a sealed value (no HS1 prefix)")
        size = blob[len(MAGIC)]
        return blob[len(MAGIC) + 1 : len(MAGIC) + 1 + size].decode("ascii", "replace")


def sealer_from_settings(settings: Settings) -> Sealer:
    """The sealer the settings ask for: AES-GCM with keys, else plain (warned once)."""
    secret = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    index = settings.index_key.get_secret_value().encode() if settings.index_key else None
    keyring = parse_keyring(secret, settings.encryption_key_id)
    if keyring is not None:
        return AesGcmSealer(keyring, index)
    if not _warned.is_set():
        _warned.set()
        log.warning("encryption at rest is off: HUB_ENCRYPTION_KEYS is empty (development only)")
    return PlainSealer(index)
