"""``validate_command``: a command is checked against its published JSON Schema, then by
``parse_command``; the first wrong field is named with the rule it breaks, never its value."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.canonical.bounds import InvalidValueError
from hub.canonical.commands import InvalidCommandError, VerifySnils
from hub.canonical.jsonschemas import validate_command

pytestmark = pytest.mark.unit

PASSPORT = {"kind": "passport", "series": "9204", "number": "123456"}
SNILS: dict[str, Any] = {
    "type": "verify_snils",
    "request_id": "r-1",
    "person_id": "p-1",
    "role": "guardian",
    "person": {"name": {"last": "Семёнов", "first": "Игорь"}, "birth_date": "1984-09-30"},
    "document": PASSPORT,
}


def refused(command: Any) -> InvalidCommandError | InvalidValueError:
    with pytest.raises((InvalidCommandError, InvalidValueError)) as caught:
        validate_command(command)
    return caught.value


def changed(path: str, value: Any) -> dict[str, Any]:
    command = copy.deepcopy(SNILS)
    *parents, last = path.split(".")
    target = command
    for name in parents:
        target = target[name]
    target[last] = value
    return command


def test_a_valid_command_is_the_typed_command() -> None:
    assert isinstance(validate_command(SNILS), VerifySnils)


@pytest.mark.parametrize(
    ("path", "value", "field", "why"),
    [
        ("role", "teacher", "role", 'expected one of "student", "guardian"'),
        ("person.name.last", 7, "person.name.last", "expected string"),
        ("request_id", "x" * 129, "request_id", "longer than 128 characters"),
        ("document", {"kind": "passport", "series": "9204"}, "document.number", "required"),
        ("document", {**PASSPORT, "series": "92-04-XY"}, "document.series", "expected form"),
        ("document", {**PASSPORT, "kind": "visa"}, "document", "matches none of the shapes"),
    ],
)
def test_the_error_names_the_field_and_the_rule_never_the_value(
    path: str, value: Any, field: str, why: str
) -> None:
    error = refused(changed(path, value))
    assert error.details["field"] == field
    assert str(error).startswith(f"{field}: ") and why in str(error)
    assert not any(text in str(error) for text in ("teacher", "xxxx", "92-04-XY", "visa"))


def test_within_a_choice_of_documents_the_error_is_about_the_kind_given() -> None:
    # best_match alone would answer that a passport is not a birth certificate
    error = refused(changed("document", {"kind": "passport", "series": "9204"}))
    assert "birth_certificate" not in str(error)


def test_what_the_schema_cannot_say_parse_command_still_refuses() -> None:
    error = refused(changed("person.birth_date", "1984-02-30"))  # a pattern lets it through
    assert str(error).startswith("person.birth_date: no such date")
    assert str(refused({"type": "enrol"})).startswith("type: unknown registry command")
    assert str(refused([SNILS])).startswith("$:")
