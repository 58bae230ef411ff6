"""GOST signatures for SMEV: keys, backends, the SMEV transform and XMLDSig."""

from __future__ import annotations

from typing import Literal

from hub.crypto.backends.base import GostBackend
from hub.errors import BackendUnavailableError

BackendName = Literal["auto", "openssl", "pure"]


def select_backend(name: BackendName = "auto") -> GostBackend:
    """The GOST backend by name; ``auto`` prefers OpenSSL's engine and falls back to pure."""
    if name in ("auto", "openssl"):
        from hub.crypto.backends.openssl import OpenSSLBackend  # noqa: PLC0415 - loads a C library

        try:
            return OpenSSLBackend()
        except BackendUnavailableError:
            if name == "openssl":
                raise
    from hub.crypto.backends.pure import PureBackend  # noqa: PLC0415

    return PureBackend()


__all__ = ["BackendName", "GostBackend", "select_backend"]
