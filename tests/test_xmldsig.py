"""XMLDSig the SMEV way: the genuine sample, tampering, and sign → verify properties."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.crypto.xmldsig import DS_NS, XmlVerifier
from hub.xml import parse_xml

SAMPLE = "send-request-response-1.2-signed.xml"


@pytest.fixture(scope="module")
def sample(smev_samples_dir: Path) -> bytes:
    return (smev_samples_dir / SAMPLE).read_bytes()


@pytest.mark.unit
def test_genuine_smev_signature_is_valid(sample: bytes, fast_backend) -> None:  # type: ignore[no-untyped-def]
    [report] = XmlVerifier(fast_backend).verify_all(parse_xml(sample))
    assert report.valid and report.digest_valid and report.signature_valid
    assert report.reference == "#SIGNED_BY_SMEV"
    assert report.expired is True  # the certificate ran out in 2021; the signature still holds
    assert report.certificate is not None
    assert "Минкомсвязь России" in report.certificate.subject
    assert report.certificate.not_after == datetime(2021, 9, 2, 8, 7, 34, tzinfo=UTC)


@pytest.mark.unit
@pytest.mark.slow
def test_genuine_sample_also_verifies_with_pure_python(sample: bytes, pure_backend) -> None:  # type: ignore[no-untyped-def]
    [report] = XmlVerifier(pure_backend).verify_all(parse_xml(sample))
    assert report.valid


def _signed_texts(root: etree._Element) -> list[etree._Element]:
    target = root.xpath("//*[@Id='SIGNED_BY_SMEV']")[0]
    return [e for e in target.iter() if e.text and e.text.strip()]


@pytest.mark.unit
def test_changing_one_character_of_any_signed_value_breaks_the_digest(
    sample: bytes, fast_backend
) -> None:  # type: ignore[no-untyped-def]
    verifier = XmlVerifier(fast_backend)
    count = len(_signed_texts(parse_xml(sample)))
    assert count >= 6
    for index in range(count):
        root = parse_xml(sample)
        element = _signed_texts(root)[index]
        text = element.text or ""
        element.text = text[:-1] + ("0" if text[-1] != "0" else "1")
        [report] = verifier.verify_all(root)
        assert not report.digest_valid, element.tag
        assert not report.valid


@pytest.mark.unit
def test_changing_signed_info_breaks_the_signature(sample: bytes, fast_backend) -> None:  # type: ignore[no-untyped-def]
    root = parse_xml(sample)
    method = root.find(f".//{{{DS_NS}}}DigestMethod")
    method.addnext(etree.Comment("comments are outside c14n"))  # harmless
    [report] = XmlVerifier(fast_backend).verify_all(root)
    assert report.valid
    root.find(f".//{{{DS_NS}}}Reference").set("Type", "x")
    [report] = XmlVerifier(fast_backend).verify_all(root)
    assert report.digest_valid and not report.signature_valid


@pytest.mark.unit
def test_missing_parts_are_reported_not_raised(sample: bytes, fast_backend) -> None:  # type: ignore[no-untyped-def]
    root = parse_xml(sample)
    cert = root.find(f".//{{{DS_NS}}}X509Certificate")
    cert.getparent().remove(cert)
    [report] = XmlVerifier(fast_backend).verify_all(root)
    assert not report.valid and "X509Certificate" in (report.error or "")


@pytest.mark.unit
def test_reference_to_missing_element_is_invalid(sample: bytes, fast_backend) -> None:  # type: ignore[no-untyped-def]
    root = parse_xml(sample)
    root.xpath("//*[@Id='SIGNED_BY_SMEV']")[0].set("Id", "OTHER")
    [report] = XmlVerifier(fast_backend).verify_all(root)
    assert not report.valid and "matches 0 elements" in (report.error or "")


def _signed_document(xml_signer, body: etree._Element) -> etree._Element:  # type: ignore[no-untyped-def]
    root = etree.Element("{urn:test:envelope}Envelope", nsmap={"e": "urn:test:envelope"})
    root.append(body)
    body.set("Id", "SIGNED")
    # Sign what a receiver parses: lxml may re-prefix a generated tree when writing it.
    root = parse_xml(etree.tostring(root, encoding="utf-8"))
    holder = etree.SubElement(root, "{urn:test:envelope}Signature")
    holder.append(xml_signer(root[0]))
    return parse_xml(etree.tostring(root, encoding="utf-8"))


NAMESPACES = st.sampled_from([None, "urn:a", "urn://x-artefacts-smev-gov-ru/1.3", "http://b/"])
NAMES = st.sampled_from(["Фамилия", "Name", "a", "MessageID", "x-y", "_z"])
TEXTS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Cn", "Co"), blacklist_characters="\x00"
    )
    | st.sampled_from(["&", "<", ">", '"', "'", " ", "\n", "\t"]),
    max_size=20,
)


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    namespace = draw(NAMESPACES)
    element = etree.Element(etree.QName(namespace, draw(NAMES)) if namespace else draw(NAMES))
    for name in draw(st.lists(NAMES, max_size=3, unique=True)):
        attr_ns = draw(NAMESPACES)
        element.set(etree.QName(attr_ns, name) if attr_ns else name, draw(TEXTS))
    element.text = draw(TEXTS)
    if depth < 3:
        for child in draw(st.lists(documents(depth + 1), max_size=3)):
            element.append(child)
            child.tail = draw(TEXTS)
    return element


@pytest.mark.unit
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=documents())
def test_sign_then_verify_holds(body: etree._Element, xml_signer, fast_backend) -> None:  # type: ignore[no-untyped-def]
    root = _signed_document(xml_signer, body)
    [report] = XmlVerifier(fast_backend).verify_all(root)
    assert report.valid, report


def _tamper_targets(element: etree._Element) -> list[tuple[etree._Element, str | None]]:
    targets: list[tuple[etree._Element, str | None]] = []
    for node in element.iter():
        if node.text and node.text.strip(" \t\n\r"):
            targets.append((node, None))
        targets.extend((node, name) for name in node.attrib if name != "Id")
    return targets


@pytest.mark.unit
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=documents(), data=st.data())
def test_tampering_with_any_text_or_attribute_breaks_it(
    body, data, xml_signer, fast_backend
) -> None:  # type: ignore[no-untyped-def]
    root = _signed_document(xml_signer, body)
    signed = root.xpath("//*[@Id='SIGNED']")[0]
    targets = _tamper_targets(signed)
    if not targets:
        signed.set("added", "x")
    else:
        node, attribute = data.draw(st.sampled_from(targets))
        if attribute is None:
            node.text = (node.text or "") + "!"
        else:
            node.set(attribute, node.get(attribute, "") + "!")
    [report] = XmlVerifier(fast_backend).verify_all(copy.deepcopy(root))
    assert not report.digest_valid and not report.valid
