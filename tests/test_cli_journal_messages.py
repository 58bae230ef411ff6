"""What the command line says about the journal, run as an operator runs it: no migration
chatter from commands that merely open it, ``hub db upgrade`` naming what it applied, and an
error about the journal's data key blamed on the key, never on the API token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from hub.journal.migrate import alembic_config, head_revision, migrations_after
from hub.protection.keyring import new_key_entry

pytestmark = pytest.mark.unit
PROJECT = Path(__file__).resolve().parents[1]
TOKEN_HINT = "--token or HUB_TOKEN"


def hub(url: str, *args: str, keys: str = "", token: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": url,
        "HUB_ENCRYPTION_KEYS": keys,
        "HUB_TOKEN": token,
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_ADAPTERS": "[]",
        "HUB_LOG_FORMAT": "json",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=PROJECT,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def test_a_command_opening_the_journal_says_nothing_of_migrations(url: str) -> None:
    listed = hub(url, "tokens", "list")  # a fresh file: every migration runs here
    assert listed.returncode == 0, listed.stderr
    assert "alembic" not in listed.stderr
    assert "Running upgrade" not in listed.stderr
    assert "Context impl" not in listed.stderr


def test_db_upgrade_names_the_migrations_it_applied(url: str) -> None:
    everything = [m.revision for m in migrations_after(None)]
    first = hub(url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"applied {everything[0]}→{everything[-1]}"
    assert [line.split()[0] for line in lines[1:]] == everything
    assert "alembic" not in first.stderr
    again = hub(url, "db", "upgrade")
    assert again.stdout.strip() == f"journal schema already up to date (revision {head_revision()})"


def test_db_upgrade_from_an_older_revision_applies_only_the_newer(url: str) -> None:
    command.upgrade(alembic_config(url=url), "0003")
    upgraded = hub(url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines()[0] == f"applied 0004→{head_revision()}"


@pytest.fixture
def sealed(url: str) -> tuple[str, str]:
    """A journal sealed under a data key, and an admin token made there: (key entry, token)."""
    key = new_key_entry("k1")
    made = hub(
        url, "tokens", "create", "--name", "admin", "--role", "admin", "--scope", "*", keys=key
    )
    assert made.returncode == 0, made.stderr
    [token] = [line for line in made.stdout.splitlines() if line.startswith("hub_")]
    return key, token


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("hub: error:")]
    return line


def test_a_wrong_data_key_is_blamed_on_the_key_not_the_token(
    url: str, sealed: tuple[str, str]
) -> None:
    key, token = sealed
    other_material = new_key_entry("k1")  # the same id, other key material
    assert other_material != key
    wrong = one_error_line(hub(url, "failed", "list", keys=other_material, token=token))
    assert "HUB_ENCRYPTION_KEYS" in wrong
    assert TOKEN_HINT not in wrong
    missing = one_error_line(hub(url, "failed", "list", keys=new_key_entry("k2"), token=token))
    assert "'k1'" in missing
    assert TOKEN_HINT not in missing


def test_a_command_without_a_token_reports_a_missing_key_in_one_line(
    url: str, sealed: tuple[str, str]
) -> None:
    # `hub tokens list` opens the journal outside any guard of its own.
    line = one_error_line(hub(url, "tokens", "list", keys=new_key_entry("k2")))
    assert "HUB_ENCRYPTION_KEYS" in line


def test_a_wrong_token_is_still_blamed_on_the_token(url: str, sealed: tuple[str, str]) -> None:
    key, token = sealed
    wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    line = one_error_line(hub(url, "failed", "list", keys=key, token=wrong))
    assert TOKEN_HINT in line
