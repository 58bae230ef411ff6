"""Scopes: where in the region a message belongs, and how far a principal reaches.

A scope is a path: ``*`` is the whole region, ``45201`` a municipality (its OKTMO code),
``45201/4520100012`` one school (municipality / the school's organisation code). A principal
reaches every message whose scope equals its own or lies below it. A message whose scope is
not known yet (``""``: a ZAGS notice nobody asked for, a message that failed before it could
be read) belongs to the region: only region-wide principals see it.
"""

from __future__ import annotations

import re

from hub.errors import PermanentError

REGION = "*"
UNKNOWN = ""
_SEGMENT = r"[0-9A-Za-z_-]{1,40}"
_SCOPE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})?")


class InvalidScopeError(PermanentError):
    code = "INVALID_SCOPE"


def parse_scope(text: str, *, allow_region: bool = True) -> str:
    """``text`` as a scope, or ``InvalidScopeError`` saying what a scope looks like."""
    scope = text.strip()
    if scope == REGION and allow_region:
        return scope
    if not _SCOPE.fullmatch(scope):
        raise InvalidScopeError(
            f"scope {text!r} is not '*' (region), 'MUNICIPALITY' or 'MUNICIPALITY/SCHOOL' "
            "(letters, digits, '-' and '_')",
            scope=text,
        )
    return scope


def school_scope(municipality: str | None, school: str) -> str:
    """The scope of a school; ``_`` stands for a municipality the hub has not been told."""
    return parse_scope(f"{municipality or '_'}/{school}", allow_region=False)


def covers(principal_scope: str, message_scope: str | None) -> bool:
    """Whether a principal of ``principal_scope`` may reach a message of ``message_scope``."""
    if principal_scope == REGION:
        return True
    if not message_scope:
        return False
    return message_scope == principal_scope or message_scope.startswith(f"{principal_scope}/")
