"""Where the PFR adapter looks for the official schema (the schema itself: contract tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.adapters.pfr import schemas
from hub.errors import ConfigurationError

pytestmark = pytest.mark.unit


def test_the_schema_lives_under_the_reference_dir_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_REFERENCE_DIR", "/from/the/environment")  # never read here
    expected = tmp_path / "agencies" / "pfr" / "snils-by-additionalData-1.0.1.xsd"
    assert schemas.xsd_path(tmp_path) == expected
    assert schemas.xsd_path(Path("/elsewhere")) == Path("/elsewhere") / schemas.XSD


def test_a_missing_schema_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="schema not found"):
        schemas.validate(etree.Element(schemas.REQUEST), tmp_path)
