"""What every console handler is given: the hub, the access service, sessions and the page
templates (``Console``), and how a request proves its login. The pages and the HTTP endpoints
import this; ``hub.console.app`` puts them together into one ASGI application."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hub.access import (
    AccessService,
    Action,
    Principal,
    allowed,
)
from hub.access.tokens import AuthenticationError
from hub.bootstrap import Hub
from hub.console.web import (
    Session,
    Sessions,
    read_form,
    same_secret,
)
from hub.protection.masking import mask_text

HERE = Path(__file__).parent
LOGIN_CSRF = "hub_login_csrf"


class LoginRequiredError(Exception):
    """No session, an expired one, or its token no longer admits its holder."""


def cookie_name(request: Request) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless Secure, host-only, path /.
    return "__Host-hub_session" if request.url.scheme == "https" else "hub_session"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
    )
    env.globals["mask"] = mask_text  # every page masks personal data in free text
    return env


@dataclass
class Console:
    """What every handler needs: the hub, who is asking, sessions, templates."""

    hub: Hub
    access: AccessService
    sessions: Sessions = field(default_factory=Sessions)
    templates: Environment = field(default_factory=_environment)

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        principal: Principal | None = getattr(request.state, "principal", None)
        page = self.templates.get_template(name).render(
            request=request, session=session, principal=principal, can=_can(principal), **context
        )
        return HTMLResponse(page, status_code=status)

    async def principal(self, request: Request) -> Principal:
        """The logged-in principal; its token is authenticated again on every request."""
        session = self.sessions.get(request.cookies.get(cookie_name(request)))
        if session is None:
            raise LoginRequiredError
        try:
            principal = await run_in_threadpool(self.access.authenticate, session.token)
        except AuthenticationError as exc:
            self.sessions.close(session.session_id)
            raise LoginRequiredError from exc
        request.state.session, request.state.principal = session, principal
        return principal

    async def form(self, request: Request) -> dict[str, str]:
        """The posted form of a logged-in page, refused (403) without the session's CSRF token."""
        form = await read_form(request)
        session: Session = request.state.session
        if not same_secret(form.get("csrf"), session.csrf):
            raise HTTPException(403, "the form is out of date or forged (CSRF token missing)")
        return form

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(function, *args, **kwargs)


def _can(principal: Principal | None) -> Mapping[str, bool]:
    if principal is None:
        return {}
    return {action.value: allowed(principal, action) for action in Action}


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)
