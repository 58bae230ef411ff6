"""What the hub sends to Gosuslugi (pure): the answer to an application or a cancellation
(``ApplicationAccepted``, the hub's schema), and an application's new status
(``orderStatusEvent``, the hub's model of EPGU's order-event kind).

Element order follows ``schemas/gosuslugi``. Times come from the caller (the inbox record's
``received_at``), so processing the same message again builds the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from hub.adapters.gosuslugi.schemas import (
    ACCEPTED,
    ACCEPTED_KIND,
    AGENCY,
    EVENT_NS,
    EVENT_NSMAP,
    NS,
    NSMAP,
    STATUS_EVENT,
    STATUS_KIND,
)
from hub.adapters.router import AgencyRequest
from hub.canonical.commands import EPGU_STATUS_CODES, InvalidCommandError, ReportEnrollmentStatus
from hub.xml.build import add

REGISTERED = 1  # EPGU techCode of the acceptance answer: the message is registered
CORRECTION_NEEDED = 15  # EPGU techCode: the applicant must correct the application
# What the applicant reads in the account when the hub cannot take the application as sent:
# plain words, no internal detail (the operator sees the reason in the failed message).
REFUSED_COMMENT = (
    "Заявление не может быть принято: данные заявления не прошли проверку формата. "
    "Проверьте сведения о ребёнке, заявителе и документах и подайте заявление повторно."
)
COMMENT_MAX = 2048  # eventComment: string-2048
# What XML 1.0 cannot carry (lxml refuses it): C0 controls but tab, CR and LF, lone
# surrogates (JSON can spell them), U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LONG_MAX = 2**63 - 1  # orderId is an xs:long on EPGU's side
_DIGITS = re.compile(r"\+?[0-9]{1,19}")  # ASCII digits only, as xs:long


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where the answer to an incoming message goes: the inbox record it came in as (the
    answer's id is ``reply:{inbox_id}``), SMEV's ReplyTo, and the time it was received."""

    inbox_id: str
    reply_to: str
    received_at: datetime

    @property
    def request_id(self) -> str:
        return f"reply:{self.inbox_id}"


def order_id(text: str | None) -> str | None:
    """An EPGU order number in its one spelling (decimal, no leading zeros), or ``None`` when
    ``text`` is not a positive number that fits EPGU's ``xs:long``."""
    spelled = (text or "").strip()
    if not _DIGITS.fullmatch(spelled):
        return None
    number = int(spelled)
    return str(number) if 0 < number <= _LONG_MAX else None


def application_accepted(order_number: str, target: ReplyTarget) -> AgencyRequest:
    """The hub's answer to an application or a cancellation: ``ApplicationAccepted`` with
    EPGU status 1 (registered), sent as a SendResponse to the message's ReplyTo."""
    root = etree.Element(ACCEPTED, nsmap=NSMAP)
    add(root, NS, "orderId", order_number)
    add(root, NS, "AcceptedAt", _timestamp(target.received_at))
    add(add(root, NS, "statusCode"), NS, "techCode", str(REGISTERED))
    content = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return AgencyRequest(
        target.request_id, AGENCY, ACCEPTED_KIND, content, {}, reply_to=target.reply_to
    )


def application_refused(order_number: str, inbox_id: str, at: datetime) -> AgencyRequest:
    """The ``orderStatusEvent`` that tells the applicant's account an application the hub
    refused at its intake gate needs correcting (status 15), so no parent waits on silence.
    Its id is the refused message's (``refused:{inbox_id}``): a replay asks nothing new."""
    command = ReportEnrollmentStatus(
        request_id=f"refused:{inbox_id}",
        order_number=order_number,
        status_code=CORRECTION_NEEDED,
        comment=REFUSED_COMMENT,
    )
    return order_status_request(command, at)


def order_status_request(
    command: ReportEnrollmentStatus, at: datetime | None = None
) -> AgencyRequest:
    """The ``orderStatusEvent`` that tells the applicant's account the application's new
    status, and the context its response is read with. ``at`` is the event's time (now when
    not given). ``InvalidCommandError`` names a field EPGU cannot take: an order number that
    is not EPGU's, a status code EPGU does not know, a comment over 2048 characters."""
    number = _order_number(command.order_number)
    root = etree.Element(STATUS_EVENT, nsmap=EVENT_NSMAP)
    add(root, EVENT_NS, "orderId", number)
    add(root, EVENT_NS, "eventDate", _timestamp(at or datetime.now(UTC)))
    comment = _comment(command.comment)
    if comment is not None:
        add(root, EVENT_NS, "eventComment", comment)
    status = add(root, EVENT_NS, "statusCode")
    add(status, EVENT_NS, "techCode", str(_status_code(command.status_code)))
    content = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return AgencyRequest(
        command.request_id, AGENCY, STATUS_KIND, content, status_context(command, number)
    )


def status_context(command: ReportEnrollmentStatus, number: str | None = None) -> dict[str, Any]:
    """What EPGU's response is read with: the registry's request id, the order, the code."""
    return {
        "request_id": command.request_id,
        "order_number": number or command.order_number,
        "status_code": command.status_code,
    }


def _order_number(text: str) -> str:
    number = order_id(text)
    if number is None:
        raise InvalidCommandError(
            "order_number: an EPGU order number is a positive whole number (orderId)",
            field="order_number",
        )
    return number


def _status_code(code: int) -> int:
    if code not in EPGU_STATUS_CODES:
        raise InvalidCommandError(
            f"status_code: {code} is not an EPGU order status code", field="status_code"
        )
    return code


def _comment(text: str | None) -> str | None:
    spelled = (text or "").strip()
    if len(spelled) > COMMENT_MAX:
        raise InvalidCommandError(
            f"comment: EPGU takes at most {COMMENT_MAX} characters", field="comment"
        )
    if _NOT_XML.search(spelled):
        raise InvalidCommandError(
            "comment: holds control characters XML cannot carry", field="comment"
        )
    return spelled or None


def _timestamp(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat()
