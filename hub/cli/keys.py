"""``hub keys generate``: a development GOST key and self-signed certificate (the data-key and
rotation commands are in ``hub.cli.protection``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hub.cli._common import (
    fail,
    make_hub,
)
from hub.cli.terminal import stdout as _stdout

keys_app = typer.Typer(no_args_is_help=True, help="GOST keys and certificates.")


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
        fail(f"{key_path} or {cert_path} exists; use --force to replace them")
    hub = make_hub()
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
