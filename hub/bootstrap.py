"""The composition root: every part of the hub is built here, from settings.

Tests build the hub the same way, passing overrides. Nothing connects or reads files
until a part is first used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from hub.config import Settings
from hub.crypto import GostBackend, select_backend
from hub.crypto.keys import load_certificate, load_private_key
from hub.crypto.xmldsig import KeySigner, LocalKeySigner, XmlSigner, XmlVerifier
from hub.errors import ConfigurationError
from hub.xml import XmlLimits


@dataclass
class Hub:
    """The hub's parts, built lazily from ``settings``."""

    settings: Settings
    overrides: dict[str, Any] = field(default_factory=dict)

    def _override(self, name: str) -> Any:
        return self.overrides.get(name)

    @cached_property
    def xml_limits(self) -> XmlLimits:
        return XmlLimits(self.settings.xml_max_bytes, self.settings.xml_max_depth)

    @cached_property
    def crypto(self) -> GostBackend:
        backend: GostBackend = self._override("crypto") or select_backend(
            self.settings.crypto_backend
        )
        return backend

    @cached_property
    def verifier(self) -> XmlVerifier:
        return XmlVerifier(self.crypto)

    @cached_property
    def key_signer(self) -> KeySigner:
        override: KeySigner | None = self._override("key_signer")
        if override is not None:
            return override
        return self._local_key_signer()

    def _local_key_signer(self) -> LocalKeySigner:
        key_path, cert_path = self.settings.signing_key, self.settings.signing_cert
        if key_path is None or cert_path is None:
            raise ConfigurationError(
                "signing needs HUB_SIGNING_KEY and HUB_SIGNING_CERT "
                "(make a development pair with `hub keys generate`)"
            )
        try:
            key, cert = load_private_key(key_path.read_bytes()), cert_path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read signing key material: {exc}") from exc
        return LocalKeySigner(self.crypto, key, load_certificate(cert))

    @cached_property
    def signer(self) -> XmlSigner:
        return XmlSigner(self.key_signer, self.crypto)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Hub:
    """Build the hub from settings (read from the environment when not given)."""
    return Hub(settings or Settings(), overrides)
