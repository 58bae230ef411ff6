"""Where the ZAGS adapter looks for schemas (the schemas themselves: contract tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.adapters.zags import schemas
from hub.errors import ConfigurationError

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]


def test_the_official_schema_lives_under_the_reference_dir_from_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_REFERENCE_DIR", str(tmp_path))
    expected = tmp_path / "agencies" / "zags" / "rogdinf-4.0.1" / "zags-rogdinf-ru-root.xsd"
    assert schemas.xsd_path() == expected
    assert schemas.xsd_path(Path("/elsewhere")) == Path("/elsewhere") / schemas.XSD


@pytest.mark.parametrize("kind", list(schemas.KINDS.values()), ids=list(schemas.KINDS))
def test_the_hubs_own_schemas_are_in_the_project(kind: schemas.NoticeKind) -> None:
    path = schemas.own_xsd_path(kind)
    assert path.is_file() and path.parent == PROJECT / "schemas" / "zags"
    assert kind.root == f"{{{kind.namespace}}}Request"


def test_the_four_kinds_by_namespace() -> None:
    assert {k.notice for k in schemas.NOTICES.values()} == set(schemas.Notice)
    assert schemas.KINDS[schemas.Notice.DEATH].namespace == (
        "urn://x-artefacts-zags-fatalzp/root/112-25/4.0.1"
    )


def test_a_missing_official_schema_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="schema not found"):
        schemas.validate(etree.Element(schemas.REQUEST), tmp_path)
