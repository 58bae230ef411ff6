"""Running the hub's long-lived services: threads, signals, reconnecting after outages, and
crashes: a thread of a service process that dies of an exception takes its process down with
a non-zero exit (``CRASHED``), so that ``hub run``'s supervisor (or the container's restart
policy) starts it afresh instead of leaving a process running with a dead thread."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from hub.errors import PermanentError, RetryableError

log = structlog.get_logger("hub.runtime")

CRASHED = 70  # the exit code of a process one of whose threads crashed (sysexits' EX_SOFTWARE)
HEALTHY_AFTER = 30.0  # seconds an operation ran before failing: it was up, back off afresh
STOP_TIMEOUT = 30.0  # seconds the services get to finish once stopped
LONGEST_BACKOFF = 15.0  # seconds a service waits at most between attempts after failures


class ServiceCrashedError(PermanentError):
    """A thread of a service died of an exception (or a service ended before it was
    stopped): the process stops and exits ``CRASHED``."""

    code = "SERVICE_CRASHED"


def _retrying(stop: threading.Event, name: str) -> Retrying:
    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.warning("service retrying", service=name, error=str(error), in_seconds=round(delay, 2))

    return Retrying(
        retry=retry_if_exception_type(RetryableError),
        wait=wait_exponential_jitter(multiplier=0.2, max=15),
        stop=lambda _state: stop.is_set(),
        sleep=lambda seconds: _sleep(stop, seconds),
        before_sleep=log_retry,
        reraise=True,
    )


def retry_until_done(operation: Callable[[], object], stop: threading.Event, name: str) -> bool:
    """Run ``operation`` once successfully, backing off on passing failures; False if
    ``stop`` came first."""
    try:
        _retrying(stop, name)(operation)
    except RetryableError:
        if stop.is_set():
            return False
        raise
    return True


def backoff_forever(
    operation: Callable[[], None],
    stop: threading.Event,
    name: str,
    longest: float = LONGEST_BACKOFF,
) -> None:
    """Run ``operation`` again and again until ``stop``; passing failures back off
    exponentially with jitter, up to ``longest`` seconds. For loops that must survive broker
    or database outages: an operation that ran ``HEALTHY_AFTER`` seconds before it failed was
    up, so the back-off starts afresh (a service's tenth outage in a month waits no longer
    than its first)."""
    failures = 0
    while not stop.is_set():
        began = time.monotonic()
        try:
            operation()
            failures = 0
        except RetryableError as error:
            failures = failures_after(failures, time.monotonic() - began)
            _back_off(stop, name, error, backoff_delay(failures, longest))


def _back_off(stop: threading.Event, name: str, error: RetryableError, delay: float) -> None:
    log.warning("service retrying", service=name, error=str(error), in_seconds=round(delay, 2))
    stop.wait(delay)  # a stop request cuts the back-off short


def failures_after(failures: int, ran_for: float) -> int:
    """Consecutive failures once an operation that ran ``ran_for`` seconds failed."""
    return 1 if ran_for >= HEALTHY_AFTER else failures + 1


def backoff_delay(failures: int, longest: float = LONGEST_BACKOFF) -> float:
    """Seconds to wait after ``failures`` consecutive failures: 0.2 s doubling up to
    ``longest``, plus up to a second of jitter (processes that lost the same server do not
    return as one)."""
    exponential = 0.2 * 2.0 ** min(failures - 1, 16)
    return min(longest, exponential + random.uniform(0.0, 1.0))  # noqa: S311 - jitter


def _sleep(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)  # a stop request cuts the back-off short


@dataclass(frozen=True)
class Service:
    name: str
    run: Callable[[threading.Event], None]


def run_services(
    services: Sequence[Service],
    stop: threading.Event | None = None,
    *,
    crash_grace: float | None = None,
) -> None:
    """Run services in threads until SIGTERM/SIGINT (or ``stop``); then let them finish.

    A thread of this process that dies of an exception (a service's, or one a service
    started) stops every service; ``ServiceCrashedError`` is raised once they have finished.
    ``crash_grace``: seconds after a crash at which the process exits ``CRASHED`` however
    far it got (for processes of their own; None in tests)."""
    stop = stop or stop_event()
    with CrashGuard(stop.set, crash_grace) as guard:
        threads = [
            threading.Thread(target=_watched, args=(s, stop, guard), name=s.name, daemon=True)
            for s in services
        ]
        for thread in threads:
            thread.start()
        while not stop.is_set() and any(t.is_alive() for t in threads):
            stop.wait(0.5)
        stop.set()
        deadline = time.monotonic() + STOP_TIMEOUT
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    log.info("stopped", services=[s.name for s in services])
    guard.raise_if_crashed()


def _watched(service: Service, stop: threading.Event, guard: CrashGuard) -> None:
    # An exception goes on to the guard (threading.excepthook), like any thread's.
    log.info("service started", service=service.name)
    service.run(stop)
    if not stop.is_set():  # a service runs until stopped: ending before is a crash too
        log.critical("service ended unexpectedly", service=service.name)
        guard.crash(service.name)


class CrashGuard:
    """While in effect, a thread of this process that dies of an exception is logged
    (``thread crashed``, at CRITICAL, with its traceback, personal data masked) and stops the
    process: ``on_crash`` is called and ``raise_if_crashed`` raises ``ServiceCrashedError``
    for the caller to exit ``CRASHED``. With ``grace``, the process exits ``CRASHED`` that
    many seconds after the crash whatever still holds it (a thread that does not stop)."""

    def __init__(self, on_crash: Callable[[], None], grace: float | None = None) -> None:
        self.on_crash, self.grace = on_crash, grace
        self.crashed: list[str] = []
        self._previous = threading.excepthook
        self._lock = threading.Lock()

    def __enter__(self) -> CrashGuard:
        self._previous = threading.excepthook
        threading.excepthook = self._hook
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        threading.excepthook = self._previous

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "unknown"
        log.critical(
            "thread crashed",
            thread=name,
            error_type=args.exc_type.__name__,
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )
        self.crash(name)

    def crash(self, name: str) -> None:
        """Record that ``name`` crashed and stop the process."""
        with self._lock:
            self.crashed.append(name)
            first = len(self.crashed) == 1
        if first and self.grace is not None:
            watchdog = threading.Timer(self.grace, os._exit, (CRASHED,))
            watchdog.daemon = True
            watchdog.start()
        self.on_crash()

    def raise_if_crashed(self) -> None:
        """``ServiceCrashedError`` naming the threads that crashed, if any did."""
        if self.crashed:
            raise ServiceCrashedError(
                f"thread crashed: {', '.join(self.crashed)}", threads=list(self.crashed)
            )


def stop_event() -> threading.Event:
    """An event that SIGTERM and SIGINT set: install it before slow start-up work, so a
    stop request during start-up is a clean stop too."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return stop

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
