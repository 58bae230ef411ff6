"""Faults for crash tests, loaded as adapter plug-ins (``HUB_ADAPTERS``) by hub processes that
a test starts as children: each injects a bug that makes one of the process's threads die of
an unexpected exception. Never load these in the test process itself."""

from __future__ import annotations

import threading
import time

from hub.adapters.router import Router
from hub.services.relay import Relay
from hub.services.worker import Worker

INJECTED = "injected bug"


def _bug(*_args: object, **_kwargs: object) -> int:
    raise RuntimeError(INJECTED)


def break_the_sweeper(_router: Router) -> None:
    """The worker's sweeper thread (a thread the worker service starts) dies at its first
    sweep; the consumer goes on."""
    Worker.sweep = _bug  # type: ignore[method-assign]


def break_the_relay(_router: Router) -> None:
    """The relay's own service thread dies when it first publishes."""
    Relay.publish_once = _bug  # type: ignore[method-assign]


def stray_thread(_router: Router) -> None:
    """A thread of no service (as a library might start) dies once the process watches its
    threads (it replaced ``threading.excepthook``)."""

    def die() -> None:
        while threading.excepthook is threading.__excepthook__:
            time.sleep(0.05)
        raise RuntimeError(INJECTED)

    threading.Thread(target=die, name="stray", daemon=True).start()
