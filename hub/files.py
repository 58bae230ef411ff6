"""Reading a file a user names, bounded: never more than the limit and one byte.

``/dev/zero``, an endless pipe or a huge file given where a message, a command, a key or a
certificate belongs is refused as too large as soon as the limit is passed, instead of being
read whole into memory first.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from hub.errors import PermanentError

__all__ = ["CERTIFICATE_LIMIT", "InputTooLargeError", "read_bounded"]

CERTIFICATE_LIMIT = 1024 * 1024  # a PEM key or certificate (chain) is a few kilobytes


class InputTooLargeError(PermanentError):
    """A file or stream longer than the limit set for what it should hold."""

    code = "INPUT_TOO_LARGE"


def read_bounded(source: Path | BinaryIO, limit: int, name: str | None = None) -> bytes:
    """All of ``source`` (a path, or an open binary stream such as standard input) when it
    holds at most ``limit`` bytes; else ``InputTooLargeError``, having read ``limit`` + 1.
    A FIFO is read until its writer closes it; ``OSError`` when the file cannot be read."""
    if isinstance(source, Path):
        with source.open("rb") as stream:
            data = stream.read(limit + 1)  # a buffered read returns short only at the end
    else:
        data = source.read(limit + 1)
    if len(data) > limit:
        shown = name or str(source if isinstance(source, Path) else "the input")
        raise InputTooLargeError(
            f"{shown}: larger than the limit of {limit} bytes", limit=limit, source=shown
        )
    return data
