"""The project's metadata in the form current setuptools reads without a deprecation banner:
``project.license`` as an SPDX expression (PEP 639), not the old table, and a build backend
recent enough to read it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# An SPDX license expression: identifiers or LicenseRef-… joined by AND/OR/WITH.
_SPDX = re.compile(r"[A-Za-z0-9.+-]+( (AND|OR|WITH) [A-Za-z0-9.+-]+)*")


def test_the_license_is_an_spdx_expression_setuptools_reads_quietly() -> None:
    project = tomllib.loads(PYPROJECT.read_text("utf-8"))
    license_ = project["project"]["license"]
    assert isinstance(license_, str), "a TOML table is deprecated by setuptools (PEP 639)"
    assert _SPDX.fullmatch(license_)
    classifiers = project["project"].get("classifiers", [])
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639 forbids both
    [backend] = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert backend == "setuptools>=77"  # the first to read the expression form
