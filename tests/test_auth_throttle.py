"""Failed authentications on a real journal (SQLite) with a fake clock: a back-off per client
address and per token id, refusals unchecked while it lasts, the audit log folded yet adding
up to every attempt, and one structured log line per failure and denial, without secrets."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hub.access import (
    AccessDeniedError,
    AccessService,
    Action,
    AuthenticationThrottle,
    Principal,
    Role,
    TooManyAttemptsError,
    UnknownTokenError,
    split_token,
)
from hub.access.throttle import Backoff, Digest
from hub.journal.records import AuditEntry
from hub.journal.sql import SqlJournal

pytestmark = pytest.mark.unit
ATTACKER, OFFICE = "203.0.113.7", "198.51.100.20"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
def journal(database: Path) -> Iterator[SqlJournal]:
    with SqlJournal(f"sqlite:///{database}", create=True) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(journal: SqlJournal, clock: Clock) -> AccessService:
    throttle = AuthenticationThrottle(Backoff(), Digest(), clock)
    return AccessService(journal, throttle=throttle)


def bad_token(n: int, token_id: str | None = None) -> str:
    return f"hub_{token_id or f'{n:012x}'}_{'s' * 40}{n}"


def failures(journal: SqlJournal) -> list[AuditEntry]:
    return [e for e in journal.audit_log(100_000) if e.details.get("action") == "authenticate"]


def attempts(entries: list[AuditEntry]) -> int:
    return sum(int(e.details["count"]) for e in entries)


def fail(access: AccessService, text: str, source: str) -> type[Exception]:
    with pytest.raises((UnknownTokenError, TooManyAttemptsError)) as raised:
        access.authenticate(text, source)
    return type(raised.value)


def test_an_address_gets_ten_tries_then_is_refused_unchecked_for_longer_each_time(
    access: AccessService, clock: Clock
) -> None:
    good = access.issue("operator", Role.OPERATOR, "*", None, "root").text
    assert [fail(access, bad_token(n), ATTACKER) for n in range(10)] == [UnknownTokenError] * 10
    with pytest.raises(TooManyAttemptsError) as refused:
        access.authenticate(good, ATTACKER)  # even a good token: nothing is checked now
    assert refused.value.retry_after == 30
    assert access.authenticate(good, OFFICE).role is Role.OPERATOR  # others are not held up
    clock.now += 30
    assert access.authenticate(good, ATTACKER).role is Role.OPERATOR  # the block is over
    for n in range(10):
        fail(access, bad_token(100 + n), ATTACKER)
    with pytest.raises(TooManyAttemptsError) as again:
        access.authenticate(good, ATTACKER)
    assert again.value.retry_after == 60  # spent twice in a row: twice as long
    clock.now += 60 + 900  # quiet for the longest block: forgiven
    for n in range(10):
        fail(access, bad_token(200 + n), ATTACKER)
    with pytest.raises(TooManyAttemptsError) as forgiven:
        access.authenticate(good, ATTACKER)
    assert forgiven.value.retry_after == 30


def test_a_token_id_is_limited_from_every_address(access: AccessService) -> None:
    issued = access.issue("school system", Role.AGENCY, "*", None, "root", agencies=("zags",))
    guessed = bad_token(0, issued.token_id)
    for n in range(10):  # ten addresses, one guess each at the same token
        fail(access, guessed, f"10.0.0.{n}")
    with pytest.raises(TooManyAttemptsError):
        access.authenticate(issued.text, OFFICE)  # that token id is held, from anywhere
    other = access.issue("another", Role.AGENCY, "*", None, "root", agencies=("zags",)).text
    assert access.authenticate(other, OFFICE).role is Role.AGENCY


def test_without_an_address_nothing_is_held_back(access: AccessService) -> None:
    """The CLI and a session's re-check have no client address: audited one by one, as before."""
    for n in range(20):
        fail(access, bad_token(n), None)  # type: ignore[arg-type]
    assert len(failures(access.journal)) == 20


def test_a_flood_of_2600_bad_tokens_is_folded_but_every_attempt_is_counted(
    access: AccessService, clock: Clock
) -> None:
    for n in range(2600):
        clock.now += 0.003  # 2,600 guesses in about 8 s
        fail(access, bad_token(n), ATTACKER)
    before_flush = failures(access.journal)
    assert len(before_flush) == 1  # the first, in full; the rest counted in memory
    assert access.flush_failed_authentications() == 0  # the window is still open
    clock.now += 60
    assert access.flush_failed_authentications() == 1
    entries = failures(access.journal)
    assert len(entries) == 2 and attempts(entries) == 2600
    [folded] = [e for e in entries if e.details["reason"] == "repeated"]
    assert folded.details["reasons"] == {"unknown": 9, "throttled": 2590}
    assert folded.reason.startswith(f"2599 more failed authentications from {ATTACKER} within ")
    assert len(folded.details["token_ids"]) == 10 and folded.details["other_token_ids"] == 2589
    assert "s" * 40 not in str(folded.details)


def test_a_flood_over_many_windows_stays_bounded_and_adds_up(
    access: AccessService, clock: Clock
) -> None:
    for n in range(3000):
        clock.now += 0.5  # 25 minutes of guessing
        fail(access, bad_token(n), ATTACKER)
    access.flush_failed_authentications(everything=True)
    entries = failures(access.journal)
    assert attempts(entries) == 3000
    assert len(entries) <= 2 * (1500 // 60 + 1)  # at most two entries a window


def test_counts_that_cannot_be_written_are_kept_for_the_next_time(
    access: AccessService, clock: Clock, database: Path
) -> None:
    for n in range(50):
        fail(access, bad_token(n), ATTACKER)
    clock.now += 60
    with sqlite3.connect(database) as raw:
        raw.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
    with pytest.raises(Exception):  # noqa: B017 - whatever the database says
        access.flush_failed_authentications()
    with sqlite3.connect(database) as raw:
        raw.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
    assert access.flush_failed_authentications() == 1
    assert attempts(failures(access.journal)) == 50


def test_a_process_that_stops_writes_what_it_counted(access: AccessService) -> None:
    for n in range(25):
        fail(access, bad_token(n), ATTACKER)
    assert access.flush_failed_authentications() == 0
    assert access.flush_failed_authentications(everything=True) == 1
    assert attempts(failures(access.journal)) == 25


def test_each_failure_and_each_denial_is_one_log_line_without_secrets(
    access: AccessService,
) -> None:
    issued = access.issue("Иванова А. А.", Role.OPERATOR, "45201/4520100012", None, "root")
    secret = split_token(issued.text).secret
    wrong = f"hub_{issued.token_id}_{'x' * 43}"
    principal = access.authenticate(issued.text)
    with capture_logs() as logged:
        fail(access, wrong, ATTACKER)
        with pytest.raises(AccessDeniedError):
            access.check(principal, Action.REVEAL, "failed-1", scope="45201/4520100099")
        with pytest.raises(AccessDeniedError):
            access.check(principal, Action.AUDIT, "audit")
    failed, out_of_scope, by_role = logged
    assert failed["event"] == "authentication failed" and failed["log_level"] == "warning"
    assert (failed["reason"], failed["source"], failed["token_id"]) == (
        "unknown",
        ATTACKER,
        issued.token_id,
    )
    assert out_of_scope["event"] == "access denied" and out_of_scope["reason"] == "scope"
    assert (out_of_scope["action"], out_of_scope["target"]) == ("reveal", "failed-1")
    assert out_of_scope["principal"] == issued.token_id
    assert (by_role["action"], by_role["reason"]) == ("audit", "role")
    text = repr(logged)
    assert secret not in text and "x" * 43 not in text and "Иванова" not in text


def test_a_presented_token_id_is_repeated_only_if_it_could_be_real(
    access: AccessService,
) -> None:
    smuggled = "hub_ab\ncd<b>e<i>_" + "s" * 40  # an "id" of 12 characters
    with capture_logs() as logged:
        for _ in range(12):
            with pytest.raises((UnknownTokenError, TooManyAttemptsError)):
                access.authenticate(smuggled, ATTACKER)
    access.flush_failed_authentications(everything=True)
    written = repr([(e.actor, e.target, e.details) for e in failures(access.journal)])
    for text in (repr(logged), written):
        assert "<b>" not in text and "\\n" not in text
    assert attempts(failures(access.journal)) == 12


def test_a_guard_denial_is_audited_and_logged_once(access: AccessService) -> None:
    principal = Principal("tok000000001", "Петров", Role.AUDITOR, "45201")
    with capture_logs() as logged, pytest.raises(AccessDeniedError):
        access.check(principal, Action.REPLAY, "failed-9")
    assert [e["event"] for e in logged] == ["access denied"]
    [entry] = access.journal.audit_log(10)
    assert (entry.action, entry.target, entry.details["action"]) == ("denied", "failed-9", "replay")
