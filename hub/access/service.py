"""Tokens issued, checked and revoked; every permission check, and every denial audited.

``AccessService`` is what the CLI and the console use to learn who is asking (an API token,
or a client certificate for mutual TLS); ``Guard`` is what the operations use to check each
action against the policy, writing every denial to the audit log. Neither ever echoes a
token's secret: the audit log names a token by its id only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.access.policy import AccessDeniedError, Action, Principal, Role, authorize
from hub.access.scopes import REGION, covers, parse_scope
from hub.access.tokens import (
    AuthenticationError,
    InvalidTokenError,
    IssuedToken,
    new_token,
    secret_matches,
    split_token,
)
from hub.errors import ConfigurationError, PermanentError
from hub.journal.api import Journal, TokenRecord

TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is a hint, not a log: one write a minute
DENIED = "denied"
_NAME = re.compile(r"[\w .@'()/-]{1,80}")


class UnknownTokenError(InvalidTokenError):
    reason = "unknown"  # no such token, or a wrong secret: the two are not told apart


class RevokedTokenError(InvalidTokenError):
    code = "REVOKED_TOKEN"
    reason = "revoked"


class ExpiredTokenError(InvalidTokenError):
    code = "EXPIRED_TOKEN"
    reason = "expired"


class UnknownCertificateError(AuthenticationError):
    """A client certificate the hub was not told about (``HUB_CLIENT_CERTIFICATES``)."""

    code = "UNKNOWN_CERTIFICATE"
    reason = "unknown-certificate"


class TokenRequestError(PermanentError):
    """A token cannot be issued or revoked as asked (bad name, role, scope, expiry, id)."""

    code = "TOKEN_REQUEST"


def _now() -> datetime:
    return datetime.now(UTC)


def audit_scope(principal: Principal) -> str:
    """The scope an entry about ``principal``'s own doing is filed under ("" = region)."""
    return _entry_scope(principal.scope)


@dataclass(frozen=True)
class Guard:
    """Checks a principal's action against the policy; every denial is audited."""

    journal: Journal

    def check(
        self, principal: Principal, action: Action, target: str, scope: str | None = None
    ) -> None:
        """``AccessDeniedError`` (audited) unless ``principal`` may ``action`` here."""
        try:
            authorize(principal, action, scope)
        except AccessDeniedError as exc:
            self.record_denial(principal, action, target, exc)
            raise

    def deny(
        self, principal: Principal, action: Action, target: str, why: str
    ) -> AccessDeniedError:
        """An audited ``AccessDeniedError`` for the caller to raise (e.g. out of scope)."""
        error = AccessDeniedError(why, action=action.value, scope=principal.scope)
        self.record_denial(principal, action, target, error)
        return error

    def record_denial(
        self, principal: Principal, action: Action, target: str, error: AccessDeniedError
    ) -> None:
        details = {"action": action.value, "target": target, "code": error.code}
        self.journal.audit(
            principal.label(), DENIED, target, error.message, details, scope=audit_scope(principal)
        )


@dataclass
class AccessService:
    """API tokens (stored hashed), client certificates, and the guard over every action."""

    journal: Journal
    clock: Callable[[], datetime] = _now
    # client certificate SHA-256 → "role@scope" (``Settings.client_certificates``)
    certificates: Mapping[str, str] = field(default_factory=dict)

    @property
    def guard(self) -> Guard:
        return Guard(self.journal)

    def check(
        self, principal: Principal, action: Action, target: str, scope: str | None = None
    ) -> None:
        """See ``Guard.check``."""
        self.guard.check(principal, action, target, scope)

    # --- tokens ---------------------------------------------------------------------------

    def issue(
        self,
        name: str,
        role: Role | str,
        scope: str,
        expires_in: timedelta | None,
        actor: Principal | str,
    ) -> IssuedToken:
        """A new token (its text is in the result, once); stored hashed and audited.

        ``actor`` is a principal (who must hold ``manage-tokens`` over ``scope``) or, for
        those with database access (``hub tokens``), a plain name."""
        record, issued = self._new_record(name, role, scope, expires_in, actor)
        self._authorize_management(actor, "tokens", record.scope)
        self.journal.add_token(record)
        details = {"name": record.name, "role": record.role, "scope": record.scope}
        expires = record.expires_at.isoformat() if record.expires_at else None
        self.journal.audit(
            _label(actor), "issue_token", record.token_id, "", details | {"expires_at": expires},
            scope=_entry_scope(record.scope),
        )  # fmt: skip
        return issued

    def _new_record(
        self,
        name: str,
        role: Role | str,
        scope: str,
        expires_in: timedelta | None,
        actor: Principal | str,
    ) -> tuple[TokenRecord, IssuedToken]:
        now, issued = self.clock(), new_token()
        record = TokenRecord(
            token_id=issued.token_id,
            name=_token_name(name),
            role=_role(role).value,
            scope=_scope(scope),
            secret_hash=issued.secret_hash,
            created_at=now,
            created_by=_label(actor),
            expires_at=now + _lifetime(expires_in) if expires_in is not None else None,
        )
        return record, issued

    def revoke(self, token_id: str, actor: Principal | str) -> None:
        """Revoke a token for good (audited); ``TokenRequestError`` if none is active."""
        record = self.journal.token(token_id)
        if isinstance(actor, Principal) and (
            record is None or not covers(actor.scope, record.scope)
        ):
            raise self.guard.deny(
                actor, Action.MANAGE_TOKENS, token_id, f"no token {token_id} in scope {actor.scope}"
            )
        self._authorize_management(actor, token_id, record.scope if record else None)
        if record is None or not self.journal.revoke_token(token_id, _label(actor)):  # audits
            raise TokenRequestError(f"no active token with id {token_id}", token_id=token_id)

    def list(self, principal: Principal | None = None) -> list[TokenRecord]:
        """Every token (for ``principal``: those within its scope); secrets are never kept."""
        if principal is None:
            return self.journal.tokens()
        self.guard.check(principal, Action.MANAGE_TOKENS, "tokens")
        return [t for t in self.journal.tokens() if covers(principal.scope, t.scope)]

    def _authorize_management(self, actor: Principal | str, target: str, scope: str | None) -> None:
        if isinstance(actor, Principal):
            self.guard.check(actor, Action.MANAGE_TOKENS, target, scope)

    # --- authentication -------------------------------------------------------------------

    def authenticate(self, token_text: str) -> Principal:
        """The principal a token stands for; an ``InvalidTokenError`` (audited) says why not."""
        try:
            record = self._admitted(token_text)
        except InvalidTokenError as exc:
            self._record_failure(exc)
            raise
        self._touch(record)
        return Principal(record.token_id, record.name, Role(record.role), record.scope)

    def _admitted(self, token_text: str) -> TokenRecord:
        presented = split_token(token_text)
        record = self.journal.token(presented.token_id)
        if record is None or not secret_matches(presented.secret, record.secret_hash):
            raise UnknownTokenError("unknown API token", token_id=presented.token_id)
        if record.revoked_at is not None:
            raise RevokedTokenError(
                f"API token {record.token_id} was revoked", token_id=record.token_id
            )
        if record.expires_at is not None and self.clock() >= record.expires_at:
            raise ExpiredTokenError(
                f"API token {record.token_id} expired at {record.expires_at:%Y-%m-%d %H:%M} UTC",
                token_id=record.token_id,
            )
        return record

    def _touch(self, record: TokenRecord) -> None:
        now = self.clock()
        if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
            self.journal.touch_token(record.token_id, now)

    def authenticate_certificate(self, sha256: str) -> Principal:
        """The principal of a client certificate (mutual TLS); ``UnknownCertificateError``
        (audited) when ``certificates`` does not name it."""
        principal = principal_for_certificate(sha256, self.certificates)
        if principal is None:
            error = UnknownCertificateError(
                "client certificate not allowed (add its SHA-256 to HUB_CLIENT_CERTIFICATES)",
                certificate=_fingerprint(sha256),
            )
            self._record_failure(error)
            raise error
        return principal

    def _record_failure(self, error: AuthenticationError) -> None:
        token_id = str(error.details.get("token_id") or "")
        who = f"token {token_id}" if token_id else "anonymous"
        if "certificate" in error.details:
            who = f"certificate {error.details['certificate']}"
        details: dict[str, Any] = {"action": "authenticate", "reason": error.reason}
        self.journal.audit(who, DENIED, token_id or "authenticate", error.reason, details)


def principal_for_certificate(sha256: str, mapping: Mapping[str, str]) -> Principal | None:
    """The principal ``mapping`` ("SHA-256" → "role@scope") gives a client certificate, or
    None; fingerprints match in any case, with or without colons. A mapping entry that is not
    ``role@scope`` is a ``ConfigurationError``."""
    wanted = _fingerprint(sha256)
    for key, value in mapping.items():
        if _fingerprint(key) == wanted:
            role, scope = _role_at_scope(key, value)
            return Principal(f"cert:{wanted}", f"certificate {wanted[:16]}", role, scope)
    return None


def _role_at_scope(key: str, value: str) -> tuple[Role, str]:
    role, at, scope = value.partition("@")
    try:
        if not at:
            raise ValueError("expected role@scope")
        return Role(role.strip()), parse_scope(scope)
    except (ValueError, PermanentError) as exc:
        raise ConfigurationError(
            f"HUB_CLIENT_CERTIFICATES[{key[:16]}…]: {value!r} is not 'role@scope' "
            f"(roles: {', '.join(r.value for r in Role)}; {exc})",
        ) from exc


def _fingerprint(text: str) -> str:
    return text.replace(":", "").strip().lower()


def _label(actor: Principal | str) -> str:
    return actor.label() if isinstance(actor, Principal) else actor


def _entry_scope(scope: str) -> str:
    return "" if scope == REGION else scope


def _token_name(name: str) -> str:
    if not _NAME.fullmatch(name.strip()):
        raise TokenRequestError(
            "token name: 1 to 80 letters, digits, spaces or . @ ' ( ) / - _ (it names the holder "
            "in the audit log)",
            field="name",
        )
    return name.strip()


def _scope(scope: str) -> str:
    try:
        return parse_scope(scope)
    except PermanentError as exc:
        raise TokenRequestError(f"scope: {exc}", field="scope") from exc


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise TokenRequestError(f"role: {role!r} is not one of {known}", field="role") from exc


def _lifetime(expires_in: timedelta) -> timedelta:
    if expires_in <= timedelta(0):
        raise TokenRequestError("expiry: a token must live for some time", field="expires_in")
    return expires_in


__all__ = [
    "DENIED",
    "AccessService",
    "ExpiredTokenError",
    "Guard",
    "RevokedTokenError",
    "TokenRequestError",
    "UnknownCertificateError",
    "UnknownTokenError",
    "audit_scope",
    "principal_for_certificate",
]
