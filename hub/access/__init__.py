"""Who may do what, and to which messages: principals, roles, scopes and API tokens."""

from hub.access.policy import (
    AccessDeniedError,
    Action,
    Principal,
    Role,
    allowed,
    authorize,
)
from hub.access.scopes import REGION, InvalidScopeError, covers, parse_scope
from hub.access.service import (
    AccessService,
    ExpiredTokenError,
    Guard,
    RevokedTokenError,
    TokenRequestError,
    UnknownCertificateError,
    UnknownTokenError,
    principal_for_certificate,
)
from hub.access.throttle import AuthenticationThrottle, TooManyAttemptsError
from hub.access.tokens import (
    AuthenticationError,
    InvalidTokenError,
    IssuedToken,
    MalformedTokenError,
    TokenSecret,
    hash_secret,
    new_token,
    split_token,
)

__all__ = [
    "REGION",
    "AccessDeniedError",
    "AccessService",
    "Action",
    "AuthenticationError",
    "AuthenticationThrottle",
    "ExpiredTokenError",
    "Guard",
    "InvalidScopeError",
    "InvalidTokenError",
    "IssuedToken",
    "MalformedTokenError",
    "Principal",
    "RevokedTokenError",
    "Role",
    "TokenRequestError",
    "TokenSecret",
    "TooManyAttemptsError",
    "UnknownCertificateError",
    "UnknownTokenError",
    "allowed",
    "authorize",
    "covers",
    "hash_secret",
    "new_token",
    "parse_scope",
    "principal_for_certificate",
    "split_token",
]
