"""Fixtures for the contract suites."""

from __future__ import annotations

import pytest

from hub.crypto.xmldsig import XmlSigner
from hub.smev.build import ElementSigner


@pytest.fixture
def element_signer(xml_signer: XmlSigner) -> ElementSigner:
    """The real GOST signer: what the contract validates is what the hub sends."""
    return xml_signer
