"""``hub smev``: read (``inspect``), verify and sign SMEV 3 messages from files."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from lxml import etree
from rich.table import Table

from hub.bootstrap import Hub, bootstrap
from hub.cli._common import (
    EXIT_INVALID,
    ContentType,
    FileArg,
    fail,
    make_hub,
    make_settings,
    read_input,
    xml_limit,
)
from hub.cli.terminal import stdout as _stdout
from hub.errors import HubError
from hub.files import CERTIFICATE_LIMIT

smev_app = typer.Typer(no_args_is_help=True, help="Read, verify and sign SMEV 3 messages.")


@smev_app.command("inspect")
def smev_inspect(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    content_type: ContentType = None,
) -> None:
    """Say what a SMEV message is: version, operation, kind, ids, fault, signatures."""
    from hub.services.inspect import inspect_message  # noqa: PLC0415

    hub = make_hub()
    try:
        report = inspect_message(read_input(file, xml_limit(hub)), hub, content_type=content_type)
    except HubError as exc:
        fail(f"{file}: {exc}")
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

    hub = make_hub()
    try:
        document = parse_message(read_input(file, xml_limit(hub)), content_type, hub.xml_limits)
    except HubError as exc:
        fail(f"{file}: {exc}")
    reports = hub.verifier.verify_all(document.root)
    for report in reports:
        state = "valid" if report.valid else "INVALID"
        detail = report.error or f"digest {report.digest_valid}, signature {report.signature_valid}"
        _stdout.print(f"{report.reference}: {state} ({detail}); expired={report.expired}")
    if not reports:
        fail(f"{file}: no ds:Signature found", EXIT_INVALID)
    if not all(r.valid for r in reports):
        raise typer.Exit(EXIT_INVALID)
    if trusted:
        _apply_trust_policy(hub, document, _fingerprints(trusted), file)


def _fingerprints(paths: list[Path]) -> frozenset[str]:
    from hub.crypto.keys import load_certificate  # noqa: PLC0415

    try:
        return frozenset(
            load_certificate(read_input(path, CERTIFICATE_LIMIT)).sha256 for path in paths
        )
    except HubError as exc:
        fail(f"--trusted: {exc}")


def _apply_trust_policy(hub: Hub, document: Any, trusted: frozenset[str], file: Path) -> None:
    from hub.services.trust import TrustPolicy  # noqa: PLC0415
    from hub.smev.read import read_message  # noqa: PLC0415

    try:
        report = TrustPolicy(hub.verifier, trusted).check(read_message(document), datetime.now(UTC))
    except HubError as exc:
        fail(f"{file}: {type(exc).__name__}: {exc}", EXIT_INVALID)
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

    hub = bootstrap(make_settings(signing_key=key, signing_cert=cert))
    try:
        envelope = parse_xml(read_input(file, xml_limit(hub)), hub.xml_limits)
        signed = sign_envelope(envelope, hub.signer)
    except HubError as exc:
        fail(f"{file}: {exc}")
    data = _serialize(signed)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)


def _serialize(envelope: etree._Element) -> bytes:
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))
