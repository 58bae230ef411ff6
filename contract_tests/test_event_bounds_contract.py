"""Every string and every array of every event's published JSON Schema is bounded, so the
registry (and any consumer) reads in the AsyncAPI document how long and how many each may be:
no oversize value can be an event the schema allows.

A string is bounded by ``maxLength``, an ``enum``/``const``, or a ``pattern`` anchored at both
ends whose every repetition is bounded (``\\d{6}``, never ``+``/``*``/``{n,}``). An array is
bounded by ``maxItems``. Nothing else counts: ``format`` alone (``uuid``, ``date-time``) says
nothing of length to a validator that does not check formats."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from hub.canonical.jsonschemas import EVENT_TYPES, event_schema

pytestmark = pytest.mark.contract

_UNBOUNDED = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def _nodes(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{path}/{index}")


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


def _anchored_and_bounded(pattern: str) -> bool:
    return pattern.startswith("^") and pattern.endswith("$") and not _UNBOUNDED.search(pattern)


def string_is_bounded(node: dict[str, Any]) -> bool:
    if "maxLength" in node or "enum" in node or "const" in node:
        return True
    return _anchored_and_bounded(str(node.get("pattern", "")))


def unbounded(schema: dict[str, Any]) -> list[str]:
    """The paths of every unbounded string and array in ``schema``."""
    found = []
    for path, node in _nodes(schema, "#"):
        kinds = _types(node)
        if "string" in kinds and not string_is_bounded(node):
            found.append(f"{path} (string)")
        if "array" in kinds and "maxItems" not in node:
            found.append(f"{path} (array)")
    return found


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_string_and_array_of_an_event_is_bounded(event_type: str) -> None:
    assert unbounded(event_schema(event_type)) == []


@pytest.mark.parametrize(
    ("node", "bounded"),
    [
        ({"type": "string"}, False),
        ({"type": "string", "format": "uuid"}, False),
        ({"type": "string", "pattern": "^student:.+$"}, False),
        ({"type": "string", "pattern": "^\\d{4}(-\\d{2})?$"}, True),
        ({"type": "string", "pattern": "\\d{4}"}, False),
        ({"type": "string", "pattern": "^[a-z]{1,}$"}, False),
        ({"type": "string", "maxLength": 3}, True),
        ({"enum": ["a"], "type": "string"}, True),
        ({"type": "array", "items": {"const": 1}}, False),
        ({"type": ["array", "null"], "maxItems": 2, "items": {"const": 1}}, True),
    ],
)
def test_the_walk_tells_bounded_from_unbounded(node: dict[str, Any], bounded: bool) -> None:
    assert (unbounded({"properties": {"x": node}}) == []) is bounded
