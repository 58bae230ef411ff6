"""``hub command send``: the command reaches the hub's commands queue as the registry sends it
(routing key, message id, content type, trace header), on the in-memory broker and on
RabbitMQ; an invalid command is refused before anything is published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.bootstrap import Hub
from hub.cli.main import app
from hub.config import Settings
from hub.routing.api import Delivery
from hub.routing.bus import delete_topology
from hub.services import tracing
from tests.support.console import fresh_prefix
from tests.support.registry import EXAMPLES, example, taken

PROJECT = Path(__file__).resolve().parents[1]
SNILS_COMMAND = EXAMPLES / "verify_snils.json"


def assert_sent_as_registry(delivery: Delivery, command: dict[str, Any], trace: str) -> None:
    assert delivery.routing_key == command["type"]  # schemas/asyncapi.yaml: the command's type
    assert delivery.message_id == command["request_id"]
    assert delivery.content_type == "application/json"
    assert delivery.headers.get(tracing.TRACE_HEADER) == trace
    assert json.loads(delivery.body) == command


# --- the in-memory broker (in process: kombu's memory broker lives in the process) ------


@pytest.fixture
def memory_hub(tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(
        broker_url="memory://",
        topology_prefix=fresh_prefix(),
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
    )
    hub = Hub(settings)
    hub.bus.declare()
    try:
        yield hub
    finally:
        hub.close()


def send_in_process(hub: Hub, *args: str, stdin: str | None = None) -> Any:
    env = {"HUB_BROKER_URL": "memory://", "HUB_TOPOLOGY_PREFIX": hub.topology.prefix}
    return CliRunner().invoke(app, ["command", "send", *args], env=env, input=stdin)


@pytest.mark.parametrize(
    "name", ["verify_birth_record", "verify_snils", "report_enrollment_status"]
)
@pytest.mark.unit
def test_each_example_reaches_the_commands_queue_as_the_registry_sends_it(
    memory_hub: Hub, name: str
) -> None:
    sent = send_in_process(memory_hub, str(EXAMPLES / f"{name}.json"))
    assert sent.exit_code == 0, sent.output
    command = example(name)
    trace = tracing.derived("command", command["request_id"])  # what the hub derives anyway
    assert f"request_id {command['request_id']}" in sent.stdout.splitlines()
    assert f"trace_id {trace}" in sent.stdout.splitlines()
    [delivery] = taken(memory_hub, 1)
    assert_sent_as_registry(delivery, command, trace)


@pytest.mark.unit
def test_a_command_on_standard_input_goes_with_the_trace_id_given(memory_hub: Hub) -> None:
    text = SNILS_COMMAND.read_text(encoding="utf-8")
    sent = send_in_process(memory_hub, "-", "--trace-id", "registry:trace-42", stdin=text)
    assert sent.exit_code == 0, sent.output
    assert "trace_id registry:trace-42" in sent.stdout.splitlines()
    [delivery] = taken(memory_hub, 1)
    assert_sent_as_registry(delivery, example("verify_snils"), "registry:trace-42")


@pytest.mark.unit
def test_a_trace_id_the_hub_would_not_take_is_refused(memory_hub: Hub) -> None:
    sent = send_in_process(memory_hub, str(SNILS_COMMAND), "--trace-id", "has spaces")
    assert sent.exit_code == 2
    assert "--trace-id" in sent.stderr


# --- what is refused before anything is published (no broker needed) --------------------


def hub_process(
    *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HUB_LOG_LEVEL": "warning", "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        cwd=PROJECT,
        timeout=60,
    )


def with_changes(**changes: Any) -> str:
    return json.dumps({**example("verify_snils"), **changes}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (with_changes(person_id=None), "person_id: expected string"),
        (with_changes(role="teacher"), 'role: expected one of "student", "guardian"'),
        (
            with_changes(document={"kind": "passport", "series": "92 04 X", "number": "123456"}),
            "document.series: not in the expected form",
        ),
        (json.dumps({"type": "verify_snils", "request_id": "r-1"}), "person_id: required field"),
        (json.dumps({"type": "enrol", "request_id": "r-1"}), "type: unknown registry command"),
        ("[1, 2]", "a registry command is a JSON object"),
        ("{not json", "not JSON"),
    ],
)
@pytest.mark.integration  # a real process
def test_an_invalid_command_is_one_line_naming_the_field_and_exit_2(
    command: str, named: str
) -> None:
    # No broker at this address: a command that were published would fail with exit 1.
    refused = hub_process(
        "command", "send", "-", stdin=command, HUB_BROKER_URL="amqp://guest:guest@127.0.0.1:1//"
    )
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("hub: error: -: ") and named in line
    assert "teacher" not in line and "92 04 X" not in line  # the field, never the value


@pytest.mark.integration  # a real process
def test_a_broker_that_cannot_be_reached_is_exit_1() -> None:
    refused = hub_process(
        "command", "send", str(SNILS_COMMAND), HUB_BROKER_URL="amqp://guest:guest@127.0.0.1:1//"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("hub: error: the broker did not take the command")


# --- RabbitMQ -------------------------------------------------------------------------


@pytest.fixture
def rabbit_hub(amqp_url: str, tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(
        broker_url=amqp_url,
        topology_prefix=fresh_prefix(),
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
    )
    hub = Hub(settings)
    try:
        yield hub
    finally:
        hub.close()
        delete_topology(amqp_url, hub.topology)


def send_to(hub: Hub, *args: str) -> subprocess.CompletedProcess[str]:
    return hub_process(
        "command",
        "send",
        *args,
        HUB_BROKER_URL=hub.settings.broker_url.get_secret_value(),
        HUB_TOPOLOGY_PREFIX=hub.topology.prefix,
    )


@pytest.mark.integration
def test_on_rabbitmq_the_command_waits_in_the_hubs_commands_queue(rabbit_hub: Hub) -> None:
    rabbit_hub.bus.declare()
    sent = send_to(rabbit_hub, str(SNILS_COMMAND), "--trace-id", "t-rabbit-1")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines()[1:] == ["request_id example-snils-0001", "trace_id t-rabbit-1"]
    [delivery] = taken(rabbit_hub, 1)
    assert_sent_as_registry(delivery, example("verify_snils"), "t-rabbit-1")


@pytest.mark.integration
def test_on_rabbitmq_without_the_hubs_topology_it_says_how_to_get_one(rabbit_hub: Hub) -> None:
    refused = send_to(rabbit_hub, str(SNILS_COMMAND))
    assert refused.returncode == 1
    assert "NOT_FOUND" in refused.stderr and "hub topology declare" in refused.stderr
    assert "Traceback" not in refused.stderr
