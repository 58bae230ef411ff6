"""A failed message on the console reads as XML should: indented, the business content first,
SMEV's envelope folded below it; masked exactly as before, and stored markup never becomes the
page's markup."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from starlette.testclient import TestClient

from hub.access import Role
from hub.bootstrap import Hub
from hub.console import create_app
from hub.console.layout import LEFT_OUT, lay_out
from hub.journal.records import FailedMessage, InboundMessage
from tests.support.console import console_hub, csrf_of, token
from tests.support.smev import get_response

pytestmark = pytest.mark.unit

SCOPE = "45201"
ORIGINAL = "0ad3f3a0-1c1e-11f1-8000-000000000001"
ANSWER = (  # ZAGS's answer about a birth, as the agency's schema has it
    '<tns:ROGDINFResponse xmlns:tns="urn://x-artefacts-zags-rogdinf/root/112-51/4.0.1" '
    'xmlns:fnst="urn://x-artefacts-zags-rogdinf/types/4.0.1" ИдЗапрос="q-1">'
    "<tns:СведОтветАГС><tns:СведРегРожд><tns:ПрдСведРег><tns:СведРодившемся>"
    "<tns:ФИОРожд><fnst:Фамилия>СЕМЕНОВА</fnst:Фамилия><fnst:Имя>АЛЕНА</fnst:Имя></tns:ФИОРожд>"
    "<tns:ДатаРождКаленд>2015-04-12</tns:ДатаРождКаленд>"
    '<tns:МестоРожден ПризнМесто="1" МестоТекст="г. Казань" Город="Казань"/>'
    "</tns:СведРодившемся></tns:ПрдСведРег></tns:СведРегРожд></tns:СведОтветАГС>"
    "</tns:ROGDINFResponse>"
)
SECRETS = ("СЕМЕНОВА", "АЛЕНА", "2015-04-12", "Казань")
HOSTILE = (  # markup an agency (or an attacker) put into a message's text
    '<t:Remark xmlns:t="urn:test">&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;'
    "<![CDATA[</details><script>alert(2)</script>]]>"
    "<!-- </pre><script>alert(3)</script> --></t:Remark>"
)
_PRE = re.compile(r'<pre id="body">(.*?)</pre>', re.DOTALL)
_ENVELOPE = re.compile(
    r'<details id="envelope">\s*<summary>[^<]*</summary>\s*<pre>(.*?)</pre>', re.DOTALL
)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path) as made:
        yield made


@pytest.fixture
def client(hub: Hub) -> TestClient:
    client = TestClient(create_app(hub), follow_redirects=False)
    login = csrf_of(client.get("/login").text)
    client.post("/login", data={"token": token(hub, Role.OPERATOR, SCOPE), "csrf": login})
    return client


def failed(hub: Hub, external_id: str, raw: bytes) -> FailedMessage:
    """``raw`` stored as SMEV delivered it, processed, and kept as failed (the hub never sent
    the request it answers)."""
    message = InboundMessage(
        "smev", external_id, raw, agency="zags", content_type="text/xml", scope=SCOPE
    )
    hub.journal.receive([message])
    records = hub.journal.start_attempts([message.inbox_id])
    hub.journal.complete([hub.worker.outcome(record, None) for record in records])
    [found] = [f for f in hub.journal.failed(limit=100) if f.inbox_id == message.inbox_id]
    return found


def shown(page: str) -> tuple[str, str]:
    """The business content and the envelope as the operator reads them (HTML unescaped)."""
    body, envelope = _PRE.search(page), _ENVELOPE.search(page)
    assert body is not None and envelope is not None, page
    return html.unescape(body.group(1)), html.unescape(envelope.group(1))


def test_the_business_content_comes_first_indented_and_the_envelope_folded(
    hub: Hub, client: TestClient
) -> None:
    message = failed(hub, "m-1", get_response(ORIGINAL, ANSWER.encode()))
    page = client.get(f"/failed/messages/{message.failed_id}").text
    assert [s for s in SECRETS if s in page] == [] and "С***" in page  # masked as before
    assert page.index('<pre id="body">') < page.index('<details id="envelope">')
    content, envelope = shown(page)
    assert content.startswith("<tns:ROGDINFResponse")
    assert "\n  <tns:СведОтветАГС>\n    <tns:СведРегРожд>\n" in content
    assert etree.fromstring(content.encode()).tag.endswith("ROGDINFResponse")
    assert "<soap:Envelope" in envelope and "\n  <soap:Body>\n" in envelope
    assert f"<!--{LEFT_OUT}-->" in envelope and "ROGDINFResponse" not in envelope
    assert f"<ns2:OriginalMessageId>{ORIGINAL}</ns2:OriginalMessageId>" in envelope


def test_a_revealed_message_is_laid_out_the_same_way(hub: Hub, client: TestClient) -> None:
    message = failed(hub, "m-1", get_response(ORIGINAL, ANSWER.encode()))
    path = f"/failed/messages/{message.failed_id}"
    csrf = csrf_of(client.get(path).text)
    revealed = client.post(f"{path}/reveal", data={"csrf": csrf, "reason": "ticket 7"})
    content, envelope = shown(revealed.text)
    assert "<fnst:Фамилия>СЕМЕНОВА</fnst:Фамилия>" in content and "Казань" in content
    assert "СЕМЕНОВА" not in envelope


def test_markup_in_stored_text_is_escaped(hub: Hub, client: TestClient) -> None:
    message = failed(hub, "m-2", get_response(ORIGINAL, HOSTILE.encode()))
    page = client.get(f"/failed/messages/{message.failed_id}").text
    assert "<script>" not in page and "</pre><script>" not in page
    content, _ = shown(page)
    assert "&lt;script&gt;alert(1)" in content and "<!-- </pre><script>alert(3)" in content
    assert "alert(2)" in content


def test_what_does_not_parse_is_shown_as_stored_and_escaped(hub: Hub, client: TestClient) -> None:
    raw = b"<Envelope><script>alert(4)</script><MessagePrimaryContent>"
    message = failed(hub, "m-3", raw)
    page = client.get(f"/failed/messages/{message.failed_id}").text
    assert "shown as stored" in page and 'id="envelope"' not in page
    assert "<script>" not in page and "&lt;script&gt;alert(4)" in page


def test_a_message_without_business_content_is_shown_whole_and_json_as_masked() -> None:
    rejected = get_response(ORIGINAL, rejection=("ACCESS_DENIED", "нет доступа")).decode()
    layout = lay_out(rejected)
    assert layout.envelope == "" and layout.content.startswith("<soap:Envelope")
    assert "\n" + " " * 12 + "<ns2:RequestRejected>" in layout.content  # six levels down
    declared = '<?xml version="1.0" encoding="windows-1251"?>\n<a><b>текст</b></a>'
    assert lay_out(declared).content == "<a>\n  <b>текст</b>\n</a>"
    assert lay_out('{\n  "a": 1\n}').content == '{\n  "a": 1\n}'
