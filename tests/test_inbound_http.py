"""POST /inbound/{agency}: regional systems outside SMEV post signed SOAP messages over HTTP.

Authenticated by token (role agency) or client certificate (tests/test_console_tls.py);
bounded, type-checked, parsed once by the hardened parser, stored, handed to the worker;
hostile input gets a clear 4xx and leaves nothing stored.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from starlette.testclient import TestClient

from hub.access import AccessService, Role
from hub.access.tokens import new_token
from hub.bootstrap import Hub
from hub.canonical.ids import inbox_id_for
from hub.config import Settings
from hub.console import create_app
from hub.journal.records import InboxStatus, TokenRecord
from tests.support.console import SCHOOL_A, console_hub, serving, token
from tests.support.notices import notice, running
from tests.support.waiting import wait_for

pytestmark = pytest.mark.unit
XML = {"content-type": "text/xml; charset=utf-8"}
LIMIT = 8192


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(
        tmp_path, adapters=("tests.support.notices:register",), xml_max_bytes=LIMIT
    ) as made:
        yield made


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub), follow_redirects=False)


@pytest.fixture
def agency(hub: Hub) -> dict[str, str]:
    return {"authorization": f"Bearer {token(hub, Role.AGENCY, SCHOOL_A, 'school-a-system')}"}


def stored(hub: Hub) -> int:
    return hub.journal.activity(datetime.now(UTC) - timedelta(hours=1)).received


def becomes(hub: Hub, inbox_id: str, status: InboxStatus) -> None:
    """Wait until the journal shows inbox message ``inbox_id`` with ``status``."""

    def reached() -> bool:
        record = hub.journal.inbox(inbox_id)
        return record is not None and record.status is status

    wait_for(reached, 10.0, f"inbox {inbox_id} did not become {status}")


def test_a_posted_message_is_stored_processed_and_a_resend_recognised(
    hub: Hub, client: TestClient, agency: dict[str, str]
) -> None:
    body = notice("child", 1)
    first = client.post("/inbound/zags", content=body, headers={**agency, **XML})
    assert first.status_code == 202, first.text
    inbox_id = first.json()["inbox_id"]
    record = hub.journal.inbox(inbox_id)
    assert record is not None and record.raw == body and record.agency == "zags"
    assert record.source.startswith("http:") and record.scope == SCHOOL_A
    with running(hub.worker):
        becomes(hub, inbox_id, InboxStatus.PROCESSED)
    again = client.post("/inbound/zags", content=body, headers={**agency, **XML})
    assert again.status_code == 200 and again.json()["inbox_id"] == inbox_id
    assert again.json()["duplicate"] is True and stored(hub) == 1


def test_the_idempotency_key_names_the_delivery(
    hub: Hub, client: TestClient, agency: dict[str, str]
) -> None:
    headers = {**agency, **XML, "Idempotency-Key": "order-17"}
    reply = client.post("/inbound/zags", content=notice("child", 2), headers=headers)
    assert reply.status_code == 202
    record = hub.journal.inbox(reply.json()["inbox_id"])
    assert record is not None and record.external_id == "order-17"
    assert reply.json()["inbox_id"] == inbox_id_for(record.source, "order-17")


def test_signatures_are_still_verified_by_the_worker(tmp_path: Path) -> None:
    adapters = ("tests.support.notices:register",)
    with console_hub(tmp_path, require_signatures=True, adapters=adapters) as hub:
        client = TestClient(create_app(hub))
        headers = {"authorization": f"Bearer {token(hub, Role.AGENCY, '*')}", **XML}
        reply = client.post("/inbound/zags", content=notice("child", 3), headers=headers)
        assert reply.status_code == 202  # accepted at the door: the worker checks the signature
        with running(hub.worker):
            becomes(hub, reply.json()["inbox_id"], InboxStatus.FAILED)
        all_failed = hub.journal.failed()
    assert len(all_failed) == 1, all_failed
    [failed] = all_failed
    assert failed.error_type == "SignatureError" and "no signature" in failed.reason


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
DEEP = b"<a>" * 300 + b"</a>" * 300


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/inbound/zags", b"<x>" + b"a" * LIMIT + b"</x>", XML, 413),
        ("/inbound/zags", BOMB, XML, 400),
        ("/inbound/zags", XXE, XML, 400),
        ("/inbound/zags", DEEP, XML, 400),
        ("/inbound/zags", b"<soap:Envelope", XML, 400),
        ("/inbound/zags", b"<plain>not a SMEV message</plain>", XML, 400),
        ("/inbound/zags", b'{"MessageID": 1}', {"content-type": "application/json"}, 415),
        ("/inbound/zags", b"<x/>", {}, 415),
        ("/inbound/zags", b"<x/>", {"content-type": "text/html"}, 415),
        ("/inbound/nowhere", None, XML, 404),
        ("/inbound/ZAGS", None, XML, 404),
        ("/inbound/..%2F..%2Fetc%2Fpasswd", None, XML, 404),
        ("/inbound/zags/../../metrics", None, XML, 405),  # /metrics, a GET
        ("/inbound/zags", None, {**XML, "Idempotency-Key": "a b;c=d"}, 400),
        ("/inbound/zags", None, {**XML, "X-Request-Id": "x" * 200}, 400),
    ],
)
def test_hostile_input_gets_a_clear_4xx_and_nothing_is_stored(  # noqa: PLR0917 - the cases
    hub: Hub,
    client: TestClient,
    agency: dict[str, str],
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    content = notice("child", 4) if body is None else body
    reply = client.post(path, content=content, headers={**agency, **headers})
    assert reply.status_code == status, reply.text
    assert "error" in reply.json() and "Traceback" not in reply.text
    assert stored(hub) == 0
    ok = client.post("/inbound/zags", content=notice("child", 5), headers={**agency, **XML})
    assert ok.status_code == 202  # still serving


def test_an_oversized_body_without_a_length_is_cut_off(
    hub: Hub, client: TestClient, agency: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"<x>"
        for _ in range(100):
            yield b"a" * 1024

    reply = client.post("/inbound/zags", content=chunks(), headers={**agency, **XML})
    assert reply.status_code == 413 and stored(hub) == 0


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-token",
        "Bearer hub_0123456789ab_" + "x" * 43,
    ],
)
def test_without_a_valid_token_it_is_401(
    hub: Hub, client: TestClient, authorization: str | None
) -> None:
    headers = {**XML, **({"authorization": authorization} if authorization else {})}
    reply = client.post("/inbound/zags", content=notice("child", 6), headers=headers)
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    assert stored(hub) == 0


def test_other_roles_and_revoked_tokens_may_not_post(hub: Hub, client: TestClient) -> None:
    operator = token(hub, Role.OPERATOR, "*")
    headers = {"authorization": f"Bearer {operator}", **XML}
    assert client.post("/inbound/zags", content=notice("c", 7), headers=headers).status_code == 403
    assert any(e.action == "denied" for e in hub.journal.audit_log(20))
    agency = token(hub, Role.AGENCY, "*")
    AccessService(hub.journal).revoke(agency.split("_")[1], "test-admin")
    headers = {"authorization": f"Bearer {agency}", **XML}
    assert client.post("/inbound/zags", content=notice("c", 8), headers=headers).status_code == 401
    assert stored(hub) == 0


def test_metrics_need_a_token_with_the_metrics_right(hub: Hub, client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    agency = {"authorization": f"Bearer {token(hub, Role.AGENCY, '*')}"}
    assert client.get("/metrics", headers=agency).status_code == 403
    pytest.importorskip("hub.metrics", reason="hub/metrics.py (helper M) is not there yet")
    monitor = {"authorization": f"Bearer {token(hub, Role.MONITOR, '*')}"}
    reply = client.get("/metrics", headers=monitor)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")


def test_raw_header_tricks_on_a_real_server(hub: Hub, agency: dict[str, str]) -> None:
    with serving(hub) as served:
        port = int(served.url.rsplit(":", 1)[1])
        for head in (
            b"POST /inbound/zags HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\rX-Evil: 1\r\n",
            b"POST /inbound/zags HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 9\r\n",
            # Accepted as a request (and refused: no token); close, or keep-alive holds it open.
            b"POST /inbound/zags HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Long: "
            + b"a" * 70_000
            + b"\r\n",
            b"GARBAGE\r\n",
        ):
            answer = _raw(port, head + b"\r\n")
            assert answer.startswith(b"HTTP/1.1 4") or answer == b"", answer[:80]
        ok = _raw(port, _post(notice("child", 9), agency["authorization"]))
        assert ok.startswith(b"HTTP/1.1 202"), ok[:200]
    assert stored(hub) == 1


def _post(body: bytes, authorization: str) -> bytes:
    head = (
        f"POST /inbound/zags HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n"
        f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and b"connection: close" in b"".join(chunks).lower():
                break
        return b"".join(chunks)


def test_a_broker_outage_is_a_503_and_the_message_is_kept_once(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        broker_url="amqp://guest:guest@127.0.0.1:1//",  # nothing listens there
        require_signatures=False,
    )
    hub = Hub(settings)
    client = TestClient(create_app(hub))
    headers = {"authorization": f"Bearer {token(hub, Role.AGENCY, '*')}", **XML}
    body = notice("child", 10)
    for _ in range(2):  # the sender tries again, as a 503 tells it to
        reply = client.post("/inbound/zags", content=body, headers=headers)
        assert reply.status_code == 503 and "try again" in reply.json()["error"]
        assert reply.json()["code"] == "UNAVAILABLE" and reply.headers["retry-after"] == "5"
    # Stored whole, once: handed to the worker by a later resend or the worker's sweep.
    assert hub.journal.health_counts().inbox_unfinished == 1
    hub.close()


# --- who may post what: a system posts only for the agencies its token names ---------------


def denied(hub: Hub) -> list[tuple[str, str, str]]:
    """(actor, target, action) of every audited refusal."""
    return [
        (e.actor, e.target, str(e.details.get("action")))
        for e in hub.journal.audit_log(100)
        if e.action == "denied"
    ]


@pytest.mark.parametrize("elsewhere", ["pfr", "gosuslugi"])
def test_a_zags_token_may_not_post_for_another_agency(
    hub: Hub, client: TestClient, agency: dict[str, str], elsewhere: str
) -> None:
    reply = client.post(f"/inbound/{elsewhere}", content=notice("c", 20), headers={**agency, **XML})
    assert reply.status_code == 403, reply.text
    assert reply.json()["error"] == f"may post for zags only, not {elsewhere}"
    [(actor, target, action)] = denied(hub)
    assert (target, action) == (elsewhere, "post") and "school-a-system" in actor
    assert stored(hub) == 0
    mine = client.post("/inbound/zags", content=notice("c", 20), headers={**agency, **XML})
    assert mine.status_code == 202  # its own agency still works


def test_a_token_for_two_agencies_posts_for_those_two_alone(hub: Hub, client: TestClient) -> None:
    both = token(hub, Role.AGENCY, "*", "zags-pfr gateway", agencies=("zags", "pfr"))
    headers = {"authorization": f"Bearer {both}", **XML}
    for where, status in (("zags", 202), ("pfr", 202), ("gosuslugi", 403)):
        reply = client.post(f"/inbound/{where}", content=notice(where, 21), headers=headers)
        assert reply.status_code == status, (where, reply.text)
    assert stored(hub) == 2 and [t for _, t, _ in denied(hub)] == ["gosuslugi"]


def test_an_agency_token_made_before_the_binding_is_refused_saying_how_to_migrate(
    hub: Hub, client: TestClient
) -> None:
    issued = new_token()  # a token as migration 0005 leaves it: role agency, no agencies
    old = TokenRecord(
        issued.token_id,
        "old system",
        "agency",
        "*",
        issued.secret_hash,
        datetime.now(UTC),
        "root",
        None,
    )
    hub.journal.add_token(old)
    headers = {"authorization": f"Bearer {issued.text}", **XML}
    reply = client.post("/inbound/zags", content=notice("c", 22), headers=headers)
    assert reply.status_code == 403, reply.text
    assert "names no agency" in reply.json()["error"]
    assert "hub tokens create --role agency --agency zags" in reply.json()["error"]
    assert [t for _, t, _ in denied(hub)] == ["zags"] and stored(hub) == 0


def test_an_admin_token_may_not_post(hub: Hub, client: TestClient) -> None:
    admin = {"authorization": f"Bearer {token(hub, Role.ADMIN, '*', 'root admin')}", **XML}
    reply = client.post("/inbound/zags", content=notice("c", 23), headers=admin)
    assert reply.status_code == 403 and reply.json()["error"] == "role admin may not post"
    [(actor, target, action)] = denied(hub)
    assert (target, action) == ("zags", "post") and "root admin" in actor
    assert stored(hub) == 0


# --- a delivery id names one message ---------------------------------------------------------


def test_a_reused_idempotency_key_with_another_body_is_a_409(
    hub: Hub, client: TestClient, agency: dict[str, str]
) -> None:
    headers = {**agency, **XML, "Idempotency-Key": "order-18"}
    first, other = notice("child", 24), notice("another child", 25)
    assert client.post("/inbound/zags", content=first, headers=headers).status_code == 202
    reply = client.post("/inbound/zags", content=other, headers=headers)
    assert reply.status_code == 409, reply.text
    assert "order-18" in reply.json()["error"] and "different" in reply.json()["error"]
    same = client.post("/inbound/zags", content=first, headers=headers)
    assert same.status_code == 200 and same.json()["duplicate"] is True
    record = hub.journal.inbox(same.json()["inbox_id"])
    assert record is not None and record.raw == first and stored(hub) == 1


def test_a_reused_key_for_another_agency_is_a_409(hub: Hub, client: TestClient) -> None:
    both = token(hub, Role.AGENCY, "*", agencies=("zags", "pfr"))
    headers = {"authorization": f"Bearer {both}", **XML, "Idempotency-Key": "k-1"}
    body = notice("child", 26)
    assert client.post("/inbound/zags", content=body, headers=headers).status_code == 202
    assert client.post("/inbound/pfr", content=body, headers=headers).status_code == 409
    assert stored(hub) == 1


# --- MTOM: a bound on parts, and parsed off the event loop -------------------------------------


def mtom(root: bytes, extra_parts: int) -> tuple[bytes, dict[str, str]]:
    """``root`` as the root part of a multipart/related body with ``extra_parts`` more."""
    head = b'--b\r\nContent-Type: application/xop+xml; type="text/xml"\r\nContent-ID: <r>\r\n\r\n'
    part = b"--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <p>\r\n\r\nx\r\n"
    body = head + root + b"\r\n" + part * extra_parts + b"--b--\r\n"
    return body, {"content-type": 'multipart/related; type="application/xop+xml"; boundary="b"'}


def test_an_mtom_post_of_too_many_parts_is_refused(
    hub: Hub, client: TestClient, agency: dict[str, str]
) -> None:
    body, headers = mtom(notice("child", 27), 100)  # 101 parts, the limit is 100
    reply = client.post("/inbound/zags", content=body, headers={**agency, **headers})
    assert reply.status_code == 400, reply.text
    assert "101 MIME parts, more than the limit of 100" in reply.json()["error"]
    assert stored(hub) == 0
    body, headers = mtom(notice("child", 27), 99)
    reply = client.post("/inbound/zags", content=body, headers={**agency, **headers})
    assert reply.status_code == 202, reply.text


@pytest.mark.slow
def test_other_requests_are_answered_while_a_huge_mtom_post_is_parsed(tmp_path: Path) -> None:
    body, content_type = mtom(notice("child", 28), 150_000)
    settings = {"xml_max_parts": 200_000, "xml_max_bytes": 2 * len(body)}
    with console_hub(tmp_path, adapters=("tests.support.notices:register",), **settings) as hub:
        headers = {"authorization": f"Bearer {token(hub, Role.AGENCY, '*')}", **content_type}
        with serving(hub) as served:
            posted: dict[str, requests.Response] = {}
            post = threading.Thread(
                target=lambda: posted.update(
                    reply=requests.post(
                        f"{served.url}/inbound/zags", data=body, headers=headers, timeout=120
                    )
                )
            )
            started = time.monotonic()
            post.start()
            latencies = _latencies_while(post, f"{served.url}/login")
            post.join()
            took = time.monotonic() - started
        assert posted["reply"].status_code == 202, posted["reply"].text
        assert stored(hub) == 1
    assert len(latencies) >= 5, latencies  # the parse took a while: pages were asked meanwhile
    # ... and answered at once, not after it (on the loop, one waits most of the post's time)
    assert max(latencies) < took / 4, (took, latencies)


def _latencies_while(thread: threading.Thread, url: str) -> list[float]:
    latencies = []
    while thread.is_alive():
        started = time.monotonic()
        assert requests.get(url, timeout=30).status_code == 200
        latencies.append(time.monotonic() - started)
    return latencies
