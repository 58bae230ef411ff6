"""The SMEV transform ``urn://smev-gov-ru/xmldsig/transform``.

SMEV applies it to the exclusive-c14n output of the signed element. Everything that
exclusive c14n decides (namespace declarations, attribute quoting, comments, empty-tag
form) is then thrown away or rewritten by the transform, so walking the parsed element
directly gives byte-for-byte the same result without serializing and re-parsing.
"""

from __future__ import annotations

from lxml import etree

_WHITESPACE = " \t\n\r"
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


class _Prefixes:
    """Prefix scopes: ``ns1``, ``ns2``… by first use, one counter for the whole output."""

    def __init__(self) -> None:
        self.counter = 0
        self.scopes: list[dict[str, str]] = []

    def find(self, uri: str) -> str | None:
        for scope in reversed(self.scopes):
            if uri in scope:
                return scope[uri]
        return None

    def bind(self, uri: str, declarations: list[str]) -> str:
        prefix = self.find(uri)
        if prefix is None:
            self.counter += 1
            prefix = f"ns{self.counter}"
            self.scopes[-1][uri] = prefix
            declarations.append(f' xmlns:{prefix}="{uri.translate(_ATTRIBUTE_ESCAPES)}"')
        return prefix


def smev_transform(element: etree._Element) -> bytes:
    """The SMEV-transformed UTF-8 bytes of ``element`` (its digest input)."""
    out: list[str] = []
    _write(element, _Prefixes(), out)
    return "".join(out).encode("utf-8")


def _attribute_order(item: tuple[str, str]) -> tuple[int, str, str]:
    name = etree.QName(item[0])
    # Namespaced attributes first (by URI, then local name), then plain ones by name.
    return (0, name.namespace, name.localname) if name.namespace else (1, "", name.localname)


def _qualified(name: etree.QName, prefixes: _Prefixes, declarations: list[str]) -> str:
    if not name.namespace:
        return name.localname
    return f"{prefixes.bind(name.namespace, declarations)}:{name.localname}"


def _start_tag(element: etree._Element, prefixes: _Prefixes) -> tuple[str, str]:
    declarations: list[str] = []
    tag = _qualified(etree.QName(element), prefixes, declarations)
    attributes = [
        f' {_qualified(etree.QName(key), prefixes, declarations)}='
        f'"{value.translate(_ATTRIBUTE_ESCAPES)}"'
        for key, value in sorted(element.attrib.items(), key=_attribute_order)
    ]
    return f"<{tag}{''.join(declarations)}{''.join(attributes)}>", tag


def _write(element: etree._Element, prefixes: _Prefixes, out: list[str]) -> None:
    prefixes.scopes.append({})
    start, tag = _start_tag(element, prefixes)
    out.append(start)
    # c14n drops comments and PIs, merging the text around them into one text node:
    # whitespace is judged on the merged text, as SMEV's transform sees it.
    pending = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            _flush_text(pending, out)
            _write(child, prefixes, out)
        pending.append(child.tail or "")
    _flush_text(pending, out)
    out.append(f"</{tag}>")
    prefixes.scopes.pop()


def _flush_text(pending: list[str], out: list[str]) -> None:
    text = "".join(pending)
    pending.clear()
    if text.strip(_WHITESPACE):
        out.append(text.translate(_TEXT_ESCAPES))
