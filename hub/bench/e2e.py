"""``hub bench --suite e2e``: complete request/answer round trips through the whole hub.

registry command → worker → outbound request → SMEV client signs and sends it over HTTP →
simulated SMEV (verifies, validates, routes) → agency emulator answers from a synthetic
population → SMEV signs → the client takes the answer (GetResponse), stores it, Acks → worker
verifies and translates → outbox → relay → canonical event at the reference registry.

Two phases per configuration: a backlog of ``count`` commands drained (sustained round trips
per second, timed from the first event to the last), then commands published at half that
rate for ``latency_seconds`` (p50/p99 from a command's publication to its event's arrival).
Every command must end in exactly the event the population expects.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.errors import ConfigurationError
from hub.routing.bus import delete_topology
from hub.simulator.population import Check, Population
from hub.simulator.registry import ReferenceRegistry

SimulatorMode = Literal["thread", "process"]
SIMULATOR_MODES = ("process", "thread")
SEED = 2026
REFERENCE_DATE = date(2026, 3, 1)
_SERVICES = ("worker", "relay", "smev_client")


@dataclass(frozen=True)
class Options:
    """One configuration to measure."""

    count: int
    simulator: SimulatorMode = "process"
    verify: bool = True  # the simulator checks the hub's GOST signatures
    separate: bool = True  # the hub's services as child processes (production only)
    latency_seconds: float = 10.0
    smev_batch: int = 50


@dataclass
class Result:
    stack: str
    services: str
    simulator: str
    simulator_verifies: bool
    commands: int
    answered: int
    as_expected: int
    throughput: float
    p50_ms: float | None
    p99_ms: float | None
    latency_rate: float
    latency_commands: int
    latency_answered: int


# --- the simulated SMEV world ------------------------------------------------------------


def _population(options: Options) -> Population:
    # About 3.4 checks per student: enough for the backlog and the paced phase.
    return _generate(options.count)


def _generate(size: int) -> Population:
    return Population.generate(
        SEED, max(size, 8), discrepancy_share=0.2, reference_date=REFERENCE_DATE
    )


def _world_server(certificate_pem: bytes, size: int, reference_dir: Path, verify: bool) -> Any:
    """The world (ZAGS, PFR, Gosuslugi answering from the population) served over HTTP."""
    from hub.crypto import select_backend  # noqa: PLC0415
    from hub.crypto.keys import load_certificate  # noqa: PLC0415
    from hub.simulator import ExchangeConfig  # noqa: PLC0415
    from hub.simulator.server import SimulatorServer  # noqa: PLC0415
    from hub.simulator.world import build_world  # noqa: PLC0415

    config = ExchangeConfig(verify_signatures=verify)
    world = build_world(
        select_backend("auto"),
        load_certificate(certificate_pem),
        _generate(size),
        reference_dir,
        config,
    )
    return SimulatorServer(world.exchange).start()


def simulator_main(argv: Sequence[str]) -> None:
    """Child-process entry (``python -m hub.bench.e2e CERT SIZE REFERENCE_DIR VERIFY``):
    print the endpoint, serve the world until stdin closes or SIGTERM comes."""
    from hub.logging import configure_logging  # noqa: PLC0415
    from hub.runtime import stop_event  # noqa: PLC0415

    stop = stop_event()
    configure_logging(level="WARNING")
    cert, size, reference_dir, verify = argv
    server = _world_server(Path(cert).read_bytes(), int(size), Path(reference_dir), verify == "1")
    print(server.endpoint("1.3"), flush=True)
    _thread(lambda: _stop_at_eof(stop))  # the parent gone: stop too
    stop.wait()
    server.stop()


def _stop_at_eof(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


@contextlib.contextmanager
def simulator(
    mode: SimulatorMode, keys: Keys, size: int, reference_dir: Path, verify: bool
) -> Iterator[str]:
    """The simulator's SMEV 1.3 endpoint, in a thread of this process or in a child."""
    if mode == "thread":
        server = _world_server(keys.certificate_pem, size, reference_dir, verify)
        try:
            yield server.endpoint("1.3")
        finally:
            server.stop()
        return
    args = [str(keys.cert_path), str(size), str(reference_dir), "1" if verify else "0"]
    child = subprocess.Popen(
        [sys.executable, "-m", "hub.bench.e2e", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None  # noqa: S101 - piped just above
        endpoint = child.stdout.readline().strip()
        if not endpoint:
            raise ConfigurationError("the simulator's child process did not start")
        yield endpoint
    finally:
        child.terminate()
        child.wait(30)


# --- the hub -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    key_path: Path
    cert_path: Path
    certificate_pem: bytes


def make_keys(folder: Path) -> Keys:
    """A development GOST key and certificate for the hub, in files (child processes)."""
    from hub.crypto import select_backend  # noqa: PLC0415

    key = generate_private_key()
    certificate = self_signed_certificate(select_backend("auto"), key, "hub bench signer")
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(key.to_pem())
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.to_pem())
    return Keys(key_path, cert_path, certificate.to_pem())


def hub_settings(
    database_url: str, broker_url: str, endpoint: str, keys: Keys, options: Options
) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        topology_prefix=f"e2e{uuid.uuid4().hex[:8]}",
        reference_dir=Settings().reference_dir.resolve(),
        signing_key=keys.key_path,
        signing_cert=keys.cert_path,
        smev_endpoint=endpoint,
        smev_poll_interval=0.02,
        smev_batch=options.smev_batch,
        smev_timeout=10.0,
        log_level="WARNING",
    )


def _env(settings: Settings) -> dict[str, str]:
    names = (
        "topology_prefix",
        "reference_dir",
        "signing_key",
        "signing_cert",
        "smev_endpoint",
        "smev_poll_interval",
        "smev_batch",
        "smev_timeout",
        "log_level",
        "crypto_backend",
    )
    env = {f"HUB_{n.upper()}": str(getattr(settings, n)) for n in names}
    env["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
    env["HUB_BROKER_URL"] = settings.broker_url.get_secret_value()
    env["HUB_LOG_FORMAT"] = "json"
    return env


@contextlib.contextmanager
def services(hub: Hub, separate: bool) -> Iterator[None]:
    """Worker, relay and SMEV client: threads here, or one child process each."""
    if not separate:
        from hub.runtime import Service, run_services  # noqa: PLC0415

        stop = threading.Event()
        runner = _thread(
            lambda: run_services([Service(n, getattr(hub, n).run) for n in _SERVICES], stop)
        )
        yield
        stop.set()
        runner.join(60)
        return
    env = {**os.environ, **_env(hub.settings)}
    processes = [
        subprocess.Popen([sys.executable, "-m", "hub", role.replace("_", "-")], env=env)
        for role in _SERVICES
    ]
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)


def _thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, name="hub-services", daemon=True)
    thread.start()
    return thread


# --- the two phases ----------------------------------------------------------------------


@dataclass
class Phase:
    checks: Sequence[Check]
    sent: dict[str, float]  # request_id → time.monotonic() when published

    def arrivals(self, registry: ReferenceRegistry) -> dict[str, tuple[str, float]]:
        """request_id → (event type, arrival) for this phase's commands that were answered."""
        wanted = self.sent.keys()
        return {
            str(e.data["request_id"]): (e.type, e.arrived)
            for e in registry.received()
            if e.data.get("request_id") in wanted
        }


def _publish(
    registry: ReferenceRegistry,
    hub: Hub,
    checks: Sequence[Check],
    sent: dict[str, float],
    batch: int = 200,
) -> None:
    for start in range(0, len(checks), batch):
        chunk = checks[start : start + batch]
        now = time.monotonic()
        sent.update((str(c.command["request_id"]), now) for c in chunk)
        registry.send(hub.bus, [c.command for c in chunk])


def _wait(registry: ReferenceRegistry, phase: Phase, timeout: float) -> None:
    registry.wait_for(lambda r: len(phase.arrivals(r)) >= len(phase.checks), timeout, 0.1)


def backlog(registry: ReferenceRegistry, hub: Hub, checks: Sequence[Check]) -> Phase:
    """Every command published at once; waits until all are answered (or time runs out)."""
    phase = Phase(checks, {})
    _publish(registry, hub, checks, phase.sent)
    _wait(registry, phase, timeout=len(checks) / 20 + 60)
    return phase


def paced(registry: ReferenceRegistry, hub: Hub, checks: Sequence[Check], rate: float) -> Phase:
    """Commands published at ``rate`` per second, in groups of 10."""
    phase, step = Phase(checks, {}), 10
    start = time.monotonic()
    for first in range(0, len(checks), step):
        time.sleep(max(0.0, start + first / rate - time.monotonic()))
        _publish(registry, hub, checks[first : first + step], phase.sent)
    _wait(registry, phase, timeout=60)
    return phase


def sustained_rate(arrivals: Mapping[str, tuple[str, float]]) -> float:
    """Round trips per second from the first event to the last (start-up is not throughput)."""
    times = sorted(t for _, t in arrivals.values())
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def latencies_ms(phase: Phase, arrivals: Mapping[str, tuple[str, float]]) -> list[float]:
    return sorted((t - phase.sent[rid]) * 1000 for rid, (_, t) in arrivals.items())


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, max(0, math.ceil(len(values) * share) - 1))]


def _expected(checks: Sequence[Check], arrivals: Mapping[str, tuple[str, float]]) -> int:
    return sum(
        1 for c in checks if arrivals.get(str(c.command["request_id"]), ("",))[0] == c.event_type
    )


# --- one configuration -------------------------------------------------------------------


def measure(
    name: str, database_url: str, broker_url: str, options: Options, console: Console
) -> Result:
    """Both phases on one stack; the topology is deleted afterwards."""
    from hub.logging import configure_logging  # noqa: PLC0415

    configure_logging(level="WARNING")  # the services log per message at DEBUG: not measured
    population = _population(options)
    checks = population.checks()
    with tempfile.TemporaryDirectory() as folder:
        keys = make_keys(Path(folder))
        reference_dir = Settings().reference_dir.resolve()
        with simulator(
            options.simulator, keys, len(population.students), reference_dir, options.verify
        ) as endpoint:
            settings = hub_settings(database_url, broker_url, endpoint, keys, options)
            return _measure_hub(name, bootstrap(settings), checks, options, console)


def _measure_hub(
    name: str, hub: Hub, checks: Sequence[Check], options: Options, console: Console
) -> Result:
    hub.bus.declare()
    broker = hub.settings.broker_url.get_secret_value()
    registry = ReferenceRegistry(broker, hub.topology, tls=hub.broker_tls)  # {p}.registry
    try:
        with registry, services(hub, options.separate and not broker.startswith("memory")):
            return _phases(name, hub, registry, checks, options, console)
    finally:
        registry.stop(delete_queue=True)
        delete_topology(broker, hub.topology, tls=hub.broker_tls)
        hub.close()


def _phases(  # noqa: PLR0917 - the parts of one measurement
    name: str,
    hub: Hub,
    registry: ReferenceRegistry,
    checks: Sequence[Check],
    options: Options,
    console: Console,
) -> Result:
    console.print(f"{name}: {options.count:,} round trips as a backlog…")
    first = backlog(registry, hub, checks[: options.count])
    arrived = first.arrivals(registry)
    rate = sustained_rate(arrived)
    pace = max(rate / 2, 1.0)
    rest = checks[options.count : options.count + int(pace * options.latency_seconds)]
    console.print(f"{name}: {len(rest):,} round trips at {pace:,.0f}/s for latency…")
    second = paced(registry, hub, rest, pace)
    timed = second.arrivals(registry)
    values = latencies_ms(second, timed)
    return Result(
        name,
        _services_label(hub, options),
        options.simulator,
        options.verify,
        len(first.checks),
        len(arrived),
        _expected(first.checks, arrived),
        rate,
        percentile(values, 0.5),
        percentile(values, 0.99),
        pace,
        len(rest),
        len(timed),
    )


def _services_label(hub: Hub, options: Options) -> str:
    if options.separate and not hub.settings.broker_url.get_secret_value().startswith("memory"):
        return "3 processes"
    return "threads of one process"


# --- the suite ---------------------------------------------------------------------------


@contextlib.contextmanager
def _production_database(admin_url: str) -> Iterator[str]:
    from hub.bench.backbone import bench_database  # noqa: PLC0415

    with bench_database(admin_url) as url:
        yield url


def run_production(console: Console, pg_admin_url: str, amqp_url: str, options: Options) -> Result:
    with _production_database(pg_admin_url) as database:
        return measure("PostgreSQL + RabbitMQ", database, amqp_url, options, console)


def run_embedded(console: Console, options: Options) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/hub.db"
        return measure("SQLite + memory://", database, "memory://", options, console)


def run(  # noqa: PLR0917 - command-line options
    console: Console,
    pg_admin_url: str,
    amqp_url: str,
    count: int = 3000,
    embedded_count: int = 1000,
    simulators: Sequence[SimulatorMode] = ("process",),
    verify: Sequence[bool] = (True,),
    *,
    separate: bool = True,
    as_json: bool = False,
) -> list[Result]:
    """Production parts and the embedded default, per simulator placement and verification."""
    results: list[Result] = []
    for mode in simulators:
        for check in verify:
            options = Options(count, mode, check, separate)
            results.append(run_production(console, pg_admin_url, amqp_url, options))
            embedded = Options(embedded_count, mode, check, separate=False)
            results.append(run_embedded(console, embedded))
    if as_json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False))
    else:
        console.print(table(results))
        console.print(floor_line())
    return results


def floor_line() -> str:
    """What the round trip's ten signature operations alone allow on this machine."""
    from hub.bench.floor import measure_floor  # noqa: PLC0415
    from hub.crypto import select_backend  # noqa: PLC0415

    cores = len(os.sched_getaffinity(0))
    backend = select_backend("auto")
    # The pure-Python fallback takes a fifth of a second per check: a few rounds tell enough.
    floor = measure_floor(backend, cores, rounds=200 if backend.name == "openssl" else 2)
    return (
        f"Signatures alone (the hub signs 3 calls, the agency 1, SMEV 1; SMEV checks the "
        f"hub's 3, the hub both on SMEV's answer): {floor.sign_ms:.2f} ms signing + "
        f"{floor.verify_ms:.2f} ms checking = {floor.total_ms:.2f} ms of CPU per round trip: "
        f"at most {floor.ceiling:,.0f} round "
        f"trips/s on {cores} cores if nothing else ran."
    )


def table(results: Sequence[Result]) -> Table:
    out = Table(title="hub bench: round trips (command → SMEV request → answer → event)")
    for column in (
        "stack",
        "hub services",
        "simulator",
        "answered",
        "round trips/s",
        "p50 ms",
        "p99 ms",
        "at /s",
    ):
        out.add_column(column, justify="left" if column in ("stack", "hub services") else "right")
    for r in results:
        verified = "verifies" if r.simulator_verifies else "no checks"
        out.add_row(
            r.stack,
            r.services,
            f"{r.simulator} ({verified})",
            f"{r.as_expected:,}/{r.commands:,}",
            f"{r.throughput:,.0f}",
            _ms(r.p50_ms),
            _ms(r.p99_ms),
            f"{r.latency_rate:,.0f}",
        )
    return out


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


if __name__ == "__main__":  # the simulator's child process
    simulator_main(sys.argv[1:])
