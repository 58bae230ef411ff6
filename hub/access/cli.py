"""``hub tokens``: API tokens for operators, auditors and agency systems; and how the other
operator commands learn who runs them (``--token`` or ``HUB_TOKEN``).

Token management needs no token: whoever can reach the journal's database already holds the
deployment's root of trust, so these commands are for them alone (run them where the database
settings are, never expose them further).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.table import Table

from hub.access.policy import Principal, Role
from hub.access.tokens import InvalidTokenError
from hub.errors import HubError
from hub.journal.api import TokenRecord
from hub.terminal import id_column, json_lines, text_columns
from hub.terminal import stdout as _stdout

if TYPE_CHECKING:
    from hub.access.service import AccessService
    from hub.bootstrap import Hub

T = TypeVar("T")
EXIT_BAD_INPUT = 2
TOKEN_ENV = "HUB_TOKEN"  # noqa: S105 - the variable's name, not a token

tokens_app = typer.Typer(
    no_args_is_help=True,
    help="API tokens: create, revoke, list. For those with access to the journal's database "
    "(the deployment's root of trust): no token is asked for, so run these only where the "
    "database settings are. Secrets are shown once, at creation, and stored only hashed.",
)

TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar=TOKEN_ENV,
        show_default=False,
        help=f"your API token (`hub tokens create`); better from the {TOKEN_ENV} environment "
        "variable, which shell history does not keep",
    ),
]
Admin = Annotated[
    str,
    typer.Option(
        "--actor", envvar="HUB_OPERATOR", help="who acts (for the audit log; default: you)"
    ),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr and the exit code (as ``hub.cli`` does)."""
    print(f"hub: error: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(code)


def guarded(action: Callable[[], T]) -> T:
    """``action``'s result; a hub error ends the command with its message (exit code 2)."""
    try:
        return action()
    except HubError as exc:
        fail(str(exc))


def principal(hub: Hub, token: str) -> Principal:
    """Who runs an operator command: the holder of ``token``; exit code 2 when there is none
    or it is not valid (the attempt is audited)."""
    if not token.strip():
        fail(f"this command needs your API token: --token or {TOKEN_ENV} (`hub tokens create`)")
    access = guarded(lambda: hub.access)  # opens the journal: its errors are not the token's
    try:
        return access.authenticate(token)
    except InvalidTokenError as exc:
        fail(f"{exc} (give a valid token with --token or {TOKEN_ENV})")
    except HubError as exc:
        fail(str(exc))


def _access() -> AccessService:
    from hub.cli import _hub  # noqa: PLC0415 - the CLI's settings and logging, once

    return _hub().access


def _actor(actor: str) -> str:
    return f"{actor or getpass.getuser()} (database access)"


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
            name, role, scope, lifetime, _actor(actor), agencies=agency or (), signers=signers
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
    guarded(lambda: _access().revoke(token_id, _actor(actor)))
    _stdout.print(f"revoked {token_id}")


JsonOption = Annotated[
    bool, typer.Option("--json", help="one JSON object per line, for scripts; nothing cut")
]


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
    text_columns(table, "name", "role", "scope", "agencies", "signers", "state", "created",
                 "by", "expires", "last used")  # fmt: skip
    for record in records:
        table.add_row(
            record.token_id, record.name, record.role, record.scope,
            ",".join(record.agencies) or "—", str(len(record.signers)) if record.signers else "—",
            _state(record, now), _when(record.created_at), record.created_by,
            _when(record.expires_at), _when(record.last_used_at),
        )  # fmt: skip
    _stdout.print(table)
    for record in records:  # fingerprints in full, one a line: a table would fold or cut them
        for sha256 in record.signers:
            print(f"token {record.token_id} signer sha256:{sha256}")


def _token_fields(record: TokenRecord, now: datetime) -> dict[str, object]:
    """A token as ``--json`` shows it: everything but its secret's hash."""
    return {
        "id": record.token_id, "name": record.name, "role": record.role, "scope": record.scope,
        "agencies": list(record.agencies), "signers": list(record.signers),
        "state": _state(record, now), "created_at": record.created_at,
        "created_by": record.created_by, "expires_at": record.expires_at,
        "revoked_at": record.revoked_at, "last_used_at": record.last_used_at,
    }  # fmt: skip


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
