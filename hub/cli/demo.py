"""``hub demo``: the main job end to end on the embedded default, against the built-in
simulator, with every message accounted for at the end."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli._common import (
    fail,
    make_settings,
)
from hub.cli.terminal import console as plain_console
from hub.cli.terminal import styled


def demo(
    students: Annotated[int, typer.Option(min=1, help="students checked with ZAGS and PFR")] = 200,
    applications: Annotated[int, typer.Option(min=1, help="Gosuslugi applications")] = 50,
    seed: Annotated[int, typer.Option(help="seed of the population and the faults")] = 2026,
) -> None:
    """The main job end to end on the embedded default: the SMEV simulator with ZAGS, PFR
    and Gosuslugi, the hub on SQLite and the in-process broker, a reference registry."""
    from hub.crypto import select_backend  # noqa: PLC0415
    from hub.demo import DemoError, Scenario, run_demo  # noqa: PLC0415
    from hub.logging import configure_logging  # noqa: PLC0415
    from hub.reference import OfficialSchemas  # noqa: PLC0415

    settings = make_settings()
    configure_logging(level="ERROR", json=False)
    console = plain_console()
    checks_off = OfficialSchemas.of(settings).checks_off()
    if checks_off:  # a bare clone: the official schemas are not the project's to ship
        console.print(checks_off, style="yellow", highlight=False, soft_wrap=True)
    backend = select_backend(settings.crypto_backend)
    scenario = Scenario(students=students, applications=applications, seed=seed)
    if backend.name != "openssl":
        why = (
            "HUB_CRYPTO_BACKEND=pure"
            if settings.crypto_backend == "pure"
            else "OpenSSL's GOST engine is missing: apt-get install libengine-gost-openssl"
        )
        console.print(
            f"pure-Python GOST ({why}): the scenario is scaled to a fifth", style="yellow"
        )
        scenario = scenario.scaled(0.2)
    try:
        stats, table = run_demo(
            scenario,
            backend,
            settings.reference_dir,
            console,
            settings.smev_xsd_dir,
            schemas_dir=settings.schemas_dir,
        )
    except DemoError as exc:
        fail(str(exc), 1)
    console.print(table)
    console.print(styled("every message accounted for", "green"), f"({stats.elapsed:.1f} s)")
    console.print("personal data sealed at rest (AES-256-GCM, a data key made for this run)")
