"""``--help`` as plain sentences: the commands' docstrings are written for the source
(reStructuredText ``literals``, lines wrapped at 100 columns); an operator reads them in a
terminal of any width, where the marks are noise and the source's line breaks are not his."""

from __future__ import annotations

import inspect

import typer

__all__ = ["plain_help", "plain_helps"]


def plain_help(text: str) -> str:
    """``text`` with ``double backticks`` dropped and each paragraph's lines joined."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.replace("``", "").split()) for p in paragraphs)


def plain_helps(app: typer.Typer) -> None:
    """Give every command of ``app``, and of its groups, plain help (from its docstring
    when it has none of its own). Call it once every command is registered."""
    for command in app.registered_commands:
        text = command.help or (command.callback.__doc__ if command.callback else None)
        if text:
            command.help = plain_help(text)
    for group in app.registered_groups:
        instance = group.typer_instance
        if instance is None:
            continue
        if isinstance(instance.info.help, str):
            instance.info.help = plain_help(instance.info.help)
        plain_helps(instance)
