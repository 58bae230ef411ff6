"""The hub's SMEV client against the simulator over HTTP, on both stacks.

Registry commands go in, signed requests go to the simulated SMEV, the agency emulators
answer from a synthetic population, the client takes the answers (and the agencies' own
requests) back, and the reference registry receives exactly the events the population
expects: with SMEV failing, dropping connections and delivering twice along the way; once
more through the ``genuine-quirks`` profile (what real SMEV delivers: see
``hub.simulator.Quirks``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import pytest

from contract_tests.conftest import stack_urls
from hub.bootstrap import Hub, bootstrap
from hub.canonical.events import APPLICATION_CANCELLED, APPLICATION_RECEIVED
from hub.config import Settings
from hub.crypto.xmldsig import LocalKeySigner
from hub.journal.records import OutboundState
from hub.simulator import ExchangeConfig, FaultInjection, MtomIds
from hub.simulator.population import Population, zags_notices
from hub.simulator.registry import ReferenceRegistry
from hub.simulator.server import SimulatorServer
from hub.simulator.world import World, build_world
from tests.support.bus import delete_topology
from tests.support.notices import running

pytestmark = [pytest.mark.contract, pytest.mark.integration]

GENUINE = "genuine-quirks"
FAULTS = FaultInjection(failure_rate=0.05, drop_rate=0.03, duplicate_rate=0.05, seed=7)


@dataclass
class Stage:
    hub: Hub
    world: World
    server: SimulatorServer
    registry: ReferenceRegistry


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(5, 12, discrepancy_share=0.4, reference_date=date(2026, 3, 1))


# The shapes SMEV replies in, end to end: every version the hub can speak, MTOM as real
# SMEV's CXF sends it (Content-ID headers decoded and percent-encoded), and every genuine
# quirk of real SMEV at once. Not every pairing: each version once plainly, each MTOM id
# style once, the genuine quirks on 1.3 and 1.2, keeping the suite's time.
SHAPES = [
    ("1.3", "mtom-off"),
    ("1.3", "mtom-cxf"),
    ("1.3", "mtom-cxf-encoded"),
    ("1.1", "mtom-off"),
    ("1.2", "mtom-off"),
    ("1.2", "mtom-cxf-encoded"),
    ("1.3", GENUINE),
    ("1.2", GENUINE),
]


@pytest.fixture(params=SHAPES, ids=lambda shape: f"{shape[0]}-{shape[1]}")
def shape(request: pytest.FixtureRequest) -> tuple[str, str]:
    version, profile = request.param
    return str(version), str(profile)


@pytest.fixture
def smev_version(shape: tuple[str, str]) -> str:
    return shape[0]


@pytest.fixture
def profile(shape: tuple[str, str]) -> Callable[..., ExchangeConfig]:
    """Plain SOAP replies, or MTOM as real SMEV's CXF sends them, with Content-ID headers
    decoded and percent-encoded; or every genuine quirk of real SMEV at once."""
    if shape[1] == GENUINE:
        return ExchangeConfig.genuine_quirks
    return partial(ExchangeConfig, mtom=MtomIds(shape[1].removeprefix("mtom-")))


@pytest.fixture(params=["embedded", "production"])
def stage(  # noqa: PLR0917 - pytest fixtures
    request: pytest.FixtureRequest,
    profile: Callable[..., ExchangeConfig],
    smev_version: str,
    tmp_path: Path,
    topology_prefix: str,
    fast_backend: object,
    dev_key_pair: tuple[object, object],
    population: Population,
    reference_dir: Path,
) -> Iterator[Stage]:
    key, certificate = dev_key_pair
    faults = getattr(request, "param_faults", FAULTS)
    config = profile(visibility_timeout=2.0, faults=faults)
    world = build_world(
        fast_backend,
        certificate,
        population,
        reference_dir,
        config,  # type: ignore[arg-type]
        applications=4,
        rate=50.0,
    )
    with SimulatorServer(world.exchange) as server:
        signer = LocalKeySigner(fast_backend, key, certificate)  # type: ignore[arg-type]
        hub = _hub(request, tmp_path, topology_prefix, server, reference_dir, smev_version, signer)
        hub.bus.declare()
        registry = ReferenceRegistry(hub.settings.broker_url.get_secret_value(), hub.topology)
        with registry:
            yield Stage(hub, world, server, registry)
        registry.stop(delete_queue=True)
        delete_topology(hub.settings.broker_url.get_secret_value(), hub.topology)
        hub.close()


def _hub(  # noqa: PLR0917 - the stage's parts
    request: pytest.FixtureRequest,
    tmp_path: Path,
    prefix: str,
    server: SimulatorServer,
    reference_dir: Path,
    version: str,
    signer: LocalKeySigner,
) -> Hub:
    database, broker = stack_urls(request, tmp_path)
    settings = Settings(
        database_url=database,
        broker_url=broker,
        topology_prefix=prefix,
        reference_dir=reference_dir,
        retry_delays=(1, 1, 2),
        smev_version=version,
        smev_endpoint=server.endpoint(version),
        smev_poll_interval=0.05,
        smev_resend_after=1.0,
        smev_timeout=5.0,
        smev_batch=20,
    )
    return bootstrap(settings, key_signer=signer)


def test_every_check_ends_as_the_population_expects(stage: Stage, population: Population) -> None:
    hub, registry = stage.hub, stage.registry
    checks = population.checks()
    expected = {c.command["request_id"]: c.event_type for c in checks}
    # Two SMEV clients poll and send at once, as two hub processes would.
    second = bootstrap(hub.settings, key_signer=hub.key_signer)
    with running(hub.worker, hub.relay, hub.smev_client, second.smev_client):
        registry.send(hub.bus, [c.command for c in checks])
        arrived = registry.wait_for(lambda r: _answered(r, expected) == len(expected), 60)
    second.close()
    assert arrived, f"{_answered(registry, expected)} of {len(expected)} checks answered"
    got = {e.data["request_id"]: e.type for e in registry.received() if e.data.get("request_id")}
    assert got == expected
    states = {hub.journal.outbound(rid).state for rid in expected}  # type: ignore[union-attr]
    assert states == {OutboundState.ANSWERED}
    assert registry.deliveries == len(registry.events)  # no event published twice
    assert hub.smev_client.stats["taken"] and second.smev_client.stats["taken"]


def _answered(registry: ReferenceRegistry, expected: dict[str, str]) -> int:
    ids = {e.data.get("request_id") for e in registry.received()}
    return len(ids & expected.keys())


def test_agencies_requests_reach_the_registry_and_are_answered(
    stage: Stage, population: Population
) -> None:
    hub, registry, agencies = stage.hub, stage.registry, stage.world.agencies
    notices = zags_notices(population, name_changes=2, deaths=1, paternities=0)
    expected_types = [t for n in notices for t in n.event_types]
    with running(hub.worker, hub.relay, hub.smev_client):
        agencies.zags.push_notices(stage.world.exchange, notices)
        agencies.gosuslugi.step(stage.world.exchange, 0.0)
        agencies.gosuslugi.step(stage.world.exchange, 3600.0)
        total = len(expected_types) + len(agencies.gosuslugi.applications)
        assert registry.wait_for(lambda r: len(r.events) >= total, 60), registry.count_by_type()
        # Each agency request got its answer through SendResponse.
        assert registry.wait_for(
            lambda _: (
                len(agencies.zags.answers) == len(notices)
                and len(agencies.gosuslugi.accepted) == len(agencies.gosuslugi.applications)
            ),
            30,
        )
    types = registry.count_by_type()
    assert types[APPLICATION_RECEIVED] == len(agencies.gosuslugi.applications)
    for event_type in set(expected_types):
        assert types[event_type] == expected_types.count(event_type)
    assert not hub.journal.failed()


def test_test_requests_are_answered_and_reach_no_registry(
    stage: Stage, population: Population
) -> None:
    hub, registry, agencies = stage.hub, stage.registry, stage.world.agencies
    exchange = stage.world.exchange
    tests = zags_notices(population, name_changes=1, deaths=1, paternities=0)
    real = zags_notices(population, name_changes=0, deaths=1, paternities=0)
    with running(hub.worker, hub.relay, hub.smev_client):
        agencies.zags.push_notices(exchange, tests, test=True)
        agencies.gosuslugi.push_test(exchange)
        # Each test request gets its answer (SendResponse), as the protocol asks...
        assert registry.wait_for(
            lambda _: (
                len(agencies.zags.answers) == len(tests) and len(agencies.gosuslugi.accepted) == 1
            ),
            30,
        ), (agencies.zags.answers, agencies.gosuslugi.accepted)
        # ...and nothing of theirs is published: the real notice sent after them is all
        # the registry gets (the answers were written with any event they would have had).
        agencies.zags.push_notices(exchange, real)
        assert registry.wait_for(lambda r: len(r.events) >= 1, 30)
    assert registry.count_by_type() == {t: 1 for n in real for t in n.event_types}
    assert not hub.journal.failed()


def test_smevs_cancel_of_an_application_becomes_its_cancellation(
    stage: Stage, smev_version: str
) -> None:
    if smev_version == "1.3":
        pytest.skip("message-exchange 1.3 has no Cancel")
    hub, registry, gosuslugi = stage.hub, stage.registry, stage.world.agencies.gosuslugi
    with running(hub.worker, hub.relay, hub.smev_client):
        gosuslugi.step(stage.world.exchange, 0.0)  # the first application
        assert registry.wait_for(lambda r: r.count_by_type()[APPLICATION_RECEIVED] == 1, 30)
        gosuslugi.cancel(stage.world.exchange, 0)
        assert registry.wait_for(lambda r: r.count_by_type()[APPLICATION_CANCELLED] == 1, 30)
    [received] = [e for e in registry.received() if e.type == APPLICATION_RECEIVED]
    [cancelled] = [e for e in registry.received() if e.type == APPLICATION_CANCELLED]
    assert cancelled.data["order_number"] == received.data["order_number"]
    assert cancelled.event["subject"] == received.event["subject"]
    assert not hub.journal.failed()
