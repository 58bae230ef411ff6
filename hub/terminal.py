"""The command line's Rich consoles: what they print is text, never markup.

Stored and user-supplied text (a command type echoed into a failure reason, a reveal reason,
a token's name, a file's content) may hold ``[/bold]`` or ``:warning:``; read as Rich markup
it crashes the command (``MarkupError``) or prints something else. These consoles read
neither markup nor emoji codes: styles are given as styles (``style=``, ``Text``).
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

__all__ = ["console", "stdout", "styled"]


def console(*, stderr: bool = False) -> Console:
    """A console that prints strings as they are (no markup, no emoji codes)."""
    return Console(stderr=stderr, markup=False, emoji=False)


def styled(text: str, style: str) -> Text:
    """``text`` in ``style``, for a table cell or a title (never parsed as markup)."""
    return Text(text, style=style)


stdout = console()  # shared by every ``hub`` command that prints to standard output
