"""Safe XML for the whole hub: one hardened parser, MTOM included."""

from hub.xml.mtom import parse_message
from hub.xml.parser import Attachment, XmlDocument, XmlLimits, parse_xml

__all__ = ["Attachment", "XmlDocument", "XmlLimits", "parse_message", "parse_xml"]
