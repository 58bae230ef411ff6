"""``hub tokens``: API tokens for operators, auditors and agency systems; and how the other
operator commands learn who runs them (``--token`` or ``HUB_TOKEN``).

Token management needs no token: whoever can reach the journal's database already holds the
deployment's root of trust, so these commands are for them alone (run them where the database
settings are, never expose them further).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hub.access.policy import Role
from hub.cli._common import Admin, JsonOption, database_actor, fail, guarded, make_hub
from hub.cli.terminal import id_column, json_lines, text_columns
from hub.cli.terminal import stdout as _stdout
from hub.errors import HubError
from hub.journal.records import TokenRecord

if TYPE_CHECKING:
    from hub.access.service import AccessService


tokens_app = typer.Typer(
    no_args_is_help=True,
    help="API tokens: create, revoke, list. For those with access to the journal's database "
    "(the deployment's root of trust): no token is asked for, so run these only where the "
    "database settings are. Secrets are shown once, at creation, and stored only hashed.",
)


def _access() -> AccessService:
    return make_hub().access


@tokens_app.command("create")
def tokens_create(  # noqa: PLR0917 - each parameter is a command-line option
    name: Annotated[str, typer.Option(help="who holds it (a person or a system)")],
    role: Annotated[Role, typer.Option(help="what it may do")],
    scope: Annotated[
        str, typer.Option(help="'*' (region), 'MUNICIPALITY' or 'MUNICIPALITY/SCHOOL'")
    ],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="valid for this many days (default: until revoked)")
    ] = None,
    agency: Annotated[
        list[str] | None,
        typer.Option(
            "--agency",
            help="role agency: an agency it may post for (/inbound/AGENCY); repeat for more; "
            "required for role agency, refused for the others",
        ),
    ] = None,
    signing_cert: Annotated[
        list[Path] | None,
        typer.Option(
            "--signing-cert",
            help="role agency: a certificate file (PEM or DER) its messages must be signed "
            "with; repeat for more (its SHA-256 is kept)",
        ),
    ] = None,
    actor: Admin = "",
) -> None:
    """Issue a token and print it once: it cannot be shown again (only its hash is kept)."""
    lifetime = timedelta(days=expires_in_days) if expires_in_days is not None else None
    signers = [_fingerprint_of(path) for path in signing_cert or ()]
    access = _access()
    issued = guarded(
        lambda: access.issue(
            name,
            role,
            scope,
            lifetime,
            database_actor(actor),
            agencies=agency or (),
            signers=signers,
        )
    )
    record = access.journal.token(issued.token_id)
    expires = _when(record.expires_at) if record is not None else "?"
    _stdout.print(
        f"token {issued.token_id} for {name}: {role.value} in scope {scope.strip()}, "
        f"expires {expires}{_agencies(record)}",
        highlight=False,
    )
    for sha256 in record.signers if record is not None else ():
        print(f"signer sha256:{sha256}")  # plain and whole, never folded
    print(issued.text)  # plain: one line a script can read
    print("shown once: hand it over now; it cannot be shown again", file=sys.stderr)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id (`hub tokens list`)")],
    actor: Admin = "",
) -> None:
    """Revoke a token for good (audited): it stops working at once."""
    guarded(lambda: _access().revoke(token_id, database_actor(actor)))
    _stdout.print(f"revoked {token_id}")


@tokens_app.command("list")
def tokens_list(as_json: JsonOption = False) -> None:
    """Every token: id, holder, role, scope, agencies, state and when last used (never
    secrets); then the signing certificates each agency token is bound to, in full."""
    access = _access()
    now = access.clock()
    records = guarded(access.list)
    if as_json:
        json_lines(_token_fields(record, now) for record in records)
        return
    table = Table(title="API tokens")
    id_column(table, "id", (record.token_id for record in records))
    text_columns(
        table,
        "name",
        "role",
        "scope",
        "agencies",
        "signers",
        "state",
        "created",
        "by",
        "expires",
        "last used",
    )
    for record in records:
        table.add_row(
            record.token_id,
            record.name,
            record.role,
            record.scope,
            ",".join(record.agencies) or "—",
            str(len(record.signers)) if record.signers else "—",
            _state(record, now),
            _when(record.created_at),
            record.created_by,
            _when(record.expires_at),
            _when(record.last_used_at),
        )
    _stdout.print(table)
    for record in records:  # fingerprints in full, one a line: a table would fold or cut them
        for sha256 in record.signers:
            print(f"token {record.token_id} signer sha256:{sha256}")


def _token_fields(record: TokenRecord, now: datetime) -> dict[str, object]:
    """A token as ``--json`` shows it: everything but its secret's hash."""
    return {
        "id": record.token_id,
        "name": record.name,
        "role": record.role,
        "scope": record.scope,
        "agencies": list(record.agencies),
        "signers": list(record.signers),
        "state": _state(record, now),
        "created_at": record.created_at,
        "created_by": record.created_by,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "last_used_at": record.last_used_at,
    }


def _fingerprint_of(path: Path) -> str:
    """The SHA-256 of the certificate in ``path``; the command ends (exit 2) if it is none."""
    from hub.crypto.keys import load_certificate  # noqa: PLC0415 - only this command needs it

    try:
        return load_certificate(path.read_bytes()).sha256
    except (OSError, HubError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        fail(f"--signing-cert {path}: not a readable GOST certificate (PEM or DER): {reason}")


def _agencies(record: TokenRecord | None) -> str:
    if record is None or not record.agencies:
        return ""
    return f"; posts for {', '.join(record.agencies)}"


def _state(record: TokenRecord, now: datetime) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "active"


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "—"
