"""The trust policy against signature wrapping, on both GOST backends and every SMEV version.

Each case starts from a genuine delivery as SMEV makes it (the sender's signature over its
data inside, SMEV's over the Request/Response) and does what an attacker with an agency token
and a copy of old public messages would do: sign forged content with a key of their own, copy
a validly SMEV-signed fragment into the envelope (header, request, beside the content), move
the signed element under an unsigned wrapper and put forged content where the reader looks,
duplicate an ``Id``, add a second Body, or use a trusted certificate outside its validity.
Every attack ends as a permanent failure naming the reason, with no event.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from hub.adapters.router import AnsweredRequest, Router, Translation
from hub.canonical.drafts import EventDraft
from hub.config import Settings
from hub.crypto.backends.base import GostBackend
from hub.crypto.xmldsig import XmlVerifier
from hub.journal.records import InboxRecord, InboxStatus, OutboundRequest, OutboundState
from hub.services.processing import Processor
from hub.smev.read import SmevMessage
from hub.smev.versions import SOAP_ENV_NS, SmevVersion
from hub.xml import XmlLimits
from tests.support.notices import NOTICE_NS
from tests.support.notices import register as register_notices
from tests.support.trust import (
    ANSWER,
    ORIGINAL_ID,
    Keys,
    make_keys,
    one,
    request_delivery,
    response_delivery,
    smev_fragment,
)

pytestmark = pytest.mark.contract

BACKENDS = ["openssl_backend", pytest.param("pure_backend", marks=pytest.mark.slow)]
VERSIONS = ["1.1", "1.2", "1.3"]
REQUEST_SCOPE = "45201/4520100012"


@pytest.fixture(scope="module", params=BACKENDS)
def keys(request: pytest.FixtureRequest) -> Keys:
    return make_keys(request.getfixturevalue(request.param))


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> SmevVersion:
    return SmevVersion(request.param)


# --- the hub's side --------------------------------------------------------------------


def _answer(message: SmevMessage, request: AnsweredRequest) -> Translation:
    assert message.content is not None
    subject = message.content.findtext(f"{{{NOTICE_NS}}}Subject") or ""
    return Translation(
        [EventDraft("test.answer.received", subject, {})], answers=request.request_id
    )


def _request(original: str) -> OutboundRequest | None:
    if original != ORIGINAL_ID:
        return None
    now = datetime.now(UTC)
    return OutboundRequest(
        "registry-request-1",
        "zags",
        "test",
        OutboundState.ACCEPTED,
        ORIGINAL_ID,
        b"<x/>",
        1,
        now,
        now,
        scope=REQUEST_SCOPE,
    )


def processor(backend: GostBackend, trusted: frozenset[str] | None) -> Processor:
    router = Router(Settings())
    register_notices(router)
    router.register_answer(ANSWER, _answer, agency="zags")
    return Processor(
        router,
        XmlVerifier(backend),
        XmlLimits(),
        frozenset({"zags"}),
        lookup=_request,
        trusted=trusted,
    )


def process(keys: Keys, envelope: etree._Element, **given: Any) -> Any:
    backend = keys.smev.signer.backend
    trusted = given.pop("trusted", frozenset({keys.smev.certificate.sha256}))
    raw = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    record = InboxRecord(
        "inbox-1",
        "smev",
        "m-1",
        raw,
        "zags",
        None,
        "text/xml",
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )
    return processor(backend, trusted).process(record)


def refused(outcome: Any, error_type: str, *words: str) -> str:
    assert outcome.events == (), "an attack must never become an event"
    assert outcome.failure is not None, "the attack was accepted"
    assert outcome.failure.error_type == error_type, outcome.failure.reason
    for word in words:
        assert word in outcome.failure.reason, outcome.failure.reason
    return str(outcome.failure.reason)


def subjects(outcome: Any) -> list[str]:
    assert outcome.failure is None, outcome.failure
    return [event.subject for event in outcome.events]


# --- genuine messages pass -------------------------------------------------------------


def test_a_genuine_request_and_answer_pass(keys: Keys, version: SmevVersion) -> None:
    assert subjects(process(keys, request_delivery(version, keys))) == ["child-1"]
    answered = process(keys, response_delivery(version, keys))
    assert subjects(answered) == ["child-1"] and answered.scope == REQUEST_SCOPE


def test_without_a_trust_list_coverage_still_holds(keys: Keys, version: SmevVersion) -> None:
    # Development mode (no pinned certificates) accepts any valid signer, never wrapping.
    assert subjects(process(keys, request_delivery(version, keys), trusted=None)) == ["child-1"]
    outcome = process(keys, _moved_under_wrapper(request_delivery(version, keys), "Request"))
    refused(outcome, "SignatureCoverageError", "no signature covers <Request>")


# --- attacks -----------------------------------------------------------------------------


def test_forged_content_signed_by_the_attacker(keys: Keys, version: SmevVersion) -> None:
    forged = request_delivery(version, keys, subject="forged", smev=keys.attacker)
    refused(process(keys, forged), "UntrustedSignerError", keys.attacker.certificate.sha256)


def _forged_with_fragment(
    version: SmevVersion, keys: Keys, place: Callable[[etree._Element, list[etree._Element]], None]
) -> etree._Element:
    """Forged content whose only signature is a genuine SMEV fragment placed by ``place``."""
    forged = request_delivery(version, keys, subject="forged", smev=keys.attacker)
    for signature in list(forged.iterfind(".//{*}SMEVSignature")):
        signature.getparent().remove(signature)  # type: ignore[union-attr]
    place(forged, smev_fragment(version, keys, "SMEV_FRAGMENT"))
    return forged


def _in_header(envelope: etree._Element, fragment: list[etree._Element]) -> None:
    header = etree.Element(f"{{{SOAP_ENV_NS}}}Header")
    envelope.insert(0, header)
    header.extend(fragment)


def _in_request(envelope: etree._Element, fragment: list[etree._Element]) -> None:
    one(envelope, "Request").extend(fragment)


@pytest.mark.parametrize("place", [_in_header, _in_request], ids=["header", "request"])
def test_a_genuine_smev_fragment_vouches_for_nothing_else(
    keys: Keys, version: SmevVersion, place: Callable[..., None]
) -> None:
    # Every signature in it is valid; SMEV's covers only its MessageMetadata.
    forged = _forged_with_fragment(version, keys, place)
    refused(
        process(keys, forged),
        "SignatureCoverageError",
        "no signature covers <Request>",
        "<MessageMetadata>",
    )


def test_a_genuine_smev_fragment_beside_the_content(keys: Keys, version: SmevVersion) -> None:
    fragment = smev_fragment(version, keys, "SMEV_FRAGMENT")
    forged = request_delivery(version, keys, subject="forged", beside_content=fragment)
    for signature in list(forged.iterfind(".//{*}SMEVSignature")):
        if signature.getparent() is not None and signature.getparent().tag.endswith("Message"):  # type: ignore[union-attr]
            signature.getparent().remove(signature)  # type: ignore[union-attr]
    refused(process(keys, forged), "SignatureCoverageError", "no signature covers <Request>")


def test_a_fragment_beside_an_attacker_signature(keys: Keys, version: SmevVersion) -> None:
    forged = request_delivery(version, keys, subject="forged", smev=keys.attacker)
    _in_header(forged, smev_fragment(version, keys, "SMEV_FRAGMENT"))
    refused(process(keys, forged), "UntrustedSignerError", "<Request>")


def _moved_under_wrapper(envelope: etree._Element, name: str) -> etree._Element:
    """The genuine signed element moved under an unsigned wrapper in the header; a forged
    copy without its Id takes its place, where the reader looks."""
    genuine = one(envelope, name)
    forged = copy.deepcopy(genuine)
    for element in forged.iter():
        element.attrib.pop("Id", None)  # no duplicate ids to give it away
    subject = forged.find(".//{*}Subject")
    assert subject is not None
    subject.text = "forged"
    genuine.addprevious(forged)
    wrapper = etree.SubElement(etree.Element(f"{{{SOAP_ENV_NS}}}Header"), "{urn:evil}Wrapper")
    envelope.insert(0, wrapper.getparent())
    wrapper.append(genuine)
    return envelope


@pytest.mark.parametrize("name", ["Request", "Response"])
def test_the_signed_element_moved_under_a_wrapper(
    keys: Keys, version: SmevVersion, name: str
) -> None:
    build = request_delivery if name == "Request" else response_delivery
    outcome = process(keys, _moved_under_wrapper(build(version, keys), name))
    refused(outcome, "SignatureCoverageError", f"no signature covers <{name}>")


def test_a_forged_element_with_the_signed_elements_id(keys: Keys, version: SmevVersion) -> None:
    envelope = request_delivery(version, keys)
    genuine = one(envelope, "Request")
    forged = copy.deepcopy(genuine)
    forged.find(".//{*}Subject").text = "forged"  # type: ignore[union-attr]
    genuine.addprevious(forged)  # the reader takes the first Request
    refused(process(keys, envelope), "SignatureCoverageError", "SIGNED_BY_SMEV")


def test_a_second_body(keys: Keys, version: SmevVersion) -> None:
    envelope = request_delivery(version, keys)
    body = envelope.find(f"{{{SOAP_ENV_NS}}}Body")
    assert body is not None
    forged = copy.deepcopy(body)
    forged.find(".//{*}Subject").text = "forged"  # type: ignore[union-attr]
    for element in forged.iter():
        element.attrib.pop("Id", None)
    body.addprevious(forged)
    refused(process(keys, envelope), "SmevMessageError", "2 Body elements")


def test_an_answer_refused_keeps_the_scope_of_the_request(keys: Keys, version: SmevVersion) -> None:
    forged = response_delivery(version, keys, subject="forged", smev=keys.attacker)
    outcome = process(keys, forged)
    refused(outcome, "UntrustedSignerError")
    assert outcome.scope == REQUEST_SCOPE  # the school that asked sees it


def test_an_unsigned_message(keys: Keys, version: SmevVersion) -> None:
    envelope = request_delivery(version, keys)
    for signature in list(envelope.iter("{http://www.w3.org/2000/09/xmldsig#}Signature")):
        signature.getparent().remove(signature)  # type: ignore[union-attr]
    refused(process(keys, envelope), "SignatureError", "no signature")


# --- certificates in time ----------------------------------------------------------------


def test_a_trusted_certificate_counts_only_within_its_validity(
    keys: Keys, version: SmevVersion
) -> None:
    pinned = frozenset({keys.lapsed.certificate.sha256})
    fresh = request_delivery(version, keys, smev=keys.lapsed)  # sent now, long after it lapsed
    refused(process(keys, fresh, trusted=pinned), "CertificateValidityError", "was not valid at")
    while_valid = keys.lapsed.certificate.not_before + timedelta(days=1)
    old = request_delivery(version, keys, smev=keys.lapsed, sent_at=while_valid)
    assert subjects(process(keys, old, trusted=pinned)) == ["child-1"]  # replayed after renewal
