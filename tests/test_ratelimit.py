"""Rate limits per agency and kind, with a fake clock (pure logic)."""

from __future__ import annotations

import pytest

from hub.services.ratelimit import RateLimiter

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(limits: dict[tuple[str, str], float], clock: Clock) -> RateLimiter:
    return RateLimiter(limits, clock=clock, sleep=clock.sleep)


def test_unlimited_kinds_never_wait() -> None:
    clock = Clock()
    rl = limiter({("zags", "birth"): 2}, clock)
    assert all(rl.wait_time("pfr", "snils") == 0 for _ in range(1000))


def test_rate_is_enforced_per_agency_and_kind() -> None:
    clock = Clock()
    rl = limiter({("zags", "birth"): 10}, clock)
    for _ in range(10):
        assert rl.acquire("zags", "birth")
    start = clock.now
    for _ in range(50):
        assert rl.acquire("zags", "birth")
    assert clock.now - start == pytest.approx(5.0, rel=0.01)  # 50 messages at 10/s
    assert rl.wait_time("zags", "death") == 0  # another kind is not limited


def test_agency_wide_limit_applies_to_every_kind() -> None:
    clock = Clock()
    rl = limiter({("pfr", "*"): 1}, clock)
    assert rl.wait_time("pfr", "snils") == 0
    assert rl.wait_time("pfr", "snils") == pytest.approx(1.0)


def test_acquire_gives_up_after_timeout() -> None:
    clock = Clock()
    rl = limiter({("zags", "birth"): 1}, clock)
    assert rl.acquire("zags", "birth")
    assert not rl.acquire("zags", "birth", timeout=0.5)
