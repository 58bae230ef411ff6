"""What the adapters' handler tests share: inbox records, a journal-less Processor with one
adapter registered, and the outbound request a command's outcome asked for."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.adapters.router import Router
from hub.canonical.sources import Source
from hub.config import Settings
from hub.journal.records import InboxRecord, InboxStatus, OutboundRequest, OutboundState, Outcome
from hub.services.processing import Processor
from hub.xml import XmlLimits

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def inbox_record(raw: bytes, source: str = "smev", agency: str | None = None) -> InboxRecord:
    """A message as the worker hands it to processing (first attempt)."""
    return InboxRecord(
        str(uuid.uuid4()), source, "m-1", raw, agency, None, None, {}, NOW, InboxStatus.RECEIVED, 1
    )


def command_record(command: dict[str, Any]) -> InboxRecord:
    """A registry command as the worker hands it to processing."""
    return inbox_record(json.dumps(command, ensure_ascii=False).encode(), Source.REGISTRY, None)


def adapter_processor(
    register: Callable[[Router], None], agency: str, asked: OutboundRequest | None = None
) -> Processor:
    """A Processor with only ``register``'s routes, no signature check and no journal: the
    answer lookup finds ``asked`` (the hub's request an answer answers), if given."""
    router = Router(Settings())
    register(router)
    return Processor(
        router,
        None,
        XmlLimits(),
        frozenset({agency}),
        lambda: NOW,
        lambda message_id: asked if asked and asked.smev_message_id == message_id else None,
    )


def asked_by(outcome: Outcome) -> OutboundRequest:
    """The one outbound request ``outcome`` asked for, as sent and accepted by SMEV."""
    [new] = outcome.outbound
    return OutboundRequest(
        new.request_id,
        new.agency,
        new.kind,
        OutboundState.ACCEPTED,
        new.smev_message_id,
        new.payload,
        1,
        NOW,
        NOW,
        context=new.context,
    )


def unwrapped(handlers: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The adapters' own handlers behind the router's intake gates (``functools.wraps``)."""
    return {name: inspect.unwrap(handler) for name, handler in handlers.items()}
