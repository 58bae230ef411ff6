"""An event as an adapter describes it, before the hub gives it its id and its CloudEvents
envelope (``hub.services.processing``); and the content type every event is published with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENT_CONTENT_TYPE = "application/cloudevents+json"


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event as an adapter describes it; the processor gives it its id and envelope."""

    type: str  # e.g. "student.birth.verified"
    subject: str  # whom it is about (a stable person or application key)
    data: Mapping[str, Any]
    schema_version: str = "1"

    @property
    def routing_key(self) -> str:
        return self.type
