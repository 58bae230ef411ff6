"""The operator console: server-rendered pages over the operations, and the HTTP endpoints.

Every page needs a logged-in principal whose role allows the page's action; what it lists is
what the operations return for that principal's scope. Every POST form carries the session's
CSRF token. Errors are short pages (or JSON for the machine endpoints): never a traceback,
never personal data.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hub.access import (
    AccessDeniedError,
    AccessService,
    InvalidScopeError,
    TooManyAttemptsError,
)
from hub.access.tokens import AuthenticationError
from hub.bootstrap import Hub
from hub.console import inbound, pages
from hub.console.context import HERE, Console, LoginRequiredError
from hub.console.web import (
    RETRY_AFTER,
    BodyDeadline,
    SecurityHeaders,
    Sessions,
)
from hub.errors import HubError, RetryableError
from hub.journal.errors import InvalidTransitionError, NotFoundError
from hub.protection.masking import mask_text
from hub.services.operations import NothingToReplayError, RevealReasonError

log = structlog.get_logger("hub.console")
MACHINE_PATHS = ("/inbound", "/metrics")  # answered in JSON / text, not pages


Handler = Callable[[Console, Request], Awaitable[Response]]


def create_app(
    hub: Hub, *, access: AccessService | None = None, session_ttl: float = 1800.0
) -> Any:
    """The console and the hub's HTTP endpoints as one ASGI application."""
    console = Console(
        hub,
        access or hub.access,
        Sessions(session_ttl),
    )

    def bind(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(console, request)

        return endpoint

    routes: list[Route | Mount] = [
        Route(path, bind(handler), methods=methods)
        for path, handler, methods in (*pages.ROUTES, *inbound.ROUTES)
    ]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    app = Starlette(routes=routes, exception_handlers=_handlers(console))
    return SecurityHeaders(BodyDeadline(app, hub.settings.console_body_timeout))


def _handlers(console: Console) -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    async def handle(request: Request, exc: Exception) -> Response:
        return _error_response(console, request, exc)

    return {
        Exception: handle,
        HTTPException: handle,
        HubError: handle,
        LoginRequiredError: handle,
        ClientDisconnect: handle,  # gone mid-request: nobody to answer, and not the hub's fault
    }


def _error_response(console: Console, request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequiredError) and not _machine(request):
        return RedirectResponse("/login", status_code=303)
    status, message = _status(exc)
    if status >= 500 and not isinstance(exc, RetryableError):
        incident = uuid.uuid4().hex[:12]
        # The log masks personal data in the detail; the page shows the incident id only.
        log.error(
            "console request failed",
            incident=incident,
            path=request.url.path,
            error=type(exc).__name__,
            detail=str(exc)[:500],
        )
        message = f"internal error (incident {incident}); the log has the details"
    headers = _headers(exc, status)
    if _machine(request):
        body = {"error": message, "status": status, "code": _code(exc, status)}
        return JSONResponse(body, status, headers=headers)
    page = console.render(request, "error.html", status, code=status, message=message)
    page.headers.update(headers)
    return page


def _headers(exc: Exception, status: int) -> dict[str, str]:
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    if status == 401:
        headers["www-authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttemptsError):
        headers["retry-after"] = str(exc.retry_after)
    elif status == 503:
        headers["retry-after"] = str(RETRY_AFTER)  # a dependency is away: ask again soon
    return headers


# Machine endpoints' error codes for refusals that are not the hub's own errors.
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "ACCESS_DENIED",
    404: "NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    503: "UNAVAILABLE",
}


def _code(exc: Exception, status: int) -> str:
    """The error's code as the JSON body names it: the hub's own, else one per status."""
    if isinstance(exc, LoginRequiredError | AuthenticationError):
        return "UNAUTHENTICATED"  # why a token failed is the audit log's, not the sender's
    if isinstance(exc, HubError) and status < 500:
        return exc.code
    return _HTTP_CODES.get(status, "INTERNAL" if status >= 500 else "REFUSED")


# Error type → status and what the page says (None: the error's own message, masked).
# Any other error is the hub's fault: a 500 naming an incident, the details only in the log.
_STATUSES: tuple[tuple[type[Exception], int, str | None], ...] = (
    (LoginRequiredError, 401, "authentication required: a valid API token or client certificate"),
    (AuthenticationError, 401, "authentication required: a valid API token or client certificate"),
    (AccessDeniedError, 403, "not allowed, or not within your scope"),
    (TooManyAttemptsError, 429, None),
    (NothingToReplayError, 404, None),
    (NotFoundError, 404, None),
    (InvalidTransitionError, 409, None),
    (RevealReasonError, 400, None),
    (InvalidScopeError, 400, None),
    (RetryableError, 503, "a dependency of the hub is unavailable; try again shortly"),
    (ClientDisconnect, 400, "the request was not sent whole"),
)


def _status(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    for kind, status, message in _STATUSES:
        if isinstance(exc, kind):
            own = exc.message if isinstance(exc, HubError) else ""
            return status, message or mask_text(own)
    return 500, "internal error"


def _machine(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PATHS)
