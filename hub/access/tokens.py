"""API tokens: ``hub_<id>_<secret>``; only a hash of the secret is ever stored.

The secret is 256 random bits, so a plain SHA-256 is as strong as a slow password hash and
lets every request be checked in microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import ClassVar

from hub.errors import PermanentError

PREFIX = "hub"


class AuthenticationError(PermanentError):
    """Who is asking could not be established; ``reason`` says why in one word."""

    code = "UNAUTHENTICATED"
    reason: ClassVar[str] = "unauthenticated"


class InvalidTokenError(AuthenticationError):
    """A token that does not admit its bearer: malformed, unknown, revoked or expired."""

    code = "INVALID_TOKEN"


class MalformedTokenError(InvalidTokenError):
    code = "MALFORMED_TOKEN"
    reason = "malformed"


@dataclass(frozen=True, slots=True)
class TokenSecret:
    token_id: str
    secret: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``text`` is shown once, ``secret_hash`` is what the journal keeps."""

    token_id: str
    text: str
    secret_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> IssuedToken:
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return IssuedToken(token_id, f"{PREFIX}_{token_id}_{secret}", hash_secret(secret))


def split_token(text: str) -> TokenSecret:
    """The id and secret of a token as presented; ``MalformedTokenError`` says why not."""
    prefix, _, rest = text.strip().partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(token_id) != 12 or len(secret) < 32:
        raise MalformedTokenError("not a hub API token (expected hub_<id>_<secret>)")
    return TokenSecret(token_id, secret)


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
