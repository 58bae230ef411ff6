"""JSON Schemas of the canonical events (the whole CloudEvent, with its ``data``) and of the
registry commands, from ``hub.canonical.models``; ``schemas/canonical/`` holds them as
published files (commands in ``commands/``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from hub.access.categories import data_category
from hub.canonical.bounds import REGISTRY_ID
from hub.canonical.commands import COMMAND_TYPES, Command, InvalidCommandError, parse_command
from hub.canonical.models import COMMAND_DATA, EVENT_DATA, SUBJECT_PATTERNS, schema_version
from hub.errors import PermanentError

EVENT_TYPES = tuple(EVENT_DATA)
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FIELDS = (
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "schemaversion",
    "hubinboxid",
    "datacategory",
    "hubscope",
    "hubtraceid",
    "data",
)
# "application:" (the longest prefix) and a registry id (hub.canonical.bounds.REGISTRY_ID)
SUBJECT_LENGTH = len("application:") + REGISTRY_ID.longest
SCOPE_PATTERN = r"^(?:\*|[0-9A-Za-z_-]{1,40}(?:/[0-9A-Za-z_-]{1,40})?)$"  # hub.access.scopes


class EventSchemaError(PermanentError):
    """An event that does not match its published schema."""

    code = "EVENT_SCHEMA"


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event type, envelope and data."""
    data = EVENT_DATA[event_type].model_json_schema(ref_template="#/$defs/{model}")
    definitions = data.pop("$defs", {})
    return {
        "$schema": DRAFT,
        "$id": f"urn:hub:schemas:canonical:{event_type}:{schema_version(event_type)}",
        "title": event_type,
        "description": EVENT_DATA[event_type].__doc__ or event_type,
        "type": "object",
        "required": list(ENVELOPE_FIELDS),
        "additionalProperties": False,
        "properties": _envelope(event_type) | {"data": data},
        "$defs": definitions,
    }


def _envelope(event_type: str) -> dict[str, Any]:
    uuid = {"type": "string", "format": "uuid", "maxLength": 36}  # every id the hub makes
    return {
        "specversion": {"const": "1.0"},
        "id": uuid,
        "source": {"type": "string", "pattern": "^urn:hub:", "maxLength": 64},
        "type": {"const": event_type},
        "subject": {
            "type": "string",
            "pattern": SUBJECT_PATTERNS[event_type.partition(".")[0]],
            "maxLength": SUBJECT_LENGTH,
        },
        "time": {"type": "string", "format": "date-time", "maxLength": 40},
        "datacontenttype": {"const": "application/json"},
        "schemaversion": {"const": schema_version(event_type)},
        "hubinboxid": uuid,
        "datacategory": {
            "const": data_category(event_type).value,
            "description": "What personal data the event carries (identity, health, "
            "achievements): consumers not entitled to a category must not receive it.",
        },
        "hubscope": {
            "type": "string",
            "pattern": SCOPE_PATTERN,
            "description": "Where in the region it belongs: 'MUNICIPALITY', "
            "'MUNICIPALITY/SCHOOL', or '*' (the region's alone).",
        },
        "hubtraceid": {
            "type": "string",
            "pattern": "^[0-9A-Za-z._:-]{1,128}$",  # hub.services.tracing
            "description": "The trace id of the registry command it answers (header "
            "x-hub-trace-id), else one of its own: follows a command to the SMEV MessageID "
            "and to the events.",
        },
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


def command_schema(command_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one registry command, as the hub accepts it."""
    model = COMMAND_DATA[command_type]
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": DRAFT,
        "$id": f"urn:hub:schemas:canonical:commands:{command_type}:1",
        "title": command_type,
        "description": model.__doc__ or command_type,
        "type": "object",
        "required": schema["required"],
        "properties": schema["properties"],
        "$defs": schema.get("$defs", {}),
    }


@cache
def _command_validator(command_type: str) -> Draft202012Validator:
    return Draft202012Validator(command_schema(command_type))


def validate_command(data: Any) -> Command:
    """The typed command, once ``data`` matches its published JSON Schema and the hub can carry
    it out (``parse_command``); ``InvalidCommandError`` (or ``InvalidValueError``) names the
    first wrong field and why, never its value: a command carries personal data."""
    kind = data.get("type") if isinstance(data, Mapping) else None
    if kind in COMMAND_TYPES:
        error = _first_error(_command_validator(str(kind)).iter_errors(data))
        if error is not None:
            field, why = _schema_problem(error)
            raise InvalidCommandError(f"{field}: {why}", field=field, rule=str(error.validator))
    return parse_command(data)  # unknown types and what a schema cannot say (status codes)


def _first_error(errors: Iterable[ValidationError]) -> ValidationError | None:
    """jsonschema's best match, except that within a choice of shapes (a document is a birth
    certificate or a passport) it is the error of the shape whose ``const`` (its ``kind``)
    matched: best_match alone would say the passport is not a birth certificate."""
    found: ValidationError | None = best_match(
        inner for error in errors for inner in _unfolded(error)
    )
    return found


def _unfolded(error: ValidationError) -> list[ValidationError]:
    if error.validator not in {"anyOf", "oneOf"}:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for inner in error.context or ():
        branches.setdefault(inner.relative_schema_path[0], []).append(inner)
    chosen = [b for b in branches.values() if all(e.validator != "const" for e in b)]
    if len(chosen) != 1:
        return [error]
    return [unfolded for inner in chosen[0] for unfolded in _unfolded(inner)]


def _schema_problem(error: ValidationError) -> tuple[str, str]:
    """Where and why, from the schema's side alone (jsonschema's own message quotes the value)."""
    field = _dotted(error.absolute_path)
    rule, expected = str(error.validator), error.validator_value
    if rule == "required" and isinstance(expected, list):
        given = error.instance if isinstance(error.instance, Mapping) else {}
        missing = next(name for name in expected if name not in given)
        return _dotted([*error.absolute_path, missing]), "required field is missing"
    return field, _reason(rule, expected, error.schema)


# Why a value breaks a rule, from the rule's side alone (what the schema expects).
_REASONS: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
    "type": lambda want, _: f"expected {' or '.join([want] if isinstance(want, str) else want)}",
    "enum": lambda want, _: f"expected one of {', '.join(json.dumps(v) for v in want)}",
    "const": lambda want, _: f"expected {json.dumps(want)}",
    "maxLength": lambda want, _: f"longer than {want} characters",
    "minLength": lambda want, _: f"shorter than {want} characters",
    "pattern": lambda _, schema: (
        f"not in the expected form ({schema.get('description') or 'see the schema'})"
    ),
    "anyOf": lambda _, __: "matches none of the shapes the schema allows",
    "oneOf": lambda _, __: "matches none of the shapes the schema allows",
}


def _reason(rule: str, expected: Any, schema: Any) -> str:
    explain = _REASONS.get(rule)
    if explain is None:
        return f"breaks the schema's {rule!r} rule"
    return explain(expected, schema if isinstance(schema, Mapping) else {})


def _dotted(path: Any) -> str:
    """``child.last_name``, ``items[0].code``, or ``$`` for the whole command."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "$"


def event_schema_path(folder: Path, event_type: str) -> Path:
    return folder / f"{event_type}.schema.json"


def command_schema_path(folder: Path, command_type: str) -> Path:
    return folder / "commands" / f"{command_type}.schema.json"


def schema_files(folder: Path) -> dict[Path, str]:
    """The published files in ``folder``: ``<type>.schema.json`` per event type and
    ``commands/<type>.schema.json`` per command type."""
    events = {event_schema_path(folder, t): event_schema(t) for t in EVENT_TYPES}
    commands = {command_schema_path(folder, t): command_schema(t) for t in COMMAND_TYPES}
    return {path: _text(schema) for path, schema in (events | commands).items()}


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
