"""The ``hub`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from lxml import etree
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.errors import HubError

app = typer.Typer(no_args_is_help=True, help="Interagency integration hub (SMEV 3).")
smev_app = typer.Typer(no_args_is_help=True, help="Read, verify and sign SMEV 3 messages.")
keys_app = typer.Typer(no_args_is_help=True, help="GOST keys and certificates.")
app.add_typer(smev_app, name="smev")
app.add_typer(keys_app, name="keys")

EXIT_INVALID = 1
EXIT_BAD_INPUT = 2
_stdout = Console()

FileArg = Annotated[Path, typer.Argument(help="message file (XML, XML with BOM, or MTOM)")]
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
    from hub.logging import configure_logging  # noqa: PLC0415 - logging is set up per command

    settings = _settings()
    configure_logging(
        level=settings.log_level,
        json=None if settings.log_format == "auto" else settings.log_format == "json",
    )
    return bootstrap(settings)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    # One line on stderr: scripts read the exit code, people read this.
    print(f"hub: error: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(code)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
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
        report = inspect_message(_read(file), hub, content_type=content_type)
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
def smev_verify(file: FileArg, content_type: ContentType = None) -> None:
    """Check every signature; exit 0 only if there is at least one and all are valid."""
    from hub.xml import parse_message  # noqa: PLC0415

    hub = _hub()
    try:
        document = parse_message(_read(file), content_type, hub.xml_limits)
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
        envelope = parse_xml(_read(file), hub.xml_limits)
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


@app.command("config")
def show_config() -> None:
    """Print the effective settings (secrets masked)."""
    print(json.dumps(_settings().masked(), ensure_ascii=False, indent=2))


@app.command("bench")
def bench(
    seconds: Annotated[float, typer.Option(help="time per measurement")] = 2.0,
    backend: Annotated[
        list[str] | None, typer.Option(help="backends to measure (default: all available)")
    ] = None,
) -> None:
    """Measure parsing, verification and signing on a 5 KB signed SMEV response."""
    from hub.bench import run  # noqa: PLC0415

    run(seconds=seconds, backends=backend, console=_stdout)


if __name__ == "__main__":  # pragma: no cover
    app()
