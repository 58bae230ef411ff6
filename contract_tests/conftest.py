"""Fixtures for the contract suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.crypto.xmldsig import XmlSigner
from hub.journal.migrate import upgrade
from hub.smev.build import ElementSigner


@pytest.fixture
def element_signer(xml_signer: XmlSigner) -> ElementSigner:
    """The real GOST signer: what the contract validates is what the hub sends."""
    return xml_signer


def stack_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(database URL, broker URL) of the stack a fixture is parametrized with: ``embedded``
    (SQLite + the in-memory broker) or ``production`` (a fresh, migrated PostgreSQL database
    and the local RabbitMQ)."""
    if request.param == "embedded":
        return f"sqlite:///{tmp_path / 'hub.db'}", "memory://"
    database: str = request.getfixturevalue("pg_url")
    upgrade(database)
    return database, request.getfixturevalue("amqp_url")
