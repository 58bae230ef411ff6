"""``hub simulator``: serve the SMEV 3 simulator (its profile, MTOM, faults, state folder)
and print its certificate, for a hub to trust."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli._common import (
    fail,
    guarded,
    make_hub,
    make_settings,
    read_input,
    xml_limit,
)
from hub.config import Settings
from hub.errors import HubError

simulator_app = typer.Typer(no_args_is_help=True, help="The SMEV 3 simulator.")


@simulator_app.command("serve")
def simulator_serve(  # noqa: PLR0917 - each parameter is a command-line option
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0: any free port")] = 0,
    system: Annotated[
        list[str] | None, typer.Option(help="MNEMONIC=CERT_FILE: a caller and its certificate")
    ] = None,
    route: Annotated[
        list[str] | None, typer.Option(help="NAMESPACE=MNEMONIC: who gets these requests")
    ] = None,
    schema: Annotated[
        list[str] | None, typer.Option(help="NAMESPACE=XSD_FILE: business data must validate")
    ] = None,
    open_registration: Annotated[
        bool, typer.Option("--open/--closed", help="take callers with unknown certificates")
    ] = False,
    visibility_timeout: Annotated[float, typer.Option(min=0.0, help="seconds to Ack")] = 60.0,
    failure_rate: Annotated[float, typer.Option(help="share answered SMEVFailure")] = 0.0,
    drop_rate: Annotated[float, typer.Option(help="share of connections dropped")] = 0.0,
    duplicate_rate: Annotated[float, typer.Option(help="share delivered twice")] = 0.0,
    latency: Annotated[float, typer.Option(min=0.0, help="seconds added to answers")] = 0.0,
    seed: Annotated[int, typer.Option(help="seed of the injected faults and population")] = 0,
    population: Annotated[
        int, typer.Option(min=0, help="students behind emulated ZAGS, PFR, Gosuslugi (0: none)")
    ] = 0,
    applications: Annotated[int, typer.Option(min=0, help="Gosuslugi applications to send")] = 0,
    rate: Annotated[float, typer.Option(min=0.01, help="applications per second")] = 1.0,
    mtom: Annotated[
        str | None,
        typer.Option(help="replies in Apache CXF's MTOM: off (default), cxf, cxf-encoded (ids)"),
    ] = None,
    plain_fault_rate: Annotated[
        float, typer.Option(help="share answered with a plain soap:Server fault, no detail")
    ] = 0.0,
    profile: Annotated[
        str,
        typer.Option(
            help="plain, or genuine-quirks: what real SMEV delivers (sender signatures, "
            "SMEV's codes, 1.3 statuses, DeliveryTimestamp, head until acked, plain faults, MTOM)"
        ),
    ] = "plain",
    state: Annotated[
        Path | None,
        typer.Option(help="folder keeping SMEV's key and certificate across restarts"),
    ] = None,
) -> None:
    """Serve SMEV 3 message exchange 1.1, 1.2 and 1.3 over SOAP/HTTP until Ctrl-C, signing
    with the SMEV key kept in --state (none: a fresh key each start). With
    ``--population``, ZAGS, PFR and Gosuslugi answer from a synthetic population and send
    their own messages to system HUB (give the hub's certificate as --system HUB=FILE)."""
    from hub.crypto.keys import load_certificate  # noqa: PLC0415
    from hub.runtime import stop_event  # noqa: PLC0415
    from hub.simulator import FaultInjection  # noqa: PLC0415
    from hub.simulator.checks import envelope_schemas  # noqa: PLC0415
    from hub.simulator.server import build_exchange, serve  # noqa: PLC0415

    stop = stop_event()  # first: a stop during start-up is a clean stop too
    hub = make_hub()
    try:
        faults = FaultInjection(
            failure_rate,
            drop_rate,
            duplicate_rate,
            latency,
            0.0,
            seed,
            plain_fault_rate=plain_fault_rate,
        )
        config = _simulator_config(
            profile,
            mtom,
            visibility_timeout=visibility_timeout,
            xsd_dir=envelope_schemas(hub.settings.effective_smev_xsd_dir),
            open_registration=open_registration,
            faults=faults,
        )
        certificates = _pairs(system, "--system")
        systems = {
            m: load_certificate(read_input(Path(f), xml_limit(hub))) for m, f in certificates
        }
    except (ValueError, HubError) as exc:
        fail(str(exc))
    schemas = {ns: Path(f) for ns, f in _pairs(schema, "--schema", last=True)}
    routes = dict(_pairs(route, "--route", last=True))
    exchange = guarded(
        lambda: build_exchange(hub.crypto, config, systems, routes, schemas, state=state)
    )
    if population:
        _emulate(exchange, hub.settings, population, applications, rate, seed, stop)
    guarded(lambda: serve(exchange, host, port, _announce, stop))


def _simulator_config(profile: str, mtom: str | None, **settings: Any) -> Any:
    """The simulator's ExchangeConfig for ``--profile`` (ValueError for an unknown one);
    ``--mtom``, when given, overrides the profile's."""
    from hub.simulator import PROFILES, ExchangeConfig, MtomIds  # noqa: PLC0415

    if profile not in PROFILES:
        raise ValueError(f"--profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if mtom is not None:
        settings["mtom"] = MtomIds(mtom)
    make = ExchangeConfig.genuine_quirks if profile == "genuine-quirks" else ExchangeConfig
    return make(**settings)


@simulator_app.command("certificate")
def simulator_certificate(
    state: Annotated[
        Path, typer.Option(help="the folder `hub simulator serve --state` keeps its key in")
    ],
) -> None:
    """Print the simulator's SMEV certificate (PEM) to pin in HUB_TRUSTED_CERTIFICATES; the
    key and certificate are made in --state first when it holds none."""
    from hub.crypto import select_backend  # noqa: PLC0415
    from hub.simulator.state import smev_identity  # noqa: PLC0415

    settings = make_settings()
    backend = guarded(lambda: select_backend(settings.crypto_backend))
    _key, certificate = guarded(lambda: smev_identity(backend, state))
    sys.stdout.write(certificate.to_pem().decode("ascii"))


def _emulate(  # noqa: PLR0917 - the serve command's options, passed on
    exchange: Any,
    settings: Settings,
    size: int,
    applications: int,
    rate: float,
    seed: int,
    stop: threading.Event,
) -> None:
    from datetime import date  # noqa: PLC0415

    from hub.simulator.agencies import install  # noqa: PLC0415
    from hub.simulator.population import Population  # noqa: PLC0415
    from hub.simulator.world import HUB_MNEMONIC, feed_applications  # noqa: PLC0415

    people = Population.generate(seed, size, reference_date=date.today())
    exchange.register_system(HUB_MNEMONIC)
    agencies = guarded(
        lambda: install(
            exchange,
            people,
            subscriber=HUB_MNEMONIC,
            reference_dir=settings.reference_dir,
            schemas_dir=settings.schemas_dir,
            applications_count=applications,
            rate=rate,
        )
    )
    if applications:
        feeder = threading.Thread(target=feed_applications, args=(agencies, exchange, stop))
        feeder.daemon = True
        feeder.start()


def _pairs(values: list[str] | None, option: str, *, last: bool = False) -> list[tuple[str, str]]:
    """``KEY=VALUE`` options; ``last`` splits at the last ``=`` (namespaces may hold one)."""
    pairs = []
    for value in values or ():
        key, _, rest = value.rpartition("=") if last else value.partition("=")
        if not key or not rest:
            fail(f"{option} {value!r}: expected KEY=VALUE")
        pairs.append((key, rest))
    return pairs


def _announce(url: str) -> None:
    print(f"SMEV 3 simulator on {url}", flush=True)
    for version in ("1.1", "1.2", "1.3"):
        print(f"  {version}: {url}/smev/{version}", flush=True)
