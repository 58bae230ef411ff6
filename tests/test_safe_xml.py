"""The hardened parser: every attack gets a specific error and nothing half-read."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from lxml import etree

from hub.errors import (
    ForbiddenXmlError,
    MalformedXmlError,
    MultipartError,
    XmlError,
    XmlTooDeepError,
    XmlTooLargeError,
)
from hub.xml import XmlLimits, parse_message, parse_xml

pytestmark = pytest.mark.unit

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<lolz>&lol9;</lolz>"""


def test_billion_laughs_is_refused_at_the_doctype() -> None:
    with pytest.raises(ForbiddenXmlError) as error:
        parse_xml(BILLION_LAUGHS)
    assert error.value.line == 2
    assert "DOCTYPE" in str(error.value)


def test_external_entity_file_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'
    with pytest.raises(ForbiddenXmlError) as error:
        parse_xml(xxe.encode())
    assert "TOP-SECRET" not in str(error.value)


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "PWNED">')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()


def test_external_dtd_and_entities_make_no_network_request(http_server) -> None:  # type: ignore[no-untyped-def]
    url, requests = http_server
    for doc in (
        f'<!DOCTYPE r SYSTEM "{url}/dtd"><r/>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/p"> %p;]><r>&x;</r>',
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/x">]><r>&x;</r>',
    ):
        with pytest.raises(XmlError):
            parse_xml(doc.encode())
    assert requests == []


def test_xinclude_is_not_processed(tmp_path: Path) -> None:
    secret = tmp_path / "s.txt"
    secret.write_text("SECRET")
    xinclude = "http://www.w3.org/2001/XInclude"
    doc = f'<r xmlns:xi="{xinclude}"><xi:include href="{secret}" parse="text"/></r>'
    root = parse_xml(doc.encode())
    assert b"SECRET" not in etree.tostring(root)


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(XmlTooLargeError) as error:
        parse_xml(b"<a>" + b"x" * 2000 + b"</a>", XmlLimits(max_bytes=1000))
    assert error.value.details == {"line": None, "column": None, "size": 2007, "limit": 1000}


def test_default_limit_is_ten_megabytes() -> None:
    assert XmlLimits().max_bytes == 10 * 1024 * 1024
    big = b"<a>" + b"x" * (10 * 1024 * 1024) + b"</a>"
    with pytest.raises(XmlTooLargeError):
        parse_xml(big)


def test_too_deep_is_refused_with_the_line() -> None:
    doc = b"<a>\n" + b"<b>" * 30 + b"</b>" * 30 + b"</a>"
    with pytest.raises(XmlTooDeepError) as error:
        parse_xml(doc, XmlLimits(max_depth=20))
    assert error.value.line == 2
    parse_xml(doc, XmlLimits(max_depth=31))


def test_malformed_input_reports_line_and_column() -> None:
    with pytest.raises(MalformedXmlError) as error:
        parse_xml(b"<a>\n  <b>text</c>\n</a>")
    assert (error.value.line, error.value.column) == (2, 14)
    assert "mismatch" in str(error.value)


@pytest.mark.parametrize("data", [b"", b"   ", b"not xml", b"<a>", b"<a></a><b/>", b"\xff\xfe<"])
def test_garbage_is_malformed_never_half_read(data: bytes) -> None:
    with pytest.raises(MalformedXmlError):
        parse_xml(data)


def test_bom_is_accepted(smev_samples_dir: Path) -> None:
    data = (smev_samples_dir / "get-response-empty-queue-1.2.xml").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert etree.QName(parse_xml(data)).localname == "Envelope"


SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def _mtom(
    boundary: str = "uuid:4a1b",
    *,
    include: str = "cid:att-1%40hub",
    part_id: str = "att-1@hub",
    root_id: str = "root.message@cxf.apache.org",
) -> bytes:
    root = (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><Data><Content>'
        f'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="{include}"/>'
        "</Content></Data></soap:Body></soap:Envelope>"
    )
    return (
        (
            f"--{boundary}\r\n"
            'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n'
            f"Content-Transfer-Encoding: binary\r\nContent-ID: <{root_id}>\r\n\r\n"
            f"{root}\r\n"
            f"--{boundary}\r\n"
            "Content-Type: application/pdf\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: <{part_id}>\r\n\r\n"
        ).encode()
        + b"%PDF-1.4 \x00\x01\x02 binary\r\n"
        + f"--{boundary}--\r\n".encode()
    )


def test_mtom_root_part_parsed_and_includes_resolved() -> None:
    document = parse_message(_mtom())
    content = document.root.find(".//Content")
    assert content is not None
    assert base64.b64decode(content.text or "") == b"%PDF-1.4 \x00\x01\x02 binary"
    [attachment] = document.attachments
    assert (attachment.content_id, attachment.content_type) == ("att-1@hub", "application/pdf")


def test_mtom_with_content_type_header_and_start_parameter() -> None:
    content_type = (
        'multipart/related; type="application/xop+xml"; boundary="uuid:4a1b"; '
        'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
    )
    document = parse_message(_mtom(), content_type)
    assert etree.QName(document.root).localname == "Envelope"


# Apache CXF (SMEV's stack) names parts by percent-encoded ids; some versions write the
# Content-ID header encoded too. RFC 2392: a cid URL is the Content-ID percent-encoded, so
# both sides are compared decoded.
@pytest.mark.parametrize(
    ("include", "part_id"),
    [
        ("cid:att-1%40hub", "att-1@hub"),  # the header decoded, the href encoded
        ("cid:att-1%40hub", "att-1%40hub"),  # both encoded (CXF writing the encoded name)
        ("cid:att-1@hub", "att-1%40hub"),  # the href bare, the header encoded
        ("cid:a%20b%2Fc%40hub", "a b/c@hub"),  # a name with a space and a slash
    ],
)
def test_mtom_content_ids_match_percent_decoded_on_both_sides(include: str, part_id: str) -> None:
    document = parse_message(_mtom(include=include, part_id=part_id))
    content = document.root.find(".//Content")
    assert content is not None
    assert base64.b64decode(content.text or "") == b"%PDF-1.4 \x00\x01\x02 binary"
    assert document.attachments[0].content_id == unquote(part_id)


def test_mtom_root_found_by_its_start_parameter_when_its_id_is_encoded() -> None:
    content_type = (
        'multipart/related; type="application/xop+xml"; boundary="uuid:4a1b"; '
        'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
    )
    body = _mtom(root_id="root.message%40cxf.apache.org")
    assert etree.QName(parse_message(body, content_type).root).localname == "Envelope"


def test_mtom_missing_part_is_a_specific_error() -> None:
    with pytest.raises(MultipartError) as error:
        parse_message(_mtom(include="cid:nowhere"))
    assert "cid:nowhere" in str(error.value)


def test_mtom_root_part_goes_through_the_same_hardening() -> None:
    evil = _mtom().replace(b"<soap:Envelope", b"<!DOCTYPE x [<!ENTITY e 'e'>]><soap:Envelope", 1)
    with pytest.raises(ForbiddenXmlError):
        parse_message(evil)


def test_mtom_without_root_part_is_refused() -> None:
    body = b"--b\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--b--\r\n"
    with pytest.raises(MultipartError):
        parse_message(body)


def test_mtom_parts_are_counted_before_the_mime_parser_runs() -> None:
    assert len(parse_message(_mtom(), None, XmlLimits(max_parts=2)).attachments) == 1
    content_type = 'multipart/related; type="application/xop+xml"; boundary="uuid:4a1b"'
    for given in (None, content_type):  # boundary from the header, or from the first line
        with pytest.raises(MultipartError, match="2 MIME parts, more than the limit of 1") as error:
            parse_message(_mtom(), given, XmlLimits(max_parts=1))
        assert (error.value.details["parts"], error.value.details["limit"]) == (2, 1)
    assert XmlLimits().max_parts == 100
