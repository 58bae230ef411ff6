"""The hub's deterministic ids: the same message, event or record always gets the same id,
so a replay or a redelivery finds what the first pass made instead of making it again."""

from __future__ import annotations

import functools
import uuid

# Fixed namespace for every deterministic id the hub makes (inbox ids, event ids).
HUB_NAMESPACE = uuid.UUID("6f1d2c7e-3a4b-5c6d-8e9f-0a1b2c3d4e5f")


@functools.lru_cache(maxsize=4096)  # a message's id is asked for at every step of a batch
def inbox_id_for(source: str, external_id: str) -> str:
    """The deterministic inbox id of a message: the same delivery always gets the same id."""
    return str(uuid.uuid5(HUB_NAMESPACE, f"inbox:{source}:{external_id}"))


def event_id_for(inbox_id: str, position: int) -> str:
    """The deterministic id of the ``position``-th event made from an inbox message."""
    return str(uuid.uuid5(HUB_NAMESPACE, f"event:{inbox_id}:{position}"))
