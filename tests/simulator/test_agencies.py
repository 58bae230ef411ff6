"""The agency emulators behind the simulator's exchange, in process: the hub's own requests
(built by its adapters from the population's commands) answered from the population, read
back by the hub's own translations; notifications and applications pushed to the hub."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from hub.adapters.gosuslugi import schemas as epgu
from hub.adapters.gosuslugi.requests import order_status_request
from hub.adapters.gosuslugi.translate import (
    read_application,
    translate_application,
    translate_status_response,
)
from hub.adapters.pfr import schemas as pfr
from hub.adapters.pfr.requests import snils_request
from hub.adapters.pfr.translate import translate_snils_response
from hub.adapters.router import AgencyRequest, AnsweredRequest
from hub.adapters.zags import schemas as zags
from hub.adapters.zags.requests import notification_answer, rogdinf_request
from hub.adapters.zags.translate import read_notification, translate_rogdinf_response
from hub.canonical.commands import (
    ReportEnrollmentStatus,
    VerifyBirthRecord,
    VerifySnils,
    parse_command,
)
from hub.canonical.events import APPLICATION_RECEIVED, STATUS_DELIVERED, EnrollmentApplication
from hub.canonical.values import Person
from hub.simulator import Exchange, ExchangeConfig
from hub.simulator.agencies import Agencies, GosuslugiEmulator, install
from hub.simulator.population import Check, Population, birth_record_command, zags_notices
from hub.smev.read import SmevMessage
from hub.xml import parse_xml

pytestmark = pytest.mark.unit

HUB = "HUB"


class HubSide:
    """The hub as a system of the exchange: keeps what reaches it."""

    def __init__(self) -> None:
        self.requests: list[SmevMessage] = []
        self.responses: dict[str, SmevMessage] = {}

    def on_request(self, request: SmevMessage) -> None:
        self.requests.append(request)

    def on_response(self, response: SmevMessage) -> None:
        self.responses[response.original_message_id or ""] = response


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(11, 60, discrepancy_share=0.3, reference_date=date(2026, 3, 1))


@pytest.fixture
def world(population: Population, reference_dir: Path) -> tuple[Exchange, HubSide, Agencies]:
    config = ExchangeConfig(verify_signatures=False, sign_replies=False)
    exchange = Exchange(verifier=None, signer=None, config=config)
    hub = HubSide()
    exchange.register_system(HUB, "Региональный хаб")
    exchange.attach(HUB, hub)
    agencies = install(
        exchange, population, subscriber=HUB, reference_dir=reference_dir, applications_count=5
    )
    return exchange, hub, agencies


def content(message: SmevMessage) -> etree._Element:
    """The business data as the hub receives it: bytes through its parser."""
    assert message.content is not None
    return parse_xml(etree.tostring(message.content, encoding="UTF-8"))


def ask(exchange: Exchange, hub: HubSide, request: AgencyRequest) -> etree._Element:
    message_id = exchange.push_request(HUB, parse_xml(request.content))
    return content(hub.responses[message_id])


def outcome(exchange: Exchange, hub: HubSide, check: Check, reference_dir: Path) -> str:
    command = parse_command(check.command)
    if isinstance(command, VerifyBirthRecord):
        request = rogdinf_request(command)
        answer = ask(exchange, hub, request)
        zags.validate(answer, reference_dir)
        events = translate_rogdinf_response(answer, request.context)
    else:
        assert isinstance(command, VerifySnils)
        request = snils_request(command)
        answer = ask(exchange, hub, request)
        pfr.validate(answer, reference_dir)
        events = translate_snils_response(answer, request.context)
    assert len(events) == 1
    return events[0].type


def test_every_check_ends_as_the_population_expects(
    world: tuple[Exchange, HubSide, Agencies], population: Population, reference_dir: Path
) -> None:
    exchange, hub, _ = world
    checks = population.checks()
    assert len(checks) > 120  # 60 students × 2, and their guardians
    got = {c.command["request_id"]: outcome(exchange, hub, c, reference_dir) for c in checks}
    expected = {c.command["request_id"]: c.event_type for c in checks}
    assert got == expected
    assert {t.rpartition(".")[2] for t in got.values()} == {"verified", "mismatch", "not_found"}


def test_a_corrected_record_comes_in_two_versions_and_only_the_current_one_counts(
    world: tuple[Exchange, HubSide, Agencies], population: Population, reference_dir: Path
) -> None:
    exchange, hub, _ = world
    corrected = [s for s in population.students if s.truth.superseded_certificate is not None]
    assert corrected  # the population has some: the registry holds their old certificate
    for student in corrected:
        command = parse_command(birth_record_command(student, f"corrected-{student.id}"))
        assert isinstance(command, VerifyBirthRecord)
        request = rogdinf_request(command)
        answer = ask(exchange, hub, request)
        zags.validate(answer, reference_dir)
        found = answer.findall(f".//{{{zags.NS}}}СведРегРожд")
        assert [r.get("НомерВерс") for r in found] == ["1", "2"]
        [event] = translate_rogdinf_response(answer, request.context)
        assert event.type == "student.birth.mismatch"
        assert event.data["record_version"]["version_number"] == "2"
        assert event.data["matched_superseded_version"]["version_number"] == "1"


def test_zags_notifications_reach_the_subscriber_and_read_as_their_events(
    world: tuple[Exchange, HubSide, Agencies], population: Population
) -> None:
    exchange, hub, agencies = world
    notices = zags_notices(population, name_changes=3, deaths=1, paternities=1)
    assert len(notices) == 5
    sent = agencies.zags.push_notices(exchange, notices)
    assert [r.message_id for r in hub.requests] == sent
    for notice, request in zip(notices, hub.requests, strict=True):
        element = content(request)
        zags.validate(element)
        read = read_notification(element)
        assert read.record_id == notice.record.record_id
        assert tuple(e.type for e in read.events) == notice.event_types
        answer = notification_answer(read.record_id, kind=read.kind)
        exchange.respond(HUB, request.reply_to or "", parse_xml(answer))
    assert [(a.record_id, a.code) for a in agencies.zags.answers] == [
        (n.record.record_id, "1") for n in notices
    ]


def test_applications_go_out_at_the_set_rate(
    world: tuple[Exchange, HubSide, Agencies], population: Population
) -> None:
    exchange, hub, _ = world
    epgu_side = GosuslugiEmulator(population, count=5, rate=2.0, mnemonic="EPGU2")
    exchange.register_system("EPGU2")
    assert [len(epgu_side.step(exchange, t)) for t in (10.0, 10.4, 11.0, 11.2, 99.0, 100.0)] == [
        1,
        0,
        2,
        0,
        2,
        0,
    ]
    assert epgu_side.done and len(hub.requests) == 5
    assert epgu_side.due(1000.0) == 0


def _without_places(application: EnrollmentApplication) -> EnrollmentApplication:
    # birth places are not part of an application
    def bare(person: Person) -> Person:
        return replace(person, birth_place=None)

    return replace(
        application,
        child=bare(application.child),
        applicant=replace(application.applicant, person=bare(application.applicant.person)),
        other_guardians=tuple(
            replace(g, person=bare(g.person)) for g in application.other_guardians
        ),
        benefits=tuple(application.benefits),
    )


def test_applications_are_valid_and_read_back_as_sent(
    world: tuple[Exchange, HubSide, Agencies],
) -> None:
    exchange, hub, agencies = world
    gosuslugi = agencies.gosuslugi
    gosuslugi.step(exchange, 0.0)
    gosuslugi.step(exchange, 3600.0)
    assert len(hub.requests) == len(gosuslugi.applications) == 5
    for application, request in zip(gosuslugi.applications, hub.requests, strict=True):
        element = content(request)
        epgu.validate(element)
        read = read_application(element)
        assert _without_places(read) == _without_places(application)
        translation = translate_application(element)
        assert [e.type for e in translation.events] == [APPLICATION_RECEIVED]


def test_status_events_are_answered_with_code_0_and_kept(
    world: tuple[Exchange, HubSide, Agencies],
) -> None:
    exchange, hub, agencies = world
    orders = [a.order_number for a in agencies.gosuslugi.applications[:3]]
    for index, (order, code) in enumerate(zip(orders, (6, 3, 4), strict=True)):
        command = ReportEnrollmentStatus(f"status-{index}", order, code, "Решение принято")
        request = order_status_request(command, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        answer = ask(exchange, hub, request)
        epgu.validate(answer)
        answered = AnsweredRequest(
            request.request_id, request.agency, request.kind, request.context, "m"
        )
        translation = translate_status_response(answer, answered)
        assert [e.type for e in translation.events] == [STATUS_DELIVERED]
    statuses = [(s.order_number, s.code, s.comment) for s in agencies.gosuslugi.statuses]
    assert statuses == [(o, c, "Решение принято") for o, c in zip(orders, (6, 3, 4), strict=True)]


def test_a_kind_the_agency_does_not_serve_is_rejected(
    world: tuple[Exchange, HubSide, Agencies],
) -> None:
    exchange, hub, _ = world
    exchange.route("urn://example/other/1.0", "ZAGS")
    message_id = exchange.push_request(HUB, etree.Element("{urn://example/other/1.0}Other"))
    rejections = hub.responses[message_id].rejections
    assert [r.code for r in rejections] == ["UNKNOWN_REQUEST_DESCRIPTION"]
