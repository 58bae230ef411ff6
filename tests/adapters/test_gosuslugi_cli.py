"""``hub translate`` on Gosuslugi messages, as an operator runs it: a real process, real files,
real exit codes; what it prints is what the worker would publish and send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.adapters.gosuslugi import schemas
from hub.canonical.jsonschemas import validate_event
from hub.xml import parse_xml
from tests.adapters.test_gosuslugi_translate import ORDER, application, cancel, status_response
from tests.support.smev import get_request

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
REPLY_TO = "eyJzaWQiOjEsIm1uZW1vbmljIjoiRVBHVSJ9"
STATUS = {
    "type": "report_enrollment_status",
    "request_id": "req-status-1",
    "order_number": ORDER,
    "status_code": 15,
    "comment": "Приложите справку",
}


def hub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "HUB_LOG_FORMAT": "json", "HUB_ADAPTERS": "[]"},
        check=False,
        cwd=PROJECT,
    )


def written(folder: Path, name: str, content: bytes | etree._Element) -> Path:
    path = folder / name
    raw = content if isinstance(content, bytes) else etree.tostring(content, encoding="UTF-8")
    path.write_bytes(raw)
    return path


def lines(*args: str | Path) -> list[dict[str, Any]]:
    result = hub("translate", "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_bare_application_prints_its_event(tmp_path: Path) -> None:
    [event] = lines(written(tmp_path, "application.xml", application()))
    validate_event(event)
    assert (event["type"], event["subject"]) == (
        "enrollment.application.received",
        f"application:{ORDER}",
    )
    assert event["data"]["child_birth_certificate"]["series"] == "IV-АН"


def test_an_application_as_smev_delivers_it_prints_the_event_and_the_answer(
    tmp_path: Path,
) -> None:
    body = etree.tostring(application(), encoding="UTF-8")
    event, answer = lines(
        written(tmp_path, "get-request.xml", get_request(body, reply_to=REPLY_TO))
    )
    validate_event(event)
    assert event["type"] == "enrollment.application.received"
    assert (answer["agency"], answer["kind"], answer["reply_to"]) == (
        "gosuslugi",
        "application-accepted",
        REPLY_TO,
    )
    assert answer["request"].startswith("reply:")
    schemas.validate(parse_xml(answer["content"].encode()))


def test_a_cancellation_prints_its_event(tmp_path: Path) -> None:
    [event] = lines(written(tmp_path, "cancel.xml", cancel()))
    validate_event(event)
    assert event["type"] == "enrollment.application.cancelled"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"ChildInfo/ChildSNILS": "112-233-445 96"},
            "GosuslugiContentError: ApplicationRequest/ChildInfo/ChildSNILS is not valid: "
            "check number",
        ),
        ({"ChildInfo": None}, "AgencySchemaError: ЕПГУ school enrollment 1.0.0 (the hub's schema)"),
    ],
    ids=["invalid SNILS", "no child"],
)
def test_an_application_that_cannot_be_used_exits_2_with_the_reason(
    tmp_path: Path, changes: dict[str, str | None], reason: str
) -> None:
    result = hub("translate", written(tmp_path, "bad.xml", application(changes)))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("hub: error: ") and reason in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "112-233-445" not in result.stderr and "Семёнова" not in result.stderr


def test_the_status_command_prints_the_order_status_event_it_sends(tmp_path: Path) -> None:
    command = tmp_path / "status.json"
    command.write_text(json.dumps(STATUS, ensure_ascii=False), encoding="utf-8")
    [request] = lines("--command", command)
    assert (request["request"], request["agency"], request["kind"]) == (
        "req-status-1",
        "gosuslugi",
        "order-status",
    )
    sent = parse_xml(request["content"].encode())
    schemas.validate(sent)
    assert sent.findtext(f"{{{schemas.EVENT_NS}}}orderId") == ORDER


def test_epgus_response_read_against_the_command_prints_delivered(tmp_path: Path) -> None:
    command = tmp_path / "status.json"
    command.write_text(json.dumps(STATUS, ensure_ascii=False), encoding="utf-8")
    [event] = lines(written(tmp_path, "response.xml", status_response("0")), "--command", command)
    validate_event(event)
    assert (event["type"], event["data"]["status"]) == (
        "enrollment.status.delivered",
        "correction_needed",
    )
