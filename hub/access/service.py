"""Tokens issued, checked and revoked; every permission check, and every denial audited.

``AccessService`` is what the CLI and the console use to learn who is asking (an API token,
or a client certificate for mutual TLS); ``Guard`` is what the operations use to check each
action against the policy, writing every denial to the audit log. Neither ever echoes a
token's secret: the audit log names a token by its id only. Every denial and every failed
authentication is logged too (one structured line: action, target, principal id or client
address, reason code; never a secret, never a name), for whoever watches the logs.

Tokens presented from outside (the console's login, a bearer header) name the client's
address: failures from it are limited and folded in the audit log (``hub.access.throttle``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from hub.access.policy import AccessDeniedError, Action, Principal, Role, authorize
from hub.access.scopes import REGION, covers, parse_scope
from hub.access.throttle import (
    THROTTLED,
    AuthenticationThrottle,
    FoldedFailures,
    TooManyAttemptsError,
)
from hub.access.tokens import (
    AuthenticationError,
    InvalidTokenError,
    IssuedToken,
    MalformedTokenError,
    new_token,
    secret_matches,
    split_token,
)
from hub.errors import ConfigurationError, PermanentError
from hub.journal.api import Journal
from hub.journal.records import DENIED, TokenRecord

log = structlog.get_logger("hub.access")
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is a hint, not a log: one write a minute
CERTIFICATES_SETTING = "HUB_CLIENT_CERTIFICATES"
NAME_LIMIT = 80
# Control and format characters (line breaks, escapes, bidirectional overrides) could forge
# or hide lines in the audit log and the terminal; every other character is a name's own.
_UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
AGENCY_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # as in /inbound/{agency}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOKEN_ID = re.compile(r"[0-9A-Za-z]{12}")


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
        log.warning(
            "access denied",
            action=action.value,
            target=target,
            role=principal.role.value,
            principal=principal.principal_id,
            scope=principal.scope,
            reason=_denial_reason(error),
        )
        self.journal.audit(
            principal.label(), DENIED, target, error.message, details, scope=audit_scope(principal)
        )


@dataclass
class AccessService:
    """API tokens (stored hashed), client certificates, and the guard over every action."""

    journal: Journal
    clock: Callable[[], datetime] = _now
    # client certificate SHA-256 → "role@scope[:agency,…]" (``Settings.client_certificates``)
    certificates: Mapping[str, str] = field(default_factory=dict)
    # failures per client address and token id, in this process (see hub.access.throttle)
    throttle: AuthenticationThrottle = field(default_factory=AuthenticationThrottle)
    # The agencies a token or certificate may name (``Settings.agencies``); None: any name
    # of the form ``/inbound/{agency}`` takes (``/inbound`` still answers 404 for the rest).
    known_agencies: Collection[str] | None = None

    def __post_init__(self) -> None:
        # A wrong HUB_CLIENT_CERTIFICATES stops the hub at start, not at a system's first post.
        for key, value in self.certificates.items():
            _agencies_known(_certificate_entry(key, value)[2], self.known_agencies, key)

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
        *,
        agencies: Sequence[str] = (),
        signers: Sequence[str] = (),
    ) -> IssuedToken:
        """A new token (its text is in the result, once); stored hashed and audited.

        ``actor`` is a principal (who must hold ``manage-tokens`` over ``scope``) or, for
        those with database access (``hub tokens``), a plain name. A token of role agency
        names the ``agencies`` it may post for (at least one), and may name the SHA-256 of
        the certificates its messages must be signed with (``signers``); other roles neither.
        """
        record, issued = self._new_record(name, role, scope, expires_in, actor)
        record = self._bound(record, agencies, signers)
        self._authorize_management(actor, "tokens", record.scope)
        self.journal.add_token(record)
        details = {
            "name": record.name,
            "role": record.role,
            "scope": record.scope,
            "agencies": list(record.agencies),
            "signers": list(record.signers),
        }
        expires = record.expires_at.isoformat() if record.expires_at else None
        self.journal.audit(
            _label(actor),
            "issue_token",
            record.token_id,
            "",
            details | {"expires_at": expires},
            scope=_entry_scope(record.scope),
        )
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

    def _bound(
        self, record: TokenRecord, agencies: Sequence[str], signers: Sequence[str]
    ) -> TokenRecord:
        """``record`` bound to ``agencies`` and ``signers``; ``TokenRequestError`` unless a
        token of role agency names known agencies, and other roles name neither."""
        if record.role != Role.AGENCY:
            if agencies or signers:
                raise TokenRequestError(
                    f"only role agency names agencies or signing certificates, not {record.role}",
                    field="agencies" if agencies else "signers",
                )
            return record
        if not agencies:
            raise TokenRequestError(
                "role agency: name the agencies it may post for (--agency zags, repeatable)",
                field="agencies",
            )
        named = tuple(dict.fromkeys(_agency_name(a, self.known_agencies) for a in agencies))
        return replace(record, agencies=named, signers=tuple(dict.fromkeys(map(_signer, signers))))

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

    def authenticate(self, token_text: str, source: str | None = None) -> Principal:
        """The principal a token stands for; an ``InvalidTokenError`` (audited) says why not.

        ``source``: the client's address, when the token came from outside. Too many failures
        from it, or for the token's id, and it gets ``TooManyAttemptsError`` unchecked."""
        self.flush_failed_authentications()
        if source is not None:
            self._refuse_while_throttled(source, _token_id_of(token_text))
        try:
            record = self._admitted(token_text)
        except InvalidTokenError as exc:
            self._record_failure(exc, source)
            raise
        self._touch(record)
        agencies = frozenset(record.agencies)
        return Principal(record.token_id, record.name, Role(record.role), record.scope, agencies)

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

    def authenticate_certificate(self, sha256: str, source: str | None = None) -> Principal:
        """The principal of a client certificate (mutual TLS); ``UnknownCertificateError``
        (audited) when ``certificates`` does not name it; ``source`` as in ``authenticate``."""
        if source is not None:
            self._refuse_while_throttled(source, None)
        principal = principal_for_certificate(sha256, self.certificates)
        if principal is None:
            error = UnknownCertificateError(
                "client certificate not allowed (add its SHA-256 to HUB_CLIENT_CERTIFICATES)",
                certificate=_fingerprint(sha256),
            )
            self._record_failure(error, source)
            raise error
        return principal

    # --- the inbound endpoint --------------------------------------------------------------

    def check_inbound(self, principal: Principal, agency: str) -> None:
        """``AccessDeniedError`` (audited, the agency its target) unless ``principal`` is an
        agency system bound to ``agency``: only role agency posts, and only for the agencies
        its token or certificate names (one that names none is refused, saying how to fix)."""
        self.guard.check(principal, Action.POST, agency)
        why = _not_bound(principal, agency)
        if why is not None:
            raise self.guard.deny(principal, Action.POST, agency, why)

    def bound_signers(self, principal_id: str) -> frozenset[str] | None:
        """The SHA-256 of the certificates the messages of ``principal_id`` (as in the inbox
        source ``http:<principal_id>``) must be signed with; None when it names none (a
        token without signers, an unknown token, a client certificate)."""
        if principal_id.startswith(CERTIFICATE_PREFIX):
            return None  # HUB_CLIENT_CERTIFICATES has no grammar for signers
        record = self.journal.token(principal_id)
        if record is None or not record.signers:
            return None
        return frozenset(record.signers)

    # --- failed authentication ---------------------------------------------------------

    def flush_failed_authentications(self, *, everything: bool = False) -> int:
        """Write the folded counts of failed authentications whose window has closed (with
        ``everything``: all of them, as the process stops); how many entries were written.
        What cannot be written now is kept for the next call."""
        folded = self.throttle.drain() if everything else self.throttle.due()
        for written, entry in enumerate(folded):
            try:
                self._audit_folded(entry)
            except Exception:
                self.throttle.put_back(folded[written:])
                raise
        return len(folded)

    def _refuse_while_throttled(self, source: str, token_id: str | None) -> None:
        wait = self.throttle.wait(source, token_id)
        if wait <= 0:
            return
        error = TooManyAttemptsError(wait)
        if self.throttle.failed(source, THROTTLED, token_id):  # the first refusal in a window
            log.warning(
                "authentication refused unchecked",
                reason=THROTTLED,
                source=source,
                token_id=token_id,
                retry_after=error.retry_after,
            )
            self._audit_failure(THROTTLED, source, token_id, None)
        raise error

    def _record_failure(self, error: AuthenticationError, source: str | None) -> None:
        token_id = _safe_id(str(error.details.get("token_id") or ""))
        certificate = error.details.get("certificate")
        who = {"certificate": certificate} if certificate else {"token_id": token_id}
        log.warning("authentication failed", reason=error.reason, source=source, **who)
        if source is None or self.throttle.failed(source, error.reason, token_id):
            self._audit_failure(error.reason, source, token_id, certificate)
        # else: counted, and written with the other failures from ``source`` when due

    def _audit_failure(
        self, reason: str, source: str | None, token_id: str | None, certificate: str | None
    ) -> None:
        who = f"token {token_id}" if token_id else "anonymous"
        if certificate:
            who = f"certificate {certificate}"
        details: dict[str, Any] = {"action": "authenticate", "reason": reason, "count": 1}
        if source is not None:
            details["source"] = source
        self.journal.audit(who, DENIED, token_id or "authenticate", reason, details)

    def _audit_folded(self, folded: FoldedFailures) -> None:
        span = round(folded.seconds)
        reason = (
            f"{folded.count} more failed authentications from {folded.source} within {span} s "
            f"of {folded.first_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        details: dict[str, Any] = {
            "action": "authenticate",
            "reason": "repeated",
            "count": folded.count,
            "source": folded.source,
            "reasons": folded.reasons,
            "since": folded.first_at.isoformat(),
            "token_ids": list(folded.token_ids),
            "other_token_ids": folded.other_token_ids,
        }
        log.warning(
            "authentication failures folded",
            reason="repeated",
            source=folded.source,
            count=folded.count,
            seconds=span,
            reasons=folded.reasons,
        )
        self.journal.audit(f"client {folded.source}"[:100], DENIED, "authenticate", reason, details)


def principal_for_certificate(sha256: str, mapping: Mapping[str, str]) -> Principal | None:
    """The principal ``mapping`` ("SHA-256" → "role@scope", for role agency
    "agency@scope:agency[,agency…]") gives a client certificate, or None; fingerprints match
    in any case, with or without colons. An entry of another form is a ``ConfigurationError``."""
    wanted = _fingerprint(sha256)
    for key, value in mapping.items():
        if _fingerprint(key) == wanted:
            role, scope, agencies = _certificate_entry(key, value)
            name = f"certificate {wanted[:16]}"
            return Principal(f"{CERTIFICATE_PREFIX}{wanted}", name, role, scope, agencies)
    return None


CERTIFICATE_PREFIX = "cert:"
_ENTRY_FORM = "'role@scope', for role agency 'agency@scope:agency[,agency…]'"


def _certificate_entry(key: str, value: str) -> tuple[Role, str, frozenset[str]]:
    """Role, scope and agencies of one ``HUB_CLIENT_CERTIFICATES`` entry."""
    role_text, at, rest = value.partition("@")
    scope_text, colon, agencies_text = rest.partition(":")
    try:
        if not at:
            raise ValueError("no '@'")
        role, scope = Role(role_text.strip()), parse_scope(scope_text)
        agencies = [a.strip() for a in agencies_text.split(",")] if colon else []
        if agencies and role is not Role.AGENCY:
            raise ValueError(f"only role agency names agencies, not {role.value}")
        return role, scope, frozenset(_agency_name(a, None) for a in agencies)
    except (ValueError, PermanentError) as exc:
        raise ConfigurationError(
            f"{CERTIFICATES_SETTING}[{key[:16]}…]: {value!r} is not {_ENTRY_FORM} "
            f"(roles: {', '.join(r.value for r in Role)}; {exc})",
        ) from exc


def _agencies_known(agencies: Collection[str], known: Collection[str] | None, key: str) -> None:
    unknown = sorted(set(agencies) - set(known)) if known is not None else []
    if unknown:
        raise ConfigurationError(
            f"{CERTIFICATES_SETTING}[{key[:16]}…] names agencies the hub does not serve: "
            f"{', '.join(unknown)} (HUB_AGENCIES: {', '.join(known or ())})"
        )


def _not_bound(principal: Principal, agency: str) -> str | None:
    """Why ``principal`` may not post for ``agency`` (None: it may)."""
    if agency in principal.agencies:
        return None
    if principal.agencies:
        return f"may post for {', '.join(sorted(principal.agencies))} only, not {agency}"
    if principal.principal_id.startswith(CERTIFICATE_PREFIX):
        return (
            f"this client certificate names no agency: write its {CERTIFICATES_SETTING} entry "
            f"as 'agency@SCOPE:{agency}'"
        )
    return (
        f"API token {principal.principal_id} names no agency (made before tokens were bound "
        f"to agencies): issue a new one with `hub tokens create --role agency --agency "
        f"{agency} …` and revoke this one"
    )


def _agency_name(text: str, known: Collection[str] | None) -> str:
    """``text`` as an agency name; ``TokenRequestError`` saying why not."""
    name = text.strip()
    if not AGENCY_NAME.fullmatch(name):
        raise TokenRequestError(
            f"agency {text!r}: a lower-case name as in /inbound/{{agency}} (a-z, 0-9, _ and -)",
            field="agencies",
        )
    if known is not None and name not in known:
        raise TokenRequestError(
            f"agency {name!r} is not one the hub serves ({', '.join(known)})", field="agencies"
        )
    return name


def _signer(text: str) -> str:
    sha256 = _fingerprint(text)
    if not _SHA256.fullmatch(sha256):
        raise TokenRequestError(
            f"signing certificate {text[:80]!r}: not a SHA-256 fingerprint (64 hex digits)",
            field="signers",
        )
    return sha256


def _token_id_of(token_text: str) -> str | None:
    try:
        return _safe_id(split_token(token_text).token_id)
    except MalformedTokenError:
        return None


def _safe_id(token_id: str | None) -> str | None:
    # A token id as presented is the sender's text: only one that could be real is repeated
    # into the audit log and the logs (no line breaks or markup smuggled into either).
    return token_id if token_id and _TOKEN_ID.fullmatch(token_id) else None


def _denial_reason(error: AccessDeniedError) -> str:
    # authorize() names the role when the role lacks the action, else the scope was wrong
    return "role" if "role" in error.details else "scope"


def _fingerprint(text: str) -> str:
    return text.replace(":", "").strip().lower()


def _label(actor: Principal | str) -> str:
    return actor.label() if isinstance(actor, Principal) else actor


def _entry_scope(scope: str) -> str:
    return "" if scope == REGION else scope


def _token_name(name: str) -> str:
    """``name`` stripped: free text (a person, a school, a system), printed as text everywhere
    (never markup); refused when empty, too long, or holding a control character."""
    text = name.strip()
    if not 0 < len(text) <= NAME_LIMIT or not _printable(text):
        raise TokenRequestError(
            f"token name: 1 to {NAME_LIMIT} printable characters, no control characters or "
            "line breaks (it names the holder in the audit log)",
            field="name",
        )
    return text


def _printable(text: str) -> bool:
    return not any(unicodedata.category(char) in _UNPRINTABLE for char in text)


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
    "TooManyAttemptsError",
    "UnknownCertificateError",
    "UnknownTokenError",
    "audit_scope",
    "principal_for_certificate",
]
