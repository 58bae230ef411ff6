"""Stored and user-supplied text is printed as text, never read as Rich markup: ``[/bold]``
and ``[red]x[/]`` in a command type (echoed into a failure reason), a reveal reason, a token's
name, a discard reason and an audit entry are printed literally by every listing command."""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hub.access import AccessService, Role
from hub.access.policy import Principal
from hub.bootstrap import Hub
from hub.canonical.sources import Source
from hub.cli import terminal
from hub.cli.main import app
from hub.journal.records import InboundMessage
from tests.support.console import console_hub

pytestmark = pytest.mark.unit

MARKUP = ("[/bold]", "[red]x[/]", ":warning:")
TEXT = " ".join(MARKUP)
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setattr(terminal.stdout, "width", 400)  # no wrapping inside table cells
    with console_hub(tmp_path) as made:
        yield made


@pytest.fixture
def admin(hub: Hub) -> tuple[str, Principal]:
    """An administrator named with markup, and a failed command whose type is markup."""
    access = AccessService(hub.journal)
    issued = access.issue("admin", Role.ADMIN, "*", None, f"root {TEXT}")
    record = hub.journal.token(issued.token_id)
    assert record is not None
    # A name the service would refuse today, as an older row or another tool may hold it.
    hub.journal.add_token(dataclasses.replace(record, token_id="t-old", name=f"old {TEXT}"))
    command = json.dumps({"type": TEXT, "request_id": "r-1"}).encode()
    message = InboundMessage(Source.REGISTRY, "r-1", command, content_type="application/json")
    hub.journal.receive([message])
    records = hub.journal.start_attempts([message.inbox_id])
    hub.journal.complete([hub.worker.outcome(record, None) for record in records])
    hub.journal.audit(f"auditor {TEXT}", "note", TEXT, TEXT, {}, scope="")
    return issued.text, access.authenticate(issued.text)


def run(hub: Hub, token: str, *args: str) -> Result:
    env = {
        "HUB_DATABASE_URL": hub.settings.database_url.get_secret_value(),
        "HUB_TOPOLOGY_PREFIX": hub.settings.topology_prefix,
        "HUB_ADAPTERS": "[]",
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_TOKEN": token,
    }
    return CliRunner().invoke(app, list(args), env=env)


def printed_literally(result: Result, expected_exit: int = 0) -> None:
    assert result.exit_code == expected_exit, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    for markup in MARKUP:
        assert markup in result.output, result.output


def test_every_listing_prints_stored_markup_as_text(hub: Hub, admin: tuple[str, Principal]) -> None:
    token, principal = admin
    [failed] = hub.journal.failed()
    printed_literally(run(hub, token, "failed", "list"))
    printed_literally(run(hub, token, "failed", "show", failed.failed_id))
    printed_literally(
        run(hub, token, "failed", "show", failed.failed_id, "--reveal", "--reason", TEXT)
    )
    printed_literally(run(hub, token, "failed", "replay", "--all", "--dry-run"))
    printed_literally(run(hub, token, "failed", "replay", "--all"), expected_exit=1)
    printed_literally(run(hub, token, "tokens", "list"))
    discarded = run(hub, token, "failed", "discard", failed.failed_id, "--reason", TEXT)
    assert discarded.exit_code == 0, discarded.output
    audit = run(hub, token, "audit", "--limit", "100")
    printed_literally(audit)
    assert f"root {TEXT}" in audit.output and f"auditor {TEXT}" in audit.output
    assert principal.label() in audit.output  # the reveal and the replay, by the marked name


def test_the_consoles_read_no_markup_and_no_emoji_codes(capsys: pytest.CaptureFixture[str]) -> None:
    terminal.console().print(TEXT)
    assert capsys.readouterr().out.strip() == TEXT


def test_no_command_makes_a_console_of_its_own() -> None:
    # Every Rich console of the command line comes from hub.cli.terminal (no markup, no emoji).
    found = []
    for path in (PROJECT / "hub").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "rich.console"
            and any(alias.name == "Console" for alias in node.names)
            for node in ast.walk(tree)
        )
        calls = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Console"
        ]
        if imported and calls and path.name != "terminal.py":
            found.append(f"{path.relative_to(PROJECT)}:{calls}")
    assert found == []
