"""The console's plumbing: sessions, CSRF, bounded form bodies, security headers.

A session cookie holds a random id only; the token stays on the server beside it and is
authenticated again on every request, so a revoked or expired token stops working at once.
Each principal keeps at most ``PER_PRINCIPAL`` sessions (its least recently used goes first),
so one token logging in again and again never pushes anyone else's session out.
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

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20
PER_PRINCIPAL = 20
RETRY_AFTER = 5  # seconds an overloaded or unavailable console asks a client to wait


@dataclass(slots=True)
class Session:
    session_id: str
    token: str
    csrf: str
    expires: float
    principal_id: str = ""


class Sessions:
    """Logged-in sessions in memory (one console process): sliding expiry, at most
    ``per_principal`` for each principal, and ``limit`` in all (a bound on memory)."""

    def __init__(
        self,
        ttl: float = 1800.0,
        limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        per_principal: int = PER_PRINCIPAL,
    ) -> None:
        self.ttl, self.limit, self.clock, self.per_principal = ttl, limit, clock, per_principal
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._by_principal: dict[str, OrderedDict[str, None]] = {}
        self._lock = threading.Lock()

    def open(self, token: str, principal_id: str) -> Session:
        session = Session(
            secrets.token_urlsafe(32), token, secrets.token_urlsafe(32), 0.0, principal_id
        )
        with self._lock:
            self._touch(session)
            own = self._by_principal[principal_id]
            while len(own) > self.per_principal:
                self._drop(next(iter(own)))  # that principal's least recently used
            while len(self._sessions) > self.limit:
                self._drop(next(iter(self._sessions)))  # the least recently used of all
        return session

    def get(self, session_id: str | None) -> Session | None:
        with self._lock:
            session = self._sessions.get(session_id or "")
            if session is None or session.expires <= self.clock():
                self._drop(session_id or "")
                return None
            self._touch(session)
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._drop(session_id or "")

    def count(self, principal_id: str) -> int:
        with self._lock:
            return len(self._by_principal.get(principal_id, ()))

    def _touch(self, session: Session) -> None:
        session.expires = self.clock() + self.ttl
        self._sessions[session.session_id] = session
        self._sessions.move_to_end(session.session_id)
        own = self._by_principal.setdefault(session.principal_id, OrderedDict())
        own[session.session_id] = None
        own.move_to_end(session.session_id)

    def _drop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        own = self._by_principal.get(session.principal_id)
        if own is not None:
            own.pop(session_id, None)
            if not own:
                del self._by_principal[session.principal_id]


def client_address(request: Request) -> str:
    """The TCP peer's address: the one address the hub can trust (behind a reverse proxy it
    is the proxy's; ``X-Forwarded-For`` and the like are anyone's to write)."""
    return request.client.host if request.client is not None else "unknown"


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def read_form(request: Request) -> dict[str, str]:
    """A small url-encoded form: 415 for another type, 413 when too big, 400 when malformed."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise HTTPException(415, f"this form must be sent as {FORM_TYPE}")
    body = await read_body(request, MAX_FORM_BYTES)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
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
                    *message.get("headers", []),
                    *(h for h in extra if h[0] not in names),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyDeadline:
    """A request's body must arrive within ``seconds`` of its start, or the request is
    answered 408 (and the connection closed): a client trickling a body cannot hold a place
    for as long as it likes. Reading after the body (a wait for a disconnect) is not bounded."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline, complete = anyio.current_time() + self.seconds, False

        async def bounded() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise HTTPException(
                    408,
                    f"the request's body did not arrive within {self.seconds:g} s",
                    headers={"connection": "close"},
                )
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, bounded, send)


def peer_certificate(request: Request) -> str | None:
    """The PEM client certificate the TLS layer verified (ASGI TLS extension), if any."""
    tls: Any = request.scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return str(chain[0]) if chain else None
