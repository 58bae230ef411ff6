"""The stage of the chaos tests: ``hub run`` against a simulated SMEV, on a replicated broker or
database that a test then breaks, and the counts that say nothing was lost or done twice.

The hub runs as the deployment runs it, ``hub run`` with its workers, relay and SMEV client as
child processes; this process plays everyone else: the registry sending checks and reading the
events from its queue, SMEV with ZAGS and PFR answering from a synthetic population, ZAGS
pushing change notices. SMEV injects no faults of its own here, so whatever goes wrong is the
broken engine's doing. The registry reconnects by itself after a broker fault (the reference
one stops at the first lost connection) and, as a registry must, keeps each event id once.

At the end ``assert_exactly_once`` counts: every expected event reached the registry's queue
and no other (0 lost; an event delivered again shows only as a repeated event id), one answer
per check, every request answered, nothing failed, and no request reached an agency under two
MessageIDs (the ledger wraps the agencies to see what SMEV delivered to them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.adapters.router import InboundHandler, Router, Translation
from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.crypto import GostBackend
from hub.crypto.keys import Certificate, PrivateKey
from hub.errors import RetryableError
from hub.journal.migrate import upgrade
from hub.journal.records import InboxRecord, OutboundState
from hub.simulator import ExchangeConfig
from hub.simulator.exchange import Agency
from hub.simulator.population import Population, ZagsNotice, zags_notices
from hub.simulator.registry import ReferenceRegistry
from hub.simulator.server import SimulatorServer
from hub.simulator.world import World, build_world
from hub.smev.read import SmevMessage
from tests.support.bus import delete_topology
from tests.support.simulator import key_files
from tests.support.waiting import holds_within

PROJECT = Path(__file__).resolve().parents[2]
STUDENTS = 6  # a dozen or so checks: zero loss is the point, not volume
SETTLE = 3.0  # seconds after the last expected event for anything doubled to show up


# --- the hub as deployed ---------------------------------------------------------------------


class Deployment:
    """``hub run`` as a subprocess with ``environment``; the log lines it and its children
    write (JSON), kept for a failing test's message."""

    def __init__(self, environment: Mapping[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub", "run", *args],
            cwd=PROJECT,
            env={**_inherited(), **environment},
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

    def started(self) -> set[str]:
        """The services the supervisor has started so far."""
        return {r["service"] for r in self.records("hub.supervisor", "child started")}

    def records(self, logger: str, event: str) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            with contextlib.suppress(json.JSONDecodeError):
                record = json.loads(line)
                if record.get("logger") == logger and record.get("event") == event:
                    found.append(record)
        return found

    def troubles(self) -> Counter[str]:
        """How often each service warned or erred, by service and event: how the hub felt
        the fault, printed beside the counts."""
        seen: Counter[str] = Counter()
        for line in list(self.lines):
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                record = json.loads(line)
                if record.get("level") in {"warning", "error", "critical"}:
                    who = record.get("service") or record.get("logger")
                    seen[f"{who}: {record.get('event')}"] += 1
        return seen

    def tail(self, lines: int = 60) -> str:
        return "".join(self.lines[-lines:])

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``; the exit code of a
        clean stop, None otherwise (its children get SIGTERM from the kernel: PDEATHSIG)."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


def _inherited() -> dict[str, str]:
    """This process's environment without any HUB_ setting a developer's shell may carry."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}


# --- the registry ----------------------------------------------------------------------------


@dataclass
class SteadyRegistry(ReferenceRegistry):
    """The reference registry, reconnecting after a lost broker connection as a real registry
    service would (to the next node of the failover list); an unacknowledged event comes
    again and counts as a delivery, not as a new event."""

    reconnects: int = field(default=0, init=False)

    def _consume(self) -> None:
        while not self._stop.is_set():
            try:
                super()._consume()
            except Exception:  # any broker fault: connect again
                self.reconnects += 1
                self._stop.wait(0.2)


def send_commands(
    hub: Hub, registry: ReferenceRegistry, commands: Sequence[Mapping[str, Any]]
) -> None:
    """Publish the registry's commands, again while the broker is failing over (the same
    request ids: the hub takes a command it already has as the same one)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            registry.send(hub.bus, commands)
            return
        except RetryableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Feeder:
    """Sends the stage's checks one at a time, ``interval`` seconds apart, from a thread, and
    has ZAGS push its notices halfway: messages flow all through the fault a test injects.
    The first check's event is awaited before the others go (the hub's processes are
    connected and warm by then). ``join`` waits until all went out (and raises what the
    thread met)."""

    def __init__(self, stage: Stage, interval: float = 0.25) -> None:
        self.stage, self.interval = stage, interval
        self.sent = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._feed, name="feeder", daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        checks = self.stage.checks
        try:
            for n, command in enumerate(checks):
                if n == len(checks) // 2:
                    self.stage.push_notices()
                send_commands(self.stage.hub, self.stage.registry, [command])
                self.sent += 1
                if n == 0 and not await_events(self.stage, 1, 60):
                    raise AssertionError("the first check was not answered within 60 s")
                time.sleep(self.interval)
        except BaseException as exc:  # handed to the test in join
            self.error = exc

    def join(self, timeout: float = 90) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"still sending after {timeout:.0f} s"
        if self.error is not None:
            raise self.error


def register_hesitant(router: Router) -> None:
    """A plug-in (``HUB_ADAPTERS``) making every inbound message's adapter fail passingly on
    its first attempt, as an agency's momentary hiccup would: the stream then carries
    delayed retries through the hub's retry queues too, not only first deliveries."""
    for name, handler in list(router.inbound.items()):
        router.inbound[name] = _hesitant(handler)


def _hesitant(handler: InboundHandler) -> InboundHandler:
    def hesitant(message: SmevMessage, record: InboxRecord) -> Translation:
        if record.attempts <= 1:
            raise RetryableError("the agency's adapter hesitates on a first attempt")
        return handler(message, record)

    return hesitant


# --- SMEV's side -----------------------------------------------------------------------------


@dataclass
class SmevLedger:
    """The MessageIDs under which SMEV delivered each distinct request to an agency, by a
    digest of the request's content (its canonical form)."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def watch(self, agency: Agency) -> None:
        answer = agency.on_request

        def noted(request: SmevMessage) -> Any:
            if request.content is not None:
                digest = hashlib.sha256(etree.tostring(request.content, method="c14n")).hexdigest()
                with self._lock:
                    self.ids.setdefault(digest, []).append(request.message_id or "")
            return answer(request)

        agency.on_request = noted  # type: ignore[method-assign]

    def under_two_ids(self) -> list[list[str]]:
        with self._lock:
            return [ids for ids in self.ids.values() if len(set(ids)) > 1]

    def requests(self) -> int:
        with self._lock:
            return len(self.ids)


# --- the stage -------------------------------------------------------------------------------


@dataclass
class Stage:
    """Everything a chaos test drives: the hub's settings (``hub run`` gets them as its
    environment), a hub in this process to send commands and read the journal, SMEV."""

    environment: dict[str, str]
    hub: Hub
    world: World
    registry: SteadyRegistry
    ledger: SmevLedger
    notices: tuple[ZagsNotice, ...]

    def deploy(self) -> Deployment:
        return Deployment(self.environment, "--workers", "2", "--stop-timeout", "15")

    @property
    def checks(self) -> list[dict[str, Any]]:
        return [c.command for c in self.world.population.checks()]

    def expected(self) -> Counter[str]:
        """The events the registry must get: one per check, those of each notice."""
        return Counter(
            [c.event_type for c in self.world.population.checks()]
            + [t for notice in self.notices for t in notice.event_types]
        )

    def push_notices(self) -> None:
        self.world.agencies.zags.push_notices(self.world.exchange, self.notices)


@contextlib.contextmanager
def chaos_stage(  # noqa: PLR0917 - the fixtures a stage is made of
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    database_url: str,
    broker_url: str,
    prefix: str,
    backend: GostBackend,
    key_pair: tuple[PrivateKey, Certificate],
    reference_dir: Path,
) -> Iterator[Stage]:
    """The stage on ``database_url`` and ``broker_url`` (either may be a replicated one's);
    the topology and the registry's queue removed on the way out."""
    key, certificate = key_pair
    population = Population.generate(
        43, STUDENTS, discrepancy_share=0.4, reference_date=date(2026, 3, 1)
    )
    world = build_world(
        backend, certificate, population, reference_dir, ExchangeConfig(visibility_timeout=2.0)
    )
    ledger = SmevLedger()
    ledger.watch(world.agencies.zags)
    ledger.watch(world.agencies.pfr)
    upgrade(database_url)
    with SimulatorServer(world.exchange) as server:
        environment = {
            "HUB_DATABASE_URL": database_url,
            "HUB_BROKER_URL": broker_url,
            "HUB_TOPOLOGY_PREFIX": prefix,
            "HUB_SMEV_ENDPOINT": server.endpoint("1.3"),
            "HUB_REFERENCE_DIR": str(reference_dir),
            **key_files(folder, key, certificate, world),
            "HUB_SMEV_POLL_INTERVAL": "0.05",
            "HUB_SMEV_RESEND_AFTER": "2",
            "HUB_RETRY_DELAYS": "[1,1,2]",
            "HUB_ADAPTERS": '["tests.support.chaos:register_hesitant"]',
            "HUB_LOG_FORMAT": "json",
            "HUB_LOG_LEVEL": "INFO",
        }
        for name, value in environment.items():  # Settings reads them here as `hub run` does
            monkeypatch.setenv(name, value)
        hub = bootstrap(Settings())
        hub.bus.declare()
        registry = SteadyRegistry(broker_url, hub.topology).start()
        notices = zags_notices(population, name_changes=2, deaths=1, paternities=1)
        try:
            yield Stage(environment, hub, world, registry, ledger, notices)
        finally:
            registry.stop(delete_queue=True)
            with contextlib.suppress(Exception):
                delete_topology(broker_url, hub.topology)
            hub.close()


# --- the counts ------------------------------------------------------------------------------


def await_events(stage: Stage, count: int, timeout: float) -> bool:
    """Whether the registry holds ``count`` distinct events within ``timeout`` seconds."""
    return holds_within(lambda: len(stage.registry.events) >= count, timeout)


def await_expected(stage: Stage, timeout: float) -> bool:
    """Whether every expected event reached the registry within ``timeout`` seconds."""
    expected = stage.expected()
    return holds_within(lambda: stage.registry.count_by_type() >= expected, timeout)


def assert_exactly_once(stage: Stage, log: Callable[[], str]) -> str:
    """The counts of the module's docstring; a line saying what was delivered twice."""
    time.sleep(SETTLE)  # an event published twice under a new id would arrive by now
    registry, journal = stage.registry, stage.hub.journal
    assert registry.count_by_type() == stage.expected(), log()
    checks = stage.world.population.checks()
    wanted = {c.command["request_id"]: c.event_type for c in checks}
    answers = [e for e in registry.received() if e.data.get("request_id") in wanted]
    assert {e.data["request_id"]: e.type for e in answers} == wanted
    assert len(answers) == len(wanted)  # one event per check, not two under distinct ids
    states = {rid: journal.outbound(rid).state for rid in wanted}  # type: ignore[union-attr]
    assert set(states.values()) == {OutboundState.ANSWERED}, states
    assert journal.failed() == [], log()
    assert journal.pending_events(10) == []  # every event the hub wrote went out
    assert stage.ledger.under_two_ids() == []
    assert stage.ledger.requests() == len(wanted)
    assert len(stage.world.agencies.zags.answers) == len(stage.notices)
    doubled = registry.deliveries - len(registry.events)
    return (
        f"{len(registry.events)} events, {doubled} delivered again (same id), "
        f"registry reconnected {registry.reconnects} times"
    )
