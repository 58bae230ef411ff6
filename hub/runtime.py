"""Running the hub's long-lived services: threads, signals, reconnecting after outages."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from hub.errors import RetryableError

log = structlog.get_logger("hub.runtime")


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


def backoff_forever(operation: Callable[[], None], stop: threading.Event, name: str) -> None:
    """Run ``operation`` again and again until ``stop``; passing failures back off
    exponentially with jitter. For loops that must survive broker or database outages."""
    while not stop.is_set() and retry_until_done(operation, stop, name):
        pass


def _sleep(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)  # a stop request cuts the back-off short


@dataclass(frozen=True)
class Service:
    name: str
    run: Callable[[threading.Event], None]


def run_services(services: Sequence[Service], stop: threading.Event | None = None) -> None:
    """Run services in threads until SIGTERM/SIGINT (or ``stop``); then let them finish."""
    stop = stop or stop_event()
    threads = [
        threading.Thread(target=_guarded, args=(s, stop), name=s.name, daemon=True)
        for s in services
    ]
    for thread in threads:
        thread.start()
    while not stop.is_set() and any(t.is_alive() for t in threads):
        stop.wait(0.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    log.info("stopped", services=[s.name for s in services])


def _guarded(service: Service, stop: threading.Event) -> None:
    try:
        log.info("service started", service=service.name)
        service.run(stop)
    except Exception:
        log.exception("service crashed", service=service.name)
        stop.set()  # one dead service stops the process: the supervisor restarts it whole


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
