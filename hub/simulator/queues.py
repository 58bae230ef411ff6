"""One information system's queue: selectors, in-flight messages and redelivery.

A message taken by GetRequest/GetResponse stays "in flight" until it is acked; if no Ack
comes within the visibility timeout it is put back at the head of the queue and handed out
again. In the ``head`` mode (``Quirks.head_until_acked``) a poll gets the oldest message in
flight again, until it is acked, before any other. Not thread-safe: the Exchange guards
every mailbox with its lock.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from lxml import etree

from hub.simulator.filestore import FileAccess
from hub.simulator.replies import Metadata, Original
from hub.smev.versions import SmevVersion


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    """Where the answer to a request goes: SMEV's opaque ReplyTo (base64 JSON, as in real
    SMEV), copied by the provider into the response's To."""

    sender: str
    message_id: str
    node_id: str | None = None
    reference_message_id: str | None = None
    transaction_code: str | None = None
    kind: str | None = None

    def encode(self) -> str:
        """The ReplyTo text."""
        fields = {
            "s": self.sender,
            "m": self.message_id,
            "n": self.node_id,
            "r": self.reference_message_id,
            "t": self.transaction_code,
            "k": self.kind,
        }
        packed = json.dumps({k: v for k, v in fields.items() if v is not None}).encode()
        return base64.b64encode(packed).decode("ascii")

    @classmethod
    def decode(cls, text: str | None) -> ReplyAddress | None:
        """The address in a response's To, or None if it is not one SMEV gave out."""
        try:
            fields = json.loads(base64.b64decode(text or "", validate=True))
            return cls(
                str(fields["s"]),
                str(fields["m"]),
                fields.get("n"),
                fields.get("r"),
                fields.get("t"),
                fields.get("k"),
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class Filter:
    """MessageTypeSelector as a filter: ``kind`` is ``{namespace}root`` (None: any kind);
    ``node_id`` picks messages for that node and those addressed to no node."""

    kind: str | None = None
    node_id: str | None = None
    cancels: bool = True  # False for a 1.3 poll: that version has no Cancel to deliver

    def matches(self, letter: Letter) -> bool:
        """Whether ``letter`` passes this filter."""
        if self.kind is not None and self.kind not in letter.kinds:
            return False
        if letter.cancels is not None and not self.cancels:
            return False
        return self.node_id is None or letter.node_id in (None, self.node_id)


@dataclass(slots=True, eq=False)
class Letter:
    """One message waiting for its recipient, with what its delivery is built from.

    ``data`` is SenderProvidedRequestData or SenderProvidedResponseData in ``version``;
    ``kinds`` are the qualified names a selector may ask for (a response also answers to
    its request's kind); ``wire`` caches the signed delivery per version. A Cancel names the
    request it cancels in ``cancels`` (its ``data`` is the MessageReference).
    """

    message_id: str
    kinds: frozenset[str]
    node_id: str | None
    data: etree._Element
    version: SmevVersion
    metadata: Metadata
    reply_to: str | None = None
    original: Original | None = None
    attachments: etree._Element | None = None
    file_access: tuple[FileAccess, ...] = ()  # documents in the file store (FSAttachmentsList)
    cancels: str | None = None  # a Cancel: the MessageID of the request it cancels
    sender_signature: etree._Element | None = None  # the caller's, from its call
    duplicate: bool = False
    deliveries: int = 0
    wire: dict[SmevVersion, bytes] = field(default_factory=dict)

    @property
    def is_request(self) -> bool:
        """A request (GetRequest) rather than a response (GetResponse)."""
        return self.original is None


class Mailbox:
    """The request or response queue of one system."""

    def __init__(self) -> None:
        self._waiting: deque[Letter] = deque()
        self._in_flight: OrderedDict[str, tuple[float, Letter]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._waiting) + len(self._in_flight)

    @property
    def waiting(self) -> int:
        """Messages that the next poll can get."""
        return len(self._waiting)

    def put(self, letter: Letter, *, first: bool = False) -> None:
        """Queue ``letter`` at the tail (or, redelivered, at the head)."""
        if first:
            self._waiting.appendleft(letter)
        else:
            self._waiting.append(letter)

    def take(
        self, selector: Filter, now: float, timeout: float, *, head: bool = False
    ) -> Letter | None:
        """The oldest message ``selector`` lets through, now in flight until ``now+timeout``;
        ``head``: the oldest one in flight and not acked yet, if any, once more."""
        self._expire(now)
        if head:
            repeated = self._oldest_in_flight(selector)
            if repeated is not None:
                repeated.deliveries += 1
                return repeated
        for index, letter in enumerate(self._waiting):
            if selector.matches(letter):
                del self._waiting[index]
                letter.deliveries += 1
                self._in_flight[letter.message_id] = (now + timeout, letter)
                return letter
        return None

    def ack(self, message_id: str) -> Letter | None:
        """Remove a delivered message; None if it was never delivered or is acked already.

        A message whose visibility timeout ran out but that was not handed out again can
        still be acked: the recipient did get it.
        """
        entry = self._in_flight.pop(message_id, None)
        if entry is not None:
            return entry[1]
        for index, letter in enumerate(self._waiting):
            if letter.message_id == message_id and letter.deliveries:
                del self._waiting[index]
                return letter
        return None

    def _oldest_in_flight(self, selector: Filter) -> Letter | None:
        # Its visibility deadline stays: without an Ack it goes back to the queue as ever.
        return next((e[1] for e in self._in_flight.values() if selector.matches(e[1])), None)

    def _expire(self, now: float) -> None:
        # Deadlines grow with insertion (one timeout for all): expired ones are in front.
        expired: list[Letter] = []
        while self._in_flight:
            deadline, letter = next(iter(self._in_flight.values()))
            if deadline > now:
                break
            self._in_flight.popitem(last=False)
            expired.append(letter)
        for letter in reversed(expired):
            self.put(letter, first=True)
