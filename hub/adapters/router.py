"""Dispatch: each inbound message to its adapter by the qualified name of its business root
element, each registry command by its type."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lxml import etree

from hub.canonical.drafts import EventDraft
from hub.config import Settings
from hub.errors import PermanentError
from hub.journal.records import InboxRecord
from hub.smev.read import SmevMessage


class UnknownKindError(PermanentError):
    """No adapter is registered for this kind of data or command."""

    code = "UNKNOWN_KIND"


class UnknownAgencyError(PermanentError):
    """The message was addressed to an agency the hub does not serve."""

    code = "UNKNOWN_AGENCY"


class TranslationError(PermanentError):
    """An adapter could not turn a message into events (a bug or unexpected content)."""

    code = "TRANSLATION"


@dataclass(frozen=True, slots=True)
class AgencyRequest:
    """Something the hub must send to an agency: stored with the outcome, sent by the SMEV
    client. ``reply_to`` set: a SendResponse answering an incoming request."""

    request_id: str  # the registry's request id (idempotency key); replies: "reply:{inbox_id}"
    agency: str
    kind: str  # kind of data, e.g. "rogdinf"
    content: bytes  # the business root element, serialized
    context: Mapping[str, Any] = field(default_factory=dict)  # handed back with the answer
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class AnsweredRequest:
    """The hub's own request that a response answers (found by its OriginalMessageId)."""

    request_id: str
    agency: str
    kind: str
    context: Mapping[str, Any]
    smev_message_id: str


@dataclass(frozen=True, slots=True)
class Translation:
    """What an adapter made of a message."""

    events: Sequence[EventDraft] = ()
    business_key: str | None = None  # the agency's own id of the fact (dedupe across resends)
    requests: Sequence[AgencyRequest] = ()  # to send to agencies
    answers: str | None = None  # request id of the hub's request this message answers
    rejected: bool = False  # the answer refuses the request (RequestRejected, SMEV's refusal)
    school: str | None = None  # organisation code of the school it concerns: gives its scope


InboundHandler = Callable[[SmevMessage, InboxRecord], Translation]
# SMEV's Cancel (1.1/1.2) of a request to the hub: given the cancelled request as stored (read
# again) and the Cancel's own inbox record.
CancelHandler = Callable[[SmevMessage, InboxRecord], Translation]
AnswerHandler = Callable[[SmevMessage, AnsweredRequest], Translation]
CommandHandler = Callable[[Mapping[str, Any], InboxRecord], Translation]
# An adapter's intake gate: raises (an ``IntakeError``) when the business content may not be
# read at all; see ``hub.adapters.gate``.
Gate = Callable[[etree._Element], None]
# What to send back when a trusted message fails the intake gate (an applicant told the
# application needs correcting rather than left waiting); see ``Processor``.
RefusalHandler = Callable[[SmevMessage, InboxRecord], Sequence[AgencyRequest]]
_Context = TypeVar("_Context")
_Value = TypeVar("_Value")


@dataclass
class Router:
    """The table of adapters; adapters register themselves in ``bootstrap``, reading what
    they need (an agency's legal basis, where the schemas are, …) from ``settings``, which
    the composition root passes in: no adapter reads the environment itself."""

    settings: Settings
    inbound: dict[str, InboundHandler] = field(default_factory=dict)
    answers: dict[str, AnswerHandler] = field(default_factory=dict)
    commands: dict[str, CommandHandler] = field(default_factory=dict)
    agencies: dict[str, str] = field(default_factory=dict)  # content name → agency
    gates: dict[str, Gate] = field(default_factory=dict)  # content name → its intake gate
    refusals: dict[str, RefusalHandler] = field(default_factory=dict)  # content name → reply
    cancels: dict[str, CancelHandler] = field(default_factory=dict)  # cancelled request's kind

    def register_inbound(
        self,
        content_name: str,
        handler: InboundHandler,
        agency: str | None = None,
        *,
        gate: Gate | None = None,
        refused: RefusalHandler | None = None,
    ) -> None:
        """Handle SMEV messages whose business root element is ``{namespace}LocalName``
        (sent by ``agency``: the SMEV client puts them on its work queue). ``gate`` checks
        the content before the handler sees it, whoever calls the handler; ``refused`` says
        what to send back when the gate refuses a message whose signatures held."""
        self.inbound[content_name] = _gated(handler, gate)
        _put(self.refusals, content_name, refused)
        self._describe(content_name, agency, gate)

    def register_answer(
        self,
        content_name: str,
        handler: AnswerHandler,
        agency: str | None = None,
        *,
        gate: Gate | None = None,
    ) -> None:
        """Handle responses to the hub's own requests whose business root is ``content_name``
        (``gate``: as for ``register_inbound``)."""
        self.answers[content_name] = _gated(handler, gate)
        self._describe(content_name, agency, gate)

    def register_cancel(
        self, content_name: str, handler: CancelHandler, *, gate: Gate | None = None
    ) -> None:
        """Handle SMEV's Cancel of a request to the hub whose business root is
        ``content_name``; the handler gets that request (``gate`` checks its content)."""
        self.cancels[content_name] = _gated(handler, gate)

    def cancel_handler(self, content_name: str | None) -> CancelHandler:
        handler = self.cancels.get(content_name or "")
        if handler is None:
            raise UnknownKindError(
                f"no adapter undoes a request of {content_name or '(none)'} (SMEV Cancel)",
                content=content_name,
                known=sorted(self.cancels),
            )
        return handler

    def _describe(self, content_name: str, agency: str | None, gate: Gate | None) -> None:
        # Who sends this content and what checks it; registering again replaces both.
        _put(self.gates, content_name, gate)
        if agency is not None:
            self.agencies[content_name] = agency

    def agency_of(self, content_name: str | None) -> str | None:
        """The agency whose adapter handles this business content, if one does."""
        return self.agencies.get(content_name or "")

    def register_command(self, command_type: str, handler: CommandHandler) -> None:
        self.commands[command_type] = handler

    def inbound_handler(self, content_name: str | None) -> InboundHandler:
        handler = self.inbound.get(content_name or "")
        if handler is None:
            raise UnknownKindError(
                f"no adapter for business content {content_name or '(none)'}",
                content=content_name,
                known=sorted(self.inbound),
            )
        return handler

    def command_handler(self, command_type: str | None) -> CommandHandler:
        handler = self.commands.get(command_type or "")
        if handler is None:
            raise UnknownKindError(
                f"no handler for registry command type {command_type or '(none)'}",
                command=command_type,
                known=sorted(self.commands),
            )
        return handler


def _put(table: dict[str, _Value], key: str, value: _Value | None) -> None:
    """``table[key] = value``, or no entry when ``value`` is None."""
    if value is not None:
        table[key] = value
    else:
        table.pop(key, None)


def _gated(
    handler: Callable[[SmevMessage, _Context], Translation], gate: Gate | None
) -> Callable[[SmevMessage, _Context], Translation]:
    """``handler`` behind ``gate``: the gate sees the business content first, every time."""
    if gate is None:
        return handler

    @functools.wraps(handler)  # inspect.unwrap(gated) is the handler
    def gated(message: SmevMessage, context: _Context) -> Translation:
        if message.content is not None:
            gate(message.content)
        return handler(message, context)

    return gated
