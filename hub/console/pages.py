"""The console's pages: login, dashboard, failed messages, audit log, outbound requests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.access import AccessDeniedError, Action, Principal, TooManyAttemptsError
from hub.access.service import audit_scope
from hub.access.tokens import AuthenticationError
from hub.bootstrap import Hub
from hub.console.context import LOGIN_CSRF, Console, LoginRequiredError, cookie_name, new_login_csrf
from hub.console.layout import lay_out
from hub.console.web import client_address, read_form, same_secret
from hub.journal.records import AuditEntry, AuditOutcome, AuditQuery, FailedMessage, OutboundState
from hub.services.health import check_health
from hub.services.operations import ReplayResult

log = structlog.get_logger("hub.console")

_ID = re.compile(r"[0-9A-Za-z_-]{1,100}")
ACTIONS = {"replay": Action.REPLAY, "discard": Action.DISCARD}
DASHBOARD_WAITING = 20  # requests waiting on agencies listed on the dashboard (all counted)
REPLAY_BATCH = 100
MAX_REASON = 500


def _path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not _ID.fullmatch(value):
        raise HTTPException(404, "no such page")
    return value


def _action(request: Request) -> Action:
    action = ACTIONS.get(str(request.path_params["action"]))
    if action is None:
        raise HTTPException(404, "no such page")
    return action


def _reason(form: dict[str, str], *, required: bool) -> str:
    reason = " ".join(form.get("reason", "").split())
    if required and not reason:
        raise HTTPException(400, "give a reason: it goes to the audit log")
    if len(reason) > MAX_REASON:
        raise HTTPException(400, f"the reason is longer than {MAX_REASON} characters")
    return reason


# --- login ------------------------------------------------------------------------------


async def login_form(
    console: Console, request: Request, error: str = "", status: int = 200
) -> Response:
    token = new_login_csrf()
    response = console.render(request, "login.html", status, csrf=token, error=error)
    response.set_cookie(
        LOGIN_CSRF,
        token,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=request.url.scheme == "https",
    )
    return response


async def login(console: Console, request: Request) -> Response:
    form = await read_form(request)
    if not same_secret(form.get("csrf"), request.cookies.get(LOGIN_CSRF, "\x00")):
        return await login_form(console, request, "the login form expired: try again", 403)
    source = client_address(request)
    try:
        principal = await console.call(console.access.authenticate, form.get("token", ""), source)
    except AuthenticationError:
        return await login_form(console, request, "this token is not accepted", 401)
    except TooManyAttemptsError as exc:
        refused = await login_form(console, request, exc.message, 429)
        refused.headers["retry-after"] = str(exc.retry_after)
        return refused
    try:  # a role that may not view is refused here, and audited like any denial
        await console.call(console.access.check, principal, Action.VIEW, "console")
    except AccessDeniedError:
        return await login_form(console, request, "this token's role may not use the console", 403)
    session = console.sessions.open(form.get("token", "").strip(), principal.principal_id)
    await console.call(_audit_session, console, principal, "login", source)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        cookie_name(request),
        session.session_id,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF, path="/login")
    return response


async def logout(console: Console, request: Request) -> Response:
    try:
        await console.principal(request)
    except LoginRequiredError:
        return RedirectResponse("/login", status_code=303)
    await console.form(request)
    console.sessions.close(request.state.session.session_id)
    principal: Principal = request.state.principal
    await console.call(_audit_session, console, principal, "logout", client_address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(cookie_name(request), path="/")
    return response


def _audit_session(console: Console, principal: Principal, action: str, source: str) -> None:
    """A console login or logout, in the audit log (filed under the principal's scope)."""
    log.info(
        f"console {action}",
        principal=principal.principal_id,
        role=principal.role.value,
        scope=principal.scope,
        source=source,
    )
    details = {"source": source, "via": "console"}
    console.access.journal.audit(
        principal.label(),
        action,
        principal.principal_id,
        "",
        details,
        scope=audit_scope(principal),
    )


# --- looking ----------------------------------------------------------------------------


async def dashboard(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    data = await console.call(_dashboard, console.hub, principal)
    return console.render(request, "dashboard.html", **data)


def _dashboard(hub: Hub, principal: Principal) -> dict[str, Any]:
    ops, since = hub.operations, datetime.now(UTC) - timedelta(hours=24)
    waiting = ops.outbound_requests(
        principal, OutboundState.ACCEPTED, DASHBOARD_WAITING, replies=False
    )  # the newest of them; the tiles count them all in the database
    health = None
    if principal.region_wide:  # queues and the backlog are the region's, not a school's
        health = check_health(hub, timeout=2.0, only=("broker", "database"))
    return {
        "activity": ops.activity(principal, since),
        "groups": ops.groups(principal),
        "outbound": ops.outbound_counts(principal),
        "waiting": waiting,
        "health": health,
    }


async def groups(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    found = await console.call(console.hub.operations.groups, principal)
    return console.render(request, "groups.html", groups=found)


async def group(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    fingerprint = _path_id(request, "fingerprint")
    found = await console.call(
        console.hub.operations.failed, principal, fingerprint=fingerprint, limit=500
    )
    if not found:
        raise HTTPException(404, f"no open failed messages in group {fingerprint} in your scope")
    return console.render(request, "group.html", fingerprint=fingerprint, messages=found)


async def message(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    view = await console.call(
        console.hub.operations.show, principal, _path_id(request, "failed_id")
    )
    layout = await console.call(lay_out, view.body)  # masked first: laid out as shown
    return console.render(request, "message.html", view=view, layout=layout)


async def reveal(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    failed_id = _path_id(request, "failed_id")
    reason = _reason(await console.form(request), required=True)
    view = await console.call(console.hub.operations.reveal, principal, failed_id, reason)
    layout = await console.call(lay_out, view.body)
    return console.render(request, "message.html", view=view, layout=layout)


async def audit(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    wanted = _audit_request(request)
    found = await console.call(
        console.hub.operations.audit_log, principal, wanted.size + 1, wanted.query
    )
    page = AuditPage.of(wanted, found)
    return console.render(
        request,
        "audit.html",
        page=page,
        wanted=wanted,
        outcomes=list(AuditOutcome),
        actions=AUDIT_ACTIONS,
    )


# --- the audit log: filters and pages -----------------------------------------------------

AUDIT_PAGE, AUDIT_PAGE_MAX = 50, 200
AUDIT_ACTIONS = (  # offered in the filter; any word of this shape may be typed
    "authenticate",
    "login",
    "logout",
    "reveal",
    "replay",
    "replay-result",
    "discard",
    "view",
    "audit",
    "post",
    "metrics",
    "manage-tokens",
    "issue_token",
    "revoke_token",
    "purge",
    "rotate_keys",
)
_AUDIT_ACTION = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_ENTRY_ID = re.compile(r"[0-9]{1,18}")
MAX_ACTOR = 100


@dataclass(frozen=True)
class AuditRequest:
    """The audit page asked for: filters and a cursor, every one checked."""

    query: AuditQuery
    size: int

    def link(self, **cursor: int) -> str:
        q = self.query
        given = {
            "action": q.action,
            "actor": q.actor,
            "outcome": q.outcome.value if q.outcome else None,
            "size": self.size if self.size != AUDIT_PAGE else None,
            **cursor,
        }
        return "/audit?" + urlencode({k: v for k, v in given.items() if v is not None})


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    newer: str | None  # links to the neighbouring pages (None: there is none)
    older: str | None

    @classmethod
    def of(cls, wanted: AuditRequest, found: list[AuditEntry]) -> AuditPage:
        """One page from up to ``size + 1`` entries (the extra one says there is more)."""
        size, query = wanted.size, wanted.query
        more = len(found) > size
        entries = found[1:] if more and query.after is not None else found[:size]
        if not entries:
            return cls([], None, None)
        newer_exists = query.before is not None or (query.after is not None and more)
        older_exists = query.after is not None or more
        newer = wanted.link(after=entries[0].entry_id) if newer_exists else None
        older = wanted.link(before=entries[-1].entry_id) if older_exists else None
        return cls(entries, newer, older)


def _audit_request(request: Request) -> AuditRequest:
    """The audit page's filters and cursor from the query string: 400 for anything else."""
    params = request.query_params
    action, actor = params.get("action", "").strip(), " ".join(params.get("actor", "").split())
    if action and not _AUDIT_ACTION.fullmatch(action):
        raise HTTPException(400, "action: a word of a-z, 0-9, '_' and '-' (e.g. reveal)")
    if len(actor) > MAX_ACTOR or not actor.isprintable():
        raise HTTPException(400, f"actor: at most {MAX_ACTOR} printable characters")
    query = AuditQuery(
        action or None,
        actor or None,
        _outcome(params.get("outcome", "")),
        _entry_id(params, "before"),
        _entry_id(params, "after"),
    )
    return AuditRequest(query, _page_size(params.get("size", "")))


def _outcome(text: str) -> AuditOutcome | None:
    try:
        return AuditOutcome(text) if text else None
    except ValueError as exc:
        known = ", ".join(o.value for o in AuditOutcome)
        raise HTTPException(400, f"outcome: one of {known}") from exc


def _entry_id(params: Any, name: str) -> int | None:
    text = params.get(name, "")
    if text and not _ENTRY_ID.fullmatch(text):
        raise HTTPException(400, f"{name}: an entry number")
    return int(text) if text else None


def _page_size(text: str) -> int:
    if not text:
        return AUDIT_PAGE
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= AUDIT_PAGE_MAX:
        raise HTTPException(400, f"size: 1 to {AUDIT_PAGE_MAX} entries a page")
    return int(text)


async def outbound(console: Console, request: Request) -> Response:
    principal = await console.principal(request)
    state = _state(request.query_params.get("state"))
    only = request.query_params.get("only", "")
    if only not in ONLY:
        raise HTTPException(400, "only: requests or replies")
    found = await console.call(
        console.hub.operations.outbound_requests, principal, state, 500, replies=ONLY[only]
    )
    return console.render(
        request, "outbound.html", requests=found, state=state, only=only, states=list(OutboundState)
    )


# The outbound page's ``only``: the hub's requests (SendRequest) or its replies (SendResponse).
ONLY: dict[str, bool | None] = {"": None, "requests": False, "replies": True}


def _state(text: str | None) -> OutboundState | None:
    if not text:
        return None
    try:
        return OutboundState(text)
    except ValueError as exc:
        known = ", ".join(s.value for s in OutboundState)
        raise HTTPException(400, f"unknown state; one of {known}") from exc


# --- acting: a confirmation page (GET), then the action (POST) --------------------------


async def confirm_message(console: Console, request: Request) -> Response:
    principal, action = await console.principal(request), _action(request)
    chosen = await console.call(_select, console.hub, principal, request, action)
    return console.render(
        request,
        "confirm.html",
        action=action.value,
        chosen=chosen,
        target=f"message {chosen[0].failed_id}",
    )


async def confirm_group(console: Console, request: Request) -> Response:
    principal, action = await console.principal(request), _action(request)
    chosen = await console.call(_select, console.hub, principal, request, action)
    return console.render(
        request,
        "confirm.html",
        action=action.value,
        chosen=chosen,
        target=f"group {chosen[0].fingerprint}",
    )


async def act(console: Console, request: Request) -> Response:
    principal, action = await console.principal(request), _action(request)
    form = await console.form(request)
    reason = _reason(form, required=action is Action.DISCARD)
    chosen = await console.call(_select, console.hub, principal, request, action)
    if action is Action.REPLAY:
        results = await console.call(_replay, console.hub, principal, chosen)
        return console.render(request, "replayed.html", results=results)
    await console.call(_discard, console.hub, principal, chosen, reason)
    return console.render(request, "discarded.html", chosen=chosen, reason=reason)


def _select(
    hub: Hub, principal: Principal, request: Request, action: Action
) -> list[FailedMessage]:
    if "failed_id" in request.path_params:
        ids = [_path_id(request, "failed_id")]
        return hub.operations.select(principal, ids, None, False, action)
    fingerprint = _path_id(request, "fingerprint")
    return hub.operations.select(principal, [], fingerprint, False, action)


def _replay(hub: Hub, principal: Principal, chosen: Sequence[FailedMessage]) -> list[ReplayResult]:
    results: list[ReplayResult] = []
    for start in range(0, len(chosen), REPLAY_BATCH):
        results += hub.operations.replay(principal, chosen[start : start + REPLAY_BATCH])
    return results


def _discard(hub: Hub, principal: Principal, chosen: Sequence[FailedMessage], reason: str) -> None:
    for failed in chosen:
        hub.operations.discard(principal, failed.failed_id, reason)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/login", login_form, ["GET"]),
    ("/login", login, ["POST"]),
    ("/logout", logout, ["POST"]),
    ("/", dashboard, ["GET"]),
    ("/failed", groups, ["GET"]),
    ("/failed/groups/{fingerprint}", group, ["GET"]),
    ("/failed/groups/{fingerprint}/{action}", confirm_group, ["GET"]),
    ("/failed/groups/{fingerprint}/{action}", act, ["POST"]),
    ("/failed/messages/{failed_id}", message, ["GET"]),
    ("/failed/messages/{failed_id}/reveal", reveal, ["POST"]),
    ("/failed/messages/{failed_id}/{action}", confirm_message, ["GET"]),
    ("/failed/messages/{failed_id}/{action}", act, ["POST"]),
    ("/audit", audit, ["GET"]),
    ("/outbound", outbound, ["GET"]),
]
