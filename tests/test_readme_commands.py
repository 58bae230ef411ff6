"""Every ``hub`` command line the README quotes (``sh`` blocks) names real commands and
options, and those that can run here run: against a throw-away SQLite journal, in a
temporary folder, with an administrator's token in HUB_TOKEN.

A quoted line is a synopsis (``[--json]``, ``FILE``, ``ID…``, ``a | b``) or a command as typed.
Each word that names a command must be one, each ``--option`` an option of its command. The
line without its ``[optional parts]`` is run when nothing in it is a placeholder, unless its
command is in ``NOT_RUN`` (servers and long runs: those get ``--help``)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup
from typer.exceptions import TyperException
from typer.testing import CliRunner

from hub.access import AccessService, Role
from hub.cli.main import app
from hub.journal.sql import SqlJournal

pytestmark = pytest.mark.unit
README = Path(__file__).resolve().parents[1] / "README.md"

NOT_RUN = {
    ("bench",): "measures for minutes on PostgreSQL and RabbitMQ",
    ("demo",): "the whole scenario (tests/test_demo.py runs it)",
    ("run",): "serves until SIGTERM",
    ("worker",): "serves until SIGTERM",
    ("relay",): "serves until SIGTERM",
    ("smev-client",): "serves until SIGTERM",
    ("console",): "serves until SIGTERM",
    ("simulator", "serve"): "serves until Ctrl-C",
    ("health",): "checks a broker and SMEV that a unit test does not have",
    ("translate",): "reads the reader's own answer and command files",
    ("command", "send"): "publishes to a broker with the hub's topology "
    "(tests/test_cli_command_send.py runs it, on RabbitMQ too)",
}
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(=[A-Z]+)?(\.json)?…?|.*…")
_OPTIONAL = re.compile(r"\[[^\[\]]*\]")


@dataclass(frozen=True)
class Quoted:
    """One command line as the README quotes it (continuation lines joined)."""

    line: int
    text: str

    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    def minimal(self) -> list[str] | None:
        """The line without its optional parts, when nothing in it is to be filled in."""
        words = shlex.split(_OPTIONAL.sub(" ", self.text), comments=True)
        concrete = not any(_PLACEHOLDER.fullmatch(w) or "|" in w or w in "<>" for w in words)
        return words if concrete else None


def quoted_lines() -> Iterator[Quoted]:
    lines = README.read_text("utf-8").splitlines()
    in_sh = False
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            in_sh = line == "```sh"
        elif in_sh and line.startswith("hub "):
            yield Quoted(number, _joined(lines, number - 1))


def _joined(lines: list[str], index: int) -> str:
    text = lines[index]
    while text.rstrip().endswith("\\"):  # a shell line continued on the next
        index += 1
        text = text.rstrip()[:-1] + " " + lines[index].strip()
    return text


QUOTED = [
    single
    for quoted in quoted_lines()
    for single in (
        Quoted(quoted.line, part.strip() if part.startswith("hub") else f"hub {part.strip()}")
        for part in re.split(r"\|\s*(?=hub )", quoted.text)
    )
]


def commands_named(words: list[str]) -> list[tuple[tuple[str, ...], Any]]:
    """The commands a quoted line names: ``create|list`` and ``declare | show`` name several."""
    root: Any = typer.main.get_command(app)
    found, rest = _descend(root, (), words[1:])
    assert found, f"`{' '.join(words)}` names no hub command"
    siblings = [w for w in rest if w != "|" and not w.startswith("-")]
    group = _group_of(root, found[0][0])
    extra = [((*found[0][0][:-1], w), group.commands[w]) for w in siblings if w in group.commands]
    return found + extra


def _descend(
    command: Any, path: tuple[str, ...], rest: list[str]
) -> tuple[list[tuple[tuple[str, ...], Any]], list[str]]:
    if not isinstance(command, TyperGroup):
        return [(path, command)], rest
    if not rest:
        return [], rest
    names = rest[0].split("|")
    assert all(n in command.commands for n in names), f"no command {rest[0]!r} in {path}"
    found = [_descend(command.commands[n], (*path, n), rest[1:]) for n in names]
    return [c for f, _ in found for c in f], found[-1][1]


def _group_of(root: Any, path: tuple[str, ...]) -> Any:
    for name in path[:-1]:
        root = root.commands[name]
    return root


def option_names(command: Any) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("quoted", QUOTED, ids=lambda q: f"README:{q.line}:{q.text[:40]}")
def test_every_word_of_a_quoted_line_is_a_command_or_its_option(quoted: Quoted) -> None:
    words = quoted.words()
    named = commands_named(words)
    for word in words:
        option = word.strip("[]…").split("=")[0]
        if option.startswith("-") and option != "-":
            assert any(option in option_names(c) for _, c in named), f"{option} in {quoted.text}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A throw-away journal, an administrator's token, and a folder to write in."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    journal = SqlJournal.open(url)
    token = AccessService(journal).issue("readme", Role.ADMIN, "*", None, "test").text
    journal.close()
    monkeypatch.chdir(tmp_path)
    return {
        "HUB_DATABASE_URL": url,
        "HUB_TOKEN": token,
        "HUB_ADAPTERS": "[]",
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_OPERATOR": "readme",
        "COLUMNS": "80",
        "HUB_RETENTION_DAYS": "365",  # purge's default, as the README says
    }


RUNNABLE = [q for q in QUOTED if q.minimal() is not None]


@pytest.mark.parametrize("quoted", RUNNABLE, ids=lambda q: f"README:{q.line}:{q.text[:40]}")
def test_a_quoted_command_runs_as_quoted(quoted: Quoted, env: dict[str, str]) -> None:
    words = quoted.minimal() or []
    [(path, command)] = commands_named(words)
    if path in NOT_RUN:
        words = ["hub", *path, "--help"]
    else:  # still parsed first: a usage error is the README's fault, not the journal's
        _parses(command, words[len(path) + 1 :], env["HUB_TOKEN"])
    args = [env["HUB_TOKEN"] if w == "$HUB_TOKEN" else w for w in words[1:]]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, f"{quoted.text}\n{result.output}"


def _parses(command: Any, args: list[str], token: str) -> None:
    try:
        command.make_context("hub", [token if a == "$HUB_TOKEN" else a for a in args])
    except TyperException as exc:
        pytest.fail(f"usage error: {exc}")


def test_the_readme_quotes_the_commands_this_test_runs() -> None:
    # Guards the parser above: were it to find nothing, every test would pass vacuously.
    run = {tuple(q.minimal() or ()) for q in RUNNABLE}
    assert (
        "hub",
        "tokens",
        "create",
        "--name",
        "Иванова, школа 12",
        "--role",
        "operator",
        "--scope",
        "45201/4520100012",
        "--expires-in-days",
        "90",
    ) in run
    assert ("hub", "db", "upgrade") in run
    assert len(QUOTED) >= 40
