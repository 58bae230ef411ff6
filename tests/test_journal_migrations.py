"""The journal's Alembic migrations make exactly the tables ``schema.py`` describes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, select

from hub.journal.errors import SchemaOutdatedError
from hub.journal.migrate import alembic_config, current_revision, head_revision, upgrade
from hub.journal.records import TokenRecord
from hub.journal.schema import api_tokens, metadata
from hub.journal.sql import SqlJournal

TABLES = {
    "inbox",
    "outbox",
    "subject_sequences",
    "business_keys",
    "failed_messages",
    "audit_log",
    "outbound_requests",
    "api_tokens",
    "key_checks",
}


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def _differences(url: str, target: MetaData) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, target))
    finally:
        engine.dispose()


def test_upgrade_an_empty_database_to_head(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision() == "0005"
    engine = create_engine(empty_url)
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    engine.dispose()


def test_second_upgrade_changes_nothing(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert _differences(empty_url, metadata) == []


def test_migration_matches_schema_exactly(empty_url: str) -> None:
    upgrade(empty_url)
    assert _differences(empty_url, metadata) == []


def test_comparison_would_notice_a_difference(empty_url: str) -> None:
    """The check above is not vacuous: a table the migration lacks shows up."""
    upgrade(empty_url)
    extended = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(extended)
    Table("not_migrated", extended, Column("id", Integer, primary_key=True))
    assert [diff[0] for diff in _differences(empty_url, extended)] == ["add_table"]


def test_tokens_made_before_0005_stay_and_name_no_agency(empty_url: str) -> None:
    """Upgrading a journal that holds tokens: each keeps its row, bound to no agency and no
    signer (an agency token of that kind is refused at /inbound until reissued)."""
    command.upgrade(alembic_config(url=empty_url), "0004")
    created = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        for token_id, role in (("aaaaaaaaaaaa", "agency"), ("bbbbbbbbbbbb", "operator")):
            connection.execute(
                api_tokens.insert().values(
                    token_id=token_id,
                    name=f"{role} system",
                    role=role,
                    scope="45201",
                    secret_hash="f" * 64,
                    created_at=created,
                    created_by="root",
                )
            )
    engine.dispose()
    upgrade(empty_url)
    assert current_revision(empty_url) == "0005"
    with SqlJournal.open(empty_url) as journal:
        tokens = {t.token_id: t for t in journal.tokens()}
    assert set(tokens) == {"aaaaaaaaaaaa", "bbbbbbbbbbbb"}
    for record in tokens.values():
        assert (record.agencies, record.signers, record.created_at) == ((), (), created)
    assert tokens["aaaaaaaaaaaa"].role == "agency" and tokens["aaaaaaaaaaaa"].scope == "45201"


def test_0005_downgrades_to_0004_keeping_the_tokens(empty_url: str) -> None:
    upgrade(empty_url)
    with SqlJournal.open(empty_url) as journal:
        journal.add_token(_agency_token())
    command.downgrade(alembic_config(url=empty_url), "0004")
    engine = create_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("api_tokens")}
    with engine.connect() as connection:
        kept = connection.execute(select(api_tokens.c.token_id)).scalars().all()
    engine.dispose()
    assert "agencies" not in columns and "signers" not in columns and kept == ["cccccccccccc"]


def _agency_token() -> TokenRecord:
    return TokenRecord(
        "cccccccccccc",
        "zags system",
        "agency",
        "*",
        "e" * 64,
        datetime(2026, 12, 1, tzinfo=UTC),
        "root",
        None,
        agencies=("zags", "pfr"),
        signers=("ab" * 32,),
    )


def test_agencies_and_signers_are_stored_and_read_back(empty_url: str) -> None:
    upgrade(empty_url)
    with SqlJournal.open(empty_url) as journal:
        journal.add_token(_agency_token())
        assert journal.token("cccccccccccc") == _agency_token()
        assert journal.tokens() == [_agency_token()]


@pytest.mark.unit
def test_the_embedded_default_creates_its_file_on_first_open(tmp_path: Path) -> None:
    path = tmp_path / "var" / "hub.db"
    url = f"sqlite:///{path}"
    with SqlJournal.open(url) as journal:
        assert journal.dialect == "sqlite"
        assert journal.inbox("nothing") is None
    assert path.is_file()
    assert current_revision(url) == head_revision()
    with SqlJournal.open(url) as reopened:  # the second open finds it ready
        assert reopened.audit_log() == []


@pytest.mark.integration
def test_postgresql_must_be_migrated_before_open(pg_url: str) -> None:
    with pytest.raises(SchemaOutdatedError, match="run the migrations") as caught:
        SqlJournal.open(pg_url)
    assert caught.value.details == {"current": None, "head": head_revision()}
    upgrade(pg_url)
    with SqlJournal.open(pg_url) as journal:
        assert journal.dialect == "postgresql"
