"""The operator commands as an operator runs them: failed list/show/replay/discard, audit,
each with the operator's API token; and ``hub tokens`` as the database's holder runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.crypto.keys import Certificate
from hub.journal.records import Failure, InboundMessage, Outcome
from hub.journal.sql import SqlJournal
from tests.support.notices import LATE, notice

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[1]
SNILS = "112-233-445 95"


def hub(
    url: str, *args: str, plugin: bool = False, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "HUB_TOKEN"},
        "HUB_DATABASE_URL": url,
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_OPERATOR": "root",
        "COLUMNS": "200",
        "HUB_ADAPTERS": '["tests.support.notices:register_late"]' if plugin else "[]",
        **({"HUB_TOKEN": token} if token is not None else {}),
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


def issue(url: str, name: str, role: str, scope: str, *more: str) -> str:
    """A token made with ``hub tokens create``: the one line it prints to stdout alone."""
    made = hub(url, "tokens", "create", "--name", name, "--role", role, "--scope", scope, *more)
    assert made.returncode == 0, made.stderr
    [text] = [line for line in made.stdout.splitlines() if line.startswith("hub_")]
    assert "shown once" in made.stderr
    return text


@pytest.fixture
def admin(url: str) -> str:
    return issue(url, "ivanova", "admin", "*")


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


def test_list_groups_and_show_masks_personal_data(url: str, admin: str) -> None:
    listed = hub(url, "failed", "list", token=admin)
    assert listed.returncode == 0, listed.stderr
    assert "fp-late" in listed.stdout and "UnknownKindError" in listed.stdout
    shown = hub(url, "failed", "show", failed_id(url), "--token", admin)
    assert shown.returncode == 0, shown.stderr
    assert SNILS not in shown.stdout and "***-***-*** **" in shown.stdout
    no_reason = hub(url, "failed", "show", failed_id(url), "--reveal", token=admin)
    assert no_reason.returncode == 2


def test_reveal_is_audited(url: str, admin: str) -> None:
    reveal = ("failed", "show", failed_id(url), "--reveal", "--reason", "ticket 7")
    shown = hub(url, *reveal, token=admin)
    assert shown.returncode == 0 and SNILS in shown.stdout
    audit = hub(url, "audit", token=admin)
    assert "ivanova" in audit.stdout and "reveal" in audit.stdout and "ticket 7" in audit.stdout
    assert SNILS not in audit.stdout


def entry_numbers(table: str) -> list[str]:
    cells = [line.split("│")[1].strip() for line in table.splitlines() if "│" in line]
    return [cell for cell in cells if cell.isdigit()]


def test_audit_filters_by_action_actor_and_outcome_and_pages(url: str, admin: str) -> None:
    school = issue(url, "sidorova", "operator", "45201/4520100012")
    hub(url, "failed", "show", failed_id(url), "--reveal", "--reason", "ticket 8", token=admin)
    hub(url, "failed", "show", failed_id(url), "--reveal", "--reason", "nosy", token=school)
    denied = hub(url, "audit", "--action", "reveal", "--outcome", "denied", token=admin)
    assert denied.returncode == 0, denied.stderr
    assert "sidorova" in denied.stdout and "ticket 8" not in denied.stdout
    allowed = hub(url, "audit", "--action", "reveal", "--outcome", "allowed", token=admin)
    assert "ticket 8" in allowed.stdout and "sidorova" not in allowed.stdout
    by_actor = hub(url, "audit", "--actor", school.split("_")[1], token=admin)
    assert "sidorova" in by_actor.stdout and "ivanova" not in by_actor.stdout
    newest = hub(url, "audit", "--limit", "1", token=admin)
    [number] = entry_numbers(newest.stdout)
    older = hub(url, "audit", "--limit", "1", "--before", number, token=admin)
    assert older.returncode == 0 and entry_numbers(older.stdout) == [str(int(number) - 1)]
    assert hub(url, "audit", "--outcome", "maybe", token=admin).returncode == 2


def test_dry_run_then_replay_after_the_fix(url: str, admin: str) -> None:
    dry = hub(url, "failed", "replay", "--all", "--dry-run", token=admin)
    assert dry.returncode == 0 and "would be failed" in dry.stdout
    still_failing = hub(url, "failed", "replay", "--all", token=admin)
    assert still_failing.returncode == 1  # the cause is not fixed yet
    assert hub(url, "failed", "replay", "--group", "no-such-group", token=admin).returncode == 2
    # A replay that fails again leaves the message open, ready for the next try.
    fixed = hub(url, "failed", "replay", "--all", plugin=True, token=admin)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "processed" in fixed.stdout
    assert "0 in 0 groups" in hub(url, "failed", "list", token=admin).stdout


def test_discard_needs_a_reason_and_is_audited(url: str, admin: str) -> None:
    target = failed_id(url)
    assert hub(url, "failed", "discard", target, "--reason", " ", token=admin).returncode == 2
    done = hub(url, "failed", "discard", target, "--reason", "sent twice by mistake", token=admin)
    assert done.returncode == 0, done.stderr
    assert "sent twice by mistake" in hub(url, "audit", token=admin).stdout
    assert "0 in 0 groups" in hub(url, "failed", "list", token=admin).stdout


@pytest.mark.parametrize(
    "command",
    [
        ("failed", "list"),
        ("failed", "show", "x"),
        ("failed", "replay", "--all"),
        ("failed", "discard", "x", "--reason", "r"),
        ("audit",),
    ],
)
def test_operator_commands_need_a_valid_token(url: str, command: tuple[str, ...]) -> None:
    missing = hub(url, *command)
    assert missing.returncode == 2 and "needs your API token" in missing.stderr
    forged = hub(url, *command, token=f"hub_{'0' * 12}_{'s' * 43}")
    assert forged.returncode == 2 and "unknown API token" in forged.stderr
    assert "s" * 43 not in forged.stderr + forged.stdout


def test_tokens_are_listed_without_secrets_and_revoked_for_good(url: str, admin: str) -> None:
    auditor = issue(url, "petrov", "auditor", "45201", "--expires-in-days", "30")
    listed = hub(url, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    assert "petrov" in listed.stdout and "45201" in listed.stdout and "active" in listed.stdout
    for text in (admin, auditor):
        assert text.split("_", 2)[2] not in listed.stdout  # the secret may hold "_" itself
    token_id = auditor.split("_")[1]
    assert hub(url, "audit", token=auditor).returncode == 0
    assert hub(url, "tokens", "revoke", token_id).returncode == 0
    refused = hub(url, "audit", token=auditor)
    assert refused.returncode == 2 and "revoked" in refused.stderr
    assert hub(url, "tokens", "revoke", token_id).returncode == 2
    assert "revoked" in hub(url, "tokens", "list").stdout
    bad = hub(url, "tokens", "create", "--name", "x", "--role", "root", "--scope", "*")
    assert bad.returncode == 2


def test_a_school_operator_sees_nothing_of_the_regions_messages(url: str) -> None:
    school = issue(url, "sidorova", "operator", "45201/4520100012")
    assert "0 in 0 groups" in hub(url, "failed", "list", token=school).stdout
    shown = hub(url, "failed", "show", failed_id(url), token=school)
    assert shown.returncode == 2 and "no failed message" in shown.stderr
    assert SNILS not in shown.stdout + shown.stderr
    assert hub(url, "audit", token=school).returncode == 2  # operators do not read the log


def test_an_agency_token_names_its_agencies_and_signing_certificates(
    url: str, tmp_path: Path, dev_key_pair: tuple[Any, Certificate]
) -> None:
    _, certificate = dev_key_pair
    pem, der = tmp_path / "signer.pem", tmp_path / "signer.cer"
    pem.write_bytes(certificate.to_pem())
    der.write_bytes(certificate.der)  # the same certificate twice: kept once
    bound = ("--agency", "zags", "--agency", "pfr", "--signing-cert", str(pem))
    text = issue(url, "zags system", "agency", "45201", *bound, "--signing-cert", str(der))
    listed = hub(url, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    token_id = text.split("_")[1]
    assert "zags,pfr" in listed.stdout
    assert f"token {token_id} signer sha256:{certificate.sha256}\n" in listed.stdout
    assert listed.stdout.count(certificate.sha256) == 1


def test_tokens_create_refuses_a_binding_that_is_not_one(url: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a certificate")
    refused = {
        ("--role", "agency"): "name the agencies it may post for",
        ("--role", "agency", "--agency", "mvd"): "'mvd' is not one the hub serves",
        ("--role", "operator", "--agency", "zags"): "only role agency names agencies",
        (
            "--role",
            "agency",
            "--agency",
            "zags",
            "--signing-cert",
            str(tmp_path / "none.pem"),
        ): "none.pem: not a readable GOST certificate (PEM or DER): No such file or directory",
        (
            "--role",
            "agency",
            "--agency",
            "zags",
            "--signing-cert",
            str(garbage),
        ): "garbage.pem: not a readable GOST certificate",
    }
    for options, why in refused.items():
        made = hub(url, "tokens", "create", "--name", "x", "--scope", "*", *options)
        assert made.returncode == 2, (options, made.stderr)
        [error] = [line for line in made.stderr.splitlines() if line.startswith("hub: error")]
        assert why in error, (options, made.stderr)  # one line says what is wrong
        assert "hub_" not in made.stdout
    journal = SqlJournal.open(url)
    try:
        assert journal.tokens() == []  # none was issued
    finally:
        journal.close()
