"""The ``hub`` command line."""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

import typer
from lxml import etree
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from hub.access.cli import JsonOption, TokenOption, principal, tokens_app
from hub.bootstrap import Hub, bootstrap
from hub.command_cli import command_app
from hub.config import Settings
from hub.errors import HubError
from hub.files import CERTIFICATE_LIMIT, InputTooLargeError, read_bounded
from hub.helptext import plain_helps
from hub.journal.api import AuditOutcome, AuditQuery
from hub.protection.cli import register as register_protection
from hub.terminal import console as plain_console
from hub.terminal import id_column, json_lines, styled, text_columns
from hub.terminal import stdout as _stdout

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # Typer bundles its own Click

    from hub.journal.api import AuditEntry, FailedGroup, FailedMessage, InboxRecord
    from hub.smev.filestore import FetchedFile, StoreAddress


class _HubCommands(TyperGroup):
    """The ``hub`` group: a hub error escaping any command (a journal sealed under a key
    that is not configured, an unreachable database) ends it with one line and exit code 2,
    never a traceback, whichever command opened the journal first."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            _fail(str(exc))


app = typer.Typer(
    cls=_HubCommands, no_args_is_help=True, help="Interagency integration hub (SMEV 3)."
)
smev_app = typer.Typer(no_args_is_help=True, help="Read, verify and sign SMEV 3 messages.")
keys_app = typer.Typer(no_args_is_help=True, help="GOST keys and certificates.")
db_app = typer.Typer(no_args_is_help=True, help="The journal's database.")
topology_app = typer.Typer(no_args_is_help=True, help="Exchanges and queues on the broker.")
failed_app = typer.Typer(no_args_is_help=True, help="Failed messages: list, show, replay, discard.")
app.add_typer(smev_app, name="smev")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(topology_app, name="topology")
app.add_typer(failed_app, name="failed")
schemas_app = typer.Typer(
    no_args_is_help=True, help="The canonical events' and commands' schemas, and AsyncAPI."
)
app.add_typer(schemas_app, name="schemas")
simulator_app = typer.Typer(no_args_is_help=True, help="The SMEV 3 simulator.")
app.add_typer(tokens_app, name="tokens")
register_protection(keys_app, app)  # hub keys data-key / rotate, hub retention purge
app.add_typer(simulator_app, name="simulator")
attachments_app = typer.Typer(
    no_args_is_help=True, help="Documents attached to SMEV messages in SMEV's file store."
)
app.add_typer(attachments_app, name="attachments")
app.add_typer(command_app, name="command")

T = TypeVar("T")
EXIT_INVALID = 1
EXIT_BAD_INPUT = 2

STDIN = "-"
FileArg = Annotated[
    Path, typer.Argument(help="message file (XML, XML with BOM, or MTOM); - for standard input")
]
ContentType = Annotated[
    str | None, typer.Option("--content-type", help="HTTP Content-Type of the body, for MTOM")
]


def _settings(**values: Any) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"HUB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        _fail(f"invalid settings: {problems}")


def _hub() -> Hub:
    settings = _settings()
    _configure_logging(settings)
    return bootstrap(settings)


def _configure_logging(settings: Settings) -> None:
    from hub.logging import configure_logging  # noqa: PLC0415 - logging is set up per command

    configure_logging(
        level=settings.log_level,
        json=None if settings.log_format == "auto" else settings.log_format == "json",
    )


def _limit(hub: Hub) -> int:
    return hub.settings.xml_max_bytes


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    # One line on stderr: scripts read the exit code, people read this.
    print(f"hub: error: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(code)


def _read(path: Path, limit: int) -> bytes:
    """The bytes of a file the user names (``-``: standard input), refused when over
    ``limit`` (HUB_XML_MAX_BYTES): at most ``limit`` + 1 bytes are read, so /dev/zero or an
    endless pipe is refused as too large instead of filling the memory."""
    source = sys.stdin.buffer if str(path) == STDIN else path
    try:
        return read_bounded(source, limit, "standard input" if str(path) == STDIN else None)
    except InputTooLargeError as exc:
        _fail(f"{exc} (HUB_XML_MAX_BYTES)")
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")


@smev_app.command("inspect")
def smev_inspect(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    content_type: ContentType = None,
) -> None:
    """Say what a SMEV message is: version, operation, kind, ids, fault, signatures."""
    from hub.smev.inspect import inspect_message  # noqa: PLC0415

    hub = _hub()
    try:
        report = inspect_message(_read(file, _limit(hub)), hub, content_type=content_type)
    except HubError as exc:
        _fail(f"{file}: {exc}")
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)


def _print_report(report: dict[str, object]) -> None:
    table = Table(show_header=False, box=None)
    for key, value in report.items():
        if key != "signatures":
            table.add_row(key, json.dumps(value, ensure_ascii=False) if value is not None else "—")
    _stdout.print(table)
    for signature in report.get("signatures") or []:  # type: ignore[attr-defined]
        _stdout.print(f"signature {json.dumps(signature, ensure_ascii=False)}")


@smev_app.command("verify")
def smev_verify(
    file: FileArg,
    content_type: ContentType = None,
    trusted: Annotated[
        list[Path] | None,
        typer.Option(
            "--trusted",
            help="a certificate (PEM or DER) whose signature counts, as HUB_TRUSTED_CERTIFICATES; "
            "repeat for several. With it, the worker's trust policy applies: a valid signature "
            "by one of them must cover the element that vouches for the message.",
        ),
    ] = None,
) -> None:
    """Check every signature; exit 0 only if there is at least one and all are valid (and,
    with --trusted, the message passes the trust policy the worker applies)."""
    from hub.xml import parse_message  # noqa: PLC0415

    hub = _hub()
    try:
        document = parse_message(_read(file, _limit(hub)), content_type, hub.xml_limits)
    except HubError as exc:
        _fail(f"{file}: {exc}")
    reports = hub.verifier.verify_all(document.root)
    for report in reports:
        state = "valid" if report.valid else "INVALID"
        detail = report.error or f"digest {report.digest_valid}, signature {report.signature_valid}"
        _stdout.print(f"{report.reference}: {state} ({detail}); expired={report.expired}")
    if not reports:
        _fail(f"{file}: no ds:Signature found", EXIT_INVALID)
    if not all(r.valid for r in reports):
        raise typer.Exit(EXIT_INVALID)
    if trusted:
        _apply_trust_policy(hub, document, _fingerprints(trusted), file)


def _fingerprints(paths: list[Path]) -> frozenset[str]:
    from hub.crypto.keys import load_certificate  # noqa: PLC0415

    try:
        return frozenset(load_certificate(_read(path, CERTIFICATE_LIMIT)).sha256 for path in paths)
    except HubError as exc:
        _fail(f"--trusted: {exc}")


def _apply_trust_policy(hub: Hub, document: Any, trusted: frozenset[str], file: Path) -> None:
    from hub.smev.read import read_message  # noqa: PLC0415
    from hub.trust import TrustPolicy  # noqa: PLC0415

    try:
        report = TrustPolicy(hub.verifier, trusted).check(read_message(document), datetime.now(UTC))
    except HubError as exc:
        _fail(f"{file}: {type(exc).__name__}: {exc}", EXIT_INVALID)
    _stdout.print(f"trusted: {report.reference} by {report.certificate_sha256}")


@smev_app.command("sign")
def smev_sign(
    file: FileArg,
    key: Annotated[Path, typer.Option("--key", help="PEM PKCS#8 GOST private key")],
    cert: Annotated[Path, typer.Option("--cert", help="X.509 certificate, PEM or DER")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="default: stdout")] = None,
) -> None:
    """Sign the message's signable element and write the signed message."""
    from hub.smev.signing import sign_envelope  # noqa: PLC0415
    from hub.xml import parse_xml  # noqa: PLC0415

    hub = bootstrap(_settings(signing_key=key, signing_cert=cert))
    try:
        envelope = parse_xml(_read(file, _limit(hub)), hub.xml_limits)
        signed = sign_envelope(envelope, hub.signer)
    except HubError as exc:
        _fail(f"{file}: {exc}")
    data = _serialize(signed)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)


def _serialize(envelope: etree._Element) -> bytes:
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


@keys_app.command("generate")
def keys_generate(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="where key.pem and cert.pem go")
    ] = Path("var/keys"),
    common_name: Annotated[str, typer.Option("--cn")] = "hub development signer",
    days: Annotated[int, typer.Option(min=1)] = 365,
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Make a development GOST key and a self-signed certificate (not for production)."""
    from hub.crypto.devcert import generate_private_key, self_signed_certificate  # noqa: PLC0415

    key_path, cert_path = out_dir / "key.pem", out_dir / "cert.pem"
    if not force and (key_path.exists() or cert_path.exists()):
        _fail(f"{key_path} or {cert_path} exists; use --force to replace them")
    hub = _hub()
    key = generate_private_key()
    cert = self_signed_certificate(hub.crypto, key, common_name, days=days)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_private(key_path, key.to_pem())
    cert_path.write_bytes(cert.to_pem())
    _stdout.print(
        f"key: {key_path}\ncertificate: {cert_path} (valid until {cert.not_after:%Y-%m-%d})"
    )


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when --force replaces a file with looser rights
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


@app.command("translate")
def translate(
    file: Annotated[
        Path | None,
        typer.Argument(help="SMEV message or business payload (XML); - for standard input"),
    ] = None,
    command: Annotated[
        Path | None,
        typer.Option(
            "--command", help="registry command (JSON) that the message answers; - for stdin"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one CloudEvent per line")] = False,
    content_type: ContentType = None,
) -> None:
    """Print the events a message becomes (and the requests it would send); exit 2 if it
    cannot be translated. With only ``--command``: what the command sends."""
    from hub.preview import preview, preview_command  # noqa: PLC0415

    hub = _hub()
    order = _command_json(command, _limit(hub)) if command is not None else None
    try:
        if file is None:
            if order is None:
                _fail("give a message FILE, a --command, or both")
            result = preview_command(order, hub.router)
        else:
            raw = _read(file, _limit(hub))
            result = preview(
                raw, hub.router, hub.xml_limits, command=order, content_type=content_type
            )
    except HubError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    _print_preview(result, as_json)


def _command_json(path: Path, limit: int) -> dict[str, Any]:
    try:
        data = json.loads(_read(path, limit))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{path}: not JSON: {exc}")
    if not isinstance(data, dict):
        _fail(f"{path}: a registry command is a JSON object")
    return data


def _print_preview(result: Any, as_json: bool) -> None:
    if as_json:
        for event in result.events:
            print(json.dumps(event, ensure_ascii=False))
        for request in result.requests:
            print(json.dumps(_request_fields(request), ensure_ascii=False))
        return
    for event in result.events:
        _stdout.print(f"{event['type']} {event['subject']}", style="bold")
        _stdout.print_json(json.dumps(event["data"], ensure_ascii=False))
    for request in result.requests:
        _stdout.print(f"request to {request.agency} ({request.kind})", style="bold")
        _stdout.print(request.content.decode())
    if not result.events and not result.requests:
        _stdout.print("no events and no requests")


def _request_fields(request: Any) -> dict[str, object]:
    return {
        "request": request.request_id,
        "agency": request.agency,
        "kind": request.kind,
        "content": request.content.decode(),
        "reply_to": request.reply_to,
    }


@schemas_app.command("export")
def schemas_export(
    folder: Annotated[Path, typer.Option(help="where the files go")] = Path("schemas/canonical"),
    asyncapi: Annotated[
        Path, typer.Option(help="the AsyncAPI document (refers to the schemas in --folder)")
    ] = Path("schemas/asyncapi.yaml"),
    check: Annotated[
        bool, typer.Option("--check", help="only say whether the files are up to date")
    ] = False,
) -> None:
    """Write the JSON Schemas of the canonical events and registry commands (made from
    ``hub.canonical.models``) and the AsyncAPI document of the hub's messaging."""
    from hub.canonical.asyncapi import asyncapi_files  # noqa: PLC0415
    from hub.canonical.jsonschemas import schema_files  # noqa: PLC0415

    files = schema_files(folder) | asyncapi_files(asyncapi, folder)
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text("utf-8") != text]
    if check:
        if stale:
            _fail(f"out of date: {', '.join(map(str, stale))} (run hub schemas export)", 1)
        _stdout.print(f"{len(files)} files up to date")
        return
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
    _stdout.print(f"{len(stale)} of {len(files)} files written")


@app.command("config")
def show_config() -> None:
    """Print the effective settings (secrets masked)."""
    print(json.dumps(_settings().masked(), ensure_ascii=False, indent=2))


@app.command("bench")
def bench(  # noqa: PLR0917 - each parameter is a command-line option
    suite: Annotated[
        Literal["smev", "translate", "backbone", "e2e", "encryption", "all"],
        typer.Option(help="what to measure"),
    ] = "all",
    seconds: Annotated[float, typer.Option(help="time per SMEV measurement")] = 2.0,
    backend: Annotated[
        list[str] | None, typer.Option(help="GOST backends to measure (default: all available)")
    ] = None,
    pg_admin_url: Annotated[
        str, typer.Option(help="PostgreSQL where a throw-away bench database is made")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    amqp_url: Annotated[str, typer.Option(help="RabbitMQ")] = "amqp://guest:guest@127.0.0.1:5672//",
    messages: Annotated[int, typer.Option(help="backlog drained for throughput")] = 20_000,
    memory_messages: Annotated[int, typer.Option(help="messages for the memory check")] = 100_000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (backbone)")] = 1,
    inputs: Annotated[
        int, typer.Option(min=1, help="distinct messages per kind (translate)")
    ] = 1_000,
    rounds: Annotated[int, typer.Option(min=1, help="passes over them (translate)")] = 7,
    count: Annotated[
        int, typer.Option(min=2, help="round trips on PostgreSQL + RabbitMQ (e2e)")
    ] = 3000,
    embedded_count: Annotated[int, typer.Option(min=2, help="round trips embedded (e2e)")] = 1000,
    simulator: Annotated[
        list[str] | None,
        typer.Option(help="e2e: the simulator in a child 'process' (default) and/or a 'thread'"),
    ] = None,
    simulator_verify: Annotated[
        str, typer.Option(help="e2e: the simulator checks the hub's signatures: on, off, both")
    ] = "on",
    as_json: Annotated[bool, typer.Option("--json", help="e2e: results as JSON on stdout")] = False,
) -> None:
    """SMEV hot paths (5 KB signed response), translation into canonical events, and the
    inbound path on both stacks."""
    if suite in ("smev", "all"):
        from hub.bench import run  # noqa: PLC0415

        run(seconds=seconds, backends=backend, console=_stdout)
    if suite in ("translate", "all"):
        from hub.bench_translate import run as run_translate  # noqa: PLC0415

        run_translate(_stdout, inputs, rounds)
    if suite in ("backbone", "all"):
        from hub.bench_backbone import run as run_backbone  # noqa: PLC0415

        try:
            run_backbone(
                _stdout, pg_admin_url, amqp_url, messages, memory_messages, workers=workers
            )
        except (HubError, OSError, SQLAlchemyError) as exc:
            # The inbound-path figures need PostgreSQL and RabbitMQ; say so, don't crash.
            _stdout.print(f"backbone benchmark skipped: {exc}", style="yellow")
            raise typer.Exit(EXIT_INVALID) from exc
    if suite in ("encryption", "all"):
        from hub.bench_encryption import run as run_encryption  # noqa: PLC0415

        run_encryption(_stdout, pg_admin_url, messages)
    if suite in ("e2e", "all"):
        _bench_e2e(pg_admin_url, amqp_url, count, embedded_count, simulator, simulator_verify,
                   as_json=as_json)  # fmt: skip


def _bench_e2e(  # noqa: PLR0917 - the e2e suite's options
    pg_admin_url: str,
    amqp_url: str,
    count: int,
    embedded_count: int,
    simulators: list[str] | None,
    verify: str,
    *,
    as_json: bool,
) -> None:
    from hub.bench_e2e import SIMULATOR_MODES, run  # noqa: PLC0415

    modes = simulators or ["process"]
    if any(m not in SIMULATOR_MODES for m in modes) or verify not in ("on", "off", "both"):
        _fail("--simulator takes process or thread; --simulator-verify on, off or both")
    checks = {"on": [True], "off": [False], "both": [True, False]}[verify]
    console = plain_console(stderr=True) if as_json else _stdout  # stdout keeps only the JSON
    try:
        run(console, pg_admin_url, amqp_url, count, embedded_count, modes, checks,  # type: ignore[arg-type]
            as_json=as_json)  # fmt: skip
    except (HubError, OSError, SQLAlchemyError) as exc:
        console.print(f"end-to-end benchmark failed: {exc}", style="yellow")
        raise typer.Exit(EXIT_INVALID) from exc


# --- the backbone ----------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the journal's migrations (the embedded SQLite file is created if missing) and
    say which were applied."""
    from hub.journal.migrate import head_revision, upgrade  # noqa: PLC0415

    settings = _settings()
    _configure_logging(settings)
    applied = _guard(lambda: upgrade(settings.database_url.get_secret_value()))
    if not applied:
        print(f"journal schema already up to date (revision {head_revision()})")
        return
    first, last = applied[0].revision, applied[-1].revision
    print(f"applied {first}→{last}" if first != last else f"applied {last}")
    for migration in applied:
        print(f"  {migration.revision} {migration.summary}")  # whole lines, never folded


@topology_app.command("declare")
def topology_declare() -> None:
    """Declare exchanges, queues and bindings (idempotent), the registry's queue included."""
    hub = _hub()
    topology = _guard(lambda: hub.topology)
    _guard(hub.bus.declare)
    _stdout.print(f"declared topology {topology.prefix!r} on the broker")
    _stdout.print(topology.events_summary(), markup=False, highlight=False)


@topology_app.command("show")
def topology_show() -> None:
    """Print the topology the hub declares."""
    hub = _hub()
    topology = _guard(lambda: hub.topology)
    _stdout.print(topology.describe(), markup=False, highlight=False)
    _stdout.print(topology.events_summary(), markup=False, highlight=False)


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except HubError as exc:
        _fail(str(exc))


def _declare_when_up(hub: Hub, stop: threading.Event) -> None:
    # A service started before its broker waits for it instead of crash-looping.
    from hub.runtime import retry_until_done  # noqa: PLC0415

    retry_until_done(hub.bus.declare, stop, "declare topology")


def _serve(*names: str) -> None:
    """Run the named services (``worker``, ``relay``) until SIGTERM, then release connections."""
    from hub.runtime import STOP_TIMEOUT, Service, run_services, stop_event  # noqa: PLC0415

    stop = stop_event()  # first: a stop during start-up is a clean stop too
    hub = _hub()
    _preflight(hub, names)
    _guard(lambda: _declare_when_up(hub, stop))
    services = [Service(name, getattr(hub, name).run) for name in names]
    try:
        _exit_if_crashed(lambda: run_services(services, stop, crash_grace=2 * STOP_TIMEOUT))
    finally:
        hub.close()


def _preflight(hub: Hub, services: tuple[str, ...]) -> None:
    # Every file the services need, read now: a missing one is one line and exit 2 at once.
    from hub.preflight import preflight  # noqa: PLC0415

    _guard(lambda: preflight(hub, services))


def _exit_if_crashed(serve: Callable[[], None]) -> None:
    # A service whose thread crashed exits non-zero: the supervisor (or the container's
    # restart policy) starts it afresh. The crash is logged with its traceback already.
    from hub.runtime import CRASHED, ServiceCrashedError  # noqa: PLC0415

    try:
        serve()
    except ServiceCrashedError as exc:
        _fail(str(exc), CRASHED)


@app.command("worker")
def worker() -> None:
    """Consume, store, process and settle inbound messages and commands until SIGTERM."""
    _serve("worker")


@app.command("relay")
def relay() -> None:
    """Publish the outbox to the events exchange with confirms until SIGTERM."""
    _serve("relay")


@app.command("console")
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
    from hub.console.cli import serve_console  # noqa: PLC0415 - loads Starlette and Jinja2

    hub = _hub()  # logging configured as for every service
    _preflight(hub, ("console",))
    given = {"console_host": host, "console_port": port}
    settings = hub.settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    _guard(lambda: _exit_if_crashed(lambda: serve_console(settings)))


@app.command("smev-client")
def smev_client() -> None:
    """Poll SMEV (GetRequest, GetResponse, GetStatus) and send the hub's requests and answers
    to HUB_SMEV_ENDPOINT until SIGTERM."""
    _serve("smev_client")


@app.command("run")
def run_all(
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    stop_timeout: Annotated[
        float, typer.Option(min=0.0, help="seconds the processes get to stop, then SIGKILL")
    ] = 30.0,
) -> None:
    """Worker(s), relay and (with HUB_SMEV_ENDPOINT) the SMEV client until SIGTERM: separate
    processes, restarted when they die; with the in-memory broker, which processes cannot
    share, threads in one process."""
    settings = _settings()
    with_smev = ("smev_client",) if settings.smev_endpoint else ()
    if settings.broker_url.get_secret_value().startswith("memory:"):
        if workers > 1:
            _fail("--workers above 1 needs a shared broker (memory:// lives in one process)")
        _serve("worker", "relay", *with_smev)
        return
    from hub.runtime import stop_event  # noqa: PLC0415
    from hub.supervisor import Supervisor, hub_children, metrics_folder  # noqa: PLC0415

    stop = stop_event()  # first: a stop during start-up is a clean stop too
    hub = _hub()
    _preflight(hub, ("worker", "relay", *with_smev))  # before any child starts
    _guard(lambda: _declare_when_up(hub, stop))
    hub.close()
    children = hub_children(workers, smev_client=bool(with_smev))
    with metrics_folder(settings.metrics_dir) as env:  # one /metrics for all the processes
        Supervisor(children, stop_timeout=stop_timeout, env=env).run(stop)


@failed_app.command("list")
def failed_list(  # noqa: PLR0917 - each parameter is a command-line option
    agency: Annotated[str | None, typer.Option(help="only this agency")] = None,
    error: Annotated[str | None, typer.Option(help="only this error type")] = None,
    since: Annotated[datetime | None, typer.Option(help="failed last at or after (ISO)")] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="list this group's messages with their ids, not the groups"),
    ] = None,
    as_json: JsonOption = False,
    token: TokenOption = "",
) -> None:
    """Open failed messages within your scope, grouped by cause (fingerprint), with counts;
    with --group, the messages of one group, each with the id that show, replay and discard
    take."""
    hub = _hub()
    who = principal(hub, token)
    after = _aware(since)
    operations = hub.operations
    if group is not None:
        failed = _guard(
            lambda: operations.failed(
                who, agency=agency, error_type=error, since=after, fingerprint=group
            )
        )
        _print_failed_messages(failed, group, as_json)
    else:
        groups = _guard(
            lambda: operations.groups(who, agency=agency, error_type=error, since=after)
        )
        _print_failed_groups(groups, as_json)


def _print_failed_groups(groups: list[FailedGroup], as_json: bool) -> None:
    if as_json:
        json_lines(_group_fields(g) for g in groups)
        return
    table = Table(title=f"failed messages: {sum(g.count for g in groups)} in {len(groups)} groups")
    id_column(table, "group", (g.fingerprint for g in groups))
    text_columns(table, "count", "error", "agency", "reason", "first", "last")
    for g in groups:
        table.add_row(
            g.fingerprint, str(g.count), g.error_type, g.agency or "—", _masked(g.reason)[:80],
            f"{g.first_failed_at:%Y-%m-%d %H:%M}", f"{g.last_failed_at:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    _stdout.print(table)


def _print_failed_messages(failed: list[FailedMessage], group: str, as_json: bool) -> None:
    if as_json:
        json_lines(_failed_message_fields(f) for f in failed)
        return
    # One cause: agency, kind, error and the reason's shape are the group's, said once.
    first = failed[0] if failed else None
    cause = f" ({first.error_type}, {first.agency or '—'})" if first else ""
    table = Table(title=f"group {group}{cause}: {len(failed)} open failed messages",
                  caption=_masked(first.reason) if first else None)  # fmt: skip
    id_column(table, "id", (f.failed_id for f in failed))
    text_columns(table, "attempts", "first", "last")
    for f in failed:
        table.add_row(f.failed_id, str(f.attempts), f"{f.first_failed_at:%Y-%m-%d %H:%M}",
                      f"{f.last_failed_at:%Y-%m-%d %H:%M}")  # fmt: skip
    _stdout.print(table)


def _masked(text: str) -> str:
    from hub.logging import mask_text  # noqa: PLC0415 - loads the masking rules

    return mask_text(text)


def _group_fields(group: FailedGroup) -> dict[str, object]:
    return {
        "group": group.fingerprint, "count": group.count, "error": group.error_type,
        "agency": group.agency, "reason": _masked(group.reason),
        "first_failed_at": group.first_failed_at, "last_failed_at": group.last_failed_at,
    }  # fmt: skip


def _failed_message_fields(failed: FailedMessage) -> dict[str, object]:
    return {
        "id": failed.failed_id, "inbox_id": failed.inbox_id, "group": failed.fingerprint,
        "agency": failed.agency, "kind": failed.kind, "error": failed.error_type,
        "reason": _masked(failed.reason), "attempts": failed.attempts,
        "first_failed_at": failed.first_failed_at, "last_failed_at": failed.last_failed_at,
        "status": failed.status, "scope": failed.scope,
    }  # fmt: skip


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@failed_app.command("show")
def failed_show(
    failed_id: Annotated[str, typer.Argument(help="failed message id")],
    reveal: Annotated[bool, typer.Option(help="show personal data in clear (audited)")] = False,
    reason: Annotated[str, typer.Option(help="why you need to see it (with --reveal)")] = "",
    token: TokenOption = "",
) -> None:
    """One failed message within your scope: error, traceback, attempts and the stored
    message (personal data masked; --reveal shows it, audited, to those allowed)."""
    from hub.logging import mask_text  # noqa: PLC0415

    if reveal and not reason.strip():
        _fail("--reveal needs --reason: revealing personal data is audited")
    hub = _hub()
    who = principal(hub, token)
    if reveal:
        view = _guard(lambda: hub.operations.reveal(who, failed_id, reason))
    else:
        view = _guard(lambda: hub.operations.show(who, failed_id))
    show = (lambda text: text) if view.revealed else mask_text
    for key, value in _failed_fields(view).items():
        _stdout.print(styled(key, "bold"), f": {show(str(value))}", sep="", highlight=False)
    _stdout.print(styled("message", "bold"), ":", sep="", highlight=False)
    _stdout.print(view.body, highlight=False)
    _stdout.print(styled("traceback", "bold"), ":", sep="", highlight=False)
    _stdout.print(view.traceback, highlight=False)


def _failed_fields(view: Any) -> dict[str, object]:
    failed = view.failed
    return {
        "failed id": failed.failed_id,
        "inbox id": failed.inbox_id,
        "status": failed.status,
        "agency": failed.agency,
        "kind": failed.kind,
        "scope": failed.scope or "(region)",
        "source": view.source,
        "external id": view.external_id,
        "error": failed.error_type,
        "reason": failed.reason,
        "attempts": failed.attempts,
        "first failed": failed.first_failed_at,
        "last failed": failed.last_failed_at,
        "group": failed.fingerprint,
        "received": view.received_at,
        "bytes": view.size,
    }


@failed_app.command("replay")
def failed_replay(
    ids: Annotated[list[str] | None, typer.Argument(help="failed message ids")] = None,
    group: Annotated[str | None, typer.Option("--group", help="every open one of a group")] = None,
    everything: Annotated[bool, typer.Option("--all", help="every open failed message")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show, change nothing")] = False,
    token: TokenOption = "",
) -> None:
    """Process failed messages within your scope again from their stored bytes with the
    current code."""
    from rich.progress import track  # noqa: PLC0415

    from hub.access.policy import Action  # noqa: PLC0415

    hub = _hub()
    who = principal(hub, token)
    chosen = _guard(lambda: hub.operations.select(who, ids or [], group, everything, Action.REPLAY))
    if dry_run:
        for failed in track(chosen, description="dry run", console=_stdout):
            _print_dry_run(_guard(functools.partial(hub.operations.dry_run, who, failed)))
        return
    results = []
    for start in track(range(0, len(chosen), 100), description="replaying", console=_stdout):
        batch = chosen[start : start + 100]
        results += _guard(functools.partial(hub.operations.replay, who, batch))
    _print_replay(results)


def _print_dry_run(result: Any) -> None:
    _stdout.print(
        f"{result.failed_id}: would be {result.status}"
        + (f" ({result.reason})" if result.reason else ""),
        highlight=False,
    )
    for event in result.events:
        _stdout.print(f"  would publish {event.event_id} {event.routing_key} {event.subject}")
    for event in result.published_before:
        state = "published" if event.published_at else "waiting in outbox"
        _stdout.print(f"  before: {event.event_id} {event.routing_key} ({state})")


def _print_replay(results: list[Any]) -> None:
    table = Table(title="replay")
    for column in ("failed id", "outcome", "events", "reason"):
        table.add_column(column)
    for r in results:
        table.add_row(r.failed_id, r.status, str(len(r.events)), r.reason or "")
    _stdout.print(table)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_INVALID)


@failed_app.command("discard")
def failed_discard(
    failed_id: Annotated[str, typer.Argument(help="failed message id")],
    reason: Annotated[str, typer.Option("--reason", help="why it is given up (audited)")],
    token: TokenOption = "",
) -> None:
    """Give a failed message within your scope up for good, with a reason (kept, audited,
    never deleted)."""
    hub = _hub()
    who = principal(hub, token)
    _guard(lambda: hub.operations.discard(who, failed_id, reason))
    _stdout.print(f"discarded {failed_id}")


@app.command("audit")
def audit(  # noqa: PLR0917 - each parameter is a command-line option
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    action: Annotated[str, typer.Option(help="done or refused: reveal, login, authenticate…")] = "",
    actor: Annotated[str, typer.Option(help="part of who: a token id, a name, an address")] = "",
    outcome: Annotated[AuditOutcome | None, typer.Option(help="allowed or denied")] = None,
    before: Annotated[int | None, typer.Option(min=1, help="older than entry #: next page")] = None,
    as_json: JsonOption = False,
    token: TokenOption = "",
) -> None:
    """The newest audit entries within your scope: who, when, what, why (auditors, admins)."""
    hub = _hub()
    who = principal(hub, token)
    query = AuditQuery(action.strip() or None, actor.strip() or None, outcome, before)
    entries = _guard(lambda: hub.operations.audit_log(who, limit, query))
    if as_json:
        json_lines(_audit_fields(entry) for entry in entries)
        return
    table = Table(title="audit log")
    id_column(table, "#", (str(entry.entry_id) for entry in entries))
    text_columns(table, "when", "who", "action", "target", "why", "scope")
    for entry in entries:
        table.add_row(
            str(entry.entry_id), f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.actor, entry.action,
            entry.target, entry.reason, entry.scope or "(region)",
        )  # fmt: skip
    _stdout.print(table)


def _audit_fields(entry: AuditEntry) -> dict[str, object]:
    return {
        "entry": entry.entry_id, "at": entry.at, "actor": entry.actor, "action": entry.action,
        "target": entry.target, "reason": entry.reason, "scope": entry.scope,
    }  # fmt: skip


@attachments_app.command("fetch")
def attachments_fetch(
    inbox_id: Annotated[str, typer.Argument(help="the stored message (an event's hubinboxid)")],
    to: Annotated[
        Path, typer.Option("--to", help="folder to write <uuid>/<file name> in")
    ] = Path(),
    reason: Annotated[str, typer.Option(help="why you need the documents (audited)")] = "",
    token: TokenOption = "",
) -> None:
    """Fetch the documents of a stored message from SMEV's file store (HUB_SMEV_FILE_STORE)
    with the credentials SMEV gave, check each against its declared GOST hash, write them.
    Personal documents: needs reveal over the message's scope and --reason; audited. Exit 1
    when a file is not the one declared (nothing of it is written)."""
    from hub.smev.filestore import AttachmentHashError, StoreAddress  # noqa: PLC0415

    if not reason.strip():
        _fail("--reason is needed: fetching personal documents is audited")
    hub = _hub()
    address = hub.settings.smev_file_store
    if not address:
        _fail("HUB_SMEV_FILE_STORE is not set: the address of SMEV's file store (ftp://host)")
    store = _guard(lambda: StoreAddress.parse(address))
    who = principal(hub, token)
    record = _guard(lambda: hub.operations.documents_source(who, inbox_id, reason))
    try:
        fetched = _fetch_documents(hub, record, store, to)
    except AttachmentHashError as exc:
        _fail(str(exc), EXIT_INVALID)
    except HubError as exc:
        _fail(str(exc))
    for document in fetched:
        print(f"{document.uuid}\t{document.size} bytes\t{document.path}")
    if not fetched:
        print("the message has no documents in SMEV's file store")


def _fetch_documents(
    hub: Hub, record: InboxRecord, store: StoreAddress, target: Path
) -> list[FetchedFile]:
    from hub.smev.filestore import fetch_attachments  # noqa: PLC0415
    from hub.smev.read import read_message  # noqa: PLC0415

    message = read_message(record.raw, record.content_type)
    settings = hub.settings
    return fetch_attachments(
        message, store, target, hub.crypto.digest, settings.smev_file_max_bytes,
        settings.smev_timeout,
    )  # fmt: skip


@app.command("demo")
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

    settings = _settings()
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
            scenario, backend, settings.reference_dir, console, settings.smev_xsd_dir
        )
    except DemoError as exc:
        _fail(str(exc), 1)
    console.print(table)
    console.print(styled("every message accounted for", "green"), f"({stats.elapsed:.1f} s)")
    console.print("personal data sealed at rest (AES-256-GCM, a data key made for this run)")


# --- the SMEV 3 simulator --------------------------------------------------------------


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
    hub = _hub()
    try:
        faults = FaultInjection(failure_rate, drop_rate, duplicate_rate, latency, 0.0, seed,
                                plain_fault_rate=plain_fault_rate)  # fmt: skip
        config = _simulator_config(profile, mtom, visibility_timeout=visibility_timeout,
                                   xsd_dir=envelope_schemas(hub.settings.effective_smev_xsd_dir),
                                   open_registration=open_registration, faults=faults)  # fmt: skip
        certificates = _pairs(system, "--system")
        systems = {m: load_certificate(_read(Path(f), _limit(hub))) for m, f in certificates}
    except (ValueError, HubError) as exc:
        _fail(str(exc))
    schemas = {ns: Path(f) for ns, f in _pairs(schema, "--schema", last=True)}
    routes = dict(_pairs(route, "--route", last=True))
    exchange = _guard(
        lambda: build_exchange(hub.crypto, config, systems, routes, schemas, state=state)
    )
    if population:
        _emulate(exchange, hub.settings.reference_dir, population, applications, rate, seed, stop)
    _guard(lambda: serve(exchange, host, port, _announce, stop))


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

    settings = _settings()
    backend = _guard(lambda: select_backend(settings.crypto_backend))
    _key, certificate = _guard(lambda: smev_identity(backend, state))
    sys.stdout.write(certificate.to_pem().decode("ascii"))


def _emulate(  # noqa: PLR0917 - the serve command's options, passed on
    exchange: Any,
    reference_dir: Path,
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
    agencies = _guard(
        lambda: install(
            exchange,
            people,
            subscriber=HUB_MNEMONIC,
            reference_dir=reference_dir,
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
            _fail(f"{option} {value!r}: expected KEY=VALUE")
        pairs.append((key, rest))
    return pairs


def _announce(url: str) -> None:
    print(f"SMEV 3 simulator on {url}", flush=True)
    for version in ("1.1", "1.2", "1.3"):
        print(f"  {version}: {url}/smev/{version}", flush=True)


# --- health ----------------------------------------------------------------------------


@app.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    check: Annotated[
        list[str] | None,
        typer.Option(help="only these: broker, database, smev, files (default: all)"),
    ] = None,
    max_age: Annotated[
        float | None,
        typer.Option(min=0.0, help="unhealthy if the oldest unprocessed message is older (s)"),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds each dependency gets")] = 5.0,
) -> None:
    """Broker, database and SMEV reachable, the files the services need there, queue
    depths, backlog; exit 1 if unhealthy."""
    from hub.health import CHECKS, check_health, render  # noqa: PLC0415

    unknown = sorted(set(check or ()) - set(CHECKS))
    if unknown:
        _fail(f"--check {', '.join(unknown)}: expected one of {', '.join(CHECKS)}")
    only = [name for name in CHECKS if name in (check or CHECKS)]
    hub = _hub()
    report = check_health(hub, timeout=timeout, max_age=max_age, only=only)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _stdout.print(render(report))
    if not report.healthy:
        raise typer.Exit(EXIT_INVALID)


plain_helps(app)  # last: after every command is registered

if __name__ == "__main__":  # pragma: no cover
    app()
