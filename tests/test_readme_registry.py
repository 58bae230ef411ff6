"""The README's "Integrating a registry" snippet, run as written against RabbitMQ: the command
it publishes reaches the hub's commands queue as the hub expects it, and of an event
published twice to the events exchange it stores one and drops the duplicate, acking both."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from hub.bootstrap import Hub
from hub.config import Settings
from hub.routing.api import Outgoing
from hub.routing.bus import delete_topology
from hub.services import tracing
from tests.support.console import fresh_prefix
from tests.support.registry import example, taken

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]
MARKER = "<!-- registry-snippet"
BLOCK = re.compile(re.escape(MARKER) + r"[^\n]*\n```python\n(.*?)\n```", re.DOTALL)


def readme_snippet() -> str:
    found = BLOCK.findall((PROJECT / "README.md").read_text(encoding="utf-8"))
    assert len(found) == 1, "README.md: one python block after the registry-snippet marker"
    return str(found[0])


class Lines:
    """The lines a process writes, read in a thread so a wait can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.seen.append(line.rstrip("\n"))

    def wait_for(self, count: int, prefix: str, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [line for line in self.seen if line.startswith(prefix)]
            if len(matching) >= count:
                return matching
            time.sleep(0.05)
        raise AssertionError(f"no {count} lines {prefix!r} in time; output: {self.seen}")


@pytest.fixture
def hub(amqp_url: str, tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(
        broker_url=amqp_url,
        topology_prefix=fresh_prefix(),
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
    )
    running = Hub(settings)
    running.bus.declare()  # as `hub topology declare` or any hub service at start
    try:
        yield running
    finally:
        running.close()
        delete_topology(amqp_url, running.topology)


@pytest.fixture
def registry(hub: Hub, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    script = tmp_path / "registry.py"
    script.write_text(readme_snippet(), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BROKER_URL": pika_url(hub.settings.broker_url.get_secret_value()),
        "HUB_TOPOLOGY_PREFIX": hub.topology.prefix,
    }
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=PROJECT,  # the snippet reads examples/commands/ as a reader of the README would
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield process, Lines(process.stdout)
    finally:
        process.kill()
        process.wait(10)


def pika_url(url: str) -> str:
    """kombu writes the default virtual host "/" as a path "//", pika as "/%2F"."""
    return url[:-2] + "/%2F" if url.endswith("//") else url


def an_event(hub: Hub) -> Outgoing:
    event_id = str(uuid.uuid4())
    body = {"specversion": "1.0", "id": event_id, "type": "person.snils.verified", "data": {}}
    return Outgoing(json.dumps(body).encode(), "person.snils.verified", {}, event_id)


def test_the_readme_registry_sends_a_command_and_stores_an_event_once(
    hub: Hub, registry: tuple[subprocess.Popen[str], Lines]
) -> None:
    process, output = registry
    command = example("verify_snils")
    output.wait_for(1, f"sent {command['request_id']}")

    [delivery] = taken(hub, 1)  # as the hub's worker takes it
    assert delivery.routing_key == "verify_snils"
    assert delivery.message_id == command["request_id"]
    assert delivery.content_type == "application/json"
    assert tracing.valid(delivery.headers.get(tracing.TRACE_HEADER))
    assert json.loads(delivery.body) == command

    event = an_event(hub)
    hub.bus.publish(hub.topology.events_exchange.name, [event, event])  # at least once
    [stored] = output.wait_for(1, "stored ")
    assert stored == f"stored person.snils.verified {event.message_id}"
    output.wait_for(1, f"duplicate dropped {event.message_id}")
    assert [line for line in output.seen if line.startswith("stored ")] == [stored]
    assert process.poll() is None, output.seen  # still consuming

    process.kill()  # what it had not acked would go back to the queue now
    process.wait(10)
    assert ready_after_requeue(hub, f"{hub.topology.prefix}.registry") == 0


def ready_after_requeue(hub: Hub, queue: str, wait: float = 3.0) -> int:
    """The ready messages in ``queue`` once the broker has had ``wait`` seconds to requeue
    what a dead consumer left unacked (the first count above zero, else zero)."""
    deadline = time.monotonic() + wait
    while (depth := hub.bus.queue_depths()[queue]) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    return depth
