"""The operator commands as an operator runs them: failed list/show/replay/discard, audit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.journal.api import Failure, InboundMessage, Outcome
from hub.journal.sql import SqlJournal
from tests.support import LATE, notice

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[1]
SNILS = "112-233-445 95"


def hub(url: str, *args: str, plugin: bool = False) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_OPERATOR": "ivanova",
        "COLUMNS": "200",
        "HUB_ADAPTERS": '["tests.support:register_late"]' if plugin else "[]",
    }
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=PROJECT,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    journal = SqlJournal.open(url)
    body = notice("child", 1, tag=LATE).replace(b"<t:Subject>", f"<t:Subject>{SNILS} ".encode())
    message = InboundMessage("smev", "m-1", body, agency="zags", content_type="text/xml")
    journal.receive([message])
    journal.start_attempts([message.inbox_id])
    failure = Failure("UnknownKindError", f"no adapter for {LATE}", "Traceback …", "fp-late")
    journal.complete([Outcome(message.inbox_id, failure=failure)])
    journal.close()
    return url


def failed_id(url: str) -> str:
    journal = SqlJournal.open(url)
    try:
        return journal.failed()[0].failed_id
    finally:
        journal.close()


def test_db_upgrade_and_topology_show(url: str) -> None:
    assert hub(url, "db", "upgrade").returncode == 0
    shown = hub(url, "topology", "show")
    assert shown.returncode == 0 and "hub.inbound.zags" in shown.stdout


def test_list_groups_and_show_masks_personal_data(url: str) -> None:
    listed = hub(url, "failed", "list")
    assert listed.returncode == 0, listed.stderr
    assert "fp-late" in listed.stdout and "UnknownKindError" in listed.stdout
    shown = hub(url, "failed", "show", failed_id(url))
    assert shown.returncode == 0, shown.stderr
    assert SNILS not in shown.stdout and "***-***-*** **" in shown.stdout
    assert hub(url, "failed", "show", failed_id(url), "--reveal").returncode == 2  # no reason


def test_reveal_is_audited(url: str) -> None:
    shown = hub(url, "failed", "show", failed_id(url), "--reveal", "--reason", "ticket 7")
    assert shown.returncode == 0 and SNILS in shown.stdout
    audit = hub(url, "audit")
    assert "ivanova" in audit.stdout and "reveal" in audit.stdout and "ticket 7" in audit.stdout


def test_dry_run_then_replay_after_the_fix(url: str) -> None:
    dry = hub(url, "failed", "replay", "--all", "--dry-run")
    assert dry.returncode == 0 and "would be failed" in dry.stdout
    still_failing = hub(url, "failed", "replay", "--all")
    assert still_failing.returncode == 1  # the cause is not fixed yet
    assert hub(url, "failed", "replay", "--group", "no-such-group").returncode == 2
    # A replay that fails again leaves the message open, ready for the next try.
    fixed = hub(url, "failed", "replay", "--all", plugin=True)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "processed" in fixed.stdout
    assert "0 in 0 groups" in hub(url, "failed", "list").stdout


def test_discard_needs_a_reason_and_is_audited(url: str) -> None:
    target = failed_id(url)
    assert hub(url, "failed", "discard", target, "--reason", " ").returncode == 2
    done = hub(url, "failed", "discard", target, "--reason", "sent twice by mistake")
    assert done.returncode == 0, done.stderr
    assert "sent twice by mistake" in hub(url, "audit").stdout
    assert "0 in 0 groups" in hub(url, "failed", "list").stdout
