"""Failed authentications: a back-off per client address and per token id, and their audit
entries folded together, so that a flood of guesses neither reaches the token table nor
buries the audit log, and is still counted there to the last attempt.

Both live in the memory of one process (the console): each console process keeps its own
counts, and a restart forgets the back-off (never the counts: they are written on the way
out). The address is the TCP peer's: behind a reverse proxy that is the proxy, and headers
such as ``X-Forwarded-For`` are not believed (anyone can send them).

How it behaves, for each client address and each token id on its own: ``FAILURES_ALLOWED``
failures within ``WINDOW`` seconds are checked as usual; then everything from that address,
or naming that token id, is refused unchecked for ``FIRST_BLOCK`` seconds, twice as long each
time the allowance is spent again, up to ``LONGEST_BLOCK``; a quiet ``LONGEST_BLOCK`` forgets.

The audit log gets the first failure from an address in a window in full; the rest of that
window (failures and refusals alike) become one entry, "N more failed authentications from
ADDRESS in the last S s", written when the window has closed (``due``), when that address
fails again after it, or when the process stops (``drain``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.errors import RetryableError

FAILURES_ALLOWED = 10
WINDOW = 60.0
FIRST_BLOCK = 30.0
LONGEST_BLOCK = 900.0
TRACKED = 10_000  # addresses and token ids remembered at once; the least recent is forgotten
LISTED_TOKEN_IDS = 10  # token ids a folded entry names (the rest are counted)
THROTTLED = "throttled"  # the reason of an attempt refused unchecked

Key = tuple[str, str]  # ("source", address) or ("token", token id)


class TooManyAttemptsError(RetryableError):
    """Too many failed authentications from this address or for this token id: refused
    unchecked until ``retry_after`` seconds have passed."""

    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many failed authentications: try again in {seconds} s", retry_after=seconds
        )
        self.retry_after = seconds


@dataclass(slots=True)
class _Allowance:
    window_start: float
    failures: int = 0
    blocked_until: float = 0.0
    strikes: int = 0  # allowances spent in a row: each doubles the next block


@dataclass
class Backoff:
    """The rate limit on failures: per key, an allowance per window, then a growing block."""

    failures_allowed: int = FAILURES_ALLOWED
    window: float = WINDOW
    first_block: float = FIRST_BLOCK
    longest_block: float = LONGEST_BLOCK
    tracked: int = TRACKED
    _keys: OrderedDict[Key, _Allowance] = field(default_factory=OrderedDict)

    def wait(self, keys: Iterable[Key], now: float) -> float:
        """Seconds until every one of ``keys`` may be tried again (0: now)."""
        waits = [a.blocked_until - now for k in keys if (a := self._keys.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[Key], now: float) -> None:
        for key in keys:
            self._failed(key, now)

    def _failed(self, key: Key, now: float) -> None:
        allowance = self._allowance(key, now)
        if now - allowance.window_start >= self.window:
            allowance.window_start, allowance.failures = now, 0
        allowance.failures += 1
        if allowance.failures >= self.failures_allowed:
            block = min(self.longest_block, self.first_block * 2**allowance.strikes)
            allowance.blocked_until = now + block
            allowance.strikes += 1
            allowance.window_start, allowance.failures = allowance.blocked_until, 0

    def _allowance(self, key: Key, now: float) -> _Allowance:
        allowance = self._keys.pop(key, None) or _Allowance(now)
        if allowance.strikes and now - allowance.blocked_until >= self.longest_block:
            allowance.strikes = 0  # quiet for as long as the longest block: forgiven
        self._keys[key] = allowance  # the most recently failed last
        while len(self._keys) > self.tracked:
            self._keys.popitem(last=False)
        return allowance


@dataclass(frozen=True)
class FoldedFailures:
    """Failed authentications from one address that were counted, not written one by one."""

    source: str
    count: int
    first_at: datetime  # when the window opened (its first failure was written in full)
    seconds: float  # how long the window had been open when this was written
    reasons: dict[str, int]  # "unknown", "malformed", "revoked", "expired", "throttled"…
    token_ids: tuple[str, ...]  # the first few token ids named (never a secret)
    other_token_ids: int  # how many more distinct token ids were named


@dataclass
class _Tally:
    opened: float
    opened_at: datetime
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    token_ids: set[str] = field(default_factory=set)
    other_token_ids: int = 0

    def add(self, reason: str, token_id: str | None) -> None:
        self.count += 1
        self.reasons[reason] += 1
        if token_id is None or token_id in self.token_ids:
            return
        if len(self.token_ids) < LISTED_TOKEN_IDS:
            self.token_ids.add(token_id)
        else:
            self.other_token_ids += 1  # an upper bound: ids past the list are not remembered

    def folded(self, source: str, now: float) -> FoldedFailures:
        return FoldedFailures(
            source,
            self.count,
            self.opened_at,
            now - self.opened,
            dict(self.reasons),
            tuple(sorted(self.token_ids)),
            self.other_token_ids,
        )


@dataclass
class Digest:
    """Which failures are audited in full (the first from an address in a window) and the
    counts of the others, per address, until they are due."""

    window: float = WINDOW
    tracked: int = TRACKED
    _tallies: OrderedDict[str, _Tally] = field(default_factory=OrderedDict)
    _unwritten: list[FoldedFailures] = field(default_factory=list)

    def note(self, source: str, reason: str, token_id: str | None, now: float) -> bool:
        """Count a failure; True when it opens a window (and is to be written in full)."""
        tally = self._tallies.get(source)
        if tally is not None and now - tally.opened < self.window:
            tally.add(reason, token_id)
            return False
        self._close(source, now)
        self._tallies[source] = _Tally(now, datetime.now(UTC))
        while len(self._tallies) > self.tracked:  # written early rather than forgotten
            self._close(next(iter(self._tallies)), now)
        return True

    def due(self, now: float) -> list[FoldedFailures]:
        """The counts of every window that has closed (and any that could not be written)."""
        while self._tallies:
            source, tally = next(iter(self._tallies.items()))
            if now - tally.opened < self.window:
                break
            self._close(source, now)
        return self._take()

    def drain(self, now: float) -> list[FoldedFailures]:
        """Every count not yet written, windows still open included (the process stops)."""
        for source in list(self._tallies):
            self._close(source, now)
        return self._take()

    def put_back(self, unwritten: Iterable[FoldedFailures]) -> None:
        """Counts that could not be written: they are handed out again next time."""
        self._unwritten[:0] = list(unwritten)

    def _close(self, source: str, now: float) -> None:
        tally = self._tallies.pop(source, None)
        if tally is not None and tally.count:
            self._unwritten.append(tally.folded(source, now))

    def _take(self) -> list[FoldedFailures]:
        taken, self._unwritten = self._unwritten, []
        return taken


@dataclass
class AuthenticationThrottle:
    """The back-off and the digest together, safe to use from many threads."""

    backoff: Backoff = field(default_factory=Backoff)
    digest: Digest = field(default_factory=Digest)
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, source: str, token_id: str | None) -> float:
        """Seconds this address (or this token id) must wait before it is checked again."""
        with self._lock:
            return self.backoff.wait(_keys(source, token_id), self.clock())

    def failed(self, source: str, reason: str, token_id: str | None) -> bool:
        """Count a failure (a refusal unchecked counts, but does not lengthen the block);
        True when it is to be audited in full."""
        with self._lock:
            now = self.clock()
            if reason != THROTTLED:
                self.backoff.failed(_keys(source, token_id), now)
            return self.digest.note(source, reason, token_id, now)

    def due(self) -> list[FoldedFailures]:
        with self._lock:
            return self.digest.due(self.clock())

    def drain(self) -> list[FoldedFailures]:
        with self._lock:
            return self.digest.drain(self.clock())

    def put_back(self, unwritten: Iterable[FoldedFailures]) -> None:
        with self._lock:
            self.digest.put_back(unwritten)


def _keys(source: str, token_id: str | None) -> list[Key]:
    return [("source", source)] + ([("token", token_id)] if token_id else [])


__all__ = [
    "THROTTLED",
    "AuthenticationThrottle",
    "Backoff",
    "Digest",
    "FoldedFailures",
    "TooManyAttemptsError",
]
