"""``examples/commands/``: one command of each type, valid against the published schema file
(as a registry in any language would check it), taken by the hub, and turned into the
request to its agency (``hub translate --command`` shows the same)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hub.bootstrap import Hub
from hub.canonical.commands import COMMAND_TYPES
from hub.canonical.jsonschemas import command_schema_path, validate_command
from hub.config import Settings
from hub.services.preview import preview_command

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples" / "commands"
AGENCY = {
    "verify_birth_record": "zags",
    "verify_snils": "pfr",
    "report_enrollment_status": "gosuslugi",
}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_is_one_example_of_each_command_type_and_nothing_else() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir()) == sorted(f"{t}.json" for t in COMMAND_TYPES)


@pytest.mark.parametrize("kind", COMMAND_TYPES)
def test_the_example_is_valid_against_the_published_schema_file(kind: str) -> None:
    schema = load(command_schema_path(PROJECT / "schemas" / "canonical", kind))
    command = load(EXAMPLES / f"{kind}.json")
    assert command["type"] == kind
    assert list(Draft202012Validator(schema).iter_errors(command)) == []


@pytest.mark.parametrize("kind", COMMAND_TYPES)
def test_the_hub_takes_the_example_and_sends_its_agency_a_request(kind: str) -> None:
    command = load(EXAMPLES / f"{kind}.json")
    validate_command(command)
    preview = preview_command(command, Hub(Settings()).router)  # the built-in adapters
    assert [request.agency for request in preview.requests] == [AGENCY[kind]]
