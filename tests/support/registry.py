"""What the registry sends, as the hub's worker takes it: the example commands and the next
messages of the commands queue."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from hub.bootstrap import Hub
from hub.routing.api import Delivery

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "commands"


def example(name: str) -> dict[str, Any]:
    """The example command ``examples/commands/{name}.json``."""
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def taken(hub: Hub, count: int, timeout: float = 10.0) -> list[Delivery]:
    """The next ``count`` messages of the commands queue (acked), taken with the hub's own
    consumer as the worker takes them; fewer if ``timeout`` passes first."""
    got: list[Delivery] = []
    stop = threading.Event()

    def on_batch(batch: list[Delivery]) -> None:
        for delivery in batch:
            got.append(delivery)
            delivery.ack()
        if len(got) >= count:
            stop.set()

    queue = hub.topology.commands_queue.name
    consumer = threading.Thread(
        target=hub.bus.consume, args=([queue], on_batch), kwargs={"stop": stop}
    )
    consumer.start()
    consumer.join(timeout)
    stop.set()
    consumer.join(5)
    return got
