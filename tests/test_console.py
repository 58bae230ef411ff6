"""The operator console's routes: login, sessions, CSRF, roles, scopes, masking, actions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hub.access import AccessService, Role
from hub.bootstrap import Hub
from hub.config import Settings
from hub.console import create_app
from hub.journal.records import FailedStatus, InboundMessage, NewOutbound, Outcome
from tests.support.console import (
    SCHOOL_A,
    SCHOOL_B,
    SNILS,
    console_hub,
    csrf_of,
    failed_messages,
    token,
)
from tests.support.notices import register_late

pytestmark = pytest.mark.unit


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path) as made:
        yield made


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub), follow_redirects=False)


def login(client: TestClient, text: str) -> None:
    csrf = csrf_of(client.get("/login").text)
    reply = client.post("/login", data={"token": text, "csrf": csrf})
    assert reply.status_code == 303 and reply.headers["location"] == "/", reply.text


def csrf(client: TestClient, path: str = "/") -> str:
    return csrf_of(client.get(path).text)


PAGES = ("/", "/failed", "/audit", "/outbound", "/failed/groups/abc", "/failed/messages/abc")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_login(client: TestClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 303 and reply.headers["location"] == "/login"


def test_login_sets_a_strict_http_only_cookie_and_logout_ends_it(
    hub: Hub, client: TestClient
) -> None:
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    cookie = client.cookies.get("hub_session")
    assert cookie
    page = client.get("/")
    assert page.status_code == 200 and "scope 45201/4520100012" in page.text
    # Set-Cookie of the login: HttpOnly, SameSite=Strict (Secure is tested over HTTPS).
    again = TestClient(create_app(hub), follow_redirects=False)
    csrf_value = csrf_of(again.get("/login").text)
    reply = again.post(
        "/login", data={"token": token(hub, "operator", SCHOOL_A), "csrf": csrf_value}
    )
    flags = reply.headers["set-cookie"].lower()
    assert "httponly" in flags and "samesite=strict" in flags
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.post("/logout", data={"csrf": csrf(client)}).status_code == 303
    assert client.get("/").status_code == 303


def test_a_wrong_token_or_a_missing_csrf_token_is_refused(hub: Hub, client: TestClient) -> None:
    csrf_value = csrf_of(client.get("/login").text)
    forged = "hub_0123456789ab_" + "x" * 43
    refused = client.post("/login", data={"token": forged, "csrf": csrf_value})
    assert refused.status_code == 401 and "not accepted" in refused.text
    assert forged not in refused.text
    no_csrf = client.post("/login", data={"token": token(hub, "operator", SCHOOL_A)})
    assert no_csrf.status_code == 403 and "hub_session" not in client.cookies


@pytest.mark.parametrize("role", [Role.MONITOR, Role.AGENCY])
def test_roles_without_view_may_not_log_in(hub: Hub, client: TestClient, role: Role) -> None:
    csrf_value = csrf_of(client.get("/login").text)
    reply = client.post("/login", data={"token": token(hub, role, "*"), "csrf": csrf_value})
    assert reply.status_code == 403 and "may not use the console" in reply.text


def test_a_revoked_token_stops_working_at_once(hub: Hub, client: TestClient) -> None:
    text = token(hub, Role.OPERATOR, SCHOOL_A)
    login(client, text)
    assert client.get("/failed").status_code == 200
    token_id = text.split("_")[1]
    AccessService(hub.journal).revoke(token_id, "test-admin")
    assert client.get("/failed").status_code == 303


def test_an_operator_sees_only_its_schools_messages(hub: Hub, client: TestClient) -> None:
    mine = failed_messages(hub, SCHOOL_A, 2)
    theirs = failed_messages(hub, SCHOOL_B, 3, start=10)
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    group = mine[0].fingerprint
    listed = client.get("/failed").text
    assert group in listed
    page = client.get(f"/failed/groups/{group}").text
    assert all(f.failed_id in page for f in mine)
    assert not any(f.failed_id in page for f in theirs)
    for path in (
        f"/failed/messages/{theirs[0].failed_id}",
        f"/failed/messages/{theirs[0].failed_id}/replay",
    ):
        reply = client.get(path)
        assert reply.status_code in (403, 404) and theirs[0].failed_id not in reply.text
    forged = client.post(
        f"/failed/messages/{theirs[0].failed_id}/discard",
        data={"csrf": csrf(client), "reason": "not mine"},
    )
    assert forged.status_code in (403, 404)
    assert hub.journal.failed_message(theirs[0].failed_id).status is FailedStatus.OPEN  # type: ignore[union-attr]


def test_a_message_is_masked_until_revealed_with_a_reason(hub: Hub, client: TestClient) -> None:
    [failed] = failed_messages(hub, SCHOOL_A, 1)
    login(client, token(hub, Role.OPERATOR, SCHOOL_A, name="ivanova"))
    shown = client.get(f"/failed/messages/{failed.failed_id}")
    assert shown.status_code == 200 and SNILS not in shown.text and "***-***-***" in shown.text
    path = f"/failed/messages/{failed.failed_id}/reveal"
    assert client.post(path, data={"reason": "ticket 7"}).status_code == 403  # no CSRF token
    assert client.post(path, data={"csrf": csrf(client), "reason": " "}).status_code == 400
    revealed = client.post(path, data={"csrf": csrf(client), "reason": "ticket 7"})
    assert revealed.status_code == 200 and SNILS in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    audit = [e for e in hub.journal.audit_log(50) if e.action == "reveal"]
    assert audit and "ivanova" in audit[0].actor and audit[0].reason == "ticket 7"


def test_an_auditor_reads_the_audit_log_but_may_not_act(hub: Hub, client: TestClient) -> None:
    [failed] = failed_messages(hub, SCHOOL_A, 1)
    login(client, token(hub, Role.AUDITOR, SCHOOL_A))
    assert client.get("/audit").status_code == 200
    assert client.get(f"/failed/messages/{failed.failed_id}").status_code == 200
    assert "Reveal" not in client.get(f"/failed/messages/{failed.failed_id}").text
    path = f"/failed/messages/{failed.failed_id}/replay"
    assert client.post(path, data={"csrf": csrf(client)}).status_code == 403
    denials = [e for e in hub.journal.audit_log(50) if e.action == "denied"]
    assert denials, "the denial was not audited"


def test_replay_a_group_with_confirmation_after_the_fix(hub: Hub, client: TestClient) -> None:
    chosen = failed_messages(hub, SCHOOL_A, 3)
    group = chosen[0].fingerprint
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    confirm = client.get(f"/failed/groups/{group}/replay")
    assert confirm.status_code == 200 and "3 open failed messages" in confirm.text
    path = f"/failed/groups/{group}/replay"
    assert client.post(path, data={"reason": ""}).status_code == 403  # no CSRF: no replay
    assert len(hub.journal.failed(fingerprint=group)) == 3
    still = client.post(path, data={"csrf": csrf_of(confirm.text)})
    assert still.status_code == 200 and still.text.count(">failed<") == 3  # cause not fixed
    register_late(hub.router)  # the fix, deployed
    done = client.post(path, data={"csrf": csrf(client)})
    assert done.status_code == 200 and done.text.count(">processed<") == 3
    assert hub.journal.failed(fingerprint=group) == []
    assert "No open failed messages" in client.get("/failed").text


def test_discard_needs_a_reason_and_is_audited(hub: Hub, client: TestClient) -> None:
    [failed] = failed_messages(hub, SCHOOL_A, 1)
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    path = f"/failed/messages/{failed.failed_id}/discard"
    assert client.get(path).status_code == 200
    assert client.post(path, data={"csrf": csrf(client), "reason": ""}).status_code == 400
    done = client.post(path, data={"csrf": csrf(client), "reason": "sent twice"})
    assert done.status_code == 200 and "sent twice" in done.text
    assert hub.journal.failed_message(failed.failed_id).status is FailedStatus.DISCARDED  # type: ignore[union-attr]


def test_dashboard_audit_and_outbound_pages_render(hub: Hub, client: TestClient) -> None:
    failed_messages(hub, SCHOOL_A, 2)
    login(client, token(hub, Role.ADMIN, "*"))
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and 'id="failed-open">2<' in dashboard.text
    assert "Backlog and queues" in dashboard.text  # region-wide only
    assert client.get("/outbound?state=pending").status_code == 200
    assert client.get("/outbound?state=bogus").status_code == 400
    assert client.get("/audit").status_code == 200


def _outbound(hub: Hub, scope: str, names: list[str], *, reply: bool = False) -> None:
    """Outbound messages of ``scope`` as processing stores them, then sent and taken by SMEV:
    requests to ZAGS, or Gosuslugi's ``application-accepted`` replies (SendResponse)."""
    msg = InboundMessage("http:test", f"cmd-{scope}-{names[0]}", b"{}", scope=scope)
    kind, agency = ("application-accepted", "gosuslugi") if reply else ("rogdinf", "zags")
    asks = [
        NewOutbound(
            n,
            agency,
            kind,
            b"<x/>",
            f"smev-{n}",
            reply_to=f"to-{n}" if reply else None,
            scope=scope,
        )
        for n in names
    ]
    hub.journal.receive_processed([(msg, Outcome(msg.inbox_id, outbound=asks))])
    hub.journal.claim_outbound(1000, timedelta(minutes=5))
    hub.journal.mark_accepted(names)


def test_the_dashboard_counts_every_request_waiting_and_not_delivered_replies(
    hub: Hub, client: TestClient
) -> None:
    _outbound(hub, SCHOOL_A, [f"ask-{n:02d}" for n in range(42)])
    _outbound(hub, SCHOOL_A, ["reply-1", "reply-2", "reply-3"], reply=True)
    _outbound(hub, SCHOOL_B, ["theirs-1", "theirs-2"])
    msg = InboundMessage("http:test", "cmd-pending", b"{}", scope=SCHOOL_A)
    pending = NewOutbound("ask-pending", "zags", "rogdinf", b"<x/>", "s-p", scope=SCHOOL_A)
    hub.journal.receive_processed([(msg, Outcome(msg.inbox_id, outbound=[pending]))])
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    page = client.get("/").text
    assert 'id="waiting-agencies">42<' in page and 'id="waiting-hub">1<' in page
    assert "accepted</a> 45 (replies delivered: 3)" in page and "pending</a> 1" in page
    assert "the newest 20 of 42" in page and page.count("<code>ask-") == 20
    assert "reply-1" not in page and "theirs-1" not in page
    replies = client.get("/outbound?state=accepted&only=replies").text
    assert replies.count("<code>reply-") == 3 and "<code>to-reply-1</code>" in replies
    assert "<code>ask-" not in replies
    assert client.get("/outbound?only=everything").status_code == 400
    admin = TestClient(create_app(hub), follow_redirects=False)
    login(admin, token(hub, Role.ADMIN, "*"))
    assert 'id="waiting-agencies">44<' in admin.get("/").text


# --- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/failed/messages/..%2F..%2Fetc%2Fpasswd", 404),
        ("/failed/messages/%2e%2e/%2e%2e/hub.db", 404),
        ("/static/../app.py", 404),
        ("/static/..%2Fapp.py", 404),
        ("/failed/groups/<script>", 404),
        ("/failed/messages/abc/reveal", 404),  # reveal is a POST; GET names no action
    ],
)
def test_path_traversal_and_odd_paths_are_a_clean_404(
    hub: Hub, client: TestClient, path: str, status: int
) -> None:
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    reply = client.get(path)
    assert reply.status_code == status and "Traceback" not in reply.text
    assert client.get("/").status_code == 200  # still serving


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"csrf=x&reason=" + b"a" * 20_000, "application/x-www-form-urlencoded", 413),
        (
            b"--b\r\nContent-Disposition: form-data; name=csrf\r\n\r\nx\r\n--b--",
            "multipart/form-data; boundary=b",
            415,
        ),
        (b'{"csrf": "x"}', "application/json", 415),
        (b"csrf=%ff%fe&reason=x", "application/x-www-form-urlencoded", 400),
        (b"csrf=a&csrf=b", "application/x-www-form-urlencoded", 400),
        (b"&&&===", "application/x-www-form-urlencoded", 400),
    ],
)
def test_hostile_forms_are_refused_and_change_nothing(
    hub: Hub, client: TestClient, body: bytes, content_type: str, status: int
) -> None:
    [failed] = failed_messages(hub, SCHOOL_A, 1)
    login(client, token(hub, Role.OPERATOR, SCHOOL_A))
    path = f"/failed/messages/{failed.failed_id}/discard"
    reply = client.post(path, content=body, headers={"content-type": content_type})
    assert reply.status_code == status and "Traceback" not in reply.text
    assert hub.journal.failed_message(failed.failed_id).status is FailedStatus.OPEN  # type: ignore[union-attr]
    assert client.get("/failed").status_code == 200


def test_security_headers_on_every_answer(client: TestClient) -> None:
    for reply in (client.get("/login"), client.get("/nowhere"), client.get("/static/console.css")):
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]


def test_an_internal_failure_is_a_plain_page_without_details(tmp_path: Path) -> None:
    database = tmp_path / "hub.db"
    hub = Hub(Settings(database_url=f"sqlite:///{database}", require_signatures=False))
    client = TestClient(create_app(hub), follow_redirects=False, raise_server_exceptions=False)
    csrf_value = csrf_of(client.get("/login").text)
    with sqlite3.connect(database) as broken:  # the table goes missing under the hub
        broken.execute("DROP TABLE api_tokens")
    forged = "hub_0123456789ab_" + "x" * 43
    reply = client.post("/login", data={"token": forged, "csrf": csrf_value})
    assert reply.status_code >= 500, reply.text
    assert "Traceback" not in reply.text and str(database) not in reply.text
    assert "api_tokens" not in reply.text and "sqlite" not in reply.text.lower()
    assert client.get("/login").status_code == 200
    hub.close()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"token=" + b"a" * 40_000, "application/x-www-form-urlencoded", 413),
        (b'{"token": "x"}', "application/json", 415),
        (b"token=%ff&csrf=x", "application/x-www-form-urlencoded", 400),
        (
            b"token=\r\nSet-Cookie: hub_session=evil&csrf=x",
            "application/x-www-form-urlencoded",
            403,
        ),
        (b"token=a&token=b&csrf=x", "application/x-www-form-urlencoded", 400),
    ],
)
def test_hostile_logins_are_refused(
    client: TestClient, body: bytes, content_type: str, status: int
) -> None:
    client.get("/login")
    reply = client.post("/login", content=body, headers={"content-type": content_type})
    assert reply.status_code == status and "Traceback" not in reply.text
    assert "evil" not in reply.headers.get("set-cookie", "")
    assert "hub_session" not in client.cookies
    assert client.get("/login").status_code == 200


MATRIX = {  # page → roles that may open it (region-wide principals)
    "/": {Role.OPERATOR, Role.AUDITOR, Role.ADMIN},
    "/failed": {Role.OPERATOR, Role.AUDITOR, Role.ADMIN},
    "/outbound": {Role.OPERATOR, Role.AUDITOR, Role.ADMIN},
    "/audit": {Role.AUDITOR, Role.ADMIN},
    "/failed/messages/{id}": {Role.OPERATOR, Role.AUDITOR, Role.ADMIN},
    "/failed/messages/{id}/replay": {Role.OPERATOR, Role.ADMIN},
    "/failed/messages/{id}/discard": {Role.OPERATOR, Role.ADMIN},
    "/failed/groups/{group}/replay": {Role.OPERATOR, Role.ADMIN},
}


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDITOR, Role.ADMIN])
def test_each_role_opens_exactly_its_pages(hub: Hub, client: TestClient, role: Role) -> None:
    [failed] = failed_messages(hub, SCHOOL_A, 1)
    login(client, token(hub, role, "*"))
    for page, roles in MATRIX.items():
        path = page.format(id=failed.failed_id, group=failed.fingerprint)
        expected = 200 if role in roles else 403
        assert client.get(path).status_code == expected, (role, path)


def test_an_expired_token_ends_the_session(hub: Hub) -> None:
    now = [datetime.now(UTC)]
    access = AccessService(hub.journal, clock=lambda: now[0])
    client = TestClient(create_app(hub, access=access), follow_redirects=False)
    issued = access.issue("short-lived", Role.OPERATOR, SCHOOL_A, timedelta(hours=1), "admin")
    login(client, issued.text)
    assert client.get("/failed").status_code == 200
    now[0] += timedelta(hours=2)
    assert client.get("/failed").status_code == 303
