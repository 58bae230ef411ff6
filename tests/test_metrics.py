"""Prometheus metrics after real messages went through the worker and the relay on the
embedded stack (SQLite + the in-memory broker): the counts, the scrape-time gauges, nothing
personal, and a scrape that survives a broker and a database that are down."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub import metrics as hub_metrics
from hub.adapters.router import Translation
from hub.bootstrap import Hub, bootstrap
from hub.canonical.drafts import EventDraft
from hub.canonical.ids import inbox_id_for
from hub.config import Settings
from hub.console.metrics import render_metrics
from hub.journal.records import InboxStatus
from hub.routing.api import KIND_HEADER, SOURCE_HEADER, TRACE_HEADER, Outgoing
from tests.support.bus import EventCollector
from tests.support.notices import FLAKY, NOTICE, FlakyAdapter, notice, running
from tests.support.notices import register as register_notices
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

NAME, SNILS = "Иванова Мария Петровна", "062-160-930 30"  # what the messages carry
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found: Samples, name: str) -> float:
    return sum(v for (n, _), v in found.items() if n == name)


@pytest.fixture
def hub(tmp_path: Path, topology_prefix: str) -> Iterator[Hub]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        broker_url="memory://",
        topology_prefix=topology_prefix,
        require_signatures=False,
        retry_delays=(1,),
    )
    hub = bootstrap(settings)
    register_notices(hub.router)
    hub.router.register_inbound(FLAKY, FlakyAdapter(1))
    hub.router.register_command("check", _check)
    hub.bus.declare()
    yield hub
    hub.close()


def _check(command: object, record: object) -> Translation:
    return Translation([EventDraft("registry.check.done", "check:1", {})])


def _post(hub: Hub, bodies: list[tuple[bytes, str]]) -> list[str]:
    """Publish as the SMEV client hands messages over; their inbox ids."""
    ids = [str(uuid.uuid4()) for _ in bodies]
    messages = [
        Outgoing(body, "zags", {SOURCE_HEADER: "smev", KIND_HEADER: kind}, message_id)
        for (body, kind), message_id in zip(bodies, ids, strict=True)
    ]
    hub.bus.publish(hub.topology.inbound_exchange.name, messages)
    return [inbox_id_for("smev", message_id) for message_id in ids]


def _settled(hub: Hub, inbox_id: str) -> bool:
    record = hub.journal.inbox(inbox_id)
    return record is not None and record.status != InboxStatus.RECEIVED


def _run_messages(hub: Hub) -> None:
    command = json.dumps({"type": "check", "request_id": "c-1"}).encode()
    with EventCollector(hub) as events, running(hub.worker, hub.relay):
        _post(hub, [(notice(f"{NAME} {SNILS}", n, record_id=f"r{n}"), NOTICE) for n in (1, 2, 3)])
        _post(hub, [(b"<not xml", NOTICE), (notice("flaky", 4, tag=FLAKY), FLAKY)])
        command_message = Outgoing(command, "check", {TRACE_HEADER: "t-1"}, "c-1")
        hub.bus.publish(hub.topology.commands_exchange.name, [command_message])
        wait_for(lambda: len(events.unique()) == 5)
        [again] = _post(hub, [(notice(NAME, 5, record_id="r1"), NOTICE)])  # the same fact
        wait_for(lambda: _settled(hub, again))
        wait_for(lambda: hub.journal.health_counts().outbox_pending == 0)


def test_the_counts_of_real_messages_and_the_state_at_scrape_time(hub: Hub) -> None:
    _run_messages(hub)
    body, content_type = render_metrics(hub)
    assert content_type.startswith("text/plain; version=0.0.4")
    found = samples(body.decode())
    received = "hub_messages_received_total"
    assert value(found, received, agency="zags", kind="Notice") == 5
    assert value(found, received, agency="zags", kind="Flaky") == 1
    assert value(found, received, agency="registry", kind="command") == 1
    processed = "hub_messages_processed_total"
    outcomes = {
        (dict(labels)["kind"], dict(labels)["outcome"]): v
        for (name, labels), v in found.items()
        if name == processed
    }
    assert outcomes == {
        ("Notice", "processed"): 3,
        ("Notice", "failed"): 1,
        ("Notice", "duplicate"): 1,
        ("Flaky", "retried"): 1,
        ("Flaky", "processed"): 1,
        ("command", "processed"): 1,
    }
    [(failure_labels, failures)] = [
        (dict(labels), v) for (name, labels), v in found.items() if name == "hub_failures_total"
    ]
    assert failures == 1 and failure_labels["agency"] == "zags"
    assert re.fullmatch(r"[A-Z][A-Za-z]+Error", failure_labels["error_type"])
    assert value(found, "hub_retries_total", agency="zags", delay="1") == 1
    published = "hub_events_published_total"
    assert value(found, published, event_type="test.notice.received") == 4
    assert value(found, published, event_type="registry.check.done") == 1
    assert value(found, "hub_processing_seconds_count", agency="zags") == 6
    assert value(found, "hub_event_publish_delay_seconds_count") == 5
    # read at scrape time from the broker and the journal
    work_queue = hub.topology.work_queues[0].name
    assert ("hub_queue_depth", frozenset({("queue", work_queue)})) in found
    assert value(found, "hub_failed_messages_open") == 1
    assert value(found, "hub_inbox_unfinished") == 0
    assert value(found, "hub_outbound_requests", state="pending") == 0
    assert total(found, "hub_metrics_scrape_errors_total") == 0


def test_nothing_personal_in_the_metrics(hub: Hub) -> None:
    _run_messages(hub)
    text = render_metrics(hub)[0].decode()
    for secret in (*NAME.split(), SNILS, SNILS.replace("-", "").replace(" ", ""), "t-1"):
        assert secret not in text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)  # no inbox, event or message ids


def test_labels_stay_bounded_whatever_arrives(hub: Hub) -> None:
    odd = [(notice(NAME, n), f"{{urn://x/{n}}}Kind{n}") for n in range(20)]
    with running(hub.worker, hub.relay):
        ids = _post(hub, odd)
        wait_for(lambda: all(_settled(hub, inbox_id) for inbox_id in ids))
    found = samples(render_metrics(hub)[0].decode())
    kinds = {dict(labels)["kind"] for (name, labels) in found if name.startswith("hub_messages")}
    assert kinds == {"other"}


def test_a_scrape_while_the_broker_and_the_database_are_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_metrics, "SCRAPE_TIMEOUT", 2.0)
    settings = Settings(
        database_url="postgresql+psycopg://hub@127.0.0.1:1/hub?connect_timeout=1",
        broker_url="amqp://guest:guest@127.0.0.1:1//",
        topology_prefix="down",
    )
    hub = bootstrap(settings)
    started = time.monotonic()
    body, _ = render_metrics(hub)
    assert time.monotonic() - started < 5
    found = samples(body.decode())
    assert value(found, "hub_metrics_scrape_errors_total", source="broker") == 1
    assert value(found, "hub_metrics_scrape_errors_total", source="database") == 1
    assert not any(name == "hub_queue_depth" for name, _ in found)
    assert not any(name == "hub_outbound_requests" for name, _ in found)
    assert "hub_messages_received_total" in body.decode()  # the rest is still served
