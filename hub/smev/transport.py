"""SMEV 3 over HTTP: one SOAP call to SMEV's endpoint, its answer read by the hub's reader
and a fault raised as its typed error (``hub.smev.faults``). Nothing here knows the journal:
the SMEV client decides what a fault means for a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import requests

from hub.errors import HubError, RetryableError
from hub.smev.faults import raise_for_fault
from hub.smev.read import SmevMessage, read_message

_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


class SmevUnreachableError(RetryableError):
    """SMEV did not answer (refused, dropped, timed out) or answered with something that is
    not a SOAP message (a proxy's error page): try again later."""

    code = "SMEV_UNREACHABLE"


@dataclass(frozen=True, slots=True)
class SmevReply:
    """SMEV's answer as it came (kept byte for byte: its signature stays verifiable), read."""

    body: bytes
    content_type: str | None
    message: SmevMessage


class Transport(Protocol):
    """One SOAP call to SMEV: over HTTP (``HttpTransport``) or in process (the simulator's
    ``ExchangeTransport``)."""

    def call_raw(self, envelope: bytes) -> SmevReply: ...

    def close(self) -> None: ...


@dataclass
class HttpTransport:
    """Calls one SMEV endpoint (one version) over a kept-alive HTTP session."""

    endpoint: str
    timeout: float = 30.0
    _session: requests.Session = field(default_factory=requests.Session, init=False, repr=False)

    def call(self, envelope: bytes) -> SmevMessage:
        """POST a signed envelope; SMEV's answer, read. A SOAP fault raises its
        ``SmevFaultError`` subclass; no answer raises ``SmevUnreachableError``."""
        return self.call_raw(envelope).message

    def call_raw(self, envelope: bytes) -> SmevReply:
        """Like ``call``, with the answer's bytes and content type."""
        reply = self._post(envelope)
        message = self._read(reply)
        raise_for_fault(message)
        return SmevReply(reply.content, reply.headers.get("content-type"), message)

    def close(self) -> None:
        self._session.close()

    def _post(self, envelope: bytes) -> requests.Response:
        try:
            return self._session.post(
                self.endpoint, data=envelope, headers=_HEADERS, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise SmevUnreachableError(
                f"SMEV at {self.endpoint} did not answer ({type(exc).__name__})",
                endpoint=self.endpoint,
            ) from exc

    def _read(self, reply: requests.Response) -> SmevMessage:
        try:
            return read_message(reply.content, reply.headers.get("content-type"))
        except HubError as exc:
            raise SmevUnreachableError(
                f"SMEV at {self.endpoint} answered HTTP {reply.status_code} without a SOAP "
                f"message ({exc.code})",
                endpoint=self.endpoint,
                status=reply.status_code,
            ) from exc
