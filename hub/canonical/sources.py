"""Where a stored message came from: the ``source`` of every inbox record, the first half of
its deterministic id (``hub.canonical.ids.inbox_id_for``), and the ``x-hub-source`` header it
travels with. One list, so that a name is never spelt two ways.

A message an agency system posted over HTTP (``POST /inbound``) carries the principal that
posted it: ``http:<token id>``, so its signers can be checked against that token's grant."""

from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    REGISTRY = "registry"  # a registry command, from the registry's exchange
    SMEV = "smev"  # taken from SMEV's queues by the SMEV client
    SMEV_REFUSAL = "smev-refusal"  # SMEV refused a message the hub sent (kept under its id)
    AMQP = "amqp"  # published to the inbound exchange without a source header
    CLI = "cli"  # read from a file by ``hub translate`` (never stored)
    HTTP = "http"  # posted to /inbound: stored as ``http:<principal id>``


def posted_by(principal_id: str) -> str:
    """The source of a message posted over HTTP by ``principal_id``."""
    return f"{Source.HTTP}:{principal_id}"


def poster_of(source: str) -> str | None:
    """The principal that posted a message over HTTP, or None for any other source."""
    kind, _, principal_id = source.partition(":")
    return principal_id if kind == Source.HTTP and principal_id else None
