"""``hub … --help`` reads as plain sentences: no reStructuredText marks, no line breaks
from the source, and every option says what it is (not only which variable sets it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from hub.cli.helptext import plain_help
from hub.cli.main import app

pytestmark = pytest.mark.unit


def command_paths(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group of ``hub``, as the words that name it."""
    command = command or typer.main.get_command(app)
    yield path
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from command_paths(sub, (*path, name))


def command_at(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


PATHS = sorted(command_paths())


def test_every_command_is_walked() -> None:
    assert {("tokens", "list"), ("failed", "list"), ("console",), ("db", "upgrade")} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_reads_as_plain_sentences(path: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert "``" not in shown.output
    help_text = command_at(path).help or ""
    for paragraph in help_text.split("\n\n"):
        assert "\n" not in paragraph, f"a line break from the source in: {paragraph!r}"


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_every_option_says_what_it_is(path: tuple[str, ...]) -> None:
    for parameter in command_at(path).params:
        help_text = getattr(parameter, "help", None) or ""
        assert not re.fullmatch(r"\(?(default )?HUB_[A-Z_]+\)?", help_text.strip()), parameter.name


def test_plain_help_drops_literal_marks_and_joins_wrapped_lines() -> None:
    doc = """Print a key as ``ID:BASE64``: append it to
    HUB_ENCRYPTION_KEYS.

    A second paragraph, also
    wrapped."""
    assert plain_help(doc) == (
        "Print a key as ID:BASE64: append it to HUB_ENCRYPTION_KEYS.\n\n"
        "A second paragraph, also wrapped."
    )
