"""Protection of personal data at rest: data keys (``Keyring``) and sealing (``Sealer``)."""

from __future__ import annotations

from hub.protection.keyring import Keyring, KeyringError, new_key_entry, parse_keyring
from hub.protection.sealing import (
    PLAIN,
    AesGcmSealer,
    PlainSealer,
    Sealer,
    SealingError,
    sealer_from_settings,
)

__all__ = [
    "PLAIN",
    "AesGcmSealer",
    "Keyring",
    "KeyringError",
    "PlainSealer",
    "Sealer",
    "SealingError",
    "new_key_entry",
    "parse_keyring",
    "sealer_from_settings",
]
