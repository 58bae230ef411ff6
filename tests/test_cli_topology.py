"""``hub topology declare | show`` as an operator runs them: the registry's queue, the parking
queue, and a clear refusal where the broker holds something else under the hub's names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu.connection import Connection

from hub.routing.bus import delete_topology
from hub.routing.topology import build_topology

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]


def hub(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HUB_LOG_FORMAT": "json", "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        cwd=PROJECT,
    )


def test_show_names_the_registry_queue_its_bindings_and_the_parking_queue() -> None:
    shown = hub(
        "topology",
        "show",
        HUB_TOPOLOGY_PREFIX="p",
        HUB_REGISTRY_QUEUE="registry.events",
        HUB_REGISTRY_BINDINGS='["student.#", "person.#"]',
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "queue    registry.events (quorum)" in lines
    assert "queue    p.events.parked (quorum)" in lines
    assert "bind     p.events --student.#--> registry.events" in lines
    assert "bind     p.events --person.#--> registry.events" in lines
    assert lines[-1] == (
        "the registry consumes 'registry.events' (bound with student.# person.#); "
        "events no queue is bound for wait in 'p.events.parked'"
    )


def test_an_empty_registry_queue_name_declares_none() -> None:
    shown = hub("topology", "show", HUB_TOPOLOGY_PREFIX="p", HUB_REGISTRY_QUEUE="")
    assert shown.returncode == 0, shown.stderr
    assert "p.registry" not in shown.stdout
    assert "--> p.registry" not in shown.stdout
    assert shown.stdout.splitlines()[-1].startswith("no registry queue")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HUB_REGISTRY_QUEUE": "p.commands"}, "one of the hub's own queues"),
        ({"HUB_REGISTRY_BINDINGS": "[]"}, "HUB_REGISTRY_BINDINGS"),
        ({"HUB_REGISTRY_BINDINGS": '["#", ""]'}, "HUB_REGISTRY_BINDINGS"),
        ({"HUB_REGISTRY_QUEUE": "a queue"}, "HUB_REGISTRY_QUEUE"),
    ],
)
def test_a_registry_queue_setting_that_cannot_work_is_refused(
    env: dict[str, str], named: str
) -> None:
    shown = hub("topology", "show", HUB_TOPOLOGY_PREFIX="p", **env)
    assert shown.returncode != 0
    assert shown.stderr.startswith("hub: error:") and named in shown.stderr
    assert "Traceback" not in shown.stderr


@pytest.fixture
def prefix(amqp_url: str, topology_prefix: str) -> Iterator[str]:
    yield topology_prefix
    delete_topology(amqp_url, build_topology(topology_prefix))


def test_declare_makes_the_registry_queue_on_the_broker(amqp_url: str, prefix: str) -> None:
    declared = hub("topology", "declare", HUB_BROKER_URL=amqp_url, HUB_TOPOLOGY_PREFIX=prefix)
    assert declared.returncode == 0, declared.stderr
    assert f"the registry consumes '{prefix}.registry' (bound with #)" in declared.stdout
    with Connection(amqp_url) as connection:
        channel = connection.channel()
        for queue in (f"{prefix}.registry", f"{prefix}.events.parked"):
            channel.queue_declare(queue=queue, passive=True)  # raises if missing


def test_declare_names_a_queue_the_broker_holds_with_other_arguments(
    amqp_url: str, prefix: str
) -> None:
    with Connection(amqp_url) as connection:  # made earlier, by someone else, as classic
        connection.channel().queue_declare(queue=f"{prefix}.registry", durable=True)
    declared = hub("topology", "declare", HUB_BROKER_URL=amqp_url, HUB_TOPOLOGY_PREFIX=prefix)
    assert declared.returncode != 0
    assert f"queue '{prefix}.registry' exists on the broker with other arguments" in (
        declared.stderr
    )
    assert "Traceback" not in declared.stderr
