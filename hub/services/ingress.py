"""Ingress: how a message enters the hub. It is stored first (the journal), then handed to the
inbound exchange for the worker; the SMEV client and ``POST /inbound`` both do it this way, so
a message is never acknowledged to its sender before it is stored."""

from __future__ import annotations

from collections.abc import Sequence

from hub.journal.records import InboundMessage, InboxStatus, Received
from hub.routing.api import AGENCY_HEADER, KIND_HEADER, SOURCE_HEADER, STORED_HEADER, Bus, Outgoing
from hub.routing.topology import Topology

UNROUTED = "unrouted"  # no adapter claims the content: the unrouted queue keeps it


def hand_over(
    bus: Bus, topology: Topology, messages: Sequence[InboundMessage], received: Sequence[Received]
) -> None:
    """Publish the stored messages the worker has yet to finish to the inbound exchange (a
    redelivery of a finished one is not); the HTTP inbound endpoint hands over the same way."""
    waiting = [m for m, r in zip(messages, received, strict=True) if _unfinished(r)]
    if waiting:
        bus.publish(topology.inbound_exchange.name, [_outgoing(m) for m in waiting])


def _unfinished(received: Received) -> bool:
    return not received.duplicate or received.status == InboxStatus.RECEIVED


def _outgoing(message: InboundMessage) -> Outgoing:
    # An empty agency header: no adapter claims the content. It lands in the unrouted queue,
    # where the worker processes it anyway and keeps it with the reason.
    headers = {
        SOURCE_HEADER: message.source,
        AGENCY_HEADER: message.agency or "",
        STORED_HEADER: "1",
    }
    if message.kind:
        headers[KIND_HEADER] = message.kind
    return Outgoing(
        message.raw,
        message.agency or UNROUTED,
        headers,
        message.external_id,
        message.content_type,
    )
