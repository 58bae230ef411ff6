"""Fixtures shared by tests/ and contract_tests/."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.crypto.backends.openssl import OpenSSLBackend
from hub.crypto.backends.pure import PureBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner
from hub.errors import BackendUnavailableError

PROJECT_ROOT = Path(__file__).resolve().parent
# tests/harness.py: every test has its tier marker and is isolated from HUB_* and .env.
pytest_plugins = ("pytester", "tests.harness")


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


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("HUB_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database with a random name, dropped afterwards."""
    admin = make_url(POSTGRES_ADMIN_URL)
    if not _reachable(admin.host or "127.0.0.1", admin.port or 5432):
        _require(f"PostgreSQL not reachable at {admin.host}:{admin.port}")
    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def amqp_url() -> str:
    """The local RabbitMQ; tests isolate themselves with a random topology prefix."""
    host_port = RABBITMQ_URL.split("@")[-1].split("/")[0]
    host, _, port = host_port.partition(":")
    if not _reachable(host, int(port or 5672)):
        _require(f"RabbitMQ not reachable at {host_port}")
    return RABBITMQ_URL


@pytest.fixture
def topology_prefix() -> str:
    """A random name prefix so concurrent test runs never share queues."""
    return f"t{uuid.uuid4().hex[:10]}"
