"""The simulator's own SMEV key and certificate, kept in a state folder across restarts.

A SMEV whose key changes at every start cannot be pinned (``HUB_TRUSTED_CERTIFICATES``), and
real SMEV's key changes once a year, not at every restart. ``hub simulator serve --state DIR``
makes the pair once and reuses it; ``hub simulator certificate --state DIR`` prints the
certificate to pin.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.crypto import GostBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate, PrivateKey, load_certificate, load_private_key
from hub.errors import ConfigurationError, HubError
from hub.files import CERTIFICATE_LIMIT, InputTooLargeError, read_bounded
from hub.simulator.exchange import SMEV

KEY_FILE, CERTIFICATE_FILE = "smev-key.pem", "smev-cert.pem"
VALID_DAYS = 5 * 365  # longer than any simulator's life between renewals


def smev_identity(backend: GostBackend, state: Path) -> tuple[PrivateKey, Certificate]:
    """The pair kept in ``state``: read when both files are there, made and written when
    neither is (one without the other is an error: never replace half a pair)."""
    key_path, cert_path = state / KEY_FILE, state / CERTIFICATE_FILE
    if key_path.exists() or cert_path.exists():
        return _read(key_path, cert_path)
    key = generate_private_key()
    certificate = self_signed_certificate(backend, key, SMEV.name, days=VALID_DAYS)
    state.mkdir(parents=True, exist_ok=True)
    _write_private(key_path, key.to_pem())
    cert_path.write_bytes(certificate.to_pem())
    return (key, certificate)


def _read(key_path: Path, cert_path: Path) -> tuple[PrivateKey, Certificate]:
    try:
        key = load_private_key(read_bounded(key_path, CERTIFICATE_LIMIT))
        certificate = load_certificate(read_bounded(cert_path, CERTIFICATE_LIMIT))
    except (OSError, InputTooLargeError, HubError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigurationError(
            f"simulator state {key_path.parent}: {reason} (both {KEY_FILE} and "
            f"{CERTIFICATE_FILE}, or neither to make a new pair)",
            path=str(key_path.parent),
        ) from exc
    return (key, certificate)


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
