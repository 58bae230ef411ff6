"""Trace ids: a registry command's trace id follows it to the SMEV MessageID of its request
and on to the event the agency's answer becomes, and is in every log line written while a
message is processed. The SMEV client talks to the simulator in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.bootstrap import Hub
from hub.crypto.keys import Certificate
from hub.journal.records import InboxRecord, InboxStatus, OutboundState
from hub.logging import configure_logging
from hub.routing.api import TRACE_HEADER, Outgoing
from hub.services import tracing
from hub.simulator import ExchangeConfig
from hub.simulator.population import Population, birth_record_command
from hub.simulator.world import build_world
from tests.support.bus import EventCollector
from tests.support.notices import running
from tests.support.simulator import hub_on_exchange
from tests.support.waiting import wait_for

TRACE = "registry-trace:4f1c.2"


def _record(headers: dict[str, str] | None = None, inbox_id: str = "inbox-1") -> InboxRecord:
    return InboxRecord(
        inbox_id,
        "registry",
        "r-1",
        b"{}",
        None,
        None,
        "application/json",
        headers or {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )


# --- the rules ---------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_command_keeps_its_trace_header_or_gets_one_from_its_request_id() -> None:
    given = _record({TRACE_HEADER: TRACE})
    assert tracing.adopt(given, {"request_id": "r-1"}) == TRACE
    bare = _record()
    derived = tracing.adopt(bare, {"request_id": "r-1"})
    assert derived == tracing.adopt(_record(inbox_id="another"), {"request_id": "r-1"})
    assert derived != tracing.adopt(bare, {"request_id": "r-2"})


@pytest.mark.unit
@pytest.mark.parametrize(
    "value",
    ["Иванова Мария", "a b", "x" * 129, "", "id\nforged: 1", "06216093030", "062-160-930-30"],
)
def test_a_trace_header_that_is_no_token_is_replaced(value: str) -> None:
    record = _record({TRACE_HEADER: value})
    trace = tracing.adopt(record, {"request_id": "r-1"})
    assert trace != value and trace == tracing.derived("command", "r-1")


@pytest.mark.unit
def test_the_context_is_bound_while_processing_and_gone_afterwards() -> None:
    record = _record({TRACE_HEADER: TRACE})
    with tracing.message_context(record) as trace:
        assert trace == TRACE and tracing.trace_for(record) == TRACE
        assert tracing.stamped({"a": 1}) == {"a": 1, tracing.TRACE_KEY: TRACE}
        tracing.adopt(record, None, None)
    assert tracing.stamped({"a": 1}) == {"a": 1}
    import structlog

    assert "trace_id" not in structlog.contextvars.get_contextvars()


# --- end to end: command → SMEV MessageID → answer → event ------------------------------------


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(3, 2, reference_date=date(2026, 3, 1))


@pytest.fixture
def hub(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    fast_backend: object,
    dev_key_pair: tuple[object, Certificate],
    population: Population,
    reference_dir: Path,
) -> Iterator[Hub]:
    config = ExchangeConfig(verify_signatures=False)
    world = build_world(fast_backend, dev_key_pair[1], population, reference_dir, config)  # type: ignore[arg-type]
    hub = hub_on_exchange(
        tmp_path,
        topology_prefix,
        world.exchange,
        dev_key_pair,
        fast_backend,
        smev_poll_interval=0.05,
    )
    yield hub
    hub.close()


def _log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.mark.integration
def test_a_command_trace_reaches_the_smev_message_id_the_logs_and_the_event(
    hub: Hub, population: Population, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="DEBUG", json=True)
    student = population.students[0]
    command = birth_record_command(student, "req-trace-1")
    body = json.dumps(command, ensure_ascii=False).encode()
    message = Outgoing(body, command["type"], {TRACE_HEADER: TRACE}, "req-trace-1")
    with (
        EventCollector(hub) as events,
        running(hub.worker, hub.relay, hub.smev_client),
    ):
        hub.bus.publish(hub.topology.commands_exchange.name, [message])
        wait_for(lambda: bool(events.unique()))
    configure_logging(level="INFO")
    request = hub.journal.outbound("req-trace-1")
    assert request is not None and request.state is OutboundState.ANSWERED
    assert request.context[tracing.TRACE_KEY] == TRACE
    [event] = events.unique().values()
    assert event["hubtraceid"] == TRACE
    assert request.answer_inbox_id is not None
    [stored] = hub.journal.events_for(request.answer_inbox_id)
    assert stored.headers[TRACE_HEADER] == TRACE  # the AMQP header the relay sends
    lines = _log_lines(capsys.readouterr().err)
    sent = [line for line in lines if line["event"] == "request sent"]
    assert [(s["trace_id"], s["smev_message_id"]) for s in sent] == [
        (TRACE, request.smev_message_id)
    ]
    settled = [line for line in lines if line["event"] == "agency request settled"]
    assert len(settled) == 1 and settled[0]["trace_id"] == TRACE  # logged once written
    assert settled[0]["inbox_id"] == request.answer_inbox_id
    # Every line about a message carries its trace id; none carries the child's name.
    about_messages = [line for line in lines if "inbox_id" in line]
    assert about_messages and all(line.get("trace_id") for line in about_messages)
    family = student.registry.person.name.last
    assert family not in json.dumps(lines, ensure_ascii=False)


@pytest.mark.integration
def test_the_smev_client_counts_its_calls_on_the_same_trip(
    hub: Hub, population: Population
) -> None:
    from hub.console.metrics import render_metrics
    from tests.test_metrics import samples, value

    command = birth_record_command(population.students[1], "req-count-1")
    body = json.dumps(command, ensure_ascii=False).encode()
    with (
        EventCollector(hub) as events,
        running(hub.worker, hub.relay, hub.smev_client),
    ):
        hub.bus.publish(
            hub.topology.commands_exchange.name, [Outgoing(body, command["type"], {}, "req-1")]
        )
        wait_for(lambda: bool(events.unique()))
    found = samples(render_metrics(hub)[0].decode())
    assert value(found, "hub_smev_calls_total", method="SendRequest", result="ok") == 1
    assert value(found, "hub_smev_calls_total", method="GetResponse", result="ok") >= 2
    assert value(found, "hub_smev_calls_total", method="Ack", result="ok") == 1
    assert value(found, "hub_smev_messages_taken_total", queue="responses") == 1
    assert value(found, "hub_smev_call_seconds_count", method="SendRequest") == 1
    assert value(found, "hub_outbound_requests", state="answered") == 1
    kinds = {dict(labels).get("kind") for name, labels in found if name.endswith("processed_total")}
    assert kinds == {"command", "ROGDINFResponse"}
    [event] = events.unique().values()
    assert event["hubtraceid"] == tracing.derived("command", "req-count-1")  # no header given
