"""schemas/asyncapi.yaml: valid AsyncAPI 3.0, every event and command of the code and nothing
else, references that resolve, exchanges and headers as the hub really uses them, and up to
date with its generator."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from typer.testing import CliRunner

from hub.adapters.router import Router, Translation
from hub.canonical import events as ev
from hub.canonical.commands import COMMAND_TYPES
from hub.canonical.sources import Source
from hub.cli.main import app
from hub.config import Settings
from hub.journal.records import InboxRecord, InboxStatus, OutboxEvent
from hub.routing.asyncapi import asyncapi_files
from hub.routing.topology import build_topology
from hub.services.processing import Processor
from hub.services.relay import _message
from hub.xml import XmlLimits

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2] / "schemas"
DOCUMENT_PATH = ROOT / "asyncapi.yaml"
OFFICIAL = Path(__file__).resolve().parent / "asyncapi_spec" / "3.0.0.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(DOCUMENT_PATH.read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def official() -> Draft7Validator:
    schema = json.loads(OFFICIAL.read_text("utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def test_the_document_is_asyncapi_3(document: dict[str, Any], official: Draft7Validator) -> None:
    assert document["asyncapi"] == "3.0.0"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in official.iter_errors(document)]
    assert not errors, errors[:5]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["operations", "receive_commands", "action"], "subscribe"),  # AsyncAPI 2 wording
        (["channels", "commands", "bindings", "amqp", "exchange", "type"], "x-delayed"),
        (["components", "correlationIds", "commandRequestId", "location"], "request_id"),
        (["info"], {"title": "no version"}),
    ],
)
def test_the_official_schema_refuses_a_broken_document(
    document: dict[str, Any], official: Draft7Validator, path: list[str], value: Any
) -> None:
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not official.is_valid(broken)


def messages_by_content_type(document: dict[str, Any], content_type: str) -> set[str]:
    messages = document["components"]["messages"]
    return {name for name, m in messages.items() if m["contentType"] == content_type}


def test_the_event_messages_are_the_codes_event_types(document: dict[str, Any]) -> None:
    cloud_events = messages_by_content_type(document, "application/cloudevents+json")
    assert cloud_events == set(ev.EVENT_TYPES)
    sent = {
        ref["$ref"].rsplit("/", 1)[1]
        for op in document["operations"].values()
        if op["action"] == "send"
        for ref in op["messages"]
    }
    assert sent == set(ev.EVENT_TYPES)


def test_the_command_messages_are_the_codes_command_types(document: dict[str, Any]) -> None:
    assert messages_by_content_type(document, "application/json") == set(COMMAND_TYPES)
    channel = document["channels"]["commands"]
    assert set(channel["messages"]) == set(COMMAND_TYPES)
    assert channel["parameters"]["type"]["enum"] == list(COMMAND_TYPES)
    [received] = [op for op in document["operations"].values() if op["action"] == "receive"]
    assert received["channel"] == {"$ref": "#/channels/commands"}
    assert [r["$ref"].rsplit("/", 1)[1] for r in received["messages"]] == list(COMMAND_TYPES)


def test_channels_use_the_topologys_default_exchanges(document: dict[str, Any]) -> None:
    topology = build_topology()  # the default prefix, as HUB_TOPOLOGY_PREFIX defaults
    expected = {
        "events": (topology.events_exchange.name, topology.events_exchange.type),
        "commands": (topology.commands_exchange.name, topology.commands_exchange.type),
    }
    assert expected == {"events": ("hub.events", "topic"), "commands": ("hub.commands", "topic")}
    for name, channel in document["channels"].items():
        exchange = channel["bindings"]["amqp"]["exchange"]
        kind = "commands" if name == "commands" else "events"
        assert (exchange["name"], exchange["type"]) == expected[kind]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in fragment.lstrip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = list(refs(document))
    files = {r for r in found if not r.startswith("#")}
    for ref in found:
        if ref.startswith("#"):
            pointer(document, ref[1:])  # KeyError if it leads nowhere
    assert len(files) == len(ev.EVENT_TYPES) + len(COMMAND_TYPES)
    for ref in files:
        path = (DOCUMENT_PATH.parent / ref).resolve()
        assert path.is_file(), ref
        schema = json.loads(path.read_text("utf-8"))
        Draft202012Validator.check_schema(schema)
        Draft7Validator.check_schema(schema)  # AsyncAPI's default schema format


def test_each_message_refers_to_its_own_schema(document: dict[str, Any]) -> None:
    for name, message in document["components"]["messages"].items():
        schema = json.loads((DOCUMENT_PATH.parent / message["payload"]["$ref"]).read_text())
        assert schema["title"] == name
        assert message["bindings"]["amqp"]["messageType"] == name


def test_an_event_as_the_relay_publishes_it_matches_the_document(
    document: dict[str, Any],
) -> None:
    draft = ev.birth_not_found("req-9", "stu-9", "нет записи")
    router = Router(Settings())
    router.register_command("verify_birth_record", lambda _c, _r: Translation([draft]))
    processor = Processor(router, None, XmlLimits(), frozenset())
    record = InboxRecord(
        "6f1d2c7e-0000-5000-8000-000000000009",
        Source.REGISTRY,
        "req-9",
        b'{"type": "verify_birth_record"}',
        None,
        None,
        "application/json",
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )
    [new] = processor.process(record).events
    outgoing = _message(
        OutboxEvent(
            new.event_id,
            record.inbox_id,
            new.routing_key,
            new.subject,
            1,
            new.payload,
            new.headers,
            datetime.now(UTC),
        )
    )
    channel = document["channels"][draft.type]
    message = document["components"]["messages"][draft.type]
    assert outgoing.routing_key == channel["address"]
    assert outgoing.content_type == message["contentType"]
    headers = pointer(document, message["headers"]["$ref"][1:])
    Draft7Validator(headers).validate(dict(outgoing.headers))
    body = json.loads(outgoing.body)
    schema = json.loads((DOCUMENT_PATH.parent / message["payload"]["$ref"]).read_text())
    Draft202012Validator(schema).validate(body)
    assert outgoing.message_id == body["id"] == outgoing.headers["x-hub-event-id"]
    assert pointer(body, "/data/request_id") == "req-9"  # where the correlation id says


def test_the_document_is_up_to_date() -> None:
    [(path, text)] = asyncapi_files(DOCUMENT_PATH, ROOT / "canonical").items()
    assert path == DOCUMENT_PATH
    assert DOCUMENT_PATH.read_text("utf-8") == text, "stale: run hub schemas export"


def test_hub_schemas_export_writes_and_checks_everything(tmp_path: Path) -> None:
    folder, document = tmp_path / "out" / "canonical", tmp_path / "api" / "hub.yaml"
    options = ["schemas", "export", "--folder", str(folder), "--asyncapi", str(document)]
    runner = CliRunner()
    assert runner.invoke(app, [*options, "--check"]).exit_code == 1
    written = runner.invoke(app, options)
    assert written.exit_code == 0, written.output
    assert runner.invoke(app, [*options, "--check"]).exit_code == 0
    exported = yaml.safe_load(document.read_text("utf-8"))
    for ref in refs(exported):
        assert ref.startswith("#") or (document.parent / ref).is_file(), ref
    stale = folder / "commands" / "verify_snils.schema.json"
    stale.write_text("{}", encoding="utf-8")
    checked = runner.invoke(app, [*options, "--check"])
    assert checked.exit_code == 1 and "verify_snils.schema.json" in checked.output
