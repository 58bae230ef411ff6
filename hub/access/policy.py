"""Roles and what each may do; one table, checked in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.access.scopes import REGION, covers
from hub.errors import PermanentError


class Role(StrEnum):
    OPERATOR = "operator"  # works failed messages within its scope
    AUDITOR = "auditor"  # reads what happened (audit log, states), never personal data
    ADMIN = "admin"  # everything, including tokens
    AGENCY = "agency"  # a regional system posting messages to the inbound endpoint
    MONITOR = "monitor"  # Prometheus: metrics only


class Action(StrEnum):
    VIEW = "view"  # dashboards, lists, a message with personal data masked
    REVEAL = "reveal"  # personal data in clear (audited)
    REPLAY = "replay"
    DISCARD = "discard"
    AUDIT = "audit"  # read the audit log
    POST = "post"  # send a message to the hub's inbound endpoint
    METRICS = "metrics"
    MANAGE_TOKENS = "manage-tokens"


PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset(
        {Action.VIEW, Action.REVEAL, Action.REPLAY, Action.DISCARD, Action.METRICS}
    ),
    Role.AUDITOR: frozenset({Action.VIEW, Action.AUDIT, Action.METRICS}),
    # Deliberately not POST: only an agency system, bound to the agencies it may speak for,
    # puts messages into the hub; an administrator who could would be a way round that binding.
    Role.ADMIN: frozenset(Action) - {Action.POST},
    Role.AGENCY: frozenset({Action.POST}),
    Role.MONITOR: frozenset({Action.METRICS}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone authenticated: a token's holder (or a client certificate's subject)."""

    principal_id: str  # the token id, or ``cert:<sha256>``
    name: str
    role: Role
    scope: str  # see hub.access.scopes
    # For role agency: the agencies it may post for (``/inbound/{agency}``); none: nowhere.
    agencies: frozenset[str] = frozenset()

    @property
    def region_wide(self) -> bool:
        return self.scope == REGION

    def label(self) -> str:
        """How the audit log names this principal."""
        return f"{self.name} ({self.role.value}@{self.scope}, {self.principal_id})"


class AccessDeniedError(PermanentError):
    """The principal may not do this (here); the attempt is audited by the caller."""

    code = "ACCESS_DENIED"


def allowed(principal: Principal, action: Action, scope: str | None = None) -> bool:
    """May ``principal`` do ``action`` (to a message of ``scope``; None: no message)."""
    if action not in PERMISSIONS[principal.role]:
        return False
    return scope is None or covers(principal.scope, scope)


def authorize(principal: Principal, action: Action, scope: str | None = None) -> None:
    """``AccessDeniedError`` unless ``allowed``; the message names no personal data."""
    if action not in PERMISSIONS[principal.role]:
        raise AccessDeniedError(
            f"role {principal.role.value} may not {action.value}",
            action=action.value,
            role=principal.role.value,
        )
    if scope is not None and not covers(principal.scope, scope):
        raise AccessDeniedError(
            f"{action.value}: outside scope {principal.scope}",
            action=action.value,
            scope=principal.scope,
        )
