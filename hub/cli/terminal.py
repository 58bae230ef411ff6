"""The command line's Rich consoles: what they print is text, never markup.

Stored and user-supplied text (a command type echoed into a failure reason, a reveal reason,
a token's name, a file's content) may hold ``[/bold]`` or ``:warning:``; read as Rich markup
it crashes the command (``MarkupError``) or prints something else. These consoles read
neither markup nor emoji codes: styles are given as styles (``style=``, ``Text``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["console", "id_column", "json_lines", "stdout", "styled", "text_columns"]


def console(*, stderr: bool = False) -> Console:
    """A console that prints strings as they are (no markup, no emoji codes)."""
    return Console(stderr=stderr, markup=False, emoji=False)


def styled(text: str, style: str) -> Text:
    """``text`` in ``style``, for a table cell or a title (never parsed as markup)."""
    return Text(text, style=style)


def id_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column of ids the user types back (``hub tokens revoke ID``): as wide as the longest,
    never wrapped, folded or cut; the other columns give way (``text_columns``)."""
    width = max((len(value) for value in ids), default=0)
    table.add_column(header, no_wrap=True, min_width=max(width, len(header)))


def text_columns(table: Table, *headers: str) -> None:
    """Columns of text that wrap, or fold a long word, when the terminal is narrow."""
    for header in headers:
        table.add_column(header, overflow="fold")


def json_lines(rows: Iterable[Mapping[str, Any]]) -> None:
    """Each row as one JSON object on its own line of stdout (times in ISO 8601)."""
    for row in rows:
        print(json.dumps(row, ensure_ascii=False, default=_iso))


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


stdout = console()  # shared by every ``hub`` command that prints to standard output
