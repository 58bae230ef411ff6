"""The hub's machine endpoints: ``POST /inbound/{agency}`` and ``GET /metrics``.

Regional systems outside SMEV post the same signed SOAP messages SMEV would deliver, each
only for the agencies its token (or client certificate) names. The body is bounded, its type
checked and parsed once by the hub's hardened parser in a worker thread (is it a SMEV message
at all?), so a large MTOM body never holds up other requests; then it is stored in the inbox
and handed to the worker exactly as the SMEV client does, so its signature is verified there
like every other message's. The answer is 202 with the inbox id, 200 with the same id for a
delivery the hub already has, 409 for another message under a delivery id already used.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.access import AccessDeniedError, Action, Principal
from hub.access.scopes import REGION
from hub.access.tokens import AuthenticationError
from hub.canonical.sources import posted_by
from hub.console.context import Console
from hub.console.web import client_address, peer_certificate, read_body
from hub.errors import HubError
from hub.journal.records import InboundMessage, Received
from hub.services.ingress import hand_over
from hub.smev.read import SmevMessage, read_message
from hub.xml import parse_message

XML_TYPES = ("text/xml", "application/xml", "application/soap+xml", "multipart/related")
_AGENCY = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_REQUEST_ID = re.compile(r"[0-9A-Za-z._:-]{1,128}")
ID_HEADERS = ("idempotency-key", "x-request-id")


async def machine_principal(console: Console, request: Request) -> Principal:
    """Who posts: the bearer token if one is sent, else the verified client certificate."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "use 'Authorization: Bearer <API token>'")
        principal: Principal = await console.call(
            console.access.authenticate, token.strip(), client_address(request)
        )
        return principal
    pem = peer_certificate(request)
    if pem is None:
        raise AuthenticationError("no API token and no client certificate")
    sha256 = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    by_certificate: Principal = await console.call(
        console.access.authenticate_certificate, sha256, client_address(request)
    )
    return by_certificate


async def inbound(console: Console, request: Request) -> Response:
    principal = await machine_principal(console, request)
    agency = _agency(console, request)
    await _authorize(console, principal, agency)
    content_type = _content_type(request)
    given = _given_id(request)
    body = await read_body(request, console.hub.settings.xml_max_bytes)
    # Parsed in a thread: an MTOM body of many parts takes a while, and the event loop
    # serves every other request meanwhile.
    smev: SmevMessage = await console.call(_read, console, body, content_type)
    external_id = given or smev.message_id
    if not external_id:
        raise HTTPException(400, "no Idempotency-Key or X-Request-Id header and no MessageID")
    kind = smev.content_name or smev.kind
    message = InboundMessage(
        source=posted_by(principal.principal_id),
        external_id=external_id,
        raw=body,
        agency=agency,
        kind=kind,
        content_type=content_type,
        headers={"x-hub-http-principal": principal.principal_id},
        received_at=datetime.now(UTC),
        scope=None if principal.region_wide else principal.scope,
    )
    received = await console.call(_store_and_hand_over, console, message)
    status = 200 if received.duplicate else 202
    return JSONResponse(
        {
            "inbox_id": received.inbox_id,
            "status": received.status.value,
            "duplicate": received.duplicate,
        },
        status,
    )


async def _authorize(console: Console, principal: Principal, agency: str) -> None:
    """403 (audited) unless ``principal`` is an agency system bound to ``agency``; the answer
    says why, so that a system's operator knows what to change."""
    try:
        await console.call(console.access.check_inbound, principal, agency)
    except AccessDeniedError as exc:
        raise HTTPException(403, exc.message) from exc


def _agency(console: Console, request: Request) -> str:
    agency = str(request.path_params["agency"])
    if not _AGENCY.fullmatch(agency) or agency not in console.hub.settings.agencies:
        raise HTTPException(404, "no such agency endpoint")
    return agency


def _content_type(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in XML_TYPES:
        raise HTTPException(415, f"send a SOAP message as one of {', '.join(XML_TYPES)}")
    return content_type


def _given_id(request: Request) -> str | None:
    """The sender's id for this delivery (``Idempotency-Key`` or ``X-Request-Id``), if any."""
    given = next((request.headers[h] for h in ID_HEADERS if h in request.headers), None)
    if given is not None and not _REQUEST_ID.fullmatch(given):
        raise HTTPException(400, "Idempotency-Key / X-Request-Id: 1-128 of A-Z a-z 0-9 . _ : -")
    return given


def _read(console: Console, body: bytes, content_type: str) -> SmevMessage:
    """The SMEV message in ``body``; 400 when the hardened parser does not accept it as one
    (too deep, too many MIME parts, not SMEV…). Slow for a large body: call it in a thread."""
    try:
        return read_message(parse_message(body, content_type, console.hub.xml_limits))
    except HubError as exc:
        detail = f"{exc.code}: {exc.message}" if exc.code == "MTOM" else exc.code
        raise HTTPException(400, f"not a SMEV message the hub accepts ({detail})") from exc


def _store_and_hand_over(console: Console, message: InboundMessage) -> Received:
    [received] = console.hub.journal.receive([message])
    if received.duplicate:
        _refuse_another_message(console, message)
    hand_over(console.hub.bus, console.hub.topology, [message], [received])
    return received


def _refuse_another_message(console: Console, resent: InboundMessage) -> None:
    """409 when the hub keeps another message under the same delivery id (a reused key):
    the new one would otherwise be dropped as a duplicate without anyone knowing."""
    kept = console.hub.journal.inbox(resent.inbox_id)
    if kept is not None and kept.raw == resent.raw and kept.agency == resent.agency:
        return
    raise HTTPException(
        409,
        f"delivery id {resent.external_id!r} was used before for another message (a different "
        f"body or agency): nothing stored; send a new message under a new Idempotency-Key "
        f"(or MessageID)",
    )


async def metrics(console: Console, request: Request) -> Response:
    """Prometheus text, for region-wide principals only: the counters and gauges add up every
    scope's messages (one school's failures and backlog among the region's), so they are the
    region's to read, like a message of scope ``*`` (a refusal is audited)."""
    principal = await machine_principal(console, request)
    await console.call(console.access.check, principal, Action.METRICS, "metrics", REGION)
    from hub.console.metrics import render_metrics  # noqa: PLC0415 - loads prometheus_client

    body, content_type = await console.call(render_metrics, console.hub)
    return Response(body, media_type=content_type)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/inbound/{agency}", inbound, ["POST"]),
    ("/metrics", metrics, ["GET"]),
]
