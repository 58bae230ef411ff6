"""Registry commands: JSON objects on the commands exchange, each with the registry's
request id as idempotency key. ``parse_command`` turns one into a typed command or says
precisely which field is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hub.access.scopes import UNKNOWN, InvalidScopeError, parse_scope
from hub.canonical.bounds import REGISTRY_ID
from hub.canonical.values import (
    ActRecord,
    BirthCertificate,
    InvalidValueError,
    PassportRF,
    Person,
)
from hub.errors import PermanentError

VERIFY_BIRTH_RECORD = "verify_birth_record"
VERIFY_SNILS = "verify_snils"
REPORT_ENROLLMENT_STATUS = "report_enrollment_status"
COMMAND_TYPES = (VERIFY_BIRTH_RECORD, VERIFY_SNILS, REPORT_ENROLLMENT_STATUS)
EPGU_STATUS_CODES = frozenset({1, 2, 3, 4, 6, 7, 9, 10, 11, 12, 14, 15})
Role = Literal["student", "guardian"]
_COMMAND_NAME = re.compile(r"[a-z][a-z_.]{0,39}")


class InvalidCommandError(PermanentError):
    """A registry command the hub cannot carry out as given."""

    code = "INVALID_COMMAND"


@dataclass(frozen=True, slots=True)
class VerifyBirthRecord:
    request_id: str
    student_id: str
    child: Person
    birth_certificate: BirthCertificate
    act_record: ActRecord | None = None
    identity_document: PassportRF | None = None


@dataclass(frozen=True, slots=True)
class VerifySnils:
    request_id: str
    person_id: str
    role: Role
    person: Person
    document: BirthCertificate | PassportRF


@dataclass(frozen=True, slots=True)
class ReportEnrollmentStatus:
    request_id: str
    order_number: str
    status_code: int
    comment: str | None = None


Command = VerifyBirthRecord | VerifySnils | ReportEnrollmentStatus


def parse_command(data: Mapping[str, Any]) -> Command:
    """A typed command; ``InvalidCommandError`` (or ``InvalidValueError``) names the field."""
    if not isinstance(data, Mapping):
        raise InvalidCommandError("$: a registry command is a JSON object", field="$")
    kind = data.get("type")
    parsers: dict[str, Callable[[Mapping[str, Any]], Command]] = {
        VERIFY_BIRTH_RECORD: _verify_birth_record,
        VERIFY_SNILS: _verify_snils,
        REPORT_ENROLLMENT_STATUS: _report_status,
    }
    parser = parsers.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise InvalidCommandError(
            f"type: unknown registry command{_shown(kind)}",
            field="type",
            known=list(COMMAND_TYPES),
        )
    command_scope(data)  # checked here too: what parses is what the hub carries out
    return parser(data)


def _verify_birth_record(data: Mapping[str, Any]) -> VerifyBirthRecord:
    act, document = data.get("act_record"), data.get("identity_document")
    return VerifyBirthRecord(
        _id(data, "request_id"),
        _id(data, "student_id"),
        Person.from_data(data.get("child"), "child"),
        BirthCertificate.from_data(data.get("birth_certificate")),
        ActRecord.from_data(act) if act is not None else None,
        PassportRF.from_data(document, "identity_document") if document is not None else None,
    )


def _verify_snils(data: Mapping[str, Any]) -> VerifySnils:
    role = data.get("role")
    if role not in ("student", "guardian"):
        raise InvalidCommandError("role: expected 'student' or 'guardian'", field="role")
    return VerifySnils(
        _id(data, "request_id"),
        _id(data, "person_id"),
        role,
        Person.from_data(data.get("person"), "person"),
        _document(data.get("document")),
    )


def _document(data: Any) -> BirthCertificate | PassportRF:
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if kind == "birth_certificate":
        return BirthCertificate.from_data(data, "document")
    if kind == "passport":
        return PassportRF.from_data(data, "document")
    raise InvalidCommandError(
        "document.kind: expected 'birth_certificate' or 'passport'", field="document.kind"
    )


def _report_status(data: Mapping[str, Any]) -> ReportEnrollmentStatus:
    code = data.get("status_code")
    if code is None:
        raise InvalidCommandError("status_code: required number is missing", field="status_code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise InvalidCommandError("status_code: expected an integer", field="status_code")
    if code not in EPGU_STATUS_CODES:
        raise InvalidCommandError(
            f"status_code: {code} is not an EPGU order status code", field="status_code"
        )
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidCommandError("comment: expected text", field="comment")
    return ReportEnrollmentStatus(
        _id(data, "request_id"), _id(data, "order_number"), code, comment or None
    )


def command_scope(data: Mapping[str, Any]) -> str:
    """The scope a command's optional ``scope`` field gives it and what it sets off ("": none
    given, the region's alone); a municipality or a school, never the whole region."""
    scope = data.get("scope")
    if scope is None:
        return UNKNOWN
    if not isinstance(scope, str):
        raise InvalidCommandError("scope: expected text", field="scope")
    try:
        return parse_scope(scope, allow_region=False)
    except InvalidScopeError as exc:
        raise InvalidCommandError(
            "scope: expected 'MUNICIPALITY' or 'MUNICIPALITY/SCHOOL' (letters, digits, '-', '_')",
            field="scope",
        ) from exc


def _shown(kind: Any) -> str:
    # echo only what looks like a command name: anything else may be personal data
    return f" {kind!r}" if isinstance(kind, str) and _COMMAND_NAME.fullmatch(kind) else ""


def _id(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidCommandError(f"{key}: expected text", field=key)
    if value is None or not value.strip():
        raise InvalidCommandError(f"{key}: required text is missing", field=key)
    # the events that answer carry it: held to their bound here, before anything is sent
    return REGISTRY_ID.check(value.strip(), key)


__all__ = [
    "COMMAND_TYPES",
    "EPGU_STATUS_CODES",
    "Command",
    "InvalidCommandError",
    "InvalidValueError",
    "ReportEnrollmentStatus",
    "VerifyBirthRecord",
    "VerifySnils",
    "command_scope",
    "parse_command",
]
