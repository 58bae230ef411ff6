"""A stored message laid out for reading: indented, the business content first and the SMEV
envelope around it apart (the console folds it).

Laying out works on the text as it is shown, after masking (``hub.protection.masking``): it only
moves whitespace and elements that masking has already passed, so it can neither show nor hide a
personal value masking decided on. What does not parse as XML is shown as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from hub.errors import XmlError
from hub.xml.parser import parse_xml

INDENT = "  "
LEFT_OUT = " the business content: shown above "
# An XML declaration naming an encoding cannot stay in front of text that is already decoded.
_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml\s[^>]*\?>")


@dataclass(frozen=True)
class Layout:
    content: str  # the business content, or the whole message when it has no envelope
    envelope: str = ""  # the SMEV envelope, the business content left out; "": none
    note: str = ""  # why the message is shown as stored


def lay_out(text: str) -> Layout:
    """``text`` (a shown message) indented, SMEV's MessagePrimaryContent apart from its
    envelope; JSON (indented when masked) and what does not parse stay as they are."""
    if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        return Layout(text)
    root = _parsed(text)
    if root is None:
        return Layout(
            text,
            note="not one well-formed XML document (malformed, or MTOM parts): shown as stored",
        )
    holder = root.find(".//{*}MessagePrimaryContent")
    if holder is None or len(holder) == 0:  # a status, a fault, an agency's bare document
        return Layout(_indented(root.getroottree()))
    content = "\n".join(_indented(child) for child in holder)
    for child in list(holder):
        holder.remove(child)
    holder.text = None
    holder.append(etree.Comment(LEFT_OUT))
    return Layout(content, _indented(root.getroottree()))


def _parsed(text: str) -> etree._Element | None:
    try:  # the hardened parser: no DTDs or entities, bounded size and depth
        return parse_xml(_DECLARATION.sub("", text, count=1).encode("utf-8"))
    except XmlError:
        return None


def _indented(node: etree._Element | etree._ElementTree) -> str:
    etree.indent(node, space=INDENT)
    return etree.tostring(node, encoding="unicode", with_tail=False).strip()
