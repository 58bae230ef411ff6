"""What the hub sends to Gosuslugi: the ``orderStatusEvent`` a ``report_enrollment_status``
command becomes and the ``ApplicationAccepted`` answer, in the schema's order (validity
against the hub's schema itself: the contract suite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from hub.adapters.gosuslugi.requests import (
    COMMENT_MAX,
    ReplyTarget,
    application_accepted,
    order_id,
    order_status_request,
)
from hub.adapters.gosuslugi.schemas import ACCEPTED, EVENT_NS, NS, STATUS_EVENT
from hub.canonical.commands import (
    EPGU_STATUS_CODES,
    InvalidCommandError,
    ReportEnrollmentStatus,
    parse_command,
)
from hub.xml import parse_xml

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 1, 7, 15, 30, 123456, tzinfo=UTC)
COMMAND = {
    "type": "report_enrollment_status",
    "request_id": "req-status-1",
    "order_number": "1234567890",
    "status_code": 3,
}


def command(**changes: Any) -> ReportEnrollmentStatus:
    parsed = parse_command({**COMMAND, **changes})
    assert isinstance(parsed, ReportEnrollmentStatus)
    return parsed


def sent(**changes: Any) -> etree._Element:
    return parse_xml(order_status_request(command(**changes), AT).content)


def parts(element: etree._Element) -> list[tuple[str, str | None]]:
    return [(etree.QName(c).localname, c.text) for c in element.iter() if c is not element]


# --- orderStatusEvent ----------------------------------------------------------------------


def test_the_status_event_in_the_schemas_order() -> None:
    request = order_status_request(command(comment="Ребёнок зачислен в 1 «А» класс"), AT)
    assert (request.request_id, request.agency, request.kind, request.reply_to) == (
        "req-status-1",
        "gosuslugi",
        "order-status",
        None,
    )
    root = parse_xml(request.content)
    assert root.tag == STATUS_EVENT
    assert all(etree.QName(c).namespace == EVENT_NS for c in root.iter())
    assert parts(root) == [
        ("orderId", "1234567890"),
        ("eventDate", "2026-03-01T07:15:30+00:00"),
        ("eventComment", "Ребёнок зачислен в 1 «А» класс"),
        ("statusCode", None),
        ("techCode", "3"),
    ]


def test_the_context_correlates_the_response_by_order_number() -> None:
    request = order_status_request(command(order_number="00042", status_code=15), AT)
    assert request.context == {
        "request_id": "req-status-1",
        "order_number": "42",
        "status_code": 15,
    }
    assert parse_xml(request.content).findtext(f"{{{EVENT_NS}}}orderId") == "42"


@pytest.mark.parametrize("code", sorted(EPGU_STATUS_CODES))
def test_every_epgu_status_code_is_sent_as_its_tech_code(code: int) -> None:
    status = sent(status_code=code).find(f"{{{EVENT_NS}}}statusCode")
    assert status is not None and parts(status) == [("techCode", str(code))]


@pytest.mark.parametrize("comment", [None, "", "   "], ids=["none", "empty", "blank"])
def test_no_comment_no_event_comment(comment: str | None) -> None:
    assert [etree.QName(c).localname for c in sent(comment=comment)] == [
        "orderId",
        "eventDate",
        "statusCode",
    ]


def test_the_comment_is_stripped_and_may_be_as_long_as_epgu_takes() -> None:
    assert (
        sent(comment="  Ждём оригиналы\nдокументов  ").findtext(f"{{{EVENT_NS}}}eventComment")
        == "Ждём оригиналы\nдокументов"
    )
    longest = "я" * COMMENT_MAX
    assert sent(comment=longest).findtext(f"{{{EVENT_NS}}}eventComment") == longest


def test_the_event_time_is_the_given_one_to_the_second_with_its_zone() -> None:
    moscow = datetime(2026, 3, 1, 10, 15, 30, 999999, tzinfo=timezone(timedelta(hours=3)))
    root = parse_xml(order_status_request(command(), moscow).content)
    assert root.findtext(f"{{{EVENT_NS}}}eventDate") == "2026-03-01T10:15:30+03:00"


def test_without_a_time_the_event_is_stamped_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamped = parse_xml(order_status_request(command()).content).findtext(
        f"{{{EVENT_NS}}}eventDate"
    )
    assert stamped is not None
    assert before <= datetime.fromisoformat(stamped) <= datetime.now(UTC)


def test_the_same_command_at_the_same_time_is_the_same_bytes() -> None:
    assert order_status_request(command(), AT) == order_status_request(command(), AT)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"order_number": "0"}, "order_number"),
        ({"order_number": "-17"}, "order_number"),
        ({"order_number": "ЕПГУ-17"}, "order_number"),
        ({"order_number": "9223372036854775808"}, "order_number"),  # beyond xs:long
        ({"order_number": "١٢٣"}, "order_number"),  # Arabic-Indic digits
        ({"comment": "я" * (COMMENT_MAX + 1)}, "comment"),
        ({"comment": "строка\x0bдругая"}, "comment"),  # a control character XML cannot carry
        ({"comment": "\ud800"}, "comment"),  # a lone surrogate, as JSON may spell it
    ],
    ids=[
        "zero",
        "negative",
        "letters",
        "too big",
        "other digits",
        "too long",
        "control",
        "surrogate",
    ],
)
def test_what_epgu_cannot_take_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidCommandError) as caught:
        order_status_request(command(**changes), AT)
    assert caught.value.details["field"] == field and not caught.value.retryable


def test_a_status_code_epgu_does_not_know_is_refused_even_past_the_parser() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        order_status_request(ReportEnrollmentStatus("r-1", "42", 5), AT)
    assert caught.value.details["field"] == "status_code"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "1"),
        ("000123", "123"),
        (" +42 ", "42"),
        ("9223372036854775807", "9223372036854775807"),
        ("0", None),
        ("-1", None),
        ("", None),
        (None, None),
        ("1 234", None),
        ("1e3", None),
        ("9223372036854775808", None),
        ("12345678901234567890", None),
    ],
)
def test_order_id_has_one_spelling(text: str | None, expected: str | None) -> None:
    assert order_id(text) == expected


# --- ApplicationAccepted -------------------------------------------------------------------


def test_the_acceptance_answers_the_message_at_its_reply_to() -> None:
    target = ReplyTarget("6f1d2c7e-0000-5000-8000-0000000000aa", "eyJzaWQiOjF9", AT)
    assert target.request_id == "reply:6f1d2c7e-0000-5000-8000-0000000000aa"
    answer = application_accepted("42", target)
    assert (answer.request_id, answer.agency, answer.kind, answer.reply_to, answer.context) == (
        target.request_id,
        "gosuslugi",
        "application-accepted",
        "eyJzaWQiOjF9",
        {},
    )
    root = parse_xml(answer.content)
    assert root.tag == ACCEPTED and all(etree.QName(c).namespace == NS for c in root.iter())
    assert parts(root) == [
        ("orderId", "42"),
        ("AcceptedAt", "2026-03-01T07:15:30+00:00"),
        ("statusCode", None),
        ("techCode", "1"),
    ]
    assert application_accepted("42", target) == answer  # the same bytes when processed again
