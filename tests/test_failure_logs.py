"""Every message the worker keeps as failed leaves one structured log line a SIEM can read:
``signature rejected`` (ERROR) for a bad, missing or untrusted signature, ``message failed``
(WARNING) for the rest; error type and code, agency, kind, inbox id, source and trace id,
never the reason (it may quote what the message says) nor anything personal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.adapters.router import UnknownKindError
from hub.bootstrap import Hub, bootstrap
from hub.canonical.ids import inbox_id_for
from hub.config import Settings
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner
from hub.errors import SignatureError, error_class
from hub.journal.records import InboxStatus
from hub.logging import configure_logging
from hub.routing.api import KIND_HEADER, SOURCE_HEADER, TRACE_HEADER, Outgoing
from hub.services.trust import UntrustedSignerError
from tests.support.notices import LATE, NOTICE, notice, running
from tests.support.notices import register as register_notices
from tests.support.waiting import wait_for

NAME, SNILS = "Ёлкина Анна Сергеевна", "112-233-445 95"  # what the messages carry
TRACE = "registry-trace:77.1"


@pytest.fixture
def hub(
    tmp_path: Path, topology_prefix: str, fast_backend: Any, dev_key_pair: tuple[Any, Certificate]
) -> Iterator[Hub]:
    pinned = tmp_path / "smev.der"
    pinned.write_bytes(dev_key_pair[1].der)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        broker_url="memory://",
        topology_prefix=topology_prefix,
        require_signatures=True,
        trusted_certificates=(pinned,),
    )
    hub = bootstrap(settings, crypto=fast_backend)
    register_notices(hub.router)
    hub.bus.declare()
    yield hub
    hub.close()


def _stranger(backend: Any) -> XmlSigner:
    key = generate_private_key()
    return XmlSigner(
        LocalKeySigner(backend, key, self_signed_certificate(backend, key, "x")), backend
    )


def _tampered(signer: XmlSigner) -> bytes:
    signed = notice(NAME, 2, signer=signer)
    altered = signed.replace(NAME.encode(), "Ёлкина Анна Петровна".encode())
    assert altered != signed
    return altered


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.integration
def test_each_failed_message_logs_one_line_with_type_code_and_ids(
    hub: Hub, fast_backend: Any, xml_signer: XmlSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = {
        "unsigned": (notice(NAME, 1), NOTICE),
        "tampered": (_tampered(xml_signer), NOTICE),
        "stranger": (notice(f"{NAME} {SNILS}", 3, signer=_stranger(fast_backend)), NOTICE),
        "unknown": (notice(NAME, 4, tag=LATE, signer=xml_signer), LATE),
        "malformed": (f"<not xml {NAME}".encode(), NOTICE),
        "fine": (notice(NAME, 6, signer=xml_signer), NOTICE),
    }
    ids = {name: str(uuid.uuid4()) for name in bodies}
    messages = [
        Outgoing(
            body, "zags", {SOURCE_HEADER: "smev", KIND_HEADER: kind, TRACE_HEADER: TRACE}, ids[name]
        )
        for name, (body, kind) in bodies.items()
    ]
    inbox = {name: inbox_id_for("smev", message_id) for name, message_id in ids.items()}
    configure_logging(level="INFO", json=True)
    capsys.readouterr()
    with running(hub.worker):
        hub.bus.publish(hub.topology.inbound_exchange.name, messages)
        wait_for(lambda: all(_settled(hub, inbox_id) for inbox_id in inbox.values()))
    output = capsys.readouterr().err
    configure_logging(level="INFO")
    lines = [
        line for line in _lines(output) if line["event"] in ("signature rejected", "message failed")
    ]
    by_inbox = {line["inbox_id"]: line for line in lines}
    assert len(lines) == len(by_inbox) == 5  # one line each; none for the good message
    expected = {
        "unsigned": ("signature rejected", "error", "SignatureError", "SIGNATURE"),
        "tampered": ("signature rejected", "error", "SignatureError", "SIGNATURE"),
        "stranger": ("signature rejected", "error", "UntrustedSignerError", "UNTRUSTED_SIGNER"),
        "unknown": ("message failed", "warning", "UnknownKindError", UnknownKindError.code),
        "malformed": ("message failed", "warning", "MalformedXmlError", "XML_MALFORMED"),
    }
    for name, (event, level, error_type, code) in expected.items():
        line = by_inbox[inbox[name]]
        assert (line["event"], line["level"], line["error_type"], line["error_code"]) == (
            event,
            level,
            error_type,
            code,
        ), name
        assert (line["agency"], line["source"], line["trace_id"]) == ("zags", "smev", TRACE)
        assert line["kind"] == (LATE if name == "unknown" else NOTICE)
    _nothing_said(hub, lines, inbox)


def _settled(hub: Hub, inbox_id: str) -> bool:
    record = hub.journal.inbox(inbox_id)
    return record is not None and record.status is not InboxStatus.RECEIVED


def _nothing_said(hub: Hub, lines: list[dict[str, Any]], inbox: dict[str, str]) -> None:
    text = json.dumps(lines, ensure_ascii=False)
    for secret in (*NAME.split(), SNILS, "Петровна"):
        assert secret not in text
    reasons = [f.reason for f in hub.journal.failed() if f.inbox_id in inbox.values()]
    assert len(reasons) == 5
    assert all("reason" not in line for line in lines)
    assert not any(reason in text for reason in reasons)


@pytest.mark.unit
def test_error_codes_are_found_by_the_stored_type_name() -> None:
    assert error_class("UntrustedSignerError") is UntrustedSignerError
    assert issubclass(UntrustedSignerError, SignatureError)
    assert error_class("KeyError") is None  # a bug: logged with code UNEXPECTED
