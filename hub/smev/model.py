"""Value types shared by the builders and the readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejection:
    """RequestRejected: a code (ACCESS_DENIED, NO_DATA, ...) and a human-readable reason."""

    code: str
    description: str


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """RequestStatus: a business status code, its description and key/value parameters."""

    code: int
    description: str
    parameters: Sequence[tuple[str, str]] = ()
