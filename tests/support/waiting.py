"""Waiting for what another thread or process does: the one polling loop every test uses, so
that each waits the same way and a timeout always fails with a message."""

from __future__ import annotations

import time
from collections.abc import Callable

# Short enough that a test does not wait long past the moment, long enough not to spin.
_POLL = 0.05


def holds_within(condition: Callable[[], bool], timeout: float) -> bool:
    """Whether ``condition`` comes to hold before ``timeout`` seconds pass (it is asked once
    more at the deadline, so a slow last poll still counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(_POLL)
    return condition()


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 30.0,
    failure: str | Callable[[], str] = "condition not met in time",
) -> None:
    """Poll ``condition`` until it holds; fail the test if ``timeout`` passes first, with
    ``failure`` as the message (a callable is asked only then, e.g. for a log's tail)."""
    if not holds_within(condition, timeout):
        raise AssertionError(failure() if callable(failure) else failure)
