"""The SMEV transform ``urn://smev-gov-ru/xmldsig/transform``.

SMEV applies it to the exclusive-c14n output of the signed element. Everything that
exclusive c14n decides (namespace declarations, attribute quoting, comments, empty-tag
form) is then thrown away or rewritten by the transform, so walking the parsed element
directly gives byte-for-byte the same result without serializing and re-parsing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from lxml import etree

_WHITESPACE = " \t\n\r"
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


class _Prefixes:
    """Prefixes ``ns1``, ``ns2``… by first use, one counter for the whole output.

    A URI is bound at most once along any path (a bound URI is reused, never
    rebound), so one dict of active bindings plus per-element undo lists is
    the whole scope stack.
    """

    __slots__ = ("active", "counter")

    def __init__(self) -> None:
        self.counter = 0
        self.active: dict[str, str] = {}

    def bind(self, uri: str, declared: list[str], added: list[str]) -> str:
        prefix = self.active.get(uri)
        if prefix is None:
            self.counter += 1
            prefix = self.active[uri] = f"ns{self.counter}"
            added.append(uri)
            declared.append(f' xmlns:{prefix}="{uri.translate(_ATTRIBUTE_ESCAPES)}"')
        return prefix


@lru_cache(maxsize=4096)
def _split(name: str) -> tuple[str, str]:
    if name[0] == "{":
        uri, _, local = name[1:].partition("}")
        return uri, local
    return "", name


def smev_transform(element: etree._Element) -> bytes:
    """The SMEV-transformed UTF-8 bytes of ``element`` (its digest input)."""
    out: list[str] = []
    _write(element, _Prefixes(), out)
    return "".join(out).encode("utf-8")


def _attribute_order(item: tuple[str, str]) -> tuple[int, str, str]:
    uri, local = _split(item[0])
    # Namespaced attributes first (by URI, then local name), then plain ones by name.
    return (0, uri, local) if uri else (1, "", local)


def _qualified(name: str, prefixes: _Prefixes, declared: list[str], added: list[str]) -> str:
    uri, local = _split(name)
    return f"{prefixes.bind(uri, declared, added)}:{local}" if uri else local


def _start_tag(element: etree._Element, prefixes: _Prefixes, added: list[str]) -> tuple[str, str]:
    declared: list[str] = []
    tag = _qualified(element.tag, prefixes, declared, added)
    if not element.attrib:
        return f"<{tag}{''.join(declared)}>", tag
    items = cast(list[tuple[str, str]], element.attrib.items())
    attributes = [
        f' {_qualified(key, prefixes, declared, added)}="{value.translate(_ATTRIBUTE_ESCAPES)}"'
        for key, value in sorted(items, key=_attribute_order)
    ]
    return f"<{tag}{''.join(declared)}{''.join(attributes)}>", tag


def _write(element: etree._Element, prefixes: _Prefixes, out: list[str]) -> None:
    added: list[str] = []
    start, tag = _start_tag(element, prefixes, added)
    out.append(start)
    # c14n drops comments and PIs, merging the text around them into one text node:
    # whitespace is judged on the merged text, as SMEV's transform sees it.
    text = element.text or ""
    for child in element:
        if isinstance(child.tag, str):
            _write_text(text, out)
            _write(child, prefixes, out)
            text = child.tail or ""
        else:
            text += child.tail or ""
    _write_text(text, out)
    out.append(f"</{tag}>")
    for uri in added:
        del prefixes.active[uri]


def _write_text(text: str, out: list[str]) -> None:
    if text and text.strip(_WHITESPACE):
        needs_escape = "&" in text or "<" in text or ">" in text
        out.append(text.translate(_TEXT_ESCAPES) if needs_escape else text)
