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
from hub.access.tokens import IssuedToken, TokenSecret, hash_secret, new_token, split_token

__all__ = [
    "REGION",
    "AccessDeniedError",
    "Action",
    "InvalidScopeError",
    "IssuedToken",
    "Principal",
    "Role",
    "TokenSecret",
    "allowed",
    "authorize",
    "covers",
    "hash_secret",
    "new_token",
    "parse_scope",
    "split_token",
]
