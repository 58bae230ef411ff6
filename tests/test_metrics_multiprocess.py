"""``hub run``'s processes share their metrics: two worker processes started by the supervisor
(in the folder ``metrics_folder`` prepares) each process real messages, and one render in a
third process adds them up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from hub.bootstrap import bootstrap
from hub.canonical.ids import inbox_id_for
from hub.config import Settings
from hub.console.metrics import render_metrics
from hub.journal.records import InboxStatus
from hub.logging import configure_logging
from hub.routing.api import KIND_HEADER, SOURCE_HEADER, Outgoing
from hub.services.supervisor import Backoff, ChildSpec, Supervisor, metrics_folder
from tests.support.notices import NOTICE, notice, running
from tests.test_metrics import samples, value

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def _settings(database: Path, folder: Path | None = None) -> Settings:
    return Settings(
        database_url=f"sqlite:///{database}",
        broker_url="memory://",
        topology_prefix=f"m{uuid.uuid4().hex[:8]}",
        require_signatures=False,
        adapters=("tests.support.notices:register",),
        metrics_dir=folder,  # None: HUB_METRICS_DIR, as hub run's children get it
    )


def write(database: str, count: int, done: str) -> None:
    """A child: process ``count`` notices in this process, then say so and wait."""
    hub = bootstrap(_settings(Path(database)))
    hub.bus.declare()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    messages = [
        Outgoing(notice("p", n), "zags", {SOURCE_HEADER: "smev", KIND_HEADER: NOTICE}, i)
        for n, i in enumerate(ids)
    ]
    with running(hub.worker, hub.relay):
        hub.bus.publish(hub.topology.inbound_exchange.name, messages)
        # Processed is not yet published: the relay counts an event once the broker confirms it.
        while not all(_settled(hub, inbox_id_for("smev", i)) for i in ids) or _unpublished(hub):
            time.sleep(0.05)
    Path(done).write_text("done")
    time.sleep(600)  # until the supervisor stops it (an exit would be restarted)


def _unpublished(hub: object) -> bool:
    return bool(hub.journal.pending_events(1))  # type: ignore[attr-defined]


def _settled(hub: object, inbox_id: str) -> bool:
    record = hub.journal.inbox(inbox_id)  # type: ignore[attr-defined]
    return record is not None and record.status == InboxStatus.PROCESSED


def render(database: str, folder: str) -> None:
    """Another process: the exposition of every process that wrote to ``folder``."""
    configure_logging()  # to stderr: stdout is the exposition
    hub = bootstrap(_settings(Path(database), Path(folder)))
    hub.bus.declare()
    body, _ = render_metrics(hub)
    sys.stdout.write(body.decode())


def publish_as(host: str, database: str, folder: str, count: int) -> None:
    """A child standing in for a container: its process is pid 1 on ``host``."""
    os.getpid = lambda: 1
    socket.gethostname = lambda: host
    hub = bootstrap(_settings(Path(database), Path(folder)))
    hub.relay.metrics.published("test.notice.received").inc(count)


def _in_child(code: str) -> str:
    """Run ``code`` in a new Python process of this project; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    return done.stdout


def _rendered_elsewhere(database: str, folder: Path) -> str:
    return _in_child(
        f"from tests.test_metrics_multiprocess import render; render({database!r}, {str(folder)!r})"
    )


def _child(name: str, code: str) -> ChildSpec:
    return ChildSpec(name, (sys.executable, "-c", code))


def test_two_processes_write_and_one_render_adds_them_up(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"an earlier run")  # must not be added
    counts = {"a": 7, "b": 5}
    children = [
        _child(
            name,
            f"from tests.test_metrics_multiprocess import write; "
            f"write({str(tmp_path / name)!r} + '.db', {n}, {str(tmp_path / name)!r})",
        )
        for name, n in counts.items()
    ]
    stop = threading.Event()
    with metrics_folder(folder) as env:
        assert env["HUB_METRICS_DIR"] == str(folder)
        assert not (folder / "counter_4242.db").exists()
        supervisor = Supervisor(children, Backoff(first=5.0), env={**env, "PYTHONPATH": str(ROOT)})
        thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 120
            while not all((tmp_path / name).exists() for name in counts):
                assert time.monotonic() < deadline, "the children did not finish in time"
                time.sleep(0.1)
            pids = set(supervisor.pids().values())
        finally:
            stop.set()
            thread.join(timeout=60)
    assert len(pids) == 2 and len(list(folder.glob("counter_*.db"))) == 2  # one per process
    database = str(tmp_path / "a.db")
    found = samples(_rendered_elsewhere(database, folder))
    total = sum(counts.values())
    assert value(found, "hub_messages_received_total", agency="zags", kind="Notice") == total
    processed = value(
        found, "hub_messages_processed_total", agency="zags", kind="Notice", outcome="processed"
    )
    assert processed == total
    assert value(found, "hub_events_published_total", event_type="test.notice.received") == total
    assert value(found, "hub_processing_seconds_count", agency="zags") == total
    assert value(found, "hub_outbox_pending") == 0  # read from the render's journal (a's)


def test_a_folder_made_for_the_run_is_removed_afterwards() -> None:
    with metrics_folder(None) as env:
        folder = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        assert folder.is_dir() and env["HUB_METRICS_DIR"] == str(folder)
        (folder / "counter_1.db").write_bytes(b"")
    assert not folder.exists()


def test_containers_whose_processes_are_all_pid_1_keep_their_files_apart(tmp_path: Path) -> None:
    # docker-compose shares one metrics volume between containers, and each container's
    # process may be pid 1: files named by pid alone would be written by all of them at once.
    folder, database = tmp_path / "metrics", str(tmp_path / "hub.db")
    folder.mkdir()
    for host, count in (("container-a", 3), ("container-b", 4)):
        code = (
            "from tests.test_metrics_multiprocess import publish_as; "
            f"publish_as({host!r}, {database!r}, {str(folder)!r}, {count})"
        )
        _in_child(code)
    names = sorted(p.name for p in folder.glob("counter_*.db"))
    assert names == ["counter_container-a-1.db", "counter_container-b-1.db"]
    found = samples(_rendered_elsewhere(database, folder))
    assert value(found, "hub_events_published_total", event_type="test.notice.received") == 7
