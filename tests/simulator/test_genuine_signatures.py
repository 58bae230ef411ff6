"""The simulator checks signatures with the hub's own verifier, so a transform or digest bug
shared by both would pass unseen. Hold the simulator's check against SMEV's genuine signed
messages instead: SMEV's digests and signature values, made by SMEV's own software."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from hub.crypto.xmldsig import DS_NS, XmlVerifier
from hub.simulator.checks import RefusedError, check_signature_value
from hub.xml import parse_xml

pytestmark = pytest.mark.contract
# Each genuine sample whose signatures verify (FACTS.md), and the references they sign.
GENUINE = {
    "send-request-response-1.2-signed.xml": {"#SIGNED_BY_SMEV"},
    "get-response-async-rejected-1.2.xml": {"#SIGNED_ASYNC_BY_SMEV", "#SIGNED_BY_SMEV"},
}


def _signatures(path: Path) -> list[etree._Element]:
    return list(parse_xml(path.read_bytes()).iter(f"{{{DS_NS}}}Signature"))


def _while_valid(verifier: XmlVerifier, signature: etree._Element) -> datetime:
    """A day into the signing certificate's validity (the genuine ones ran out long ago)."""
    report = verifier.verify(signature, datetime.now(UTC))
    assert report.certificate is not None
    return report.certificate.not_before + timedelta(days=1)


@pytest.mark.parametrize("sample", GENUINE)
def test_every_genuine_smev_signature_passes_the_simulators_check(
    smev_samples_dir: Path, fast_backend: object, sample: str
) -> None:
    verifier = XmlVerifier(fast_backend)  # type: ignore[arg-type]
    signatures = _signatures(smev_samples_dir / sample)
    references = {s.find(f".//{{{DS_NS}}}Reference").get("URI") for s in signatures}  # type: ignore[union-attr]
    assert references == GENUINE[sample]
    for signature in signatures:
        check_signature_value(verifier, signature, _while_valid(verifier, signature))


@pytest.mark.parametrize("sample", GENUINE)
def test_one_changed_character_under_a_genuine_signature_is_refused(
    smev_samples_dir: Path, fast_backend: object, sample: str
) -> None:
    verifier = XmlVerifier(fast_backend)  # type: ignore[arg-type]
    raw = (smev_samples_dir / sample).read_bytes()
    tampered = raw.replace(b"-11eb-", b"-11ec-", 1)  # one character of a signed MessageId
    assert tampered != raw, "the sample has a MessageId to change"
    refusals = []
    for signature in parse_xml(tampered).iter(f"{{{DS_NS}}}Signature"):
        try:
            check_signature_value(verifier, signature, _while_valid(verifier, signature))
        except RefusedError as refused:
            refusals.append(refused.fault.sub_type)
    assert "SignatureIsInvalid" in refusals


def test_a_genuine_signature_checked_after_its_certificate_ran_out_is_refused_as_expired(
    smev_samples_dir: Path, fast_backend: object
) -> None:
    verifier = XmlVerifier(fast_backend)  # type: ignore[arg-type]
    [signature] = _signatures(smev_samples_dir / "send-request-response-1.2-signed.xml")
    report = verifier.verify(signature, _while_valid(verifier, signature))
    assert report.certificate is not None
    with pytest.raises(RefusedError) as refused:
        check_signature_value(verifier, signature, report.certificate.not_after + timedelta(1))
    assert refused.value.fault.sub_type == "CertificateIsExpired"
