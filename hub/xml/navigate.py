"""Namespace-tolerant reading of XML: the one set of helpers the SMEV readers, the adapters and
the simulator use (lxml only, no XPath per call). Readers are lenient about namespaces: a child
is found by its local name in any namespace or none."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

# xs:date, maybe with a zone ("2015-02-01", "2015-02-01Z", "2015-02-01+03:00"): group 1 is the
# date, the zone is dropped (a birth date is a calendar day wherever it was written).
XS_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")


def localname(element: etree._Element) -> str:
    """The local part of an element's tag."""
    return str(element.tag).rpartition("}")[2]


def children(element: etree._Element | None) -> Iterator[etree._Element]:
    """Element children only: comments and processing instructions are skipped."""
    if element is None:
        return
    for node in element:
        if isinstance(node.tag, str):
            yield node


def child(element: etree._Element | None, name: str) -> etree._Element | None:
    """The first child with local name ``name`` in any namespace: readers are lenient."""
    # lxml's tag filter matches "{*}name" in C: any namespace or none, elements only.
    return None if element is None else next(element.iterchildren(f"{{*}}{name}"), None)


def all_children(element: etree._Element | None, name: str) -> list[etree._Element]:
    """Every child with local name ``name``."""
    return [] if element is None else list(element.iterchildren(f"{{*}}{name}"))


def text(element: etree._Element | None, name: str | None = None) -> str | None:
    """Stripped text of ``element`` (or of its child ``name``); None when absent or empty."""
    target = element if name is None else child(element, name)
    if target is None or target.text is None:
        return None
    value = target.text.strip()
    return value or None


def first_child(element: etree._Element | None) -> etree._Element | None:
    """The first element child, if any."""
    return next(children(element), None)
