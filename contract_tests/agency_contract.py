"""The checks every agency's contract suite makes, written once: a subclass per agency
(``test_zags_contract.py``, ``test_pfr_contract.py``, ``test_gosuslugi_contract.py``) says how
its schema is checked and what a valid and a broken message of its look like, and inherits the
tests. What only one agency has (its round trips, its notifications, its gate) stays in its
own module. Not a test module itself: pytest collects the subclasses only."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

import pytest
from lxml import etree

from hub.canonical.drafts import EventDraft
from hub.canonical.ids import event_id_for
from hub.errors import SchemaValidationError
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event

Validator = Callable[[etree._Element], None]


class Broken(NamedTuple):
    """A message the schema refuses: the refusal names ``fields`` (the first in its first
    error) and never shows ``values``, which may be personal data."""

    element: etree._Element
    fields: tuple[str, ...]
    values: tuple[str, ...]


class AgencyContract:
    """The shared checks. A subclass sets ``agency`` and gives the ``validator`` fixture, the
    messages its schema accepts and refuses (``valid_and_invalid``) and a ``broken`` one."""

    agency: ClassVar[str]

    @pytest.fixture
    def validator(self) -> Validator:
        """The agency's schema check, as the hub makes it."""
        raise NotImplementedError

    def valid_and_invalid(self) -> list[tuple[etree._Element, bool]]:
        """Messages, each with whether the schema accepts it."""
        raise NotImplementedError

    def broken(self) -> Broken:
        raise NotImplementedError

    @classmethod
    def envelope(cls, draft: EventDraft) -> dict[str, Any]:
        """The CloudEvent the hub would publish for ``draft``, received from this agency."""
        received = datetime.now(UTC)
        inbox = InboxRecord(
            "6f1d2c7e-0000-5000-8000-000000000001",
            "smev",
            "m-1",
            b"",
            cls.agency,
            None,
            None,
            {},
            received,
            InboxStatus.RECEIVED,
            1,
        )
        return cloud_event(event_id_for(inbox.inbox_id, 0), inbox, draft, datetime.now(UTC))

    def test_a_broken_message_is_refused_with_its_values_masked(self, validator: Validator) -> None:
        broken = self.broken()
        with pytest.raises(SchemaValidationError) as caught:
            validator(broken.element)
        errors = caught.value.errors
        assert errors and broken.fields[0] in errors[0]
        shown = str(caught.value) + "".join(errors)
        assert all(field in shown for field in broken.fields)
        assert not [value for value in broken.values if value in shown]

    def test_the_cached_schema_validates_from_many_threads_at_once(
        self, validator: Validator
    ) -> None:
        elements, expected = zip(*self.valid_and_invalid(), strict=True)

        def check(element: etree._Element) -> bool:
            try:
                validator(element)
            except SchemaValidationError:
                return False
            return True

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(check, list(elements) * 100))
        assert results == list(expected) * 100


class OfficialSchemas(Protocol):
    """An adapter's ``schemas`` module when the agency publishes its schema (ZAGS, PFR)."""

    def xsd_path(self, reference_dir: Path | None = None) -> Path: ...

    def validate(self, element: etree._Element, reference_dir: Path | None = None) -> None: ...


class OfficialSchemaContract(AgencyContract):
    """An agency whose schema is its own, official one, read from the reference material
    (``<reference_dir>/agencies/<agency>``) rather than shipped with the hub."""

    schemas: ClassVar[OfficialSchemas]

    @pytest.fixture
    def validator(self, reference_dir: Path) -> Validator:
        return lambda element: self.schemas.validate(element, reference_dir)

    def test_the_schema_is_read_from_the_reference_dir(self, reference_dir: Path) -> None:
        path = self.schemas.xsd_path(reference_dir)
        assert path.is_file() and path.is_relative_to(reference_dir / "agencies" / self.agency)
