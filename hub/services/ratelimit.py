"""The configured rate limits per agency and kind of data (``HUB_SMEV_RATE_LIMITS``).

A feature of its own: SMEV's QuoteLimitExceeded is an attachment-size quota at which SMEV
drops a message (``hub.smev.faults``), not a message rate, and does not change these."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, str]  # (agency, kind of data)
_EPSILON = 1e-6


@dataclass
class _Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now


@dataclass
class RateLimiter:
    """Token buckets: ``limits`` maps (agency, kind) or (agency, "*") to messages per second.

    Keys without a limit are not limited.
    """

    limits: Mapping[Key, float]
    burst_seconds: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _buckets: dict[Key, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _rate_for(self, key: Key) -> float | None:
        return self.limits.get(key, self.limits.get((key[0], "*")))

    def _bucket(self, key: Key, now: float) -> _Bucket | None:
        bucket = self._buckets.get(key)
        rate = self._rate_for(key)
        if bucket is None and rate is not None:
            burst = max(1.0, rate * self.burst_seconds)
            bucket = self._buckets[key] = _Bucket(rate, burst, burst, now)
        return bucket

    def wait_time(self, agency: str, kind: str) -> float:
        """Take a token if one is free (0.0), else say how long until one will be."""
        with self._lock:
            now = self.clock()
            bucket = self._bucket((agency, kind), now)
            if bucket is None:
                return 0.0
            bucket.refill(now)
            if bucket.tokens >= 1.0 - _EPSILON:  # float refills land a hair short of 1
                bucket.tokens = max(0.0, bucket.tokens - 1.0)
                return 0.0
            return (1.0 - bucket.tokens) / bucket.rate

    def acquire(self, agency: str, kind: str, timeout: float = 60.0) -> bool:
        """Block until sending one message is allowed; False if ``timeout`` passes first."""
        deadline = self.clock() + timeout
        while (delay := self.wait_time(agency, kind)) > 0:
            if self.clock() + delay > deadline:
                return False
            self.sleep(delay)
        return True
