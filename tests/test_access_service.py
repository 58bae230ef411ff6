"""API tokens and client certificates on a real journal (SQLite): issued, admitted, refused
(malformed, unknown, revoked, expired) with every refusal audited and no secret echoed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.access import (
    AccessDeniedError,
    AccessService,
    ExpiredTokenError,
    MalformedTokenError,
    RevokedTokenError,
    Role,
    TokenRequestError,
    UnknownCertificateError,
    UnknownTokenError,
    principal_for_certificate,
    split_token,
)
from hub.errors import ConfigurationError
from hub.journal.api import Journal
from hub.journal.records import AuditEntry
from hub.journal.sql import SqlJournal

pytestmark = pytest.mark.unit
SCHOOL = "45201/4520100012"
CERT = "ab" * 32


@dataclass
class Clock:
    now: datetime = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqlJournal]:
    with SqlJournal(f"sqlite:///{tmp_path / 'hub.db'}", create=True) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(journal: SqlJournal, clock: Clock) -> AccessService:
    return AccessService(journal, clock, certificates={CERT.upper(): f"agency@{SCHOOL}"})


def denials(journal: Journal) -> list[AuditEntry]:
    return [e for e in journal.audit_log(1000) if e.action == "denied"]


def text_of(entry: AuditEntry) -> str:
    return " ".join((entry.actor, entry.target, entry.reason, json.dumps(entry.details)))


def test_an_issued_token_admits_its_holder_with_its_role_and_scope(access: AccessService) -> None:
    issued = access.issue("Иванова А. А.", "operator", SCHOOL, timedelta(days=30), "root")
    principal = access.authenticate(issued.text)
    assert (principal.principal_id, principal.name) == (issued.token_id, "Иванова А. А.")
    assert (principal.role, principal.scope) == (Role.OPERATOR, SCHOOL)
    [record] = access.list()
    secret = split_token(issued.text).secret
    assert record.secret_hash == issued.secret_hash and secret not in repr(record)
    assert record.created_by == "root" and record.expires_at == access.clock() + timedelta(days=30)
    [issued_entry] = access.journal.audit_log(10)
    assert (issued_entry.action, issued_entry.target) == ("issue_token", issued.token_id)
    assert secret not in text_of(issued_entry) and issued_entry.scope == SCHOOL


def test_every_refused_token_says_why_and_is_audited_without_its_secret(
    access: AccessService, clock: Clock
) -> None:
    revoked = access.issue("a", Role.AUDITOR, "*", None, "root")
    access.revoke(revoked.token_id, "root")
    expiring = access.issue("b", Role.AUDITOR, "*", timedelta(hours=1), "root")
    clock.advance(hours=1)
    token_id, secret = revoked.token_id, split_token(revoked.text).secret
    wrong = f"hub_{token_id}_{'x' * 43}"
    cases = [
        ("hub_short", MalformedTokenError, "malformed"),
        (f"hub_{'0' * 12}_{secret}", UnknownTokenError, "unknown"),
        (wrong, UnknownTokenError, "unknown"),
        (revoked.text, RevokedTokenError, "revoked"),
        (expiring.text, ExpiredTokenError, "expired"),
    ]
    for text, error, reason in cases:
        with pytest.raises(error) as raised:
            access.authenticate(text)
        assert raised.value.reason == reason and secret not in str(raised.value)
    entries = denials(access.journal)
    assert [e.reason for e in reversed(entries)] == [reason for _, _, reason in cases]
    for entry in entries:
        assert secret not in text_of(entry) and "x" * 43 not in text_of(entry)
        assert entry.details["action"] == "authenticate"


def test_last_use_is_noted_at_most_once_a_minute(access: AccessService, clock: Clock) -> None:
    issued = access.issue("c", Role.OPERATOR, SCHOOL, None, "root")
    access.authenticate(issued.text)
    first = access.journal.token(issued.token_id)
    assert first is not None and first.last_used_at == clock.now
    clock.advance(seconds=59)
    access.authenticate(issued.text)
    assert access.journal.token(issued.token_id) == first
    clock.advance(seconds=1)
    access.authenticate(issued.text)
    touched = access.journal.token(issued.token_id)
    assert touched is not None and touched.last_used_at == clock.now


REFUSED_REQUESTS = {
    "name": ("", "operator", SCHOOL, None),
    "name with a line break": ("line\nbreak", "operator", SCHOOL, None),
    "name with an escape": ("a\x1b[2Jb", "operator", SCHOOL, None),
    "name with a bidirectional override": ("abc\u202edcba", "operator", SCHOOL, None),
    "name too long": ("я" * 81, "operator", SCHOOL, None),
    "role": ("d", "root", SCHOOL, None),
    "scope": ("d", "operator", "45201/a b", None),
    "expires_in": ("d", "operator", SCHOOL, timedelta(0)),
}


@pytest.mark.parametrize("field", REFUSED_REQUESTS)
def test_a_token_request_that_is_not_one_is_refused(access: AccessService, field: str) -> None:
    name, role, scope, expires_in = REFUSED_REQUESTS[field]
    with pytest.raises(TokenRequestError) as raised:
        access.issue(name, role, scope, expires_in, "root")
    assert raised.value.details["field"] == field.split(maxsplit=1)[0]
    assert access.list() == []


@pytest.mark.parametrize(
    "name", ["Иванова, школа 12", "ЗАГС: шлюз", "<b>[red]x[/]</b> & «Ёлка» №5; 100%", "я" * 80]
)
def test_a_name_is_free_text(access: AccessService, name: str) -> None:
    # As the README's examples name holders: punctuation and markup are text, shown as text.
    issued = access.issue(f"  {name} ", "operator", SCHOOL, None, "root")
    record = access.journal.token(issued.token_id)
    assert record is not None
    assert record.name == name


def test_revoking_an_unknown_or_revoked_token_says_so(access: AccessService) -> None:
    issued = access.issue("e", Role.OPERATOR, SCHOOL, None, "root")
    access.revoke(issued.token_id, "root")
    for token_id in (issued.token_id, "000000000000"):
        with pytest.raises(TokenRequestError, match="no active token"):
            access.revoke(token_id, "root")


def test_an_admin_manages_tokens_within_its_own_scope_only(access: AccessService) -> None:
    admin = access.authenticate(access.issue("adm", Role.ADMIN, "45201", None, "root").text)
    inside = access.issue("f", Role.OPERATOR, SCHOOL, None, admin)
    elsewhere = access.issue("g", Role.OPERATOR, "45202/1", None, "root")
    for scope in ("*", "45202", "45202/1"):
        with pytest.raises(AccessDeniedError):
            access.issue("h", Role.OPERATOR, scope, None, admin)
    with pytest.raises(AccessDeniedError):
        access.revoke(elsewhere.token_id, admin)
    assert {t.token_id for t in access.list(admin)} == {admin.principal_id, inside.token_id}
    access.revoke(inside.token_id, admin)
    assert len(denials(access.journal)) == 4
    operator = access.authenticate(access.issue("i", Role.OPERATOR, "*", None, "root").text)
    with pytest.raises(AccessDeniedError):
        access.list(operator)


def test_a_client_certificate_maps_to_its_principal(access: AccessService) -> None:
    colons = ":".join(CERT[i : i + 2] for i in range(0, 64, 2))
    principal = access.authenticate_certificate(colons)
    assert (principal.role, principal.scope, principal.principal_id) == (
        Role.AGENCY,
        SCHOOL,
        f"cert:{CERT}",
    )
    with pytest.raises(UnknownCertificateError):
        access.authenticate_certificate("cd" * 32)
    [entry] = denials(access.journal)
    assert entry.reason == "unknown-certificate" and entry.actor.startswith("certificate cdcd")
    assert principal_for_certificate("cd" * 32, {CERT: "agency@*"}) is None
    for wrong in ("agency", "king@*", "agency@a b"):
        with pytest.raises(ConfigurationError, match="role@scope"):
            principal_for_certificate(CERT, {CERT: wrong})


# --- agency tokens: bound to agencies, and optionally to signing certificates ---------------

SIGNER = "cd" * 32


def test_an_agency_token_names_its_agencies_and_signers(access: AccessService) -> None:
    issued = access.issue(
        "zags system",
        Role.AGENCY,
        SCHOOL,
        None,
        "root",
        agencies=[" zags", "pfr", "zags"],
        signers=[SIGNER.upper(), ":".join(SIGNER[i : i + 2] for i in range(0, 64, 2))],
    )
    record = access.journal.token(issued.token_id)
    assert record is not None and (record.agencies, record.signers) == (("zags", "pfr"), (SIGNER,))
    principal = access.authenticate(issued.text)
    assert principal.agencies == {"zags", "pfr"}
    [entry] = access.journal.audit_log(10)
    assert entry.details["agencies"] == ["zags", "pfr"] and entry.details["signers"] == [SIGNER]
    assert access.bound_signers(issued.token_id) == {SIGNER}


def test_only_an_agency_token_with_agencies_is_issued(journal: SqlJournal, clock: Clock) -> None:
    access = AccessService(journal, clock, known_agencies=("zags", "pfr", "gosuslugi"))
    refused: list[tuple[Role, dict[str, list[str]], str]] = [
        (Role.AGENCY, {}, "agencies"),
        (Role.AGENCY, {"agencies": ["mvd"]}, "agencies"),  # not an agency the hub serves
        (Role.AGENCY, {"agencies": ["ZAGS"]}, "agencies"),
        (Role.AGENCY, {"agencies": ["../zags"]}, "agencies"),
        (Role.AGENCY, {"agencies": ["zags"], "signers": ["not-a-sha256"]}, "signers"),
        (Role.OPERATOR, {"agencies": ["zags"]}, "agencies"),
        (Role.ADMIN, {"signers": [SIGNER]}, "signers"),
    ]
    for role, binding, field in refused:
        with pytest.raises(TokenRequestError) as raised:
            access.issue("x", role, "*", None, "root", **binding)
        assert raised.value.details["field"] == field, (role, binding)
    assert access.list() == []


def test_bound_signers_are_none_unless_a_token_names_some(access: AccessService) -> None:
    plain = access.issue("pfr system", Role.AGENCY, "*", None, "root", agencies=["pfr"])
    assert access.bound_signers(plain.token_id) is None
    assert access.bound_signers("000000000000") is None  # unknown token
    assert access.bound_signers(f"cert:{CERT}") is None  # certificates name no signers


def test_check_inbound_admits_only_a_bound_agency_system(access: AccessService) -> None:
    zags = access.authenticate(
        access.issue("zags", Role.AGENCY, "*", None, "root", agencies=["zags"]).text
    )
    access.check_inbound(zags, "zags")
    admin = access.authenticate(access.issue("adm", Role.ADMIN, "*", None, "root").text)
    by_certificate = access.authenticate_certificate(CERT)  # "agency@SCHOOL": no agencies
    for who, agency, why in (
        (zags, "pfr", "may post for zags only, not pfr"),
        (admin, "zags", "role admin may not post"),
        (by_certificate, "zags", "this client certificate names no agency"),
    ):
        with pytest.raises(AccessDeniedError) as raised:
            access.check_inbound(who, agency)
        assert str(raised.value).startswith(why)
    assert [(e.target, e.details["action"]) for e in reversed(denials(access.journal))] == [
        ("pfr", "post"),
        ("zags", "post"),
        ("zags", "post"),
    ]


def test_a_client_certificate_names_its_agencies() -> None:
    principal = principal_for_certificate(CERT, {CERT: f"agency@{SCHOOL}: zags , pfr"})
    assert principal is not None and principal.agencies == {"zags", "pfr"}
    assert principal.scope == SCHOOL
    for wrong in ("operator@*:zags", "agency@*:", "agency@*:zags,", "agency@*:ZAGS"):
        with pytest.raises(ConfigurationError, match="HUB_CLIENT_CERTIFICATES") as raised:
            principal_for_certificate(CERT, {CERT: wrong})
        assert "agency@scope:agency" in str(raised.value)


def test_unknown_agencies_in_the_certificates_stop_the_service_at_start(
    journal: SqlJournal,
) -> None:
    with pytest.raises(ConfigurationError, match=r"HUB_CLIENT_CERTIFICATES\[abab.*mvd"):
        AccessService(journal, certificates={CERT: "agency@*:zags,mvd"}, known_agencies=["zags"])
    with pytest.raises(ConfigurationError, match="role@scope"):
        AccessService(journal, certificates={CERT: "king@*"})
    AccessService(journal, certificates={CERT: "agency@*:zags"}, known_agencies=["zags"])
