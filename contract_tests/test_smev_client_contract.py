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
from hub.canonical.events import APPLICATION_RECEIVED
from hub.config import Settings
from hub.crypto.xmldsig import LocalKeySigner
from hub.journal.api import OutboundState
from hub.registry import ReferenceRegistry
from hub.simulator import ExchangeConfig, FaultInjection, MtomIds
from hub.simulator.population import Population, zags_notices
from hub.simulator.server import SimulatorServer
from hub.simulator.world import World, build_world
from tests.support import running
from tests.support_bus import delete_topology

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


@pytest.fixture(params=[*(f"mtom-{m}" for m in MtomIds), GENUINE])
def profile(request: pytest.FixtureRequest) -> Callable[..., ExchangeConfig]:
    """Plain SOAP replies, or MTOM as real SMEV's CXF sends them, with Content-ID headers
    decoded and percent-encoded; or every genuine quirk of real SMEV at once."""
    if request.param == GENUINE:
        return ExchangeConfig.genuine_quirks
    return partial(ExchangeConfig, mtom=MtomIds(request.param.removeprefix("mtom-")))


@pytest.fixture(params=["embedded", "production"])
def stage(  # noqa: PLR0917 - pytest fixtures
    request: pytest.FixtureRequest,
    profile: Callable[..., ExchangeConfig],
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
    world = build_world(fast_backend, certificate, population, reference_dir, config,  # type: ignore[arg-type]
                        applications=4, rate=50.0)  # fmt: skip
    with SimulatorServer(world.exchange) as server:
        hub = _hub(request, tmp_path, topology_prefix, server, reference_dir)
        hub.overrides["key_signer"] = LocalKeySigner(fast_backend, key, certificate)  # type: ignore[arg-type]
        hub.bus.declare()
        registry = ReferenceRegistry(hub.settings.broker_url.get_secret_value(), hub.topology)
        with registry:
            yield Stage(hub, world, server, registry)
        registry.stop(delete_queue=True)
        delete_topology(hub.settings.broker_url.get_secret_value(), hub.topology)
        hub.close()


def _hub(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    prefix: str,
    server: SimulatorServer,
    reference_dir: Path,
) -> Hub:
    database, broker = stack_urls(request, tmp_path)
    settings = Settings(
        database_url=database,
        broker_url=broker,
        topology_prefix=prefix,
        reference_dir=reference_dir,
        retry_delays=(1, 1, 2),
        smev_endpoint=server.endpoint("1.3"),
        smev_poll_interval=0.05,
        smev_resend_after=1.0,
        smev_timeout=5.0,
        smev_batch=20,
    )
    return bootstrap(settings)


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
