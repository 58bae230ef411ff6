"""The backbone end to end, on the embedded default and on production parts.

One suite, two stacks: SQLite + kombu's in-memory broker, and PostgreSQL + RabbitMQ. Messages
go in through the inbound exchange as an agency system would post them; events come out of
the events exchange to a consumer that deduplicates by event id, as the registry does.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from contract_tests.conftest import stack_urls
from hub.access import Principal, Role
from hub.adapters.gosuslugi import schemas as gosuslugi_schemas
from hub.adapters.zags import schemas as zags_schemas
from hub.adapters.zags.schemas import Notice
from hub.bootstrap import Hub, bootstrap
from hub.canonical.ids import inbox_id_for
from hub.canonical.jsonschemas import validate_event
from hub.config import Settings
from hub.journal.records import FailedStatus, InboxStatus
from hub.routing.api import Outgoing
from hub.xml import parse_xml
from tests.adapters.test_gosuslugi_translate import ORDER, application, status_response
from tests.adapters.test_zags_notifications import RECORD_ID as ZAGS_RECORD_ID
from tests.adapters.test_zags_notifications import notification as zags_notification
from tests.adapters.test_zags_translate import COMMAND as ZAGS_COMMAND
from tests.adapters.test_zags_translate import answer as rogdinf_answer
from tests.adapters.test_zags_translate import record as rogdinf_record
from tests.support import smev as support_smev
from tests.support.bus import EventCollector, delete_topology
from tests.support.notices import FLAKY, LATE, FlakyAdapter, notice, running, translate_notice
from tests.support.notices import register as register_notices
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.contract, pytest.mark.integration]


@pytest.fixture(params=["embedded", "production"])
def hub(request: pytest.FixtureRequest, tmp_path: Path, topology_prefix: str) -> Iterator[Hub]:
    database, broker = stack_urls(request, tmp_path)
    settings = Settings(
        database_url=database,
        broker_url=broker,
        topology_prefix=topology_prefix,
        require_signatures=False,
        retry_budget=3,
        retry_delays=(1, 1, 2),
        worker_batch=50,
    )
    hub = bootstrap(settings)
    register_notices(hub.router)
    hub.bus.declare()
    yield hub
    delete_topology(broker, hub.topology)
    hub.close()


def post(hub: Hub, bodies: list[bytes], agency: str = "zags", ids: list[str] | None = None) -> None:
    ids = ids or [str(uuid.uuid4()) for _ in bodies]
    messages = [
        Outgoing(body, agency, {"x-hub-source": "smev"}, message_id, "text/xml")
        for body, message_id in zip(bodies, ids, strict=True)
    ]
    hub.bus.publish(hub.topology.inbound_exchange.name, messages)


def test_every_message_becomes_one_event_in_subject_order(hub: Hub) -> None:
    bodies = [notice(f"child-{i % 7}", i) for i in range(120)]
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, bodies)
        wait_for(lambda: len(events.unique()) == 120)
    unique = events.unique()
    assert {e["data"]["n"] for e in unique.values()} == set(range(120))
    for subject in {f"child-{i}" for i in range(7)}:
        about = sorted(
            (e for e in events.received if e["subject"] == subject), key=lambda e: e["seq"]
        )
        assert [e["data"]["n"] for e in about] == sorted(e["data"]["n"] for e in about)


def test_redelivery_and_resends_are_processed_once(hub: Hub) -> None:
    same_id, first, resent = (str(uuid.uuid4()) for _ in range(3))
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [notice("a", 1), notice("a", 1)], ids=[same_id, same_id])
        # An agency resends the same fact (record 77) under a new MessageID.
        post(hub, [notice("b", 2, record_id="77")], ids=[first])
        wait_for(lambda: len(events.unique()) == 2)
        post(hub, [notice("b", 2, record_id="77")], ids=[resent])
        wait_for(lambda: _status(hub, resent) is not InboxStatus.RECEIVED)
        time.sleep(0.3)
    assert len(events.received) == 2
    assert _status(hub, first) is InboxStatus.PROCESSED
    assert _status(hub, resent) is InboxStatus.DUPLICATE


def _status(hub: Hub, message_id: str) -> InboxStatus | None:
    record = hub.journal.inbox(inbox_id_for("smev", message_id))
    return record.status if record else None


def test_bad_input_is_kept_whole_and_the_queue_keeps_flowing(hub: Hub) -> None:
    huge = b"<a>" + b"x" * (hub.settings.xml_max_bytes + 10) + b"</a>"
    bad = {
        "malformed": b"<soap:Envelope><unclosed>",
        "huge": huge,
        "unknown-root": notice("c", 3, tag="{urn://nobody/1.0}Unknown"),
    }
    ids = {name: str(uuid.uuid4()) for name in bad}
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, list(bad.values()), ids=list(ids.values()))
        post(hub, [notice("d", 4)], agency="no-such-agency")
        post(hub, [notice("e", 5)])
        wait_for(lambda: len(events.unique()) == 1)
        wait_for(lambda: len(hub.journal.failed()) == 4)
    by_type = {f.error_type: f for f in hub.journal.failed()}
    assert set(by_type) == {
        "MalformedXmlError",
        "XmlTooLargeError",
        "UnknownKindError",
        "UnknownAgencyError",
    }
    stored = hub.journal.inbox(by_type["XmlTooLargeError"].inbox_id)
    assert stored is not None and stored.raw == huge  # kept byte for byte
    assert "line 1" in by_type["MalformedXmlError"].reason


def test_passing_failures_are_retried_then_kept(hub: Hub) -> None:
    flaky = FlakyAdapter(failures=1)
    hub.router.register_inbound(FLAKY, flaky)
    hopeless = FlakyAdapter(failures=100)
    hub.router.register_inbound(LATE, hopeless)
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [notice("f", 6, tag=FLAKY), notice("g", 7, tag=LATE)])
        wait_for(lambda: len(events.unique()) == 1, timeout=60)
        wait_for(lambda: len(hub.journal.failed()) == 1, timeout=90)
    [failed] = hub.journal.failed()
    assert failed.error_type == "RetryBudgetSpentError"
    assert max(hopeless.calls.values()) == hub.settings.retry_budget


def operator(hub: Hub) -> Principal:
    """A region-wide operator, with a token issued and presented as a person would."""
    issued = hub.access.issue("operator@test", Role.OPERATOR, "*", None, "test")
    return hub.access.authenticate(issued.text)


def test_replay_after_the_cause_is_fixed_publishes_once(hub: Hub) -> None:
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [notice("h", 8, tag=LATE)])
        wait_for(lambda: len(hub.journal.failed()) == 1)
        [failed] = hub.journal.failed()
        assert failed.error_type == "UnknownKindError"
        dry = hub.operations.dry_run(operator(hub), failed)
        assert dry.status == "failed" and not events.unique()
        hub.router.register_inbound(LATE, translate_notice)  # the fix is deployed
        [result] = hub.operations.replay(operator(hub), [failed])
        assert result.status == InboxStatus.PROCESSED.value
        wait_for(lambda: len(events.unique()) == 1)
        assert hub.operations.replay(operator(hub), [failed]) == []  # nothing left to do
        time.sleep(0.5)
    assert len(events.received) == 1
    assert hub.journal.failed_message(failed.failed_id).status is FailedStatus.REPLAYED
    actions = [a.action for a in hub.journal.audit_log()]
    assert "replay-result" in actions


def test_registry_commands_are_routed_by_type(hub: Hub) -> None:
    def verify_birth(command: dict[str, object], record: object) -> object:
        from hub.adapters.router import Translation
        from hub.canonical.drafts import EventDraft

        return Translation(
            [
                EventDraft(
                    "registry.command.accepted",
                    str(command["subject"]),
                    {"request": command["request_id"]},
                )
            ]
        )

    hub.router.register_command("verify-birth", verify_birth)  # type: ignore[arg-type]
    command = {"type": "verify-birth", "request_id": "r-1", "subject": "child-9"}
    unknown = {"type": "teleport", "request_id": "r-2"}
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        hub.bus.publish(
            hub.topology.commands_exchange.name,
            [
                Outgoing(
                    json.dumps(c).encode(),
                    str(c["type"]),
                    {},
                    str(c["request_id"]),
                    "application/json",
                )
                for c in (command, unknown)
            ],
        )
        wait_for(lambda: len(events.unique()) == 1)
        wait_for(lambda: len(hub.journal.failed()) == 1)
    assert hub.journal.failed()[0].error_type == "UnknownKindError"


def test_a_wrong_signature_is_kept_and_replayed_once_trusted(hub: Hub, xml_signer: object) -> None:
    checking = dataclasses.replace(hub.processor, verifier=hub.verifier)
    hub.worker.processor = checking  # replay goes through the same worker
    signed = notice("i", 9, signer=xml_signer)  # type: ignore[arg-type]
    tampered = signed.replace(b">i<", b">j<")
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [tampered, notice("k", 10, signer=xml_signer)])  # type: ignore[arg-type]
        wait_for(lambda: len(events.unique()) == 1)
        wait_for(lambda: len(hub.journal.failed()) == 1)
        [failed] = hub.journal.failed()
        assert failed.error_type == "SignatureError"
        assert "invalid" in failed.reason
        stored = hub.journal.inbox(failed.inbox_id)
        assert stored is not None and stored.raw == tampered  # kept as received
        # The operator decides the sender's system is trusted without signatures for now.
        trusting = dataclasses.replace(checking, verifier=None)
        hub.worker.processor = trusting
        [result] = hub.operations.replay(operator(hub), [failed])
        assert result.status == "processed"
        wait_for(lambda: len(events.unique()) == 2)


# --- a registry command asks an agency; the answer settles it --------------------------------

SNILS_COMMAND = {
    "type": "verify_snils",
    "request_id": "req-snils-1",
    "person_id": "p-1",
    "role": "guardian",
    "person": {
        "name": {"last": "Семёнова", "first": "Анна", "middle": "Петровна"},
        "birth_date": "1988-01-30",
        "sex": "female",
        "snils": "062-160-930 30",
    },
    "document": {
        "kind": "passport",
        "series": "9204",
        "number": "123456",
        "issued_on": "2020-02-03",
        "issuer": "МВД",
    },
}


def _command(hub: Hub, command: dict[str, object]) -> None:
    body = json.dumps(command, ensure_ascii=False).encode()
    message = Outgoing(
        body, str(command["type"]), {}, str(command["request_id"]), "application/json"
    )
    hub.bus.publish(hub.topology.commands_exchange.name, [message])


def _pfr_answer(snils: str) -> bytes:
    ns, commons = (
        "http://kvs.pfr.com/snils-by-additionalData/1.0.1",
        ("urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1"),
    )
    return (
        f'<p:SnilsByAdditionalDataResponse xmlns:p="{ns}" xmlns:c="{commons}">'
        "<c:FamilyName>СЕМЕНОВА</c:FamilyName><c:FirstName>АННА</c:FirstName>"
        f"<c:Patronymic>ПЕТРОВНА</c:Patronymic><p:Snils>{snils}</p:Snils>"
        "<p:BirthDate>1988-01-30</p:BirthDate><p:Gender>Female</p:Gender>"
        "</p:SnilsByAdditionalDataResponse>"
    ).encode()


def _as_published(event: dict[str, object]) -> dict[str, object]:
    """The CloudEvent without what the test collector notes beside it (AMQP properties)."""
    return {k: v for k, v in event.items() if k not in {"seq", "event_id"}}


def _sent(hub: Hub, request_id: str) -> str:
    """What the SMEV client does: send the pending request; its SMEV MessageID."""
    from hub.journal.records import OutboundState

    wait_for(lambda: hub.journal.outbound(request_id) is not None)
    request = hub.journal.transition_outbound(request_id, OutboundState.SENT)
    hub.journal.transition_outbound(request_id, OutboundState.ACCEPTED)
    return request.smev_message_id


def test_a_command_asks_the_agency_and_its_answer_becomes_the_event(hub: Hub) -> None:
    from tests.support.smev import get_response

    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        _command(hub, SNILS_COMMAND)
        message_id = _sent(hub, "req-snils-1")
        post(hub, [get_response(message_id, _pfr_answer("06216093030"))], agency="pfr")
        wait_for(lambda: len(events.unique()) == 1)
    [event] = events.unique().values()
    validate_event(_as_published(event))  # what the registry gets matches its schema
    assert (event["type"], event["subject"]) == ("person.snils.verified", "person:p-1")
    assert event["data"]["snils"] == "062-160-930 30"
    stored = hub.journal.outbound("req-snils-1")
    assert (
        stored is not None
        and stored.state == "answered"
        and stored.kind == ("snils-by-additional-data")
    )


def test_a_refusal_and_an_answer_nobody_asked_for(hub: Hub) -> None:
    from tests.support.smev import get_response

    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        _command(hub, SNILS_COMMAND)
        message_id = _sent(hub, "req-snils-1")
        stranger = str(uuid.uuid1())
        post(
            hub,
            [
                get_response(message_id, rejection=("NO_DATA", "сведения не найдены")),
                get_response(stranger, _pfr_answer("06216093030")),
            ],
            agency="pfr",
        )
        wait_for(lambda: len(events.unique()) == 1 and len(hub.journal.failed()) == 1)
    [event] = events.unique().values()
    validate_event(_as_published(event))
    assert event["type"] == "agency.request.rejected"
    assert (event["data"]["code"], event["data"]["agency"]) == ("NO_DATA", "pfr")
    stored = hub.journal.outbound("req-snils-1")
    assert stored is not None and stored.state == "rejected"
    [failed] = hub.journal.failed()
    assert failed.error_type == "UnknownRequestError" and stranger in failed.reason


def test_a_command_with_a_bad_snils_asks_nothing(hub: Hub) -> None:
    bad = {
        **SNILS_COMMAND,
        "request_id": "req-bad",
        "person": {**SNILS_COMMAND["person"], "snils": "062-160-930 31"},
    }  # type: ignore[dict-item]
    with running(hub.worker, hub.relay):
        _command(hub, bad)
        wait_for(lambda: len(hub.journal.failed()) == 1)
    [failed] = hub.journal.failed()
    assert failed.error_type == "InvalidValueError" and "person.snils" in failed.reason
    assert "062-160-930 31" not in failed.reason
    assert hub.journal.outbound("req-bad") is None


# --- Gosuslugi: applications in, statuses out -------------------------------------------------

EPGU_REPLY_TO = "eyJzaWQiOjEsIm1uZW1vbmljIjoiRVBHVSJ9"
STATUS_COMMAND = {
    "type": "report_enrollment_status",
    "request_id": "req-status-1",
    "order_number": ORDER,
    "status_code": 3,
    "comment": "Зачислен",
}


def _epgu_request(element: etree._Element) -> bytes:
    """An application as SMEV delivers EPGU's request: a new MessageID each time."""
    body = etree.tostring(element, encoding="UTF-8")
    return support_smev.get_request(body, reply_to=EPGU_REPLY_TO)


def _settled(hub: Hub, message_id: str) -> bool:
    return _status(hub, message_id) in {
        InboxStatus.PROCESSED,
        InboxStatus.DUPLICATE,
        InboxStatus.FAILED,
    }


def test_an_application_is_published_answered_and_its_resend_processed_once(hub: Hub) -> None:
    first, resent = str(uuid.uuid4()), str(uuid.uuid4())
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [_epgu_request(application())], agency="gosuslugi", ids=[first])
        wait_for(lambda: len(events.unique()) == 1)
        # EPGU sends the same application again, under a new MessageID
        post(hub, [_epgu_request(application())], agency="gosuslugi", ids=[resent])
        wait_for(lambda: _settled(hub, resent))
        time.sleep(0.3)
    [event] = events.received
    validate_event(_as_published(event))
    assert (event["type"], event["subject"]) == (
        "enrollment.application.received",
        f"application:{ORDER}",
    )
    assert event["data"]["child_birth_certificate"]["series"] == "IV-АН"
    assert _status(hub, first) is InboxStatus.PROCESSED
    assert _status(hub, resent) is InboxStatus.DUPLICATE
    for message_id in (first, resent):  # each request is answered, at its ReplyTo
        reply = hub.journal.outbound(f"reply:{inbox_id_for('smev', message_id)}")
        assert reply is not None and (reply.agency, reply.kind, reply.state, reply.reply_to) == (
            "gosuslugi",
            "application-accepted",
            "pending",
            EPGU_REPLY_TO,
        )
        answer = parse_xml(reply.payload)
        gosuslugi_schemas.validate(answer)
        assert answer.findtext(f"{{{gosuslugi_schemas.NS}}}orderId") == ORDER


def test_an_application_with_an_invalid_snils_is_kept_failed_and_unanswered(hub: Hub) -> None:
    message_id = str(uuid.uuid4())
    bad = application({"ChildInfo/ChildSNILS": "112-233-445 96"})
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [_epgu_request(bad)], agency="gosuslugi", ids=[message_id])
        wait_for(lambda: len(hub.journal.failed()) == 1)
        time.sleep(0.3)
    assert not events.received
    [failed] = hub.journal.failed()
    assert failed.error_type == "GosuslugiContentError"
    assert "ApplicationRequest/ChildInfo/ChildSNILS is not valid: check number" in failed.reason
    assert "112-233-445" not in failed.reason + failed.traceback
    assert hub.journal.outbound(f"reply:{inbox_id_for('smev', message_id)}") is None


@pytest.mark.parametrize(
    ("code", "expected", "state"),
    [
        ("0", "enrollment.status.delivered", "answered"),
        ("2", "agency.request.rejected", "rejected"),
    ],
    ids=["taken", "refused"],
)
def test_a_status_report_reaches_epgu_and_its_response_becomes_the_event(
    hub: Hub, code: str, expected: str, state: str
) -> None:
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        _command(hub, STATUS_COMMAND)
        message_id = _sent(hub, "req-status-1")
        answer = etree.tostring(status_response(code), encoding="UTF-8")
        post(hub, [support_smev.get_response(message_id, answer)], agency="gosuslugi")
        wait_for(lambda: len(events.unique()) == 1)
    stored = hub.journal.outbound("req-status-1")
    assert stored is not None and (stored.kind, stored.state) == ("order-status", state)
    sent = parse_xml(stored.payload)  # the orderStatusEvent as the hub sent it
    gosuslugi_schemas.validate(sent)
    assert sent.findtext(f"{{{gosuslugi_schemas.EVENT_NS}}}orderId") == ORDER
    [event] = events.unique().values()
    validate_event(_as_published(event))
    assert event["type"] == expected
    if expected == "enrollment.status.delivered":
        assert (event["subject"], event["data"]) == (
            f"application:{ORDER}",
            {
                "request_id": "req-status-1",
                "order_number": ORDER,
                "status_code": 3,
                "status": "executed",
            },
        )


# --- ZAGS: a birth record asked for, a change notification received ---------------------------


@pytest.mark.parametrize(
    ("born", "expected"),
    [("2015-04-12", "student.birth.verified"), ("2014-04-12", "student.birth.mismatch")],
    ids=["verified", "mismatch"],
)
def test_a_birth_record_check_asks_zags_and_its_answer_becomes_the_event(
    hub: Hub, born: str, expected: str
) -> None:
    command = {**ZAGS_COMMAND, "request_id": "req-birth-1"}
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        _command(hub, command)
        message_id = _sent(hub, "req-birth-1")
        found = rogdinf_answer(rogdinf_record(birth=born), request_id="req-birth-1")
        body = etree.tostring(found, encoding="UTF-8")
        post(hub, [support_smev.get_response(message_id, body)], agency="zags")
        wait_for(lambda: len(events.unique()) == 1)
    [event] = events.unique().values()
    validate_event(_as_published(event))
    assert (event["type"], event["subject"]) == (expected, "student:s-1")
    assert event["data"]["request_id"] == "req-birth-1"
    stored = hub.journal.outbound("req-birth-1")
    assert stored is not None and (stored.kind, stored.state) == ("rogdinf", "answered")
    assert parse_xml(stored.payload).tag == zags_schemas.REQUEST


def test_a_zags_notification_becomes_its_event_and_an_answer(hub: Hub) -> None:
    message_id, reply_to = str(uuid.uuid4()), "eyJzaWQiOjIsIm1uZW1vbmljIjoiRk5TIn0="
    body = etree.tostring(zags_notification(Notice.DEATH), encoding="UTF-8")
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        post(hub, [support_smev.get_request(body, reply_to=reply_to)], ids=[message_id])
        wait_for(lambda: len(events.unique()) == 1)
    [event] = events.unique().values()
    validate_event(_as_published(event))
    assert event["type"] == "person.death.registered"
    assert event["data"]["record_id"] == ZAGS_RECORD_ID
    reply = hub.journal.outbound(f"reply:{inbox_id_for('smev', message_id)}")
    assert reply is not None and (reply.agency, reply.kind, reply.reply_to) == (
        "zags",
        "zags-notification-ack",
        reply_to,
    )
    answer = parse_xml(reply.payload)
    zags_schemas.validate(answer)
    assert (answer.get("ИдСвед"), answer.get("КодОбр")) == (ZAGS_RECORD_ID, "1")
