"""``hub keys data-key``, ``hub keys rotate`` and ``hub retention purge`` as an operator runs
them: a real process on a real SQLite journal."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from hub.canonical.ids import event_id_for
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.schema import inbox
from hub.journal.sql import SqlJournal
from hub.protection import AesGcmSealer, parse_keyring

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[1]
KEY_A, KEY_B = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2))


def hub(url: str, *args: str, keys: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": url,
        "HUB_ENCRYPTION_KEYS": keys,
        "HUB_OPERATOR": "root",
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
    """A journal sealed under key ``a``: three messages received 40 days ago, one today."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    sealer = AesGcmSealer(parse_keyring(f"a:{KEY_A}") or pytest.fail())
    old = datetime.now(UTC) - timedelta(days=40)
    with SqlJournal.open(url, sealer=sealer) as journal:
        for n, at in enumerate([old, old, old, None]):
            msg = InboundMessage("smev", f"m-{n}", b"<x/>", "zags", received_at=at)
            event = NewEvent(event_id_for(msg.inbox_id, 0), "e", f"s{n}", b"{}")
            journal.receive_processed([(msg, Outcome(msg.inbox_id, events=[event]))])
        journal.mark_published([e.event_id for e in journal.pending_events(10)])
    return url


def key_ids(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = set(connection.execute(select(inbox.c.key_id)).scalars())
    engine.dispose()
    return found


def test_data_key_prints_a_new_key_entry(tmp_path: Path) -> None:
    result = hub(f"sqlite:///{tmp_path / 'unused.db'}", "keys", "data-key", "--id", "k2027")
    assert result.returncode == 0, result.stderr
    keyring = parse_keyring(result.stdout.strip())
    assert keyring is not None and list(keyring.keys) == ["k2027"]


def test_rotate_reseals_under_the_new_key_and_audits(url: str) -> None:
    result = hub(url, "keys", "rotate", "--batch", "2", keys=f"a:{KEY_A},b:{KEY_B}")
    assert result.returncode == 0, result.stderr
    assert "8 of 8 rows re-sealed" in result.stdout  # four messages, four events
    assert key_ids(url) == {"b"}
    sealer = AesGcmSealer(parse_keyring(f"b:{KEY_B}") or pytest.fail())
    with SqlJournal.open(url, sealer=sealer) as journal:
        entry = journal.audit_log(limit=1)[0]
        assert (entry.actor, entry.action, entry.details["resealed"]) == (
            "root (database access)",
            "rotate_keys",
            8,
        )
    refused = hub(url, "keys", "rotate", keys=f"a:{KEY_A}")
    assert refused.returncode == 2 and "sealed under key 'b'" in refused.stderr


def test_rotate_refuses_a_wrong_key_and_never_shows_it(url: str) -> None:
    result = hub(url, "keys", "rotate", keys=f"a:{KEY_B}")
    assert result.returncode == 2
    assert "encryption key 'a'" in result.stderr and KEY_B not in result.stderr + result.stdout
    assert key_ids(url) == {"a"}


def test_retention_purge_needs_a_limit_and_deletes_old_messages(url: str) -> None:
    refused = hub(url, "retention", "purge", keys=f"a:{KEY_A}")
    assert refused.returncode == 2 and "no retention limit" in refused.stderr
    result = hub(url, "retention", "purge", "--older-than-days", "30", keys=f"a:{KEY_A}")
    assert result.returncode == 0, result.stderr
    assert "3 messages deleted" in result.stdout
    engine = create_engine(url)
    with engine.connect() as connection:
        assert len(connection.execute(select(inbox)).all()) == 1
    engine.dispose()
