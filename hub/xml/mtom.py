"""MTOM/XOP: a SOAP message sent as multipart/related with binary parts beside it."""

from __future__ import annotations

import base64
import email.parser
import email.policy
from email.message import Message
from typing import cast
from urllib.parse import unquote

from lxml import etree

from hub.errors import MultipartError
from hub.xml.parser import DEFAULT_LIMITS, Attachment, XmlDocument, XmlLimits, parse_xml

XOP_NS = "http://www.w3.org/2004/08/xop/include"
_XOP_INCLUDE = f"{{{XOP_NS}}}Include"
_XOP_ROOT_TYPES = ("application/xop+xml", "text/xml", "application/soap+xml")


def looks_like_multipart(data: bytes, content_type: str | None) -> bool:
    """True if the body is multipart: by its Content-Type, or by a leading MIME boundary."""
    if content_type is not None:
        return content_type.lower().lstrip().startswith("multipart/")
    return data.lstrip(b"\r\n").startswith(b"--")


def parse_message(
    data: bytes, content_type: str | None = None, limits: XmlLimits = DEFAULT_LIMITS
) -> XmlDocument:
    """Parse a plain XML body or an MTOM multipart/related body into one document."""
    if not looks_like_multipart(data, content_type):
        return XmlDocument(parse_xml(data, limits))
    if len(data) > limits.max_bytes:
        # The same limit as plain XML: the whole body is what the hub stores.
        parse_xml(data, limits)
    content_type = content_type or _content_type_from_boundary(data)
    _refuse_too_many_parts(data, content_type, limits.max_parts)
    parts = _split(data, content_type)
    root_part, others = _pick_root(parts, content_type)
    root = parse_xml(_payload(root_part), limits)
    attachments = tuple(_attachment(part) for part in others)
    _resolve_includes(root, {a.content_id: a for a in attachments})
    return XmlDocument(root, attachments)


def _refuse_too_many_parts(data: bytes, content_type: str, limit: int) -> None:
    """``MultipartError`` for a body of more than ``limit`` parts, counted by their delimiter
    lines before the (slow, pure Python) MIME parser sees any of them."""
    boundary = _param(content_type, "boundary")
    if not boundary:
        return  # _split says what is wrong with it
    delimiters = data.count(b"\n--" + boundary.encode("ascii", "replace"))
    delimiters += data.startswith(b"--" + boundary.encode("ascii", "replace"))
    parts = delimiters - 1  # the closing delimiter ends the last part
    if parts > limit:
        raise MultipartError(
            f"multipart body of {parts} MIME parts, more than the limit of {limit}",
            parts=parts,
            limit=limit,
        )


def _split(data: bytes, content_type: str) -> list[Message]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + data)
    if not message.is_multipart():
        raise MultipartError("multipart body has no parts: boundary not found", line=1)
    parts = [p for p in message.get_payload() if isinstance(p, Message)]
    if not parts or message.defects:
        defects = ", ".join(type(d).__name__ for d in message.defects) or "no parts"
        raise MultipartError(f"broken multipart body: {defects}", line=1)
    return parts


def _content_type_from_boundary(data: bytes) -> str:
    first_line = data.lstrip(b"\r\n").split(b"\n", 1)[0].strip()
    boundary = first_line[2:].decode("ascii", errors="replace")
    if not boundary:
        raise MultipartError("multipart body starts with an empty boundary", line=1, column=1)
    return f'multipart/related; type="application/xop+xml"; boundary="{boundary}"'


def _pick_root(parts: list[Message], content_type: str | None) -> tuple[Message, list[Message]]:
    start = _param(content_type, "start")
    wanted = None if start is None else _decoded_id(start)
    for index, part in enumerate(parts):
        is_start = wanted is not None and _content_id(part) == wanted
        if is_start or (start is None and part.get_content_type() in _XOP_ROOT_TYPES):
            return part, parts[:index] + parts[index + 1 :]
    raise MultipartError(
        "multipart body has no root part of type application/xop+xml", parts=len(parts)
    )


def _param(content_type: str | None, name: str) -> str | None:
    if content_type is None:
        return None
    message = Message()
    message["Content-Type"] = content_type
    value = message.get_param(name)
    return value if isinstance(value, str) else None


def _content_id(part: Message) -> str:
    return _decoded_id(str(part.get("Content-ID", "")))


def _decoded_id(content_id: str) -> str:
    """A content id as compared: without its angle brackets, percent-decoded. A ``cid:`` URL
    is the id percent-encoded (RFC 2392), and Apache CXF, SMEV's stack, writes its
    percent-encoded names into the Content-ID header too in some versions: decoding both
    sides matches them either way (a bare ``@`` decodes to itself)."""
    return unquote(content_id.strip().strip("<>"))


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise MultipartError(f"MIME part {_content_id(part)!r} has no body")
    return payload


def _attachment(part: Message) -> Attachment:
    return Attachment(_content_id(part), part.get_content_type(), _payload(part))


def _resolve_includes(root: etree._Element, by_id: dict[str, Attachment]) -> None:
    for include in list(root.iter(_XOP_INCLUDE)):
        href = include.get("href", "")
        content_id = _decoded_id(href.removeprefix("cid:"))
        if content_id not in by_id:
            raise MultipartError(
                f"xop:Include refers to a missing MIME part {href!r}",
                line=cast(int | None, include.sourceline),
                href=href,
            )
        parent = include.getparent()
        assert parent is not None  # noqa: S101 - an Include is never the root
        parent.remove(include)
        parent.text = base64.b64encode(by_id[content_id].data).decode("ascii")
