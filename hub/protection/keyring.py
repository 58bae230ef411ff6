"""Data keys for encryption at rest: ``HUB_ENCRYPTION_KEYS="ID:BASE64,ID:BASE64"``.

Each key is 32 random bytes (AES-256) under a short id; the id is written beside every sealed
value, so old keys keep opening old rows until ``hub keys rotate`` re-seals them. Errors name
the entry (its position and id), never the key material.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.errors import ConfigurationError

KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
RESERVED_IDS = frozenset({"plain"})  # the id of values stored in clear


class KeyringError(ConfigurationError):
    """The encryption keys setting is malformed."""

    code = "BAD_ENCRYPTION_KEYS"


@dataclass(frozen=True, slots=True)
class Keyring:
    """The configured data keys by id, and the one new values are sealed with."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            known = ", ".join(self.keys) or "none"
            raise KeyringError(
                f"HUB_ENCRYPTION_KEY_ID {self.active!r} is not among the configured keys ({known})",
                key_id=self.active,
            )

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(ids={list(self.keys)}, active={self.active!r})"


def parse_keyring(text: str | None, active: str | None = None) -> Keyring | None:
    """The keyring of ``HUB_ENCRYPTION_KEYS`` (``None`` when empty); the active key is
    ``active`` or the last listed."""
    entries = [entry.strip() for entry in (text or "").split(",")]
    if not any(entries):
        if active:
            raise KeyringError("HUB_ENCRYPTION_KEY_ID is set but HUB_ENCRYPTION_KEYS is empty")
        return None
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(entries, start=1):
        key_id, key = _parse_entry(position, entry)
        if key_id in keys:
            raise KeyringError(f"encryption key {position}: id {key_id!r} is listed twice")
        keys[key_id] = key
    return Keyring(keys, active or list(keys)[-1])


def _parse_entry(position: int, entry: str) -> tuple[str, bytes]:
    where = f"encryption key {position}"
    key_id, colon, material = entry.partition(":")
    key_id = key_id.strip()
    if not colon or not entry:
        raise KeyringError(f"{where}: expected 'ID:BASE64' (make one with `hub keys data-key`)")
    if not _KEY_ID.fullmatch(key_id) or key_id in RESERVED_IDS:
        raise KeyringError(
            f"{where}: id {key_id[:40]!r} must be 1-32 letters, digits, '-' or '_' and not "
            f"{', '.join(sorted(RESERVED_IDS))}"
        )
    try:
        key = base64.b64decode(material.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"{where} ({key_id}): the key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyringError(
            f"{where} ({key_id}): the key is {len(key)} bytes, AES-256 needs {KEY_BYTES}"
        )
    return key_id, key


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh random key as an ``ID:BASE64`` entry (id: today's date and a random suffix)."""
    chosen = key_id or f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"
    _parse_entry(1, f"{chosen}:{base64.b64encode(bytes(KEY_BYTES)).decode()}")  # checks the id
    return f"{chosen}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"
