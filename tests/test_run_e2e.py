"""``hub run --workers 2`` as the real multi-process deployment, end to end.

The supervisor runs as a subprocess with its workers, relay and SMEV client as its own child
processes, on the local PostgreSQL and RabbitMQ, against the SMEV simulator served from this
process with ZAGS, PFR and Gosuslugi answering from a synthetic population and SMEV failing,
dropping connections and delivering twice. The reference registry sends the population's
checks and the enrollment decisions, ZAGS pushes notices, Gosuslugi sends applications; one
worker is killed with SIGKILL mid-run. The registry must receive exactly the expected events,
nothing may be left failed, and SIGTERM must stop the supervisor (exit 0) with every child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.bootstrap import Hub, bootstrap
from hub.canonical import events as ev
from hub.canonical.commands import REPORT_ENROLLMENT_STATUS
from hub.config import Settings
from hub.crypto import GostBackend
from hub.crypto.keys import Certificate, PrivateKey
from hub.journal.migrate import upgrade
from hub.journal.records import OutboundState
from hub.simulator import ExchangeConfig, FaultInjection
from hub.simulator.population import Population, ZagsNotice, zags_notices
from hub.simulator.registry import ReferenceRegistry
from hub.simulator.server import SimulatorServer
from hub.simulator.world import World, build_world
from tests.support.bus import delete_topology
from tests.support.simulator import key_files
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[1]
FAULTS = FaultInjection(failure_rate=0.04, drop_rate=0.02, duplicate_rate=0.05, seed=29)
STUDENTS, APPLICATIONS = 8, 5
TIMEOUT = 40.0  # seconds any one stage may take


# --- the deployment: `hub run` and what it logs ------------------------------------------


class Deployment:
    """``hub run`` as a subprocess; the JSON log lines it and its children write."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub", "run", *args],
            cwd=PROJECT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def records(self, event: str) -> list[dict[str, Any]]:
        """The supervisor's log records of one event, in order."""
        found = []
        for line in list(self.lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("logger") == "hub.supervisor" and record.get("event") == event:
                found.append(record)
        return found

    def starts(self) -> dict[str, list[int]]:
        """Process ids each service was started with, in order."""
        pids: dict[str, list[int]] = {}
        for record in self.records("child started"):
            pids.setdefault(record["service"], []).append(record["pid"])
        return pids

    def tail(self, lines: int = 40) -> str:
        return "".join(self.lines[-lines:])

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM; the exit code, or None if it did not exit within ``timeout``."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- the stage ---------------------------------------------------------------------------


@dataclass
class Stage:
    hub: Hub  # in this process: to send commands, read the journal, clean up
    world: World
    registry: ReferenceRegistry
    notices: tuple[ZagsNotice, ...]


@pytest.fixture
def stage(  # noqa: PLR0917 - pytest fixtures
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    amqp_url: str,
    topology_prefix: str,
    fast_backend: GostBackend,
    dev_key_pair: tuple[PrivateKey, Certificate],
    reference_dir: Path,
) -> Iterator[Stage]:
    key, certificate = dev_key_pair
    population = Population.generate(
        41, STUDENTS, discrepancy_share=0.4, reference_date=date(2026, 3, 1)
    )
    config = ExchangeConfig(visibility_timeout=2.0, faults=FAULTS)
    world = build_world(
        fast_backend,
        certificate,
        population,
        reference_dir,
        config,
        applications=APPLICATIONS,
        rate=50.0,
    )
    upgrade(pg_url)
    with SimulatorServer(world.exchange) as server:
        environment = {
            "HUB_DATABASE_URL": pg_url,
            "HUB_BROKER_URL": amqp_url,
            "HUB_TOPOLOGY_PREFIX": topology_prefix,
            "HUB_SMEV_ENDPOINT": server.endpoint("1.3"),
            "HUB_REFERENCE_DIR": str(reference_dir),
            **key_files(tmp_path, key, certificate, world),
            "HUB_SMEV_POLL_INTERVAL": "0.05",
            "HUB_SMEV_RESEND_AFTER": "1",
            "HUB_RETRY_DELAYS": "[1,1,2]",
            "HUB_LOG_FORMAT": "json",
            "HUB_LOG_LEVEL": "INFO",
        }
        for name, value in environment.items():  # `hub run` inherits them, and Settings reads
            monkeypatch.setenv(name, value)  # them here the way the deployment does
        hub = bootstrap(Settings())
        hub.bus.declare()
        registry = ReferenceRegistry(amqp_url, hub.topology).start()
        notices = zags_notices(population, name_changes=2, deaths=1, paternities=1)
        try:
            yield Stage(hub, world, registry, notices)
        finally:
            registry.stop(delete_queue=True)
            delete_topology(amqp_url, hub.topology)
            hub.close()


@pytest.fixture
def deployment(stage: Stage) -> Iterator[Deployment]:
    running = Deployment("--workers", "2", "--stop-timeout", "20")
    yield running
    # The test failed before stopping it.
    if running.process.poll() is None and running.terminate(25) is None:
        running.process.kill()  # its children get SIGTERM from the kernel (PDEATHSIG)
        running.process.wait()


# --- the run -----------------------------------------------------------------------------

SERVICES = {"worker-1", "worker-2", "relay", "smev-client"}


def test_hub_run_delivers_exactly_the_expected_events_through_a_killed_worker(
    stage: Stage, deployment: Deployment
) -> None:
    hub, registry, world = stage.hub, stage.registry, stage.world
    wait_for(lambda: deployment.starts().keys() == SERVICES, TIMEOUT, deployment.tail)
    first = {name: pids[0] for name, pids in deployment.starts().items()}
    checks = world.population.checks()
    registry.send(hub.bus, [c.command for c in checks])

    # Mid-run, while answers are flowing: one worker dies without a chance to clean up.
    assert registry.wait_for(lambda r: len(r.events) >= 3, TIMEOUT), deployment.tail()
    os.kill(first["worker-1"], signal.SIGKILL)
    world.agencies.zags.push_notices(world.exchange, stage.notices)
    world.agencies.gosuslugi.step(world.exchange, 0.0)
    world.agencies.gosuslugi.step(world.exchange, 3600.0)  # every application is due
    wait_for(lambda: len(deployment.starts()["worker-1"]) == 2, TIMEOUT, deployment.tail)
    exited = deployment.records("child exited")
    assert [(r["service"], r["pid"], r["exit"]) for r in exited] == [
        ("worker-1", first["worker-1"], "SIGKILL")
    ]

    expected = _expected(stage)
    assert _drive(stage, expected), (registry.count_by_type(), deployment.tail())
    time.sleep(2.0)  # anything delivered twice under a new id would arrive by now
    _assert_exactly_expected(stage, expected)

    every_pid = [pid for pids in deployment.starts().values() for pid in pids]
    assert deployment.terminate(timeout=30) == 0, deployment.tail()
    assert not [pid for pid in every_pid if _alive(pid)]
    assert deployment.records("supervisor stopped")


def _expected(stage: Stage) -> Counter[str]:
    checks = stage.world.population.checks()
    return Counter(
        [c.event_type for c in checks]
        + [t for notice in stage.notices for t in notice.event_types]
        + [ev.APPLICATION_RECEIVED, ev.STATUS_DELIVERED] * APPLICATIONS
    )


def _drive(stage: Stage, expected: Counter[str]) -> bool:
    """Decide on each application as it arrives, until every expected event is there."""
    decided: set[str] = set()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        received = stage.registry.received()
        orders = {
            str(e.data["order_number"]) for e in received if e.type == ev.APPLICATION_RECEIVED
        } - decided
        if orders:
            stage.registry.send(stage.hub.bus, [_decision(order) for order in sorted(orders)])
            decided |= orders
        if stage.registry.count_by_type() >= expected:
            return True
        time.sleep(0.1)
    return False


def _decision(order_number: str) -> dict[str, Any]:
    return {
        "type": REPORT_ENROLLMENT_STATUS,
        "request_id": f"status-{order_number}",
        "order_number": order_number,
        "status_code": 3,
        "comment": "Зачислен",
    }


def _assert_exactly_expected(stage: Stage, expected: Counter[str]) -> None:
    hub, registry, agencies = stage.hub, stage.registry, stage.world.agencies
    assert registry.count_by_type() == expected
    checks = stage.world.population.checks()
    wanted = {c.command["request_id"]: c.event_type for c in checks}
    answers = [e for e in registry.received() if e.data.get("request_id") in wanted]
    assert {e.data["request_id"]: e.type for e in answers} == wanted
    assert len(answers) == len(wanted)  # one event per check, not two under distinct ids
    states = {hub.journal.outbound(rid).state for rid in wanted}  # type: ignore[union-attr]
    assert states == {OutboundState.ANSWERED}
    assert hub.journal.failed() == []
    # And the agencies' side: every notice and application answered, every decision read.
    assert len(agencies.zags.answers) == len(stage.notices)
    assert len(agencies.gosuslugi.accepted) == APPLICATIONS
    assert sorted(s.order_number for s in agencies.gosuslugi.statuses) == sorted(
        {
            str(e.data["order_number"])
            for e in registry.received()
            if e.type == ev.APPLICATION_RECEIVED
        }
    )
