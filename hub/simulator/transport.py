"""The in-memory twin of ``hub.smev.transport.HttpTransport``: SOAP calls handed straight to
an ``Exchange`` in the same process, answered and read exactly as over HTTP (faults raised as
their typed errors), only without sockets."""

from __future__ import annotations

from dataclasses import dataclass

from hub.simulator.exchange import Exchange
from hub.smev.read import raise_for_fault, read_message
from hub.smev.transport import SmevReply
from hub.smev.versions import SmevVersion

_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass
class ExchangeTransport:
    """Calls the simulator's ``exchange`` at its endpoint of ``version``."""

    exchange: Exchange
    version: str | SmevVersion = SmevVersion.V1_3

    def call_raw(self, envelope: bytes) -> SmevReply:
        reply = self.exchange.handle(envelope, self.version, _CONTENT_TYPE)
        message = read_message(reply.body, reply.content_type)
        raise_for_fault(message)
        return SmevReply(reply.body, reply.content_type, message)

    def close(self) -> None:
        """Nothing to release: no connection was opened."""
