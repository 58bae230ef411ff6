"""Where the Gosuslugi adapter looks for its schemas (the schemas themselves: contract tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.adapters.gosuslugi import schemas
from hub.errors import SchemaValidationError

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("root", "name"),
    [
        (schemas.APPLICATION, "school-enrollment-1.0.0.xsd"),
        (schemas.CANCEL, "school-enrollment-1.0.0.xsd"),
        (schemas.ACCEPTED, "school-enrollment-1.0.0.xsd"),
        (schemas.STATUS_EVENT, "order-status-3.1.1.xsd"),
        (schemas.STATUS_RESPONSE, "order-status-3.1.1.xsd"),
    ],
)
def test_each_root_has_the_hubs_own_schema_of_its_namespace(root: str, name: str) -> None:
    path = schemas.xsd_path(etree.Element(root))
    assert path == PROJECT / "schemas" / "gosuslugi" / name and path.is_file()


def test_the_order_event_keeps_epgus_namespace() -> None:
    assert schemas.STATUS_EVENT == "{http://epgu.gosuslugi.ru/lk/order/event/3.1.1}orderStatusEvent"
    assert etree.QName(schemas.APPLICATION).namespace == schemas.NS


@pytest.mark.parametrize(
    "element",
    [
        etree.Element("{http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1}FormData"),
        etree.Element("ApplicationRequest"),
    ],
    ids=["another EPGU namespace", "no namespace"],
)
def test_an_element_of_another_namespace_has_no_schema(element: etree._Element) -> None:
    with pytest.raises(SchemaValidationError, match="no Gosuslugi namespace") as caught:
        schemas.validate(element)
    assert caught.value.errors and not caught.value.retryable
