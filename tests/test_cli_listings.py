"""The listing commands on an 80-column terminal: ids whole (they are typed back into
``hub tokens revoke``, ``hub failed show``), ``--json`` one object per line, and
``hub failed list --group G`` giving the message ids of a group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.journal.records import Failure, InboundMessage, Outcome
from hub.journal.sql import SqlJournal
from tests.support.notices import LATE, notice

pytestmark = pytest.mark.unit
PROJECT = Path(__file__).resolve().parents[1]
GROUP = "0f1e2d3c4b5a6978"  # the shape of processing.fingerprint: 16 hex digits


def hub(url: str, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": url,
        "HUB_TOKEN": token,
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_ADAPTERS": "[]",
        "HUB_OPERATOR": "root",
        "COLUMNS": "80",
        "LINES": "50",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def objects(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A journal with two failed messages of one group and one of another."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    journal = SqlJournal.open(url)
    for n, fingerprint in ((1, GROUP), (2, GROUP), (3, "other-group")):
        message = InboundMessage(
            "smev", f"m-{n}", notice("child", n, tag=LATE), agency="zags", content_type="text/xml"
        )
        journal.receive([message])
        journal.start_attempts([message.inbox_id])
        failure = Failure("UnknownKindError", f"no adapter for {LATE}", "Traceback …", fingerprint)
        journal.complete([Outcome(message.inbox_id, failure=failure)])
    journal.close()
    return url


@pytest.fixture
def token(url: str) -> str:
    made = hub(
        url, "tokens", "create", "--name", "Иванова, школа 12", "--role", "admin", "--scope", "*"
    )
    [text] = [line for line in made.stdout.splitlines() if line.startswith("hub_")]
    return text


def test_tokens_list_shows_whole_ids_and_json(url: str, token: str) -> None:
    hub(
        url,
        "tokens",
        "create",
        "--name",
        "ЗАГС: шлюз",
        "--role",
        "agency",
        "--scope",
        "*",
        "--agency",
        "zags",
    )
    listed = objects(hub(url, "tokens", "list", "--json"))
    assert {t["name"] for t in listed} == {"Иванова, школа 12", "ЗАГС: шлюз"}
    assert all(len(t["id"]) == 12 and "secret_hash" not in t for t in listed)
    assert token.split("_")[1] in {t["id"] for t in listed}  # the token text starts with its id
    table = hub(url, "tokens", "list").stdout
    for entry in listed:
        assert entry["id"] in table, table  # whole, on one line, at 80 columns


def test_failed_list_gives_groups_and_then_the_ids_of_a_groups_messages(
    url: str, token: str
) -> None:
    groups = objects(hub(url, "failed", "list", "--json", token=token))
    assert {(g["group"], g["count"]) for g in groups} == {(GROUP, 2), ("other-group", 1)}
    assert GROUP in hub(url, "failed", "list", token=token).stdout
    members = objects(hub(url, "failed", "list", "--group", GROUP, "--json", token=token))
    assert len(members) == 2
    assert {m["group"] for m in members} == {GROUP}
    table = hub(url, "failed", "list", "--group", GROUP, token=token).stdout
    for member in members:
        assert member["id"] in table, table  # whole, on one line, at 80 columns
        shown = hub(url, "failed", "show", member["id"], token=token).stdout
        assert member["inbox_id"] in shown


def test_audit_json_is_one_entry_per_line(url: str, token: str) -> None:
    entries = objects(hub(url, "audit", "--json", "--action", "issue_token", token=token))
    assert [e["action"] for e in entries] == ["issue_token"]
    assert str(entries[0]["entry"]) in hub(url, "audit", token=token).stdout
