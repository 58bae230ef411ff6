"""The long-running commands: ``hub worker``, ``hub relay``, ``hub smev-client``,
``hub console`` and ``hub run`` (all of them, supervised). Each checks the files it needs
first and exits non-zero when a service thread crashes, so a supervisor starts it afresh."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

import typer

from hub.bootstrap import Hub
from hub.cli._common import (
    fail,
    guarded,
    make_hub,
    make_settings,
)


def _declare_when_up(hub: Hub, stop: threading.Event) -> None:
    # A service started before its broker waits for it instead of crash-looping.
    from hub.runtime import retry_until_done  # noqa: PLC0415

    retry_until_done(hub.bus.declare, stop, "declare topology")


def _serve(*names: str) -> None:
    """Run the named services (``worker``, ``relay``) until SIGTERM, then release connections."""
    from hub.runtime import STOP_TIMEOUT, Service, run_services, stop_event  # noqa: PLC0415

    stop = stop_event()  # first: a stop during start-up is a clean stop too
    hub = make_hub()
    _preflight(hub, names)
    guarded(lambda: _declare_when_up(hub, stop))
    services = [Service(name, getattr(hub, name).run) for name in names]
    try:
        _exit_if_crashed(lambda: run_services(services, stop, crash_grace=2 * STOP_TIMEOUT))
    finally:
        hub.close()


def _preflight(hub: Hub, services: tuple[str, ...]) -> None:
    # Every file the services need, read now: a missing one is one line and exit 2 at once.
    from hub.preflight import preflight  # noqa: PLC0415

    guarded(lambda: preflight(hub, services))


def _exit_if_crashed(serve: Callable[[], None]) -> None:
    # A service whose thread crashed exits non-zero: the supervisor (or the container's
    # restart policy) starts it afresh. The crash is logged with its traceback already.
    from hub.runtime import CRASHED, ServiceCrashedError  # noqa: PLC0415

    try:
        serve()
    except ServiceCrashedError as exc:
        fail(str(exc), CRASHED)


def worker() -> None:
    """Consume, store, process and settle inbound messages and commands until SIGTERM."""
    _serve("worker")


def relay() -> None:
    """Publish the outbox to the events exchange with confirms until SIGTERM."""
    _serve("relay")


def console_command(
    host: Annotated[
        str | None, typer.Option(help="address to listen on (default HUB_CONSOLE_HOST)")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="port to listen on (default HUB_CONSOLE_PORT)"),
    ] = None,
) -> None:
    """The operator console and the HTTP endpoints (POST /inbound/AGENCY, GET /metrics);
    HTTPS with HUB_TLS_CERT/HUB_TLS_KEY, client certificates with HUB_TLS_CLIENT_CA."""
    from hub.console.serve import serve_console  # noqa: PLC0415 - loads Starlette and Jinja2

    hub = make_hub()  # logging configured as for every service
    _preflight(hub, ("console",))
    given = {"console_host": host, "console_port": port}
    settings = hub.settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    guarded(lambda: _exit_if_crashed(lambda: serve_console(settings)))


def smev_client() -> None:
    """Poll SMEV (GetRequest, GetResponse, GetStatus) and send the hub's requests and answers
    to HUB_SMEV_ENDPOINT until SIGTERM."""
    _serve("smev_client")


def run_all(
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    stop_timeout: Annotated[
        float, typer.Option(min=0.0, help="seconds the processes get to stop, then SIGKILL")
    ] = 30.0,
) -> None:
    """Worker(s), relay and (with HUB_SMEV_ENDPOINT) the SMEV client until SIGTERM: separate
    processes, restarted when they die; with the in-memory broker, which processes cannot
    share, threads in one process."""
    settings = make_settings()
    with_smev = ("smev_client",) if settings.smev_endpoint else ()
    if settings.broker_url.get_secret_value().startswith("memory:"):
        if workers > 1:
            fail("--workers above 1 needs a shared broker (memory:// lives in one process)")
        _serve("worker", "relay", *with_smev)
        return
    from hub.runtime import stop_event  # noqa: PLC0415
    from hub.services.supervisor import Supervisor, hub_children, metrics_folder  # noqa: PLC0415

    stop = stop_event()  # first: a stop during start-up is a clean stop too
    hub = make_hub()
    _preflight(hub, ("worker", "relay", *with_smev))  # before any child starts
    guarded(lambda: _declare_when_up(hub, stop))
    hub.close()
    children = hub_children(workers, smev_client=bool(with_smev))
    with metrics_folder(settings.metrics_dir) as env:  # one /metrics for all the processes
        Supervisor(children, stop_timeout=stop_timeout, env=env).run(stop)
