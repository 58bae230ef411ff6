"""The console against abuse: floods of bad tokens (429, a bounded audit that still counts
every attempt), logins and logouts audited, sessions capped per principal, and an audit page
that pages and filters within the viewer's scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hub.access import Role
from hub.bootstrap import Hub
from hub.console import create_app
from hub.console.web import Sessions
from hub.journal.records import AuditEntry
from tests.support.console import SCHOOL_A, SCHOOL_B, console_hub, csrf_of, token

pytestmark = pytest.mark.unit
XML = {"content-type": "text/xml"}
_ROW = re.compile(r"<tr><td>(\d+)</td>")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path) as made:
        yield made


def client_from(hub: Hub, address: str, app: object | None = None) -> TestClient:
    return TestClient(app or create_app(hub), follow_redirects=False, client=(address, 40000))


def login(client: TestClient, text: str) -> None:
    csrf = csrf_of(client.get("/login").text)
    reply = client.post("/login", data={"token": text, "csrf": csrf})
    assert reply.status_code == 303, reply.text


def failed_authentications(hub: Hub) -> list[AuditEntry]:
    entries = hub.journal.audit_log(100_000)
    return [e for e in entries if e.details.get("action") == "authenticate"]


@pytest.mark.slow
def test_2600_bad_tokens_get_429_and_a_bounded_audit_that_counts_them_all(hub: Hub) -> None:
    app = create_app(hub)
    attacker, office = client_from(hub, "203.0.113.7", app), client_from(hub, "198.51.100.2", app)
    agency = {"authorization": f"Bearer {token(hub, Role.AGENCY, SCHOOL_A)}", **XML}
    statuses = []
    for n in range(2600):
        bad = {"authorization": f"Bearer hub_{n:012x}_{'s' * 43}", **XML}
        statuses.append(attacker.post("/inbound/zags", content=b"<x/>", headers=bad))
    assert [r.status_code for r in statuses[:10]] == [401] * 10
    refused = statuses[10:]
    assert {r.status_code for r in refused} == {429}
    assert refused[0].json() == {
        "error": "too many failed authentications: try again in 30 s",
        "status": 429,
        "code": "TOO_MANY_ATTEMPTS",
    }
    assert 1 <= int(refused[-1].headers["retry-after"]) <= 30
    # Another client is not held up by it.
    assert office.post("/inbound/zags", content=b"<x/>", headers=agency).status_code == 400
    hub.access.flush_failed_authentications(everything=True)
    entries = failed_authentications(hub)
    assert len(entries) == 2
    assert sum(int(e.details["count"]) for e in entries) == 2600
    assert all(e.details["source"] == "203.0.113.7" for e in entries)


def test_a_login_flood_gets_a_429_page_and_others_still_log_in(hub: Hub) -> None:
    app = create_app(hub)
    attacker, office = client_from(hub, "203.0.113.7", app), client_from(hub, "198.51.100.2", app)
    csrf = csrf_of(attacker.get("/login").text)
    for n in range(10):
        reply = attacker.post("/login", data={"token": f"hub_{n:012x}_{'s' * 43}", "csrf": csrf})
        assert reply.status_code == 401
        csrf = csrf_of(reply.text)  # each answer is a fresh login form
    good = token(hub, Role.OPERATOR, SCHOOL_A)
    csrf = csrf_of(attacker.get("/login").text)
    held = attacker.post("/login", data={"token": good, "csrf": csrf})
    assert held.status_code == 429 and held.headers["retry-after"] == "30"
    assert "try again in 30 s" in held.text and "hub_session" not in attacker.cookies
    login(office, good)
    assert office.get("/failed").status_code == 200


def test_logins_and_logouts_are_audited_and_a_refused_role_is_a_denial(hub: Hub) -> None:
    client = client_from(hub, "198.51.100.2")
    operator = token(hub, Role.OPERATOR, SCHOOL_A, "Иванова")
    monitor = token(hub, Role.MONITOR, "*", "prometheus")
    login(client, operator)
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    csrf = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"token": monitor, "csrf": csrf}).status_code == 403
    newest = hub.journal.audit_log(3)
    refused, logout, logged_in = newest
    assert (logged_in.action, logout.action) == ("login", "logout")
    assert logged_in.target == operator.split("_")[1] and logged_in.scope == SCHOOL_A
    assert logged_in.details == {"source": "198.51.100.2", "via": "console"}
    assert (refused.action, refused.target, refused.details["action"]) == (
        "denied",
        "console",
        "view",
    )
    assert all(operator.split("_")[2] not in repr(e) for e in newest)


def test_one_principal_logging_in_10000_times_evicts_nobody_else() -> None:
    sessions = Sessions(limit=1000)
    other = sessions.open("token-b", "principal-b")
    for n in range(10_000):
        sessions.open(f"token-a-{n}", "principal-a")
    assert sessions.get(other.session_id) is other
    assert sessions.count("principal-a") == 20 and sessions.count("principal-b") == 1


def test_a_principals_oldest_session_goes_first(hub: Hub) -> None:
    app = create_app(hub)
    operator = token(hub, Role.OPERATOR, SCHOOL_A)
    keeper = client_from(hub, "198.51.100.9", app)
    login(keeper, token(hub, Role.AUDITOR, "*"))
    clients = [client_from(hub, "198.51.100.2", app) for _ in range(21)]
    login(clients[0], operator)
    login(clients[1], operator)
    assert clients[1].get("/failed").status_code == 200  # used since: the least recent is [0]
    for client in clients[2:]:
        login(client, operator)
    assert clients[0].get("/failed").status_code == 303  # its oldest session went
    assert all(c.get("/failed").status_code == 200 for c in clients[1:])
    assert keeper.get("/audit").status_code == 200


@pytest.fixture
def audited(hub: Hub) -> Hub:
    for n in range(120):
        hub.journal.audit(
            f"op (operator@{SCHOOL_A}, tokA{n % 3:08d})",
            "reveal",
            f"fail-{n}",
            "ticket",
            {},
            scope=SCHOOL_A,
        )
    hub.journal.audit(
        "other (operator@x, tokB00000000)", "reveal", "fail-b", "", {}, scope=SCHOOL_B
    )
    denial = {"action": "reveal", "code": "ACCESS_DENIED"}
    hub.journal.audit(
        "op (operator@x, tokA00000001)", "denied", "fail-x", "no", denial, scope=SCHOOL_A
    )
    return hub


def rows(page: str) -> list[int]:
    return [int(n) for n in _ROW.findall(page)]


def test_the_audit_page_pages_newest_first(audited: Hub) -> None:
    client = client_from(audited, "198.51.100.2")
    login(client, token(audited, Role.AUDITOR, "*"))
    first = client.get("/audit")
    newest = rows(first.text)
    assert len(newest) == 50 and newest == sorted(newest, reverse=True)
    older_link = re.search(r'href="([^"]+)" id="older"', first.text)
    assert older_link is not None and 'id="newer"' not in first.text
    second = client.get(older_link.group(1).replace("&amp;", "&"))
    assert rows(second.text)[0] == newest[-1] - 1
    newer_link = re.search(r'href="([^"]+)" id="newer"', second.text)
    assert newer_link is not None
    assert rows(client.get(newer_link.group(1).replace("&amp;", "&")).text) == newest
    bigger = rows(client.get("/audit?size=100").text)
    assert len(bigger) == 100 and bigger[0] == newest[0]


def test_the_audit_page_filters_by_action_actor_and_outcome(audited: Hub) -> None:
    client = client_from(audited, "198.51.100.2")
    login(client, token(audited, Role.AUDITOR, "*"))
    denied = client.get("/audit?action=reveal&outcome=denied")
    assert len(rows(denied.text)) == 1 and "fail-x" in denied.text
    assert 'value="reveal"' in denied.text and 'value="denied" selected' in denied.text
    by_actor = client.get("/audit?actor=tokA00000002&size=200")
    assert len(rows(by_actor.text)) == 40 and "tokA00000001" not in by_actor.text
    logins = client.get("/audit?action=login")
    assert len(rows(logins.text)) == 1  # the auditor's own login


def test_a_schools_auditor_never_sees_another_schools_entries(audited: Hub) -> None:
    client = client_from(audited, "198.51.100.2")
    login(client, token(audited, Role.AUDITOR, SCHOOL_A))
    for query in ("", "?actor=tokB", "?action=reveal&size=200", "?outcome=allowed&size=200"):
        page = client.get(f"/audit{query}")
        assert page.status_code == 200 and "fail-b" not in page.text
        assert "tokB00000000" not in page.text
    assert rows(client.get("/audit?actor=tokB").text) == []


@pytest.mark.parametrize(
    "query",
    [
        "action=reveal'--",
        "action=" + "a" * 41,
        "outcome=maybe",
        "before=-1",
        "after=1e9",
        "before=" + "9" * 19,
        "size=0",
        "size=201",
        "size=%C2%B2",
        "actor=" + "a" * 101,
        "actor=a%00b",
        "actor=a%1b[31m",
    ],
)
def test_hostile_audit_filters_are_a_clear_400(audited: Hub, query: str) -> None:
    client = client_from(audited, "198.51.100.2")
    login(client, token(audited, Role.AUDITOR, "*"))
    reply = client.get(f"/audit?{query}")
    assert reply.status_code == 400 and "Traceback" not in reply.text
    assert "'--" not in reply.text and "maybe" not in reply.text


def test_an_actor_filter_is_echoed_escaped(audited: Hub) -> None:
    client = client_from(audited, "198.51.100.2")
    login(client, token(audited, Role.AUDITOR, "*"))
    page = client.get('/audit?actor="><script>alert(1)</script>')
    assert page.status_code == 200 and "<script>" not in page.text
    assert "&#34;&gt;&lt;script&gt;" in page.text
