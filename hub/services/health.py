"""``hub health``: can this hub reach what it needs, and is work piling up?

Checks the broker (and its queue depths), the journal's database (and its backlog), the
SMEV endpoint (and, with ``HUB_METRICS_DIR``, whether the SMEV client's rounds keep failing)
and the files the services need (``hub.preflight``) at once, each within a time limit, so a
container health check never hangs.
The report holds names, counts and ages only: no message content, no personal data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from hub.bootstrap import Hub
from hub.errors import PermanentError, RetryableError, XmlError
from hub.journal.records import HealthCounts
from hub.metrics import SMEV_FAILING_ROUNDS
from hub.preflight import missing_files, needed_files
from hub.protection.masking import mask_text
from hub.smev.versions import SOAP_ENV_NS
from hub.xml import XmlLimits, parse_message
from hub.xml.parser import DEFAULT_LIMITS

T = TypeVar("T")
CheckName = Literal["broker", "database", "smev", "files"]
CHECKS: tuple[CheckName, ...] = ("broker", "database", "smev", "files")
OK, NOT_CONFIGURED, IN_PROCESS = "ok", "not configured", "in-process"  # healthy
UNREACHABLE, FAILING = "unreachable", "failing"  # no answer; an answer that is a refusal
MISSING = "missing"  # a file the services need is not there: they refuse to start
# Rounds the SMEV client may fail in a row (backing off, up to 15 s apart: about half a
# minute to a minute) before ``hub health`` calls it failing.
SMEV_FAILING_LIMIT = 10
# What "no answer" looks like; anything else raised came from a dependency that answered.
_NO_ANSWER = (RetryableError, OSError, requests.RequestException)


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency: ``ok``, ``not configured`` or ``in-process`` (healthy); ``unreachable``
    or ``failing`` (it answered with a refusal: missing topology, outdated schema)."""

    name: str
    status: str
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.status in (OK, NOT_CONFIGURED, IN_PROCESS)


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What ``hub health`` prints; unhealthy when a dependency is unreachable or the oldest
    unprocessed message has waited longer than ``max_age`` seconds."""

    checks: tuple[Check, ...]
    queue_depths: Mapping[str, int] = field(default_factory=dict)
    counts: HealthCounts | None = None
    oldest_age: float | None = None  # seconds the oldest unprocessed message has waited
    max_age: float | None = None

    @property
    def too_old(self) -> bool:
        limit, age = self.max_age, self.oldest_age
        return limit is not None and age is not None and age > limit

    @property
    def healthy(self) -> bool:
        return all(check.healthy for check in self.checks) and not self.too_old

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-friendly values."""
        return {
            "healthy": self.healthy,
            "checks": {c.name: {"status": c.status, "detail": c.detail} for c in self.checks},
            "queue_depths": dict(self.queue_depths),
            "journal": counts_dict(self.counts),
            "oldest_unprocessed_age_seconds": self.oldest_age,
            "max_age_seconds": self.max_age,
            "too_old": self.too_old,
        }


def counts_dict(counts: HealthCounts | None) -> dict[str, Any] | None:
    if counts is None:
        return None
    return {
        "inbox_unfinished": counts.inbox_unfinished,
        "outbox_pending": counts.outbox_pending,
        "failed_open": counts.failed_open,
        "outbound_by_state": {s.value: n for s, n in counts.outbound_by_state.items()},
    }


class _Attempt(Generic[T]):
    """``action`` in a daemon thread: a dependency that never answers cannot hold the check
    (nor the process's exit) beyond its deadline."""

    def __init__(self, name: str, action: Callable[[], T], describe: Callable[[T], str]) -> None:
        self.name, self.describe = name, describe
        self.result: T | None = None
        self.error: str | None = None
        self.status = UNREACHABLE
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._thread.start()

    def _run(self, action: Callable[[], T]) -> None:
        try:
            self.result = action()
        except Exception as exc:  # any failure makes the check unhealthy; the report says why
            self.status = UNREACHABLE if isinstance(exc, _NO_ANSWER) else FAILING
            self.error = mask_text(f"{type(exc).__name__}: {' '.join(str(exc).split())}")

    def wait(self, deadline: float) -> Check:
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            return Check(self.name, UNREACHABLE, "no answer in time")
        if self.error is not None or self.result is None:
            return Check(self.name, self.status, self.error or "no answer")
        return Check(self.name, OK, self.describe(self.result))


_Probe = _Attempt[Any] | Check  # a check under way, or one settled without asking anybody


def check_health(
    hub: Hub,
    *,
    timeout: float = 5.0,
    max_age: float | None = None,
    only: Collection[CheckName] = CHECKS,
    now: datetime | None = None,
) -> HealthReport:
    """Check the dependencies in ``only`` at once, each given ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    probes = {name: _PROBES[name](hub, timeout) for name in CHECKS if name in only}
    checks = {n: p.wait(deadline) if isinstance(p, _Attempt) else p for n, p in probes.items()}
    depths: dict[str, int] = _answer(probes, checks, "broker") or {}
    counts: HealthCounts | None = _answer(probes, checks, "database")
    oldest = counts.oldest_unfinished_at if counts is not None else None
    at = now or datetime.now(UTC)
    age = max(0.0, (at - oldest).total_seconds()) if oldest is not None else None
    return HealthReport(tuple(checks.values()), depths, counts, age, max_age)


def _answer(
    probes: Mapping[CheckName, _Probe], checks: Mapping[CheckName, Check], name: CheckName
) -> Any:
    # Only what came in time: an answer arriving after its check said "no answer" is not used.
    probe = probes.get(name)
    return probe.result if isinstance(probe, _Attempt) and checks[name].status == OK else None


def _broker(hub: Hub, _timeout: float) -> _Probe:
    # memory:// lives inside each process: another process has nothing to reach or count.
    if hub.settings.broker_url.get_secret_value().startswith("memory://"):
        return Check("broker", IN_PROCESS, "memory:// broker: nothing to reach")
    # Lambdas, not bound methods: building the part (hub.bus, hub.journal) happens in the
    # thread too, and opening PostgreSQL's journal connects.
    return _Attempt("broker", lambda: hub.bus.queue_depths(), _ready)  # noqa: PLW0108


def _database(hub: Hub, _timeout: float) -> _Probe:
    return _Attempt("database", lambda: hub.journal.health_counts(), _backlog)  # noqa: PLW0108


def _smev(hub: Hub, timeout: float) -> _Probe:
    endpoint = hub.settings.smev_endpoint
    if endpoint is None:
        return Check("smev", NOT_CONFIGURED, "HUB_SMEV_ENDPOINT is not set")
    folder = hub.settings.metrics_dir
    limits = hub.xml_limits
    return _Attempt("smev", lambda: _smev_state(endpoint, timeout, folder, limits), _http)


class SmevClientFailingError(PermanentError):
    """SMEV answers, but the SMEV client's rounds keep failing (a fault SMEV repeats, the
    broker or the database away): it goes on trying, and needs an operator."""

    code = "SMEV_CLIENT_FAILING"


def _smev_state(
    endpoint: str, timeout: float, folder: Path | None, limits: XmlLimits
) -> SoapAnswer:
    answer = _ping(endpoint, timeout, limits)
    for loop, failures in sorted(smev_failing_rounds(folder).items()):
        if failures >= SMEV_FAILING_LIMIT:
            raise SmevClientFailingError(
                f"the SMEV client's {loop} loop has failed {failures:g} rounds in a row "
                f"(limit {SMEV_FAILING_LIMIT}; its log says why)",
                loop=loop,
                failures=failures,
            )
    return answer


def smev_failing_rounds(folder: Path | None) -> dict[str, float]:
    """Rounds each loop of the SMEV client has failed in a row, as its process last wrote
    them to the metrics folder (``HUB_METRICS_DIR``); nothing known without one."""
    if folder is None or not folder.is_dir():
        return {}
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    return {
        sample.labels.get("loop", ""): sample.value
        for metric in registry.collect()
        if metric.name == SMEV_FAILING_ROUNDS
        for sample in metric.samples
    }


def _files(hub: Hub, _timeout: float) -> _Probe:
    # The services' own start-up check (hub.preflight), asked without starting them.
    settings = hub.settings
    services = ("worker", "relay", "console", *(("smev_client",) if settings.smev_endpoint else ()))
    missing = missing_files(settings, services)
    if missing:
        return Check("files", MISSING, "; ".join(missing))
    return Check("files", OK, f"{len(needed_files(settings, services))} files the services need")


_PROBES: dict[str, Callable[[Hub, float], _Probe]] = {
    "broker": _broker,
    "database": _database,
    "smev": _smev,
    "files": _files,
}


def _ready(depths: dict[str, int]) -> str:
    return f"{sum(depths.values())} messages ready in {len(depths)} queues"


class SmevNotAnsweringError(RetryableError):
    """Something answered at the SMEV endpoint, but not SMEV: a gateway's 502, an HTML page,
    anything that is not a SOAP envelope."""

    code = "SMEV_NOT_ANSWERING"


# An envelope with no operation: SMEV (and the simulator) answer it with a SOAP fault, and
# nothing is sent, taken or acknowledged.
PROBE = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/>'
    b"</soap:Envelope>"
)
_SOAP_HEADERS = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": '""'}


@dataclass(frozen=True, slots=True)
class SoapAnswer:
    """SMEV reachable: its HTTP status and whether the SOAP envelope was a fault."""

    status: int
    fault: bool


def _ping(endpoint: str, timeout: float, limits: XmlLimits = DEFAULT_LIMITS) -> SoapAnswer:
    """Reachable means a SOAP answer or a SOAP fault from the endpoint, whatever its HTTP
    status; a 502 from a gateway or an HTML page is not SMEV answering."""
    with requests.post(
        endpoint,
        data=PROBE,
        headers=_SOAP_HEADERS,
        timeout=timeout,
        stream=True,
        allow_redirects=False,
    ) as reply:
        body = reply.raw.read(limits.max_bytes + 1, decode_content=True)
        kind = reply.headers.get("Content-Type")
    body_element = _soap_body(body, kind, limits)
    if body_element is None:
        raise SmevNotAnsweringError(
            f"HTTP {reply.status_code} ({(kind or 'no content type').split(';')[0]}) "
            "is not a SOAP answer",
            status=reply.status_code,
        )
    fault = body_element.find(f"{{{SOAP_ENV_NS}}}Fault") is not None
    return SoapAnswer(reply.status_code, fault)


def _soap_body(body: bytes, content_type: str | None, limits: XmlLimits) -> Any:
    # The SOAP 1.1 Body of the answer (plain or MTOM, as CXF sends it); None if there is none.
    try:
        root = parse_message(body, content_type, limits).root
    except XmlError:
        return None
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        return None
    return root.find(f"{{{SOAP_ENV_NS}}}Body")


def _http(answer: SoapAnswer) -> str:
    what = "a SOAP fault" if answer.fault else "SOAP"
    return f"answered {what} (HTTP {answer.status})"


def _backlog(counts: HealthCounts) -> str:
    return f"{counts.inbox_unfinished} unprocessed, {counts.outbox_pending} unpublished"
