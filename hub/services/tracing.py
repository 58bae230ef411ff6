"""Trace ids: one id follows a registry command to the SMEV MessageID its request is sent
under, and on to the events the agency's answer becomes.

A command brings its trace id in the AMQP header ``x-hub-trace-id`` (or gets one derived from
its request id); the hub keeps it in the outbound request's context, logs it with the SMEV
MessageID when the request is sent, takes it back when the answer arrives (the processor finds
the request by OriginalMessageId) and puts it on each event (header ``x-hub-trace-id``,
CloudEvents attribute ``hubtraceid``). While a message is processed every log line carries
``trace_id``, ``inbox_id``, ``agency`` and ``kind`` (structlog context variables): ids and
names of kinds only, never personal data. A message nobody traced has its inbox id as trace
id, the same on every attempt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

import structlog

from hub.journal.records import InboxRecord, OutboundRequest, Outcome
from hub.protection.masking import mask_text
from hub.routing.api import TRACE_HEADER

__all__ = [
    "TRACE_HEADER",
    "TRACE_KEY",
    "adopt",
    "bound",
    "derived",
    "message_context",
    "of_outcome",
    "of_request",
    "stamped",
    "trace_for",
    "traced",
    "valid",
]

TRACE_KEY = "hub_trace_id"  # where an outbound request's context keeps its trace id
# A trace id is an opaque token: anything else (too long, odd characters, possibly data
# pasted by mistake) is not taken into logs and events; a derived id replaces it.
_TOKEN = re.compile(r"[0-9A-Za-z._:-]{1,128}")
# (inbox id, trace id) of the message being processed in this context
_current: ContextVar[tuple[str, str] | None] = ContextVar("hub_trace", default=None)

S = TypeVar("S")
T = TypeVar("T")


def valid(value: object) -> str | None:
    """``value`` when it is a usable trace id (a token that masking would leave alone: no
    SNILS or document number sent by mistake), else None."""
    if isinstance(value, str) and _TOKEN.fullmatch(value) and mask_text(value) == value:
        return value
    return None


def derived(kind: str, key: str) -> str:
    """A trace id made from a stable key (a request id): the same every time."""
    return hashlib.blake2b(f"{kind}:{key}".encode(), digest_size=16).hexdigest()


def _of_record(record: InboxRecord) -> str:
    # Untraced: the inbox id (a uuid5 of source and message id) is the trace id; it is
    # stable across attempts and costs nothing to make.
    return valid(record.headers.get(TRACE_HEADER)) or record.inbox_id


def trace_for(record: InboxRecord) -> str:
    """The trace id of ``record``: the one adopted while it is processed, else its own."""
    current = _current.get()
    if current is not None and current[0] == record.inbox_id:
        return current[1]
    return _of_record(record)


@contextmanager
def message_context(record: InboxRecord, trace: str | None = None) -> Iterator[str]:
    """Bind the record's trace id (``trace`` when known better), inbox id, agency and kind
    for every log line written in the block; nested blocks for the same record change
    nothing."""
    current = _current.get()
    if current is not None and current[0] == record.inbox_id:
        yield current[1]
        return
    trace = valid(trace) or _of_record(record)
    token = _current.set((record.inbox_id, trace))
    tokens = structlog.contextvars.bind_contextvars(
        trace_id=trace, inbox_id=record.inbox_id, agency=record.agency, kind=record.kind
    )
    try:
        yield trace
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
        _current.reset(token)


def traced(method: Callable[[S, InboxRecord], T]) -> Callable[[S, InboxRecord], T]:
    """Run ``method(self, record)`` inside ``message_context(record)``."""

    @wraps(method)
    def wrapper(self: S, record: InboxRecord) -> T:
        with message_context(record):
            return method(self, record)

    return wrapper


def adopt(
    record: InboxRecord,
    command: Mapping[str, Any] | None = None,
    request: OutboundRequest | None = None,
) -> str:
    """Once a message is read: take the trace of the hub's request it answers, or give a
    command without a trace header one derived from its request id."""
    trace = _resolved(record, command, request)
    current = _current.get()
    if current is not None and current[0] == record.inbox_id and current[1] != trace:
        _current.set((record.inbox_id, trace))  # reset by message_context's token
        structlog.contextvars.bind_contextvars(trace_id=trace)
    return trace


def _resolved(
    record: InboxRecord, command: Mapping[str, Any] | None, request: OutboundRequest | None
) -> str:
    if request is not None:
        found = valid(request.context.get(TRACE_KEY))
        if found is not None:
            return found
    given = valid(record.headers.get(TRACE_HEADER))
    if given is not None:
        return given
    request_id = command.get("request_id") if command is not None else None
    if isinstance(request_id, str) and request_id:
        return derived("command", request_id)
    return record.inbox_id


def stamped(context: Mapping[str, Any]) -> dict[str, Any]:
    """An outbound request's context with the current trace id in it (when there is one)."""
    current = _current.get()
    return {**context, TRACE_KEY: current[1]} if current is not None else dict(context)


def of_request(request: OutboundRequest) -> str | None:
    """The trace id an outbound request keeps, if any."""
    return valid(request.context.get(TRACE_KEY))


def of_outcome(outcome: Outcome) -> str | None:
    """The trace id processing gave an outcome's events or requests, if it has any."""
    for event in outcome.events:
        return valid(event.headers.get(TRACE_HEADER))
    for request in outcome.outbound:
        return valid(request.context.get(TRACE_KEY))
    return None


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Bind ``values`` (ids, never personal data) for every log line written in the block."""
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
