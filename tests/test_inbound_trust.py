"""The trust policy end to end on ``POST /inbound``: what an attacker with an agency token
posts is stored whole, refused by the worker with a precise reason, and never published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from starlette.testclient import TestClient

from hub.access import Role
from hub.bootstrap import Hub
from hub.console import create_app
from hub.journal.records import InboxStatus
from hub.smev import SendRequest, build_send_request
from hub.smev.versions import SOAP_ENV_NS, SmevVersion
from tests.support.console import console_hub, token
from tests.support.notices import NOTICE, NOTICE_NS, running
from tests.support.trust import Keys, Party, make_keys, one, request_delivery, smev_fragment
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
XML = {"content-type": "text/xml"}


@pytest.fixture(scope="module")
def keys(fast_backend: object) -> Keys:
    return make_keys(fast_backend)  # type: ignore[arg-type]


@pytest.fixture
def hub(tmp_path: Path, keys: Keys) -> Iterator[Hub]:
    pinned = tmp_path / "smev.pem"
    pinned.write_bytes(keys.smev.certificate.to_pem())
    with console_hub(
        tmp_path,
        require_signatures=True,
        trusted_certificates=(pinned,),
        adapters=("tests.support.notices:register",),
    ) as hub:
        yield hub


def _post(hub: Hub, envelope: etree._Element, key: str, bearer: str | None = None) -> str:
    client = TestClient(create_app(hub))
    bearer = bearer or token(hub, Role.AGENCY, "*")
    headers = {"authorization": f"Bearer {bearer}", "idempotency-key": key}
    reply = client.post("/inbound/zags", content=etree.tostring(envelope), headers=headers | XML)
    assert reply.status_code == 202, reply.text
    inbox_id: str = reply.json()["inbox_id"]
    return inbox_id


def _settled(hub: Hub, inbox_id: str, status: InboxStatus) -> None:
    with running(hub.worker):
        wait_for(lambda: _status(hub, inbox_id) == status, 20)


def _status(hub: Hub, inbox_id: str) -> InboxStatus | None:
    record = hub.journal.inbox(inbox_id)
    return record.status if record is not None else None


def _reason_of(hub: Hub, inbox_id: str) -> tuple[str, str]:
    [failed] = [f for f in hub.journal.failed() if f.inbox_id == inbox_id]
    assert hub.journal.events_for(inbox_id) == []  # nothing to publish
    return failed.error_type, failed.reason


def _self_signed_notice_with_fragment(keys: Keys) -> etree._Element:
    """The reported attack: a notice signed by a self-made key, with a genuinely SMEV-signed
    MessageMetadata and its SMEVSignature copied into soap:Header."""
    content = etree.Element(NOTICE, nsmap={"t": NOTICE_NS})
    etree.SubElement(content, f"{{{NOTICE_NS}}}Subject").text = "forged death"
    envelope = build_send_request(SendRequest(content), "1.3", keys.attacker.signer)
    header = etree.Element(f"{{{SOAP_ENV_NS}}}Header")
    header.extend(smev_fragment(SmevVersion.V1_3, keys, "SIGNED_BY_SMEV"))
    envelope.insert(0, header)
    return envelope


def test_a_genuine_delivery_posted_becomes_its_event(hub: Hub, keys: Keys) -> None:
    inbox_id = _post(hub, request_delivery(SmevVersion.V1_3, keys), "genuine-1")
    _settled(hub, inbox_id, InboxStatus.PROCESSED)
    assert [e.routing_key for e in hub.journal.events_for(inbox_id)] == ["test.notice.received"]


def test_the_reported_forgery_is_refused(hub: Hub, keys: Keys) -> None:
    inbox_id = _post(hub, _self_signed_notice_with_fragment(keys), "forgery-1")
    _settled(hub, inbox_id, InboxStatus.FAILED)
    error_type, reason = _reason_of(hub, inbox_id)
    assert error_type == "UntrustedSignerError", reason
    assert "<SenderProvidedRequestData>" in reason and keys.attacker.certificate.sha256 in reason
    record = hub.journal.inbox(inbox_id)
    assert record is not None and b"forged death" in record.raw  # kept whole for the operator


def test_a_signed_element_moved_under_a_wrapper_is_refused(hub: Hub, keys: Keys) -> None:
    envelope = request_delivery(SmevVersion.V1_3, keys)
    genuine = one(envelope, "Request")
    forged = etree.fromstring(etree.tostring(genuine))
    for element in forged.iter():
        element.attrib.pop("Id", None)
    genuine.addprevious(forged)
    header = etree.Element(f"{{{SOAP_ENV_NS}}}Header")
    envelope.insert(0, header)
    etree.SubElement(header, "{urn:evil}Wrapper").append(genuine)
    inbox_id = _post(hub, envelope, "wrapped-1")
    _settled(hub, inbox_id, InboxStatus.FAILED)
    error_type, reason = _reason_of(hub, inbox_id)
    assert error_type == "SignatureCoverageError" and "no signature covers <Request>" in reason


def _own_notice(signer: Party, subject: str) -> etree._Element:
    content = etree.Element(NOTICE, nsmap={"t": NOTICE_NS})
    etree.SubElement(content, f"{{{NOTICE_NS}}}Subject").text = subject
    return build_send_request(SendRequest(content), "1.3", signer.signer)


def test_a_system_bound_to_its_certificate_posts_as_the_caller(hub: Hub, keys: Keys) -> None:
    # The regional system signs its own messages; its token names its certificate.
    bound = hub.access.issue(
        "ZAGS regional",
        Role.AGENCY,
        "*",
        None,
        "test-admin",
        agencies=("zags",),
        signers=(keys.sender.certificate.sha256,),
    ).text
    own = _post(hub, _own_notice(keys.sender, "child-1"), "own-1", bound)
    _settled(hub, own, InboxStatus.PROCESSED)
    # The same token's messages signed by anyone else (SMEV's key included) do not count.
    other = _post(hub, _own_notice(keys.smev, "child-2"), "other-1", bound)
    _settled(hub, other, InboxStatus.FAILED)
    error_type, reason = _reason_of(hub, other)
    assert error_type == "UntrustedSignerError" and "posting token" in reason
    # A token naming no certificate falls back on HUB_TRUSTED_CERTIFICATES.
    unbound = _post(hub, _own_notice(keys.sender, "child-3"), "unbound-1")
    _settled(hub, unbound, InboxStatus.FAILED)
