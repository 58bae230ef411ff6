"""JSON Schemas of the canonical events: the whole CloudEvent, with its ``data`` from
``hub.canonical.models``; ``schemas/canonical/`` holds them as published files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from hub.canonical.models import EVENT_DATA, SUBJECT_PATTERNS
from hub.errors import PermanentError

EVENT_TYPES = tuple(EVENT_DATA)
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FIELDS = (
    "specversion", "id", "source", "type", "subject", "time", "datacontenttype",
    "schemaversion", "hubinboxid", "data",
)  # fmt: skip


class EventSchemaError(PermanentError):
    """An event that does not match its published schema."""

    code = "EVENT_SCHEMA"


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event type, envelope and data."""
    data = EVENT_DATA[event_type].model_json_schema(ref_template="#/$defs/{model}")
    definitions = data.pop("$defs", {})
    return {
        "$schema": DRAFT,
        "$id": f"urn:hub:schemas:canonical:{event_type}:1",
        "title": event_type,
        "description": EVENT_DATA[event_type].__doc__ or event_type,
        "type": "object",
        "required": list(ENVELOPE_FIELDS),
        "additionalProperties": False,
        "properties": _envelope(event_type) | {"data": data},
        "$defs": definitions,
    }


def _envelope(event_type: str) -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "format": "uuid"},
        "source": {"type": "string", "pattern": "^urn:hub:"},
        "type": {"const": event_type},
        "subject": {
            "type": "string",
            "pattern": SUBJECT_PATTERNS[event_type.partition(".")[0]],
        },
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"const": "application/json"},
        "schemaversion": {"const": "1"},
        "hubinboxid": text,
    }


@cache
def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(event_schema(event_type))


def validate_event(envelope: Mapping[str, Any]) -> None:
    """Raise ``EventSchemaError`` naming the event type and the path of the first error."""
    event_type = str(envelope.get("type"))
    if event_type not in EVENT_DATA:
        raise EventSchemaError(f"unknown event type {event_type!r}", type=event_type)
    error = next(iter(_validator(event_type).iter_errors(envelope)), None)
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise EventSchemaError(
            f"{event_type} at {path}: {error.message}", type=event_type, path=path
        )


def schema_files(folder: Path) -> dict[Path, str]:
    """The published files: one ``<type>.schema.json`` per event type in ``folder``."""
    return {
        folder / f"{event_type}.schema.json": json.dumps(
            event_schema(event_type), ensure_ascii=False, indent=2
        )
        + "\n"
        for event_type in EVENT_TYPES
    }
