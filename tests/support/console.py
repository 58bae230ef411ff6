"""The console on a real HTTP server in a thread, tokens, and failed messages to work on."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from hub.access import Role
from hub.bootstrap import Hub
from hub.config import Settings
from hub.console import create_app, server_config
from hub.journal.records import FailedMessage, InboundMessage
from tests.support.notices import LATE, notice

SCHOOL_A = "45201/4520100012"
SCHOOL_B = "45201/4520100099"
SNILS = "112-233-445 95"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def fresh_prefix() -> str:
    """A topology prefix of its own: kombu's memory:// broker is shared by the whole process,
    so a test's hub must not meet messages another test left in a queue."""
    return f"t{uuid.uuid4().hex[:10]}"


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


@contextmanager
def console_hub(folder: Path, **settings: Any) -> Iterator[Hub]:
    """An embedded hub for console tests: SQLite in ``folder``, the in-memory broker, a
    fresh topology (declared), no signatures required; ``settings`` override."""
    options: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'hub.db'}",
        "topology_prefix": fresh_prefix(),
        "require_signatures": False,
        "adapters": (),
    }
    hub = Hub(Settings(**(options | settings)))
    hub.bus.declare()
    try:
        yield hub
    finally:
        hub.close()


def token(
    hub: Hub,
    role: Role | str,
    scope: str,
    name: str = "tester",
    agencies: tuple[str, ...] | None = None,
) -> str:
    """A fresh API token's text (issued as an administrator with database access would); one
    of role agency posts for ``agencies``, by default ZAGS alone."""
    if agencies is None:
        agencies = ("zags",) if Role(role) is Role.AGENCY else ()
    return hub.access.issue(name, role, scope, None, "test-admin", agencies=agencies).text


def failed_messages(hub: Hub, scope: str, count: int, start: int = 0) -> list[FailedMessage]:
    """``count`` real messages of ``scope`` that fail in processing (no adapter for LATE
    notices yet) and are kept as failed; each carries a SNILS in its content."""
    messages = [_late_notice(scope, start + n) for n in range(count)]
    hub.journal.receive(messages)
    records = hub.journal.start_attempts([m.inbox_id for m in messages])
    hub.journal.complete([hub.worker.outcome(record, None) for record in records])
    ids = {m.inbox_id for m in messages}
    found = [f for f in hub.journal.failed(limit=100_000) if f.inbox_id in ids]
    assert len(found) == count, "the test messages did not fail as they should"
    return found


def _late_notice(scope: str, n: int) -> InboundMessage:
    body = notice(f"{SNILS} child {n}", n, tag=LATE)
    return InboundMessage(
        "http:test", f"{scope}-{n}", body, agency="zags", content_type="text/xml", scope=scope
    )


@dataclass
class Served:
    url: str
    server: uvicorn.Server


@contextmanager
def serving(hub: Hub, **config: Any) -> Iterator[Served]:
    """The console app of ``hub`` on 127.0.0.1, a free port, in a thread (uvicorn)."""
    settings = hub.settings.model_copy(update={"console_host": "127.0.0.1", **config})
    server = uvicorn.Server(server_config(create_app(hub), settings, port=0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if settings.tls_cert else "http"
    try:
        yield Served(f"{scheme}://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
