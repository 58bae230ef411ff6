"""``hub demo``: the main job end to end on the embedded default, in one process.

The SMEV 3 simulator on a free local port with the three agency emulators; the hub on SQLite
and kombu's in-memory broker (worker, relay and SMEV client as threads); a reference registry
consuming the events. The scenario: every student and guardian checked with ZAGS and PFR,
Gosuslugi applications answered with status changes, ZAGS notifications, SMEV failing and
redelivering along the way, and permanently bad messages that an operator resolves:

* SMEV renews its signing certificate; the hub pins SMEV's certificate, so what SMEV signs
  with the new one is refused (``UntrustedSignerError``) and kept. The operator adds the new
  certificate to ``HUB_TRUSTED_CERTIFICATES``, restarts the hub and replays them.
* A notification altered in transit after SMEV signed it fails its signature check; a replay
  cannot help (the bytes are what arrived), so ZAGS resends it and the operator discards the
  broken copy with that reason (audited).

It ends with a summary table and succeeds only if every message is accounted for.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.access.policy import Principal, Role
from hub.access.scopes import REGION
from hub.adapters.zags.requests import request_key
from hub.adapters.zags.schemas import AGENCY as ZAGS
from hub.bootstrap import Hub, bootstrap
from hub.canonical import events as ev
from hub.canonical.commands import REPORT_ENROLLMENT_STATUS
from hub.config import Settings
from hub.crypto import GostBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate
from hub.crypto.xmldsig import LocalKeySigner
from hub.errors import HubError
from hub.journal.records import FailedMessage, OutboundState
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.protection import new_key_entry
from hub.simulator import ExchangeConfig, FaultInjection
from hub.simulator.population import Check, Population, ZagsNotice, zags_notices
from hub.simulator.registry import ReferenceRegistry
from hub.simulator.server import SimulatorServer
from hub.simulator.world import World, build_world, feed_applications

OPERATOR = "demo-operator"
_REFERENCE_DATE = date(2026, 9, 1)  # fixed: the same seed gives the same run on any day


def _operator(hub: Hub) -> Principal:
    """The demo's operator: a region-wide admin token, issued and presented as a person would."""
    issued = hub.access.issue(OPERATOR, Role.ADMIN, REGION, timedelta(hours=1), "hub demo")
    return hub.access.authenticate(issued.text)


class DemoError(HubError):
    """The demo could not account for every message."""

    code = "DEMO_INCOMPLETE"


# Transient trouble the demo's SMEV makes: failures, dropped connections, deliveries twice.
_FAULTS = FaultInjection(failure_rate=0.03, drop_rate=0.01, duplicate_rate=0.03, seed=2026)


@dataclass(frozen=True)
class Scenario:
    """How much the demo does; ``scaled`` keeps its shape for slower machines."""

    students: int = 200
    applications: int = 50
    name_changes: int = 3
    deaths: int = 1
    untrusted: int = 2  # notices SMEV signs with its renewed certificate
    damaged: int = 1  # notices altered in transit
    rejected_by_smev: int = 1  # birth-record checks SMEV takes, then rejects (SMEV-403)
    seed: int = 2026
    discrepancy_share: float = 0.2
    faults: FaultInjection = _FAULTS
    timeout: float = 240.0  # seconds any one stage may take

    def scaled(self, share: float) -> Scenario:
        return replace(
            self,
            students=max(10, round(self.students * share)),
            applications=max(5, round(self.applications * share)),
        )


@dataclass
class Stats:
    """What the summary table shows."""

    started: float = field(default_factory=time.monotonic)
    commands: int = 0
    statuses_sent: int = 0
    notices: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    discarded: int = 0
    elapsed: float = 0.0
    smev: Counter[str] = field(default_factory=Counter)  # the SMEV client's troubles


class _Notices(NamedTuple):
    """The scenario's ZAGS notices: pushed in the main flow, signed after SMEV renewed its
    certificate, and altered in transit."""

    regular: tuple[ZagsNotice, ...]
    untrusted: tuple[ZagsNotice, ...]
    damaged: tuple[ZagsNotice, ...]

    @property
    def total(self) -> int:
        return len(self.regular) + len(self.untrusted) + len(self.damaged)


@dataclass
class _Running:
    hub: Hub
    stop: threading.Event
    threads: list[threading.Thread]

    def halt(self) -> Counter[str]:
        """Stop the services; what the SMEV client went through."""
        if self.stop.is_set():
            return Counter()
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.hub.close()
        return self.hub.smev_client.stats


class Demo:
    """One run of the scenario; ``run`` returns the stats or raises ``DemoError``."""

    def __init__(
        self,
        scenario: Scenario,
        backend: GostBackend,
        reference_dir: Path,
        console: Console,
        smev_xsd_dir: Path | None = None,
        *,
        schemas_dir: Path = PROJECT_SCHEMAS_DIR,
    ) -> None:
        self.scenario = scenario
        self.backend = backend
        self.reference_dir = reference_dir
        self.smev_xsd_dir = smev_xsd_dir
        self.schemas_dir = schemas_dir  # the hub's own: the demo's hub and simulator read them
        self.console = console
        self.stats = Stats()
        self.counts: Counter[str] = Counter()
        self.data_key = new_key_entry("demo")  # personal data sealed at rest, as in production
        self.population = Population.generate(
            scenario.seed,
            scenario.students,
            discrepancy_share=scenario.discrepancy_share,
            reference_date=_REFERENCE_DATE,
        )
        key = generate_private_key()
        certificate = self_signed_certificate(backend, key, "Региональный хаб «Контингент»")
        self.hub_signer = LocalKeySigner(backend, key, certificate)
        self.rejected = self._rejected_by_smev()
        self.world = self._world(certificate)
        self.notices = self._split_notices()

    def _rejected_by_smev(self) -> frozenset[str]:
        """The request ids of the birth-record checks SMEV will reject asynchronously."""
        births = [c for c in self.population.checks() if c.agency == ZAGS]
        return frozenset(c.command["request_id"] for c in births[: self.scenario.rejected_by_smev])

    def _expected(self, check: Check) -> tuple[str, OutboundState]:
        """The event a check should end in, and its request's state."""
        if check.command["request_id"] in self.rejected:
            return ev.REQUEST_REJECTED, OutboundState.REJECTED
        return check.event_type, OutboundState.ANSWERED

    def _world(self, hub_certificate: Certificate) -> World:
        marked = frozenset(request_key(request_id) for request_id in self.rejected)
        faults = replace(self.scenario.faults, async_rejected=marked)
        config = ExchangeConfig(visibility_timeout=5.0, faults=faults, xsd_dir=self.smev_xsd_dir)
        return build_world(
            self.backend,
            hub_certificate,
            self.population,
            self.reference_dir,
            config,
            applications=self.scenario.applications,
            rate=25.0,
            schemas_dir=self.schemas_dir,
        )

    def run(self, workdir: Path) -> Stats:
        trust = [self._pin(workdir, "smev-1.pem")]
        with SimulatorServer(self.world.exchange) as server:
            settings = self._settings(workdir, server.endpoint(), trust)
            running = self._start(settings)
            registry = ReferenceRegistry("memory://", running.hub.topology)
            try:
                with registry, self._progress() as progress:
                    self._main_flow(running.hub, registry, progress)
                    running = self._bad_messages(running, registry, progress, workdir, trust)
            finally:  # the hub running now: the first, or the restarted one
                self.stats.smev += self._current.halt()
            self.counts = registry.count_by_type()
            self._account(running.hub, registry)
        self.stats.elapsed = time.monotonic() - self.stats.started
        return self.stats

    # --- the hub --------------------------------------------------------------------

    def _pin(self, workdir: Path, name: str) -> Path:
        certificate = self.world.exchange.certificate
        if certificate is None:
            raise DemoError("the demo's SMEV must sign its replies")
        path = workdir / name
        path.write_bytes(certificate.der)
        return path

    def _settings(self, workdir: Path, endpoint: str, trust: Sequence[Path]) -> Settings:
        return Settings(
            database_url=f"sqlite:///{workdir / 'hub.db'}",
            broker_url="memory://",
            topology_prefix="demo",
            reference_dir=self.reference_dir,
            smev_xsd_dir=self.smev_xsd_dir,
            schemas_dir=self.schemas_dir,
            retry_delays=(1, 2, 5),
            smev_endpoint=endpoint,
            smev_poll_interval=0.05,
            smev_resend_after=2.0,
            smev_timeout=5.0,
            trusted_certificates=tuple(trust),
            encryption_keys=self.data_key,
            log_level="ERROR",
        )

    def _start(self, settings: Settings) -> _Running:
        hub = bootstrap(settings, key_signer=self.hub_signer)
        hub.bus.declare()
        stop = threading.Event()
        threads = [
            threading.Thread(target=service.run, args=(stop,), name=name, daemon=True)
            for name, service in (
                ("worker", hub.worker),
                ("relay", hub.relay),
                ("smev-client", hub.smev_client),
            )
        ]
        for thread in threads:
            thread.start()
        self._current = _Running(hub, stop, threads)
        return self._current

    # --- stages ---------------------------------------------------------------------

    @contextmanager
    def _progress(self) -> Iterator[Progress]:
        columns = (
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            yield progress

    def _main_flow(self, hub: Hub, registry: ReferenceRegistry, progress: Progress) -> None:
        checks = self.population.checks()
        regular = self.notices.regular
        registry.send(hub.bus, [c.command for c in checks])
        self.stats.commands = len(checks)
        self.world.agencies.zags.push_notices(self.world.exchange, regular)
        self.stats.notices = len(regular)
        feeder = threading.Thread(target=self._feed_applications, daemon=True)
        feeder.start()
        stages = self._stages(registry, checks, regular)
        # The registry decides on each application as it arrives.
        self._watch(progress, stages, lambda: self._report_statuses(hub, registry))
        feeder.join()

    def _stages(
        self,
        registry: ReferenceRegistry,
        checks: Sequence[Check],
        notices: Sequence[ZagsNotice],
    ) -> list[tuple[str, int, Callable[[], int]]]:
        ids = {c.command["request_id"] for c in checks}
        notice_types = Counter(t for n in notices for t in n.event_types)
        applications = self.scenario.applications

        def answered() -> int:
            return sum(1 for e in registry.received() if e.data.get("request_id") in ids)

        def noticed() -> int:
            got = registry.count_by_type()
            return sum(min(got[t], n) for t, n in notice_types.items())

        return [
            ("ZAGS & PFR checks answered", len(ids), answered),
            (
                "Gosuslugi applications received",
                applications,
                lambda: registry.count_by_type()[ev.APPLICATION_RECEIVED],
            ),
            (
                "status changes delivered",
                applications,
                lambda: registry.count_by_type()[ev.STATUS_DELIVERED],
            ),
            ("ZAGS notifications read", sum(notice_types.values()), noticed),
        ]

    def _watch(
        self,
        progress: Progress,
        stages: list[tuple[str, int, Callable[[], int]]],
        on_tick: Callable[[], None],
    ) -> None:
        tasks = [
            (progress.add_task(name, total=total), total, count) for name, total, count in stages
        ]
        deadline = time.monotonic() + self.scenario.timeout
        while True:
            on_tick()
            done = [(task, total, count()) for task, total, count in tasks]
            for task, _, value in done:
                progress.update(task, completed=value)
            if all(value >= total for _, total, value in done):
                return
            if time.monotonic() > deadline:
                raise DemoError(f"the scenario did not finish in {self.scenario.timeout:.0f} s")
            time.sleep(0.1)

    def _feed_applications(self) -> None:
        feed_applications(self.world.agencies, self.world.exchange, self._current.stop)

    def _report_statuses(self, hub: Hub, registry: ReferenceRegistry) -> None:
        """The registry decides on each new application: most are enrolled, some refused."""
        received = [e for e in registry.received() if e.type == ev.APPLICATION_RECEIVED]
        fresh = received[self.stats.statuses_sent :]
        commands = [_status_command(str(e.data["order_number"])) for e in fresh]
        if commands:
            registry.send(hub.bus, commands)
            self.stats.statuses_sent += len(commands)

    def _split_notices(self) -> _Notices:
        s = self.scenario
        changes = s.name_changes + s.untrusted + s.damaged
        notices = zags_notices(
            self.population, name_changes=changes, deaths=s.deaths, paternities=0
        )
        return _Notices(
            regular=(*notices[: s.name_changes], *notices[changes:]),
            untrusted=notices[s.name_changes : s.name_changes + s.untrusted],
            damaged=notices[s.name_changes + s.untrusted : changes],
        )

    # --- bad messages, and what the operator does about them -------------------------

    def _bad_messages(
        self,
        running: _Running,
        registry: ReferenceRegistry,
        progress: Progress,
        workdir: Path,
        trust: list[Path],
    ) -> _Running:
        untrusted, damaged = self.notices.untrusted, self.notices.damaged
        exchange, zags = self.world.exchange, self.world.agencies.zags
        task = progress.add_task("bad messages kept as failed", total=len(untrusted) + len(damaged))
        exchange.damage_next(zags.mnemonic, len(damaged))
        zags.push_notices(exchange, damaged)
        self._wait(lambda: len(running.hub.journal.failed()) >= len(damaged), "damaged notice")
        exchange.renew_certificate(self.backend)
        zags.push_notices(exchange, untrusted)
        total = len(untrusted) + len(damaged)
        self._wait(
            lambda: _progress(progress, task, len(running.hub.journal.failed())) >= total,
            "failed messages",
        )
        self.stats.failed = Counter(f.error_type for f in running.hub.journal.failed())
        return self._resolve(running, registry, progress, workdir, trust)

    def _resolve(
        self,
        running: _Running,
        registry: ReferenceRegistry,
        progress: Progress,
        workdir: Path,
        trust: list[Path],
    ) -> _Running:
        failed = running.hub.journal.failed()
        untrusted = [f for f in failed if f.error_type == "UntrustedSignerError"]
        damaged = [f for f in failed if f.error_type == "SignatureError"]
        task = progress.add_task("resolved by the operator", total=len(failed))
        # The fix: pin SMEV's renewed certificate and restart the hub with it.
        trust.append(self._pin(workdir, "smev-2.pem"))
        settings = running.hub.settings.model_copy(update={"trusted_certificates": tuple(trust)})
        self.stats.smev += running.halt()
        running = self._start(settings)
        operator = _operator(running.hub)
        results = running.hub.operations.replay(operator, untrusted)
        self.stats.replayed = sum(1 for r in results if r.status == "processed")
        progress.update(task, advance=self.stats.replayed)
        self._resend_and_discard(running.hub, operator, registry, damaged)
        progress.update(task, advance=self.stats.discarded)
        self._wait(self._all_answered, "answers to ZAGS")
        return running

    def _resend_and_discard(
        self,
        hub: Hub,
        operator: Principal,
        registry: ReferenceRegistry,
        damaged: Sequence[FailedMessage],
    ) -> None:
        notices = self.notices.damaged
        before = registry.count_by_type()[ev.NAME_CHANGED]
        ids = self.world.agencies.zags.push_notices(self.world.exchange, notices)
        self._wait(
            lambda: registry.count_by_type()[ev.NAME_CHANGED] >= before + len(notices),
            "resent notices",
        )
        for failed, resent in zip(damaged, ids, strict=False):
            reason = f"altered in transit after SMEV signed it; ZAGS resent it as {resent}"
            hub.operations.discard(operator, failed.failed_id, reason)
            self.stats.discarded += 1

    def _all_answered(self) -> bool:
        # Every notice answered once: the regular, the replayed and the resent ones.
        return len(self.world.agencies.zags.answers) >= self.notices.total

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.scenario.timeout
        while not condition():
            if time.monotonic() > deadline:
                raise DemoError(f"waited {self.scenario.timeout:.0f} s for {what}")
            time.sleep(0.05)

    # --- the account ------------------------------------------------------------------

    def _account(self, hub: Hub, registry: ReferenceRegistry) -> None:
        problems = self.problems(hub, registry)
        if problems:
            raise DemoError("not every message is accounted for: " + "; ".join(problems))

    def problems(self, hub: Hub, registry: ReferenceRegistry) -> list[str]:
        """What does not add up (empty: every message is accounted for)."""
        checks = self.population.checks()
        got = {e.data.get("request_id"): e.type for e in registry.received()}
        wrong = [c for c in checks if got.get(c.command["request_id"]) != self._expected(c)[0]]
        problems = [f"{len(wrong)} checks without their expected event"] if wrong else []
        unsettled = [c for c in checks if _state(hub, c) is not self._expected(c)[1]]
        if unsettled:
            problems.append(f"{len(unsettled)} requests not answered")
        if hub.journal.failed():
            problems.append(f"{len(hub.journal.failed())} failed messages left open")
        expected = self._expected_counts()
        counts = registry.count_by_type()
        problems += [
            f"{kind}: {counts[kind]} events, expected {n}"
            for kind, n in expected.items()
            if counts[kind] != n
        ]
        return problems

    def _expected_counts(self) -> Mapping[str, int]:
        n = self.notices
        notices = Counter(t for x in (*n.regular, *n.untrusted, *n.damaged) for t in x.event_types)
        return {
            **notices,
            ev.REQUEST_REJECTED: len(self.rejected),
            ev.APPLICATION_RECEIVED: self.scenario.applications,
            ev.STATUS_DELIVERED: self.scenario.applications,
        }

    def summary(self) -> Table:
        return summary_table(self.stats, self.population.checks(), self.counts)


def _state(hub: Hub, check: Check) -> OutboundState | None:
    request = hub.journal.outbound(check.command["request_id"])
    return request.state if request is not None else None


def _progress(progress: Progress, task: Any, value: int) -> int:
    progress.update(task, completed=value)
    return value


def _status_command(order_number: str) -> dict[str, Any]:
    # Every seventh application refused (EPGU status 4), the rest enrolled (3).
    refused = int(order_number[-1:] or 0) == 7
    return {
        "type": REPORT_ENROLLMENT_STATUS,
        "request_id": f"status-{order_number}",
        "order_number": order_number,
        "status_code": 4 if refused else 3,
        "comment": "Отказ: нет мест" if refused else "Зачислен",
    }


_SMEV_TROUBLES = {
    "duplicate deliveries": "deliveries twice, recognised",
    "failed rounds": "polls failed, retried",
    "failed send rounds": "send rounds failed, retried",
    "resends": "requests resent, same MessageID",
    "sends postponed": "sends failed, retried",
    "refused by SMEV": "messages refused by SMEV",
    "taken": "messages taken from SMEV",
}


def summary_table(stats: Stats, checks: Sequence[Check], counts: Mapping[str, int]) -> Table:
    """Per agency and outcome: how many, failures, replays, and the overall rate."""
    table = Table(title="hub demo: every message accounted for")
    for column in ("agency", "outcome", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    rejected = counts.get(ev.REQUEST_REJECTED, 0)  # by SMEV: the demo's only rejections
    rows = [
        ("ZAGS", "birth record verified", counts.get(ev.BIRTH_VERIFIED, 0)),
        ("ZAGS", "birth record mismatch", counts.get(ev.BIRTH_MISMATCH, 0)),
        ("ZAGS", "birth record not found", counts.get(ev.BIRTH_NOT_FOUND, 0)),
        ("ZAGS", "check rejected by SMEV (SMEV-403), settled", rejected),
        (
            "ZAGS",
            "name change / death notices",
            counts.get(ev.NAME_CHANGED, 0) + counts.get(ev.DEATH_REGISTERED, 0),
        ),
        ("PFR", "SNILS verified", counts.get(ev.SNILS_VERIFIED, 0)),
        ("PFR", "SNILS mismatch", counts.get(ev.SNILS_MISMATCH, 0)),
        ("PFR", "SNILS not found", counts.get(ev.SNILS_NOT_FOUND, 0)),
        ("Gosuslugi", "applications received", counts.get(ev.APPLICATION_RECEIVED, 0)),
        ("Gosuslugi", "status changes delivered", counts.get(ev.STATUS_DELIVERED, 0)),
        *(("SMEV", _SMEV_TROUBLES.get(kind, kind), n) for kind, n in sorted(stats.smev.items())),
        *(("hub", f"failed: {kind}", n) for kind, n in sorted(stats.failed.items())),
        ("hub", "replayed after the fix", stats.replayed),
        ("hub", "discarded (agency resent)", stats.discarded),
    ]
    for agency, outcome, count in rows:
        table.add_row(agency, outcome, str(count))
    total = stats.commands + stats.statuses_sent + sum(counts.values())
    rate = total / stats.elapsed if stats.elapsed else 0.0
    table.caption = f"{total} messages in {stats.elapsed:.1f} s ({rate:.0f} msg/s)"
    return table


def run_demo(
    scenario: Scenario,
    backend: GostBackend,
    reference_dir: Path,
    console: Console,
    smev_xsd_dir: Path | None = None,
    *,
    schemas_dir: Path = PROJECT_SCHEMAS_DIR,
) -> tuple[Stats, Table]:
    """Run the scenario in a temporary directory; the stats and the summary table."""
    demo = Demo(scenario, backend, reference_dir, console, smev_xsd_dir, schemas_dir=schemas_dir)
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as workdir:
        demo.run(Path(workdir))
    return demo.stats, demo.summary()
