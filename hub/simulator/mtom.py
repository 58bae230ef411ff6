"""Replies the way Apache CXF, real SMEV's stack, writes them with MTOM on: every reply (an
empty queue and a fault too) is ``multipart/related`` with an ``application/xop+xml`` root
part, and each attachment's content leaves the XML for a MIME part of its own, referred to
by an ``xop:Include``.

CXF names a part ``<uuid>-<n>@cxf.apache.org`` and refers to it by that name percent-encoded
(``cid:…%40cxf.apache.org``). Its Content-ID header carries the name decoded in some
versions and encoded in others: ``MtomIds`` chooses which, so the hub is tested with both.
"""

from __future__ import annotations

import base64
import uuid
from urllib.parse import quote

from lxml import etree

from hub.simulator.config import MtomIds
from hub.smev.build import serialize
from hub.xml import XmlLimits, parse_xml
from hub.xml.mtom import XOP_NS

_ROOT_ID = "root.message@cxf.apache.org"
_NAME_DOMAIN = "cxf.apache.org"


def cxf_mtom(body: bytes, ids: MtomIds, limits: XmlLimits) -> tuple[bytes, str]:
    """``body`` (a SOAP envelope) as CXF sends it with MTOM: the multipart body and its
    Content-Type. Signatures still hold: what SMEV signs never holds attachment content."""
    envelope = parse_xml(body, limits)
    prefix = uuid.uuid4()
    parts = [
        _binary_part(content, f"{prefix}-{n}@{_NAME_DOMAIN}", ids)
        for n, content in enumerate(_contents(envelope), start=1)
    ]
    boundary = f"uuid:{uuid.uuid4()}"
    root = _part(
        'application/xop+xml; charset=UTF-8; type="text/xml"',
        _header_id(_ROOT_ID, ids),
        serialize(envelope),
    )
    multipart = b"".join(f"\r\n--{boundary}\r\n".encode() + p for p in (root, *parts))
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{_ROOT_ID}>"; start-info="text/xml"'
    )
    return multipart + f"\r\n--{boundary}--\r\n".encode(), content_type


def _contents(envelope: etree._Element) -> list[etree._Element]:
    # AttachmentContentList/AttachmentContent/Content: the only base64Binary SMEV delivers.
    return [
        content
        for content in envelope.iter("{*}Content")
        if _inside_attachment(content) and (content.text or "").strip()
    ]


def _inside_attachment(content: etree._Element) -> bool:
    parent = content.getparent()
    return parent is not None and etree.QName(parent).localname == "AttachmentContent"


def _binary_part(content: etree._Element, name: str, ids: MtomIds) -> bytes:
    data = base64.b64decode(content.text or "")
    content.text = None
    include = etree.SubElement(content, f"{{{XOP_NS}}}Include", nsmap={"xop": XOP_NS})
    include.set("href", "cid:" + quote(name, safe=""))
    return _part("application/octet-stream", _header_id(name, ids), data)


def _header_id(name: str, ids: MtomIds) -> str:
    return quote(name, safe="") if ids is MtomIds.CXF_ENCODED else name


def _part(content_type: str, content_id: str, data: bytes) -> bytes:
    head = (
        f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{content_id}>\r\n\r\n"
    )
    return head.encode() + data
