"""A whole simulated SMEV world for the hub: the exchange, the hub registered by its
certificate, and the three agency emulators answering from one population. ``hub demo``,
``hub bench --suite e2e``, ``hub simulator serve --population N`` and the end-to-end tests
build it here, the same way."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from hub.crypto import GostBackend
from hub.crypto.keys import Certificate
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.simulator.agencies import Agencies, install
from hub.simulator.checks import envelope_schemas
from hub.simulator.config import ExchangeConfig
from hub.simulator.exchange import Exchange
from hub.simulator.population import Population

HUB_MNEMONIC = "HUB"  # the hub's system in the simulated exchange


@dataclass(frozen=True)
class World:
    """The exchange, its agencies and the population they answer from."""

    exchange: Exchange
    agencies: Agencies
    population: Population


def build_world(
    backend: GostBackend,
    hub_certificate: Certificate | None,
    population: Population,
    reference_dir: Path,
    config: ExchangeConfig,
    *,
    applications: int = 0,
    rate: float = 10.0,
    schemas_dir: Path = PROJECT_SCHEMAS_DIR,
) -> World:
    """A simulated SMEV where the system signing with ``hub_certificate`` is the hub: ZAGS
    notifications and Gosuslugi applications go to it. ``config.xsd_dir`` defaults to the
    official schemas under ``reference_dir``; without them the envelope check is off. The
    hub's messages are checked against its own schemas in ``schemas_dir``."""
    xsd_dir = config.xsd_dir or reference_dir / "smev" / "xsd"
    config = replace(config, xsd_dir=envelope_schemas(xsd_dir))
    exchange = Exchange.create(backend, config)
    exchange.register_system(HUB_MNEMONIC, "Региональный хаб «Контингент»", hub_certificate)
    agencies = install(
        exchange,
        population,
        subscriber=HUB_MNEMONIC,
        reference_dir=reference_dir,
        schemas_dir=schemas_dir,
        applications_count=applications,
        rate=rate,
    )
    return World(exchange, agencies, population)


def feed_applications(
    agencies: Agencies, exchange: Exchange, stop: threading.Event, tick: float = 0.02
) -> None:
    """Let Gosuslugi send its applications at its rate until all are sent or ``stop``."""
    gosuslugi = agencies.gosuslugi
    while not gosuslugi.done and not stop.is_set():
        gosuslugi.step(exchange, time.monotonic())
        stop.wait(tick)
