"""Building XML: the one helper the adapters' request builders and the simulator use to add a
namespaced child."""

from __future__ import annotations

from lxml import etree


def add(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    """A new child ``{ns}name`` of ``parent`` with ``text`` (None: no text), returned."""
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    element.text = text
    return element
