"""Processing gives every message its scope and every event its data category and scope:
a command's ``scope`` field, the request an answer settles (or SMEV refuses), the school a
Gosuslugi application is for; "" (the region's alone) for anything else."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.access.categories import DATA_CATEGORIES, DataCategory, data_category
from hub.adapters.zags.schemas import Notice
from hub.bootstrap import Hub, bootstrap
from hub.canonical.events import EVENT_TYPES
from hub.canonical.jsonschemas import validate_event
from hub.canonical.sources import Source
from hub.config import Settings
from hub.errors import PermanentError
from hub.journal.records import InboundMessage, OutboundState, Outcome
from hub.services.smev_client import REFUSAL_CONTENT_TYPE, refusal_record
from tests.adapters.test_gosuslugi_translate import application, cancel
from tests.adapters.test_zags_notifications import notification
from tests.adapters.test_zags_translate import COMMAND, answer, record
from tests.support import smev as support_smev

pytestmark = pytest.mark.unit
SCHOOL = "45201/4520100012"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        broker_url="memory://",
        require_signatures=False,
        school_municipalities={"16-0001": "45201"},
    )
    hub = bootstrap(settings)
    yield hub
    hub.close()


def processed(hub: Hub, message: InboundMessage) -> Outcome:
    """Store, process and complete ``message`` as the worker does; its outcome."""
    hub.journal.receive([message])
    [stored] = hub.journal.start_attempts([message.inbox_id])
    outcome = hub.processor.process(stored)
    hub.journal.complete([outcome])
    return outcome


def command(hub: Hub, data: dict[str, Any]) -> Outcome:
    body = json.dumps(data, ensure_ascii=False).encode()
    message = InboundMessage(
        Source.REGISTRY,
        str(data.get("request_id") or uuid.uuid4()),
        body,
        None,
        str(data.get("type")),
        "application/json",
    )
    return processed(hub, message)


def smev(hub: Hub, body: bytes, agency: str) -> Outcome:
    return processed(hub, InboundMessage("smev", str(uuid.uuid4()), body, agency, None, "text/xml"))


def sent(hub: Hub, request_id: str) -> str:
    """What the SMEV client does with a pending request; its SMEV MessageID."""
    request = hub.journal.transition_outbound(request_id, OutboundState.SENT)
    hub.journal.transition_outbound(request_id, OutboundState.ACCEPTED)
    return request.smev_message_id


def envelope(outcome: Outcome) -> dict[str, Any]:
    [event] = outcome.events
    body: dict[str, Any] = json.loads(event.payload)
    validate_event(body)
    assert event.headers["x-hub-scope"] == body["hubscope"]
    assert event.headers["x-hub-data-category"] == body["datacategory"]
    return body


def test_a_commands_scope_goes_to_its_request_and_the_answer_inherits_it(hub: Hub) -> None:
    asked = command(hub, {**COMMAND, "request_id": "req-1", "scope": f" {SCHOOL} "})
    assert asked.failure is None and asked.scope == SCHOOL
    assert [r.scope for r in asked.outbound] == [SCHOOL]
    stored = hub.journal.outbound("req-1")
    assert stored is not None and stored.scope == SCHOOL
    found = etree.tostring(answer(record(), request_id="req-1"), encoding="UTF-8")
    answered = smev(hub, support_smev.get_response(sent(hub, "req-1"), found), "zags")
    assert answered.failure is None and answered.scope == SCHOOL
    body = envelope(answered)
    assert (body["hubscope"], body["datacategory"]) == (SCHOOL, "identity")


def test_smevs_refusal_of_a_request_belongs_where_the_request_did(hub: Hub) -> None:
    command(hub, {**COMMAND, "request_id": "req-2", "scope": "45201"})
    request = hub.journal.transition_outbound("req-2", OutboundState.SENT)
    refusal = refusal_record(request, PermanentError("payload against SMEV's schema"))
    message = InboundMessage(
        Source.SMEV_REFUSAL,
        request.smev_message_id,
        json.dumps(refusal).encode(),
        "zags",
        "refusal",
        REFUSAL_CONTENT_TYPE,
    )
    outcome = processed(hub, message)
    [event] = outcome.events
    assert outcome.scope == "45201" and event.routing_key == "agency.request.rejected"
    assert event.headers["x-hub-scope"] == json.loads(event.payload)["hubscope"] == "45201"


def test_an_answer_that_fails_keeps_the_requests_scope(hub: Hub) -> None:
    command(hub, {**COMMAND, "request_id": "req-3", "scope": SCHOOL})
    broken = etree.tostring(
        answer(record(birth="2015-02-30"), request_id="req-3"), encoding="UTF-8"
    )
    failed = smev(hub, support_smev.get_response(sent(hub, "req-3"), broken), "zags")
    assert failed.failure is not None and failed.scope == SCHOOL
    [kept] = hub.journal.failed()
    assert kept.scope == SCHOOL


@pytest.mark.parametrize("scope", ["*", "45201/a b", "", "a/b/c", 17, ["45201"]])
def test_a_scope_that_is_not_one_fails_the_command_naming_the_field(
    hub: Hub, scope: object
) -> None:
    outcome = command(hub, {**COMMAND, "request_id": "req-4", "scope": scope})
    assert outcome.failure is not None and outcome.scope is None
    assert outcome.failure.error_type == "InvalidCommandError"
    assert outcome.failure.reason.startswith("scope:") and "a b" not in outcome.failure.reason
    assert hub.journal.outbound("req-4") is None


def test_a_command_without_scope_and_an_unasked_notice_are_the_regions(hub: Hub) -> None:
    asked = command(hub, {**COMMAND, "request_id": "req-5"})
    assert asked.scope == "" and [r.scope for r in asked.outbound] == [""]
    body = etree.tostring(notification(Notice.DEATH), encoding="UTF-8")
    told = smev(hub, support_smev.get_request(body), "zags")
    assert told.scope == "" and envelope(told)["hubscope"] == "*"
    posted = InboundMessage(
        "inbound", "n-1", support_smev.get_request(body), "zags", None, "text/xml", scope="45201"
    )  # as a municipality's own system posts it: the scope it arrived with stays
    assert processed(hub, posted).scope == "45201"


def test_a_gosuslugi_application_belongs_to_its_schools_scope(hub: Hub) -> None:
    body = etree.tostring(application(), encoding="UTF-8")
    outcome = smev(hub, support_smev.get_request(body), "gosuslugi")
    assert outcome.scope == "45201/16-0001"
    assert envelope(outcome)["hubscope"] == "45201/16-0001"
    assert [r.scope for r in outcome.outbound] == ["45201/16-0001"]  # the ApplicationAccepted
    unknown = application({"EduOrganization/Code": "16-0002", "orderId": "77"})
    elsewhere = smev(
        hub, support_smev.get_request(etree.tostring(unknown, encoding="UTF-8")), "gosuslugi"
    )
    assert elsewhere.scope == "_/16-0002"  # a municipality nobody named yet
    odd = application({"EduOrganization/Code": "школа 5", "orderId": "78"})
    assert (
        smev(
            hub, support_smev.get_request(etree.tostring(odd, encoding="UTF-8")), "gosuslugi"
        ).scope
        == ""
    )
    withdrawn = smev(
        hub, support_smev.get_request(etree.tostring(cancel(), encoding="UTF-8")), "gosuslugi"
    )
    assert withdrawn.scope == ""


def test_every_event_type_has_a_category_and_health_is_never_identity() -> None:
    assert set(DATA_CATEGORIES) == set(EVENT_TYPES)
    assert {data_category(t) for t in EVENT_TYPES} == {DataCategory.IDENTITY}
    assert data_category("health.vaccination.recorded") is DataCategory.HEALTH
    assert data_category("achievements.olympiad.won") is DataCategory.ACHIEVEMENTS
    assert data_category("test.notice.received") is DataCategory.IDENTITY
