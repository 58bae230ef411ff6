"""The intake gate on every path in: a message that breaks its agency's schema or the
canonical bounds is refused with the same reason whether it arrives through ``POST
/inbound`` (and so the worker), is replayed or dry-run by an operator, or is read by ``hub
translate``, and nothing is published for it. The answers to the hub's own requests go the
same way through the processor (the worker's core) and ``hub translate --command``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from starlette.testclient import TestClient

from hub.access import Role
from hub.access.policy import Principal
from hub.adapters.gosuslugi.schemas import NS as EPGU_NS
from hub.bootstrap import Hub
from hub.console import create_app
from hub.journal.records import FailedMessage, InboxStatus, OutboundState
from tests.adapters import test_zags_handlers as zags
from tests.adapters.test_gosuslugi_translate import application
from tests.adapters.test_pfr_handlers import COMMAND, processor, record
from tests.adapters.test_pfr_translate import answer as pfr_answer
from tests.adapters.test_zags_translate import answer as zags_answer
from tests.adapters.test_zags_translate import record as zags_record
from tests.support.adapters import asked_by, command_record
from tests.support.console import console_hub, token
from tests.support.notices import running
from tests.support.smev import get_request, get_response
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[1]
ADAPTERS = (
    "hub.adapters.zags:register",
    "hub.adapters.pfr:register",
    "hub.adapters.gosuslugi:register",
)
ADMIN = Principal("test-admin", "test-admin", Role.ADMIN, "*")
LONG = "А" * 300_000


def _extra_representatives(root: etree._Element) -> etree._Element:
    """Five other representatives where the schema allows four."""
    one = root.find(f"{{{EPGU_NS}}}OtherRepresentative")
    assert one is not None
    for _ in range(4):
        one.addnext(etree.fromstring(etree.tostring(one)))
    return root


def _foreign_child(root: etree._Element) -> etree._Element:
    child = root.find(f"{{{EPGU_NS}}}ChildInfo")
    assert child is not None
    child.tag = "{urn://somebody-else/1.0}ChildInfo"
    return root


def _changed(changes: dict[str, str | None]) -> Callable[[], etree._Element]:
    return lambda: application(changes)


# Each class of violation in an application; the value never appears in the reason.
APPLICATIONS: dict[str, tuple[Callable[[], etree._Element], str, str | None]] = {
    "over-long name": (_changed({"ChildInfo/ChildName": LONG}), "ChildName", LONG[:60]),
    "markup in a name": (
        _changed({"ChildInfo/ChildName": "<script>alert(1)</script>"}),
        "ChildName",
        "script",
    ),
    "Latin letters in a name": (_changed({"ChildInfo/ChildName": "Alyona"}), "ChildName", "Alyona"),
    "too many representatives": (
        lambda: _extra_representatives(application()),
        "OtherRepresentative",
        None,
    ),
    "missing required part": (_changed({"ChildInfo": None}), "ChildInfo", None),
    "wrong namespace": (lambda: _foreign_child(application()), "ChildInfo", None),
}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path, adapters=ADAPTERS) as made:
        yield made


def _post(hub: Hub, body: bytes) -> str:
    bearer = token(hub, Role.AGENCY, "*", agencies=("gosuslugi",))
    reply = TestClient(create_app(hub)).post(
        "/inbound/gosuslugi",
        content=body,
        headers={"authorization": f"Bearer {bearer}", "content-type": "text/xml"},
    )
    assert reply.status_code == 202, reply.text
    inbox_id: str = reply.json()["inbox_id"]
    return inbox_id


def _failed_after_worker(hub: Hub, inbox_id: str) -> FailedMessage:
    with running(hub.worker):
        wait_for(lambda: _status(hub, inbox_id) is InboxStatus.FAILED, 20)
    [failed] = [f for f in hub.journal.failed() if f.inbox_id == inbox_id]
    return failed


def _status(hub: Hub, inbox_id: str) -> InboxStatus | None:
    record = hub.journal.inbox(inbox_id)
    return record.status if record is not None else None


def _told_to_correct(hub: Hub, inbox_id: str) -> None:
    """The applicant's account is told (EPGU status 15), by one request the SMEV client sends."""
    told = hub.journal.outbound(f"refused:{inbox_id}")
    assert told is not None and told.agency == "gosuslugi" and told.kind == "order-status"
    assert told.state is OutboundState.PENDING and told.context["status_code"] == 15
    mine = [r for r in hub.journal.outbound_requests(limit=100) if r.inbox_id == inbox_id]
    assert [r.request_id for r in mine] == [told.request_id]


def test_an_unsigned_application_is_refused_and_nobody_is_answered(tmp_path: Path) -> None:
    # No answer to a message whose signatures do not hold: a forger learns nothing, and no
    # applicant's account is touched on a forger's word.
    with console_hub(tmp_path, adapters=ADAPTERS, require_signatures=True) as hub:
        body = get_request(etree.tostring(application({"ChildInfo": None}), encoding="UTF-8"))
        failed = _failed_after_worker(hub, _post(hub, body))
        assert failed.error_type != "AgencySchemaError"
        assert hub.journal.outbound(f"refused:{failed.inbox_id}") is None


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "HUB_LOG_FORMAT": "json"},
        check=False,
        cwd=PROJECT,
    )


@pytest.mark.parametrize(("make", "element", "value"), APPLICATIONS.values(), ids=APPLICATIONS)
def test_an_application_breaking_the_gate_is_refused_alike_on_every_path(
    hub: Hub, tmp_path: Path, make: Callable[[], etree._Element], element: str, value: str | None
) -> None:
    body = get_request(etree.tostring(make(), encoding="UTF-8"))
    failed = _failed_after_worker(hub, _post(hub, body))
    assert failed.error_type == "AgencySchemaError" and element in failed.reason
    assert "line " in failed.reason and (value is None or value not in failed.reason)
    assert hub.journal.events_for(failed.inbox_id) == []
    _told_to_correct(hub, failed.inbox_id)
    dry = hub.operations.dry_run(ADMIN, failed)
    [replayed] = hub.operations.replay(ADMIN, [failed])
    for result in (dry, replayed):
        assert (result.status, result.reason, list(result.events)) == ("failed", failed.reason, [])
    assert hub.journal.events_for(failed.inbox_id) == []
    _told_to_correct(hub, failed.inbox_id)  # once: the replay asked nothing new
    (tmp_path / "bad.xml").write_bytes(body)
    translated = cli("translate", tmp_path / "bad.xml")
    assert translated.returncode == 2 and translated.stdout == ""
    assert translated.stderr.strip() == f"hub: error: AgencySchemaError: {failed.reason}"


# --- answers to the hub's own requests --------------------------------------------------


PFR_ANSWERS: dict[str, tuple[dict[str, Any], str]] = {
    "over-long family name": ({"FamilyName": LONG}, "FamilyName"),
    "Latin letters in a name": ({"FirstName": "Ivan"}, "FirstName"),
    "SNILS of the wrong length": ({"Snils": "1122334459"}, "Snils"),
    "missing birth date": ({"BirthDate": None}, "BirthDate"),
}


@pytest.mark.parametrize(("fields", "element"), PFR_ANSWERS.values(), ids=PFR_ANSWERS)
def test_a_pfr_answer_breaking_the_gate_is_refused_alike_by_worker_and_translate(
    reference_dir: Path, tmp_path: Path, fields: dict[str, Any], element: str
) -> None:
    snils = fields.pop("Snils", "11223344595")
    content = etree.tostring(pfr_answer(snils, **fields), encoding="UTF-8")
    asked = asked_by(processor().process(command_record(COMMAND)))
    outcome = processor(asked).process(record(get_response(asked.smev_message_id, content)))
    assert outcome.failure is not None and outcome.failure.error_type == "AgencySchemaError"
    assert element in outcome.failure.reason and not outcome.events
    assert outcome.settles is None and LONG[:60] not in outcome.failure.reason
    (tmp_path / "answer.xml").write_bytes(get_response(asked.smev_message_id, content))
    (tmp_path / "command.json").write_text(json.dumps(COMMAND))
    translated = cli("translate", "--command", tmp_path / "command.json", tmp_path / "answer.xml")
    assert translated.returncode == 2 and translated.stdout == ""
    assert translated.stderr.strip() == f"hub: error: AgencySchemaError: {outcome.failure.reason}"


def _foreign(element: etree._Element) -> etree._Element:
    element.tag = "{urn://foreign/1.0}" + etree.QName(element).localname
    return element


ZAGS_ANSWERS: dict[str, tuple[Callable[[], etree._Element], str]] = {
    # the first case the issue reported: a 300,000-character first name became a mismatch
    "over-long first name": (
        lambda: zags_answer(zags_record(("СЕМЕНОВА", LONG, "ИГОРЕВНА"))),
        "ФИОРожд",
    ),
    "a record in a foreign namespace": (lambda: zags_answer(_foreign(zags_record())), "foreign"),
    "a result code outside its list": (lambda: zags_answer(zags_record(), code="9"), "РезОбраб"),
}


@pytest.mark.parametrize(("make", "element"), ZAGS_ANSWERS.values(), ids=ZAGS_ANSWERS)
def test_a_zags_answer_breaking_the_gate_is_refused_alike_by_worker_and_translate(
    reference_dir: Path, tmp_path: Path, make: Callable[[], etree._Element], element: str
) -> None:
    content = etree.tostring(make(), encoding="UTF-8")
    asked = asked_by(zags.processor().process(command_record(zags.COMMAND)))
    message = get_response(asked.smev_message_id, content)
    outcome = zags.processor(asked).process(zags.inbox(message))
    assert outcome.failure is not None and outcome.failure.error_type == "AgencySchemaError"
    assert element in outcome.failure.reason and not outcome.events
    assert outcome.settles is None and LONG[:60] not in outcome.failure.reason
    (tmp_path / "answer.xml").write_bytes(message)
    (tmp_path / "command.json").write_text(json.dumps(zags.COMMAND))
    translated = cli("translate", "--command", tmp_path / "command.json", tmp_path / "answer.xml")
    assert translated.returncode == 2 and translated.stdout == ""
    assert translated.stderr.strip() == f"hub: error: AgencySchemaError: {outcome.failure.reason}"
