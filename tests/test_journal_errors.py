"""Database trouble reaches callers as the hub's errors: retryable when waiting can help."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.journal.errors import DatabaseUnavailableError, SchemaOutdatedError
from hub.journal.records import InboundMessage
from hub.journal.sql import SqlJournal

pytestmark = pytest.mark.unit


def test_unreachable_postgresql_is_retryable() -> None:
    journal = SqlJournal("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    with pytest.raises(DatabaseUnavailableError, match="database unavailable") as caught:
        journal.inbox("any")
    assert caught.value.retryable and caught.value.details == {"backend": "postgresql"}
    assert caught.value.__cause__ is not None
    journal.close()


def test_unmigrated_sqlite_asks_for_migrations(tmp_path: Path) -> None:
    journal = SqlJournal(f"sqlite:///{tmp_path / 'bare.db'}")
    with journal, pytest.raises(SchemaOutdatedError, match="no such table"):
        journal.receive([InboundMessage("smev", "m-1", b"<x/>")])
