"""Fixtures shared by tests/ and contract_tests/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.crypto.backends.openssl import OpenSSLBackend
from hub.crypto.backends.pure import PureBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner
from hub.errors import BackendUnavailableError

PROJECT_ROOT = Path(__file__).resolve().parent


def _reference_dir() -> Path:
    return Path(os.environ.get("HUB_REFERENCE_DIR", PROJECT_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The read-only reference material (``../shared`` unless HUB_REFERENCE_DIR says otherwise)."""
    path = _reference_dir()
    if not (path / "FACTS.md").is_file():
        message = f"reference material not found at {path} (set HUB_REFERENCE_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def smev_xsd_dir(reference_dir: Path) -> Path:
    return reference_dir / "smev" / "xsd"


@pytest.fixture(scope="session")
def smev_samples_dir(reference_dir: Path) -> Path:
    return reference_dir / "smev" / "samples"


def _require(reason: str) -> None:
    """Skip locally, fail in CI: CI promises every backend and service is there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def openssl_backend():  # type: ignore[no-untyped-def]

    try:
        return OpenSSLBackend()
    except BackendUnavailableError as exc:
        _require(f"OpenSSL GOST engine unavailable: {exc}")


@pytest.fixture(scope="session")
def pure_backend():  # type: ignore[no-untyped-def]

    return PureBackend()


@pytest.fixture(scope="session")
def fast_backend(openssl_backend):  # type: ignore[no-untyped-def]
    """The backend for tests that sign or verify many times."""
    return openssl_backend


@pytest.fixture(scope="session")
def dev_key_pair(fast_backend):  # type: ignore[no-untyped-def]
    """A private key and its self-signed certificate, made for this test run."""

    key = generate_private_key()
    return key, self_signed_certificate(fast_backend, key, "hub test signer")


@pytest.fixture(scope="session")
def xml_signer(fast_backend, dev_key_pair):  # type: ignore[no-untyped-def]

    key, cert = dev_key_pair
    return XmlSigner(LocalKeySigner(fast_backend, key, cert), fast_backend)
