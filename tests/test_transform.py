"""The SMEV transform, rule by rule, and against SMEV's own digest."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from hub.crypto.transform import smev_transform
from hub.xml import parse_xml

pytestmark = pytest.mark.unit


def transform(xml: str) -> str:
    return smev_transform(parse_xml(xml.encode())).decode()


def test_genuine_sample_digest_matches_smev(smev_samples_dir: Path, openssl_backend) -> None:
    root = parse_xml((smev_samples_dir / "send-request-response-1.2-signed.xml").read_bytes())
    signed = root.xpath("//*[@Id='SIGNED_BY_SMEV']")[0]
    digest = base64.b64encode(openssl_backend.digest(smev_transform(signed))).decode()
    assert digest == "f4DoL3jU/jXkk8hjAgbvDQD7dHsTrp9c2YcTulP0cNM="


def test_prefixes_renumbered_in_order_of_first_use() -> None:
    out = transform('<x:a xmlns:x="urn:a" xmlns:y="urn:b"><y:b/><x:c/></x:a>')
    assert out == (
        '<ns1:a xmlns:ns1="urn:a"><ns2:b xmlns:ns2="urn:b"></ns2:b><ns1:c></ns1:c></ns1:a>'
    )


def test_declaration_goes_out_of_scope_with_its_element() -> None:
    out = transform('<a xmlns="urn:a"><b xmlns="urn:b"/><c xmlns="urn:b"/></a>')
    assert out == (
        '<ns1:a xmlns:ns1="urn:a"><ns2:b xmlns:ns2="urn:b"></ns2:b>'
        '<ns3:c xmlns:ns3="urn:b"></ns3:c></ns1:a>'
    )


def test_default_namespace_becomes_a_prefix_and_unused_declarations_vanish() -> None:
    out = transform('<a xmlns="urn:a" xmlns:unused="urn:u">text</a>')
    assert out == '<ns1:a xmlns:ns1="urn:a">text</ns1:a>'


def test_attributes_sorted_namespaced_first_then_plain() -> None:
    out = transform('<a xmlns:p="urn:z" xmlns:q="urn:b" z="1" p:m="2" b="3" q:y="4" q:a="5"/>')
    assert out == (
        '<a xmlns:ns1="urn:b" xmlns:ns2="urn:z" ns1:a="5" ns1:y="4" ns2:m="2" b="3" z="1"></a>'
    )


def test_element_declaration_comes_before_attribute_declarations() -> None:
    out = transform('<e:a xmlns:e="urn:e" xmlns:t="urn:t" t:x="1"/>')
    assert out == '<ns1:a xmlns:ns1="urn:e" xmlns:ns2="urn:t" ns2:x="1"></ns1:a>'


def test_whitespace_only_text_comments_and_pis_are_dropped() -> None:
    out = transform("<a>\n  <b> x </b>\n  <!-- note --><?pi data?>\n</a>")
    assert out == "<a><b> x </b></a>"


def test_text_split_by_a_comment_is_judged_as_one_text() -> None:
    assert transform("<a>  <!-- c -->x</a>") == "<a>  x</a>"


def test_escaping_of_text_and_attributes() -> None:
    out = transform('<a v="&quot;&amp;&lt;&gt;">&amp; &lt; &gt; "</a>')
    assert out == '<a v="&quot;&amp;&lt;&gt;">&amp; &lt; &gt; "</a>'


def test_cyrillic_is_written_as_utf8() -> None:
    assert smev_transform(parse_xml("<a>Иванов</a>".encode())) == "<a>Иванов</a>".encode()
