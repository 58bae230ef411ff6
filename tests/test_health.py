"""``hub health`` as a container health check runs it: a real process, real dependencies (or
real closed ports), real exit codes."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.crypto import select_backend
from hub.journal.migrate import upgrade
from hub.journal.records import Failure, InboundMessage, Outcome
from hub.journal.sql import SqlJournal
from hub.routing.bus import delete_topology
from hub.simulator import Exchange
from hub.simulator.server import SimulatorServer

pytestmark = pytest.mark.integration

# Personal data a message and its failure carry; none of it may reach the report.
SNILS, SURNAME = "112-233-445 95", "Ёлкина"
PERSONAL_XML = f"<Child><FamilyName>{SURNAME}</FamilyName><Snils>{SNILS}</Snils></Child>"


def health(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> tuple[int, dict[str, Any], str]:
    """Run ``hub health --json``; exit code, the report and stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    result = subprocess.run(
        [sys.executable, "-m", "hub", "health", "--json", *args],
        capture_output=True,
        text=True,
        env={**clean, "HUB_LOG_FORMAT": "json", **env},
        check=False,
        cwd=cwd,
        timeout=timeout,
    )
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, report, result.stderr


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {name: check["status"] for name, check in report["checks"].items()}


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def sqlite(tmp_path: Path) -> dict[str, str]:
    return {"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_BROKER_URL": "memory://"}


SOAP = 'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
SOAP_FAULT = (
    500,
    "text/xml; charset=utf-8",
    f"<soap:Envelope {SOAP}><soap:Body><soap:Fault><faultcode>soap:Client</faultcode>"
    "<faultstring>no operation</faultstring></soap:Fault></soap:Body></soap:Envelope>".encode(),
)
SOAP_ANSWER = (
    200,
    "text/xml",
    f'<soap:Envelope {SOAP}><soap:Body><x:Pong xmlns:x="urn:x"/></soap:Body>'
    "</soap:Envelope>".encode(),
)
GATEWAY_502 = (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>")
HTML_200 = (200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>login</body></html>")
Reply = tuple[int, str, bytes]


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the server's ``reply``: status, content type, body."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, kind, body = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def scripted_server(reply: Reply) -> Iterator[str]:
    """A real HTTP server at ``…/smev/1.3`` answering ``reply``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.reply = reply  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/smev/1.3"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server() -> Iterator[str]:
    """SMEV as the health check meets it: a SOAP fault for an envelope with no operation."""
    with scripted_server(SOAP_FAULT) as endpoint:
        yield endpoint


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (a hung SMEV)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/smev/1.3"


def test_healthy_on_the_embedded_default(sqlite: dict[str, str], tmp_path: Path) -> None:
    code, report, _ = health(env=sqlite, cwd=tmp_path)
    assert code == 0 and report["healthy"] is True
    assert statuses(report) == {
        "broker": "in-process",
        "database": "ok",
        "smev": "not configured",
        "files": "ok",
    }
    assert report["journal"]["inbox_unfinished"] == 0
    assert report["journal"]["outbound_by_state"]["pending"] == 0
    assert report["oldest_unprocessed_age_seconds"] is None


def test_the_table_says_healthy(sqlite: dict[str, str], tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    result = subprocess.run(
        [sys.executable, "-m", "hub", "health"],
        capture_output=True,
        text=True,
        env={**clean, **sqlite, "COLUMNS": "120"},
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "hub health: healthy" in result.stdout
    assert "not configured" in result.stdout and "oldest unprocessed" in result.stdout


def test_a_database_on_a_closed_port_is_unhealthy(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://hub:secret-pw@127.0.0.1:{closed_port()}/hub"
    env = {"HUB_DATABASE_URL": url, "HUB_BROKER_URL": "memory://"}
    code, report, stderr = health(env=env, cwd=tmp_path)
    assert code == 1 and report["healthy"] is False
    assert statuses(report)["database"] == "unreachable"
    assert "DatabaseUnavailableError" in report["checks"]["database"]["detail"]
    assert report["journal"] is None
    assert "secret-pw" not in json.dumps(report) + stderr


def test_smev_on_a_closed_port_is_unhealthy(sqlite: dict[str, str], tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/smev/1.3"
    code, report, _ = health(env={**sqlite, "HUB_SMEV_ENDPOINT": endpoint}, cwd=tmp_path)
    assert code == 1
    assert statuses(report) == {
        "broker": "in-process",
        "database": "ok",
        "smev": "unreachable",
        "files": "ok",
    }


@pytest.mark.parametrize(
    ("reply", "status", "detail"),
    [
        (SOAP_FAULT, "ok", "answered a SOAP fault (HTTP 500)"),
        (SOAP_ANSWER, "ok", "answered SOAP (HTTP 200)"),
        (GATEWAY_502, "unreachable", "HTTP 502 (text/html) is not a SOAP answer"),
        (HTML_200, "unreachable", "HTTP 200 (text/html) is not a SOAP answer"),
    ],
)
def test_smev_is_reachable_only_when_soap_answers(
    sqlite: dict[str, str], tmp_path: Path, reply: Reply, status: str, detail: str
) -> None:
    with scripted_server(reply) as endpoint:
        code, report, _ = health(env={**sqlite, "HUB_SMEV_ENDPOINT": endpoint}, cwd=tmp_path)
    assert code == (0 if status == "ok" else 1)
    assert report["checks"]["smev"]["status"] == status
    assert report["checks"]["smev"]["detail"].endswith(detail)


def test_the_simulator_is_reachable(sqlite: dict[str, str], tmp_path: Path) -> None:
    exchange = Exchange.create(select_backend("auto"))
    with SimulatorServer(exchange) as server:
        env = {**sqlite, "HUB_SMEV_ENDPOINT": server.endpoint("1.2")}
        code, report, _ = health(env=env, cwd=tmp_path)
    assert code == 0, report
    assert report["checks"]["smev"] == {
        "status": "ok",
        "detail": "answered a SOAP fault (HTTP 500)",
    }


def test_a_silent_smev_is_unreachable_within_the_timeout(
    sqlite: dict[str, str], tmp_path: Path, silent_server: str
) -> None:
    started = time.monotonic()
    env = {**sqlite, "HUB_SMEV_ENDPOINT": silent_server}
    code, report, _ = health("--timeout", "1", env=env, cwd=tmp_path)
    assert code == 1 and statuses(report)["smev"] == "unreachable"
    assert time.monotonic() - started < 15  # start-up included; the check itself waits 1 s


def test_check_chooses_the_dependencies(sqlite: dict[str, str], tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/smev/1.3"
    env = {**sqlite, "HUB_SMEV_ENDPOINT": endpoint}
    code, report, _ = health("--check", "database", env=env, cwd=tmp_path)
    assert code == 0 and statuses(report) == {"database": "ok"}
    code, report, _ = health("--check", "smev", env=env, cwd=tmp_path)
    assert code == 1 and statuses(report) == {"smev": "unreachable"}


def test_an_unknown_check_is_bad_input(sqlite: dict[str, str], tmp_path: Path) -> None:
    code, _, stderr = health("--check", "disk", env=sqlite, cwd=tmp_path)
    assert code == 2 and "--check disk" in stderr


def store_backlog(url: str) -> None:
    """An hour-old message still waiting and a failed one, both full of personal data."""
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    raw = PERSONAL_XML.encode()
    with SqlJournal(url, create=True) as journal:
        waiting, failing = (
            InboundMessage("smev", f"m{n}", raw, "zags", "rogdinf", None, {}, hour_ago)
            for n in (1, 2)
        )
        journal.receive([waiting, failing])
        journal.start_attempts([failing.inbox_id])
        reason = f"bad record {PERSONAL_XML}"
        journal.complete([Outcome(failing.inbox_id, failure=Failure("Bad", reason, reason))])


def test_max_age_makes_an_old_backlog_unhealthy(sqlite: dict[str, str], tmp_path: Path) -> None:
    store_backlog(sqlite["HUB_DATABASE_URL"])
    code, report, _ = health(env=sqlite, cwd=tmp_path)
    assert code == 0 and 3600 <= report["oldest_unprocessed_age_seconds"] < 3700
    assert (report["journal"]["inbox_unfinished"], report["journal"]["failed_open"]) == (1, 1)
    code, report, _ = health("--max-age", "7200", env=sqlite, cwd=tmp_path)
    assert code == 0 and report["too_old"] is False
    code, report, _ = health("--max-age", "600", env=sqlite, cwd=tmp_path)
    assert code == 1 and report["too_old"] is True
    assert statuses(report) == {
        "broker": "in-process",
        "database": "ok",
        "smev": "not configured",
        "files": "ok",
    }


def test_personal_data_never_appears(sqlite: dict[str, str], tmp_path: Path) -> None:
    store_backlog(sqlite["HUB_DATABASE_URL"])
    for args in (("--json",), ()):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        result = subprocess.run(
            [sys.executable, "-m", "hub", "health", *args],
            capture_output=True,
            text=True,
            env={**clean, **sqlite, "HUB_LOG_LEVEL": "DEBUG"},
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        for secret in (SNILS, SURNAME, "FamilyName"):
            assert secret not in result.stdout + result.stderr


def test_postgresql_and_rabbitmq_with_queue_depths(
    pg_url: str, amqp_url: str, topology_prefix: str, tmp_path: Path, http_server: str
) -> None:
    upgrade(pg_url)
    hub = bootstrap(
        Settings(database_url=pg_url, broker_url=amqp_url, topology_prefix=topology_prefix)
    )
    hub.bus.declare()
    try:
        queue = hub.topology.commands_queue.name
        with Connection(amqp_url) as connection:
            producer = connection.Producer()
            for n in range(3):
                producer.publish(b"{}", exchange="", routing_key=queue, message_id=f"c{n}")
        env = {
            "HUB_DATABASE_URL": pg_url,
            "HUB_BROKER_URL": amqp_url,
            "HUB_TOPOLOGY_PREFIX": topology_prefix,
            "HUB_SMEV_ENDPOINT": http_server,
        }
        code, report, _ = health(env=env, cwd=tmp_path)
        assert code == 0, report
        assert statuses(report) == {"broker": "ok", "database": "ok", "smev": "ok", "files": "ok"}
        assert report["queue_depths"][queue] == 3
        assert set(report["queue_depths"]) == {q.name for q in hub.topology.queues}
    finally:
        delete_topology(amqp_url, hub.topology)
        hub.close()


def test_a_broker_without_the_topology_is_unhealthy(
    amqp_url: str, topology_prefix: str, sqlite: dict[str, str], tmp_path: Path
) -> None:
    env = {**sqlite, "HUB_BROKER_URL": amqp_url, "HUB_TOPOLOGY_PREFIX": topology_prefix}
    code, report, _ = health(env=env, cwd=tmp_path)
    assert code == 1 and statuses(report)["broker"] == "failing"  # it answered: no queue
    assert "NOT_FOUND" in report["checks"]["broker"]["detail"]


def test_a_broker_on_a_closed_port_is_unhealthy(sqlite: dict[str, str], tmp_path: Path) -> None:
    env = {**sqlite, "HUB_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{closed_port()}//"}
    code, report, _ = health(env=env, cwd=tmp_path)
    assert code == 1 and statuses(report)["broker"] == "unreachable"
    assert "BrokerUnavailableError" in report["checks"]["broker"]["detail"]
