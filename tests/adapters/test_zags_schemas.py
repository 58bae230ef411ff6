"""Where the ZAGS adapter looks for schemas (the schemas themselves: contract tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.adapters.zags import schemas
from hub.errors import ConfigurationError

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]


def test_the_official_schema_lives_under_the_reference_dir_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_REFERENCE_DIR", "/from/the/environment")  # never read here
    expected = tmp_path / "agencies" / "zags" / "rogdinf-4.0.1" / "zags-rogdinf-ru-root.xsd"
    assert schemas.xsd_path(tmp_path) == expected
    assert schemas.xsd_path(Path("/elsewhere")) == Path("/elsewhere") / schemas.XSD


def test_rogdinf_content_without_a_reference_dir_is_refused() -> None:
    with pytest.raises(ValueError, match="needs reference_dir"):
        schemas.validate(etree.Element(schemas.REQUEST))


def test_the_hubs_own_schemas_are_where_the_folder_says(tmp_path: Path) -> None:
    kind = schemas.KINDS[schemas.Notice.BIRTH]
    assert schemas.own_xsd_path(kind, tmp_path) == tmp_path / "zags" / kind.xsd


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
