"""The one hardened XML parser every byte of XML entering the hub goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from lxml import etree

from hub.errors import ForbiddenXmlError, MalformedXmlError, XmlTooDeepError, XmlTooLargeError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100
DEFAULT_MAX_PARTS = 100  # MIME parts of an MTOM body: the root and its attachments
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """How much XML the hub is willing to read from one message."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_parts: int = DEFAULT_MAX_PARTS


@dataclass(frozen=True, slots=True)
class Attachment:
    """A binary part of an MTOM message (or a file-store reference once downloaded)."""

    content_id: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class XmlDocument:
    """A parsed message: the root element and the MIME parts it referred to."""

    root: etree._Element
    attachments: tuple[Attachment, ...] = field(default=())


def _new_parser() -> etree.XMLParser:
    # Each flag closes one door: entities, DTD loading, network access, huge-tree mode.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


_PARSER = _new_parser()
DEFAULT_LIMITS = XmlLimits()


@lru_cache(maxsize=16)
def _deeper_than(depth: int) -> etree.XPath:
    # One compiled path per limit: is there any element below `depth` levels?
    return etree.XPath("(" + "/*" * (depth + 1) + ")[1]")


def parse_xml(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse one XML document safely; raise an ``XmlError`` saying what is wrong and where.

    Refuses DTDs (and so every entity trick), documents over ``limits.max_bytes`` and
    trees deeper than ``limits.max_depth``. Nothing is returned from a refused document.
    """
    if len(data) > limits.max_bytes:
        raise XmlTooLargeError(
            f"XML of {len(data)} bytes exceeds the limit of {limits.max_bytes} bytes",
            size=len(data),
            limit=limits.max_bytes,
        )
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    root = _parse(data)
    _refuse_doctype(root, data)
    _refuse_depth(root, limits.max_depth)
    return root


def _parse(data: bytes) -> etree._Element:
    if not data.strip():
        raise MalformedXmlError("empty document: no XML at all", line=1, column=1)
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise MalformedXmlError(f"malformed XML: {exc.msg}", line=line, column=column) from exc


def _refuse_doctype(root: etree._Element, data: bytes) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # type: ignore[attr-defined]
        offset = data.find(b"<!DOCTYPE")
        line = data.count(b"\n", 0, offset) + 1 if offset >= 0 else 1
        raise ForbiddenXmlError(
            "DOCTYPE declarations are not accepted (no DTDs, no entities)",
            line=line,
            column=offset - data.rfind(b"\n", 0, offset) if offset >= 0 else 1,
        )


def _refuse_depth(root: etree._Element, max_depth: int) -> None:
    found = cast(list[etree._Element], _deeper_than(max_depth)(root))
    if found:
        element = found[0]
        raise XmlTooDeepError(
            f"XML nesting deeper than {max_depth} levels at <{etree.QName(element).localname}>",
            line=cast(int | None, element.sourceline),
            limit=max_depth,
        )
