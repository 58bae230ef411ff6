"""The console's plumbing: sessions, CSRF, bounded form bodies, security headers.

A session cookie holds a random id only; the token stays on the server beside it and is
authenticated again on every request, so a revoked or expired token stops working at once.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20


@dataclass(slots=True)
class Session:
    session_id: str
    token: str
    csrf: str
    expires: float


class Sessions:
    """Logged-in sessions in memory (one console process): sliding expiry, bounded count."""

    def __init__(
        self, ttl: float = 1800.0, limit: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, token: str) -> Session:
        session = Session(secrets.token_urlsafe(32), token, secrets.token_urlsafe(32), 0.0)
        with self._lock:
            self._touch(session)
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)  # the least recently used goes first
        return session

    def get(self, session_id: str | None) -> Session | None:
        with self._lock:
            session = self._sessions.get(session_id or "")
            if session is None or session.expires <= self.clock():
                self._sessions.pop(session_id or "", None)
                return None
            self._touch(session)
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def _touch(self, session: Session) -> None:
        session.expires = self.clock() + self.ttl
        self._sessions[session.session_id] = session
        self._sessions.move_to_end(session.session_id)


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def read_form(request: Request) -> dict[str, str]:
    """A small url-encoded form: 415 for another type, 413 when too big, 400 when malformed."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise HTTPException(415, f"this form must be sent as {FORM_TYPE}")
    body = await read_body(request, MAX_FORM_BYTES)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
            max_num_fields=MAX_FORM_FIELDS, errors="strict",
        )  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "the form could not be read (malformed body)") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form or "\x00" in value:
            raise HTTPException(400, f"the form field {key[:40]!r} is repeated or malformed")
        form[key] = value
    return form


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413 if declared.isdigit() else 400, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",  # pages may hold personal data once revealed
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` (and HSTS over HTTPS) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", b"max-age=31536000"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []), *(h for h in extra if h[0] not in names)
                ]  # fmt: skip
            await send(message)

        await self.app(scope, receive, with_headers)


def peer_certificate(request: Request) -> str | None:
    """The PEM client certificate the TLS layer verified (ASGI TLS extension), if any."""
    tls: Any = request.scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return str(chain[0]) if chain else None
