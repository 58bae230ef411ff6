"""What a failed message stores (reason, traceback) is listed to operators: values a bug's
message quotes are masked before they are stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.errors import PermanentError
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import failure_of

pytestmark = pytest.mark.unit

RECORD = InboxRecord(
    "inbox-1",
    "smev",
    "m-1",
    b"<x/>",
    "pfr",
    None,
    None,
    {},
    datetime(2026, 3, 1, tzinfo=UTC),
    InboxStatus.RECEIVED,
    1,
)


def _raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("cannot compare Snils=123-456-789 64 with FamilyName=Иванова"),
        KeyError("<FamilyName>Иванова</FamilyName><Snils>12345678964</Snils>"),
    ],
)
def test_reason_and_traceback_hold_no_personal_data(exc: Exception) -> None:
    failure = failure_of(_raised(exc), RECORD)
    stored = f"{failure.reason}\n{failure.traceback}"
    for secret in ("Иванова", "123-456-789 64", "12345678964", "45 10 123456", "123456"):
        assert secret not in stored
    assert type(exc).__name__ in failure.traceback


def test_the_hubs_own_reasons_stay_readable() -> None:
    # They name fields, never values: masking would eat "ZAGS holds…" as a birth date.
    exc = PermanentError("child.birth_date: ZAGS holds no records before 1826")
    failure = failure_of(_raised(exc), RECORD)
    assert failure.reason == "child.birth_date: ZAGS holds no records before 1826"


PERSON = {
    "name": {"last": "Семёнова", "first": "Алёна", "middle": None},
    "birth_date": "2015-04-12",
    "birth_place": "г. Казань",
}


@pytest.mark.parametrize(
    "exc",
    [
        TypeError(f"cannot compare {PERSON!r}"),  # the hub's own keys in a repr
        ValueError(f"bad command: {json.dumps({'person': PERSON}, ensure_ascii=False)}"),
        KeyError(
            '<fnst:МестоРожден ПризнМесто="1" МестоТекст="г. Казань"/><fnst:ФИОРожд>'
            "<fnst:Фамилия>Семёнова</fnst:Фамилия></fnst:ФИОРожд>"
        ),
    ],
    ids=["repr", "json", "zags xml"],
)
def test_the_declared_names_are_masked_in_free_text_too(exc: Exception) -> None:
    failure = failure_of(_raised(exc), RECORD)
    stored = f"{failure.reason}\n{failure.traceback}"
    for secret in ("Семёнова", "Алёна", "2015-04-12", "Казань"):
        assert secret not in stored
    assert any(kept in stored for kept in ("None", "null", "<fnst:ФИОРожд>"))  # nothing eaten


def test_free_text_keeps_what_only_looks_like_a_declared_name() -> None:
    # "first" is a name only as a quoted key: a schema error's summary stays readable.
    text = "ROGDINFResponse breaks x.xsd: 2 error(s), first: line 3: Element 'a': no"
    assert failure_of(_raised(ValueError(text)), RECORD).reason.endswith(text)
