"""PFR/SFR "SNILS by additional data" (VS00648) 1.0.1: names and where its schema lives."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from hub.xml.xsd import validate_xsd

NS = "http://kvs.pfr.com/snils-by-additionalData/1.0.1"
COMMONS_NS = "urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1"
PFR_NS = "http://common.kvs.pfr.com/1.0.0"
REQUEST = f"{{{NS}}}SnilsByAdditionalDataRequest"
RESPONSE = f"{{{NS}}}SnilsByAdditionalDataResponse"
KIND = "snils-by-additional-data"
XSD = Path("agencies/pfr/snils-by-additionalData-1.0.1.xsd")


def validate(element: etree._Element, reference_dir: Path) -> None:
    """Check a request or response against the official schema (``SchemaValidationError``)."""
    validate_xsd(element, reference_dir / XSD)
