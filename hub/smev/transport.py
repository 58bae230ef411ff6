"""SMEV 3 over HTTP: one SOAP call to SMEV's endpoint, its answer read by the hub's reader
and a fault raised as its typed error (``hub.smev.faults``). Nothing here knows the journal:
the SMEV client decides what a fault means for a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import urllib3
from urllib3.util import Retry

from hub.errors import HubError, RetryableError
from hub.smev.read import SmevMessage, raise_for_fault, read_message

_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
# No retrying inside: the SMEV client decides (a resend keeps its MessageID). Only a pooled
# connection that the server closed while idle is opened again, as requests does.
_NO_RETRIES = Retry(0, read=False, redirect=False)


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
    """Calls one SMEV endpoint (one version) over a kept-alive HTTP connection.

    urllib3 directly: ``requests`` added about as much CPU per call again (proxy settings
    read from the environment, cookies, hooks) for nothing a SOAP call uses."""

    endpoint: str
    timeout: float = 30.0
    _pool: urllib3.PoolManager = field(
        default_factory=lambda: urllib3.PoolManager(num_pools=2, maxsize=4, retries=_NO_RETRIES),
        init=False,
        repr=False,
    )

    def call(self, envelope: bytes) -> SmevMessage:
        """POST a signed envelope; SMEV's answer, read. A SOAP fault raises its
        ``SmevFaultError`` subclass; no answer raises ``SmevUnreachableError``."""
        return self.call_raw(envelope).message

    def call_raw(self, envelope: bytes) -> SmevReply:
        """Like ``call``, with the answer's bytes and content type."""
        reply = self._post(envelope)
        message = self._read(reply)
        raise_for_fault(message)
        return SmevReply(reply.data, reply.headers.get("content-type"), message)

    def close(self) -> None:
        self._pool.clear()

    def _post(self, envelope: bytes) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request(
                "POST", self.endpoint, body=envelope, headers=_HEADERS, timeout=self.timeout
            )
        except urllib3.exceptions.HTTPError as exc:
            raise SmevUnreachableError(
                f"SMEV at {self.endpoint} did not answer ({_reason(exc)})",
                endpoint=self.endpoint,
            ) from exc

    def _read(self, reply: urllib3.BaseHTTPResponse) -> SmevMessage:
        try:
            return read_message(reply.data, reply.headers.get("content-type"))
        except HubError as exc:
            raise SmevUnreachableError(
                f"SMEV at {self.endpoint} answered HTTP {reply.status} without a SOAP "
                f"message ({exc.code})",
                endpoint=self.endpoint,
                status=reply.status,
            ) from exc


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    # The wrapped error names what happened (ConnectionRefusedError, RemoteDisconnected…).
    cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    return type(cause).__name__
