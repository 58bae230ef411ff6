"""What operators and auditors see of a failed message, in the console and in ``hub failed
show``: a registry command (JSON) and a ZAGS answer (XML) that failed are shown with every
personal field masked by the declarations; the audited reveal shows them in clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hub.access import Role
from hub.bootstrap import Hub
from hub.canonical.sources import Source
from hub.cli.main import app
from hub.console import create_app
from hub.journal.records import FailedMessage, InboundMessage
from tests.support.console import console_hub, csrf_of, token
from tests.support.smev import get_response

pytestmark = pytest.mark.unit

SCOPE = "45201"
COMMAND = {
    "type": "verify_snils",
    "request_id": "req-7",
    "person_id": "p-7",
    "role": "student",
    "scope": SCOPE,
    "person": {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "2015-04-12",
        "sex": "female",
        "snils": "112-233-445 96",  # a wrong check number: the command fails
        "birth_place": "г. Казань",
    },
    "document": {"kind": "birth_certificate", "series": "IV-АН", "number": "654321"},
}
ANSWER = (
    '<tns:ROGDINFResponse xmlns:tns="urn://x-artefacts-zags-rogdinf/root/112-51/4.0.1" '
    'xmlns:fnst="urn://x-artefacts-zags-rogdinf/types/4.0.1" ИдЗапрос="q-1">'
    "<tns:СведОтветАГС><tns:СведРегРожд><tns:ПрдСведРег><tns:СведРодившемся>"
    "<tns:ФИОРожд><fnst:Фамилия>СЕМЕНОВА</fnst:Фамилия><fnst:Имя>АЛЕНА</fnst:Имя></tns:ФИОРожд>"
    "<tns:ДатаРождКаленд>2015-04-12</tns:ДатаРождКаленд>"
    '<tns:МестоРожден ПризнМесто="1" МестоТекст="г. Казань" Город="Казань"/>'
    "</tns:СведРодившемся></tns:ПрдСведРег></tns:СведРегРожд></tns:СведОтветАГС>"
    "</tns:ROGDINFResponse>"
)
SECRETS = (
    "Семёнова",
    "СЕМЕНОВА",
    "Алёна",
    "АЛЕНА",
    "Игоревна",
    "2015-04-12",
    "Казань",
    "112-233-445 96",
    "654321",
)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path) as made:
        yield made


def failed(hub: Hub, *messages: InboundMessage) -> list[FailedMessage]:
    hub.journal.receive(list(messages))
    records = hub.journal.start_attempts([m.inbox_id for m in messages])
    hub.journal.complete([hub.worker.outcome(record, None) for record in records])
    found = hub.journal.failed(limit=100)
    assert len(found) == len(messages), "the test messages did not fail as they should"
    return sorted(found, key=lambda f: f.agency or "")


@pytest.fixture
def stored(hub: Hub) -> list[FailedMessage]:
    """The failed command, then the failed ZAGS answer (to a request the hub never sent)."""
    command = InboundMessage(
        Source.REGISTRY,
        "req-7",
        json.dumps(COMMAND, ensure_ascii=False).encode(),
        content_type="application/json",
        scope=SCOPE,
    )
    answer = InboundMessage(
        "smev",
        "m-2",
        get_response("0ad3f3a0-1c1e-11f1-8000-000000000001", ANSWER.encode()),
        agency="zags",
        content_type="text/xml",
        scope=SCOPE,
    )
    return failed(hub, command, answer)


def test_the_console_shows_both_masked_and_reveals_them_audited(
    hub: Hub, stored: list[FailedMessage]
) -> None:
    client = TestClient(create_app(hub), follow_redirects=False)
    login = csrf_of(client.get("/login").text)
    client.post("/login", data={"token": token(hub, Role.OPERATOR, SCOPE), "csrf": login})
    for message in stored:
        page = client.get(f"/failed/messages/{message.failed_id}").text
        assert [s for s in SECRETS if s in page] == [], message.error_type
        assert "С***" in page
        path = f"/failed/messages/{message.failed_id}/reveal"
        csrf = csrf_of(client.get(f"/failed/messages/{message.failed_id}").text)
        revealed = client.post(path, data={"csrf": csrf, "reason": "ticket 7"}).text
        assert "Казань" in revealed


def test_hub_failed_show_shows_both_masked(hub: Hub, stored: list[FailedMessage]) -> None:
    admin = token(hub, Role.ADMIN, "*")
    env = {
        "HUB_DATABASE_URL": hub.settings.database_url.get_secret_value(),
        "HUB_TOPOLOGY_PREFIX": hub.settings.topology_prefix,
        "HUB_ADAPTERS": "[]",
        "HUB_REQUIRE_SIGNATURES": "false",
        "HUB_TOKEN": admin,
        "COLUMNS": "200",
    }
    for message in stored:
        shown = CliRunner().invoke(app, ["failed", "show", message.failed_id], env=env)
        assert shown.exit_code == 0, shown.output
        assert [s for s in SECRETS if s in shown.output] == [], shown.output
        assert "С***" in shown.output and message.failed_id in shown.output
