"""The hub's machine endpoints: ``POST /inbound/{agency}`` and ``GET /metrics``.

Regional systems outside SMEV post the same signed SOAP messages SMEV would deliver. The
body is bounded, its type checked and parsed once by the hub's hardened parser (is it a SMEV
message at all?); then it is stored in the inbox and handed to the worker exactly as the SMEV
client does, so its signature is verified there like every other message's. The answer is
202 with the inbox id, or 200 with the same id for a delivery the hub already has.
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

from hub.access import Action, Principal
from hub.access.tokens import AuthenticationError
from hub.console.app import Console
from hub.console.web import client_address, peer_certificate, read_body
from hub.errors import HubError
from hub.journal.api import InboundMessage, Received
from hub.smev.client import hand_over
from hub.smev.read import read_message
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
    await console.call(console.access.check, principal, Action.POST, "inbound")
    agency = _agency(console, request)
    content_type = _content_type(request)
    body = await read_body(request, console.hub.settings.xml_max_bytes)
    external_id, kind = _identify(console, request, body, content_type)
    message = InboundMessage(
        source=f"http:{principal.principal_id}",
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
        {"inbox_id": received.inbox_id, "status": received.status.value,
         "duplicate": received.duplicate},
        status,
    )  # fmt: skip


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


def _identify(
    console: Console, request: Request, body: bytes, content_type: str
) -> tuple[str, str | None]:
    """The delivery's id (header, else its SMEV MessageID) and content name; 400 when the
    body is not a SMEV message the hardened parser accepts."""
    try:
        document = parse_message(body, content_type, console.hub.xml_limits)
        smev = read_message(document)
    except HubError as exc:
        raise HTTPException(400, f"not a SMEV message the hub accepts ({exc.code})") from exc
    given = next((request.headers[h] for h in ID_HEADERS if h in request.headers), None)
    if given is not None and not _REQUEST_ID.fullmatch(given):
        raise HTTPException(400, "Idempotency-Key / X-Request-Id: 1-128 of A-Z a-z 0-9 . _ : -")
    external_id = given or smev.message_id
    if not external_id:
        raise HTTPException(400, "no Idempotency-Key or X-Request-Id header and no MessageID")
    return external_id, smev.content_name or smev.kind


def _store_and_hand_over(console: Console, message: InboundMessage) -> Received:
    [received] = console.hub.journal.receive([message])
    hand_over(console.hub.bus, console.hub.topology, [message], [received])
    return received


async def metrics(console: Console, request: Request) -> Response:
    principal = await machine_principal(console, request)
    await console.call(console.access.check, principal, Action.METRICS, "metrics")
    from hub.metrics import render_metrics  # noqa: PLC0415 - loads prometheus_client

    body, content_type = await console.call(render_metrics, console.hub)
    return Response(body, media_type=content_type)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/inbound/{agency}", inbound, ["POST"]),
    ("/metrics", metrics, ["GET"]),
]
