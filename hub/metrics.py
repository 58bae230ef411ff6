"""Prometheus metrics: what the worker, the relay and the SMEV client count, and the state read
at scrape time (queue depths, the journal's backlog, outbound requests by state).

Labels are bounded and hold nothing personal: agencies the hub knows, kinds of message the
adapters registered (local names), outcomes, error type names, SMEV methods, event types,
queue names; anything else is ``other``. Never ids, names or values.

One process (``hub worker``, the embedded stack): each hub's metrics live in its own registry.
Several (``hub run``, or processes and containers sharing ``HUB_METRICS_DIR``): every process
writes its counters to files in that folder (prometheus_client's multiprocess mode, one file
per host and pid) and the console's ``/metrics`` (``hub.console.metrics``) adds them up, so
it shows the whole hub.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    values,
)

from hub.canonical.sources import Source

if TYPE_CHECKING:
    from hub.adapters.router import Router
    from hub.config import Settings

log = structlog.get_logger("hub.metrics")
# No *_created series: they double the output and say nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER, NONE, REGISTRY, COMMAND = "other", "none", "registry", "command"
# What the SMEV client calls a message when no adapter names its content.
_SMEV_KINDS = frozenset(
    {"request", "response", "rejected", "status", "async_status", "accepted", "refusal", "cancel"}
)
# receive → processed: from milliseconds (first delivery) to an hour (retries)
PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 900, 3600)
SMEV_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SCRAPE_TIMEOUT = 5.0  # seconds the broker and the database get to answer a scrape
SMEV_FAILING_ROUNDS = "hub_smev_failing_rounds"  # read by ``hub health`` too

M = TypeVar("M")


class _Family(Generic[M]):
    """A labelled metric whose children are kept: one dict lookup per use."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *labels: str) -> M:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        return child


class HubMetrics:
    """The hub's counters and histograms (``shared``: multiprocess mode, no registry)."""

    def __init__(
        self,
        agencies: Iterable[str] = (),
        kinds: Mapping[str, str] | None = None,
        *,
        shared: bool = False,
    ) -> None:
        # shared: written to the multiprocess folder, not kept in a registry of one's own
        self.registry = None if shared else CollectorRegistry()
        self._agencies = frozenset(agencies)
        self._kinds = dict(kinds or {})
        self.labels_of = lru_cache(maxsize=1024)(self._labels_of)
        r = self.registry
        self.received: _Family[Counter] = _Family(
            Counter(
                "hub_messages_received",
                "Messages and commands the workers took in (once each, at its first attempt).",
                ["agency", "kind"],
                registry=r,
            )
        )
        self.processed: _Family[Counter] = _Family(
            Counter(
                "hub_messages_processed",
                "Messages settled by the workers, by outcome: "
                "processed, duplicate, failed, retried.",
                ["agency", "kind", "outcome"],
                registry=r,
            )
        )
        self.failures: _Family[Counter] = _Family(
            Counter(
                "hub_failures",
                "Messages kept as failed, by error type.",
                ["agency", "error_type"],
                registry=r,
            )
        )
        self.retries: _Family[Counter] = _Family(
            Counter(
                "hub_retries",
                "Retries scheduled after a passing failure, by delay.",
                ["agency", "delay"],
                registry=r,
            )
        )
        self.processing_seconds: _Family[Histogram] = _Family(
            Histogram(
                "hub_processing_seconds",
                "From receipt to processed (retries included).",
                ["agency"],
                buckets=PROCESSING_BUCKETS,
                registry=r,
            )
        )
        self._relay_and_smev(r)

    def _relay_and_smev(self, r: CollectorRegistry | None) -> None:
        self.published: _Family[Counter] = _Family(
            Counter(
                "hub_events_published",
                "Events the relay published (confirmed).",
                ["event_type"],
                registry=r,
            )
        )
        self.publish_seconds = Histogram(
            "hub_relay_publish_seconds",
            "One relay batch: publish with confirms and mark.",
            buckets=RELAY_BUCKETS,
            registry=r,
        )
        self.publish_delay = Histogram(
            "hub_event_publish_delay_seconds",
            "From an event written to its publish confirmed.",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.smev_calls: _Family[Counter] = _Family(
            Counter(
                "hub_smev_calls",
                "Calls to SMEV by method and result (ok, or the error's type).",
                ["method", "result"],
                registry=r,
            )
        )
        self.smev_seconds: _Family[Histogram] = _Family(
            Histogram(
                "hub_smev_call_seconds",
                "Duration of one SMEV call.",
                ["method"],
                buckets=SMEV_BUCKETS,
                registry=r,
            )
        )
        self.smev_taken: _Family[Counter] = _Family(
            Counter(
                "hub_smev_messages_taken",
                "Messages taken from SMEV's queues.",
                ["queue"],
                registry=r,
            )
        )
        self._smev_rounds(r)
        self.scrape_errors: _Family[Counter] = _Family(
            Counter(
                "hub_metrics_scrape_errors",
                "Scrapes that could not read a source (broker, database).",
                ["source"],
                registry=r,
            )
        )
        self.probes: dict[str, threading.Thread] = {}  # scrape-time reads still running

    def _smev_rounds(self, r: CollectorRegistry | None) -> None:
        # A loop of the SMEV client never ends on a failed round: these say it is failing.
        self.smev_failed_rounds: _Family[Counter] = _Family(
            Counter(
                "hub_smev_failed_rounds",
                "Rounds of the SMEV client that failed (SMEV, the "
                "broker or the database away; a fault), by loop (send, poll) and error type.",
                ["loop", "error_type"],
                registry=r,
            )
        )
        # The latest value of any process wins: a restarted client's 0 replaces its
        # predecessor's count.
        self.smev_failing_rounds: _Family[Gauge] = _Family(
            Gauge(
                SMEV_FAILING_ROUNDS,
                "Rounds of the SMEV client failed in a row now "
                "(0: its last round went through), by loop.",
                ["loop"],
                registry=r,
                multiprocess_mode="mostrecent",
            )
        )

    def _labels_of(self, source: str, agency: str | None, kind: str | None) -> tuple[str, str]:
        """Bounded (agency, kind) labels of a message."""
        if source == Source.REGISTRY:
            return REGISTRY, COMMAND
        agency_label = agency if agency in self._agencies else OTHER if agency else NONE
        if not kind:
            return agency_label, NONE
        return agency_label, self._kinds.get(kind) or (kind if kind in _SMEV_KINDS else OTHER)

    def agency_label(self, agency: str | None) -> str:
        """A bounded agency label."""
        return agency if agency in self._agencies else OTHER if agency else NONE


def kind_labels(router: Router) -> dict[str, str]:
    """Kinds the adapters registered (Clark names of business content) → their local names."""
    names = [*router.inbound, *router.answers]
    return {name: name.rpartition("}")[2][:64] or OTHER for name in names}


_shared: HubMetrics | None = None
_shared_lock = threading.Lock()


def build_metrics(settings: Settings, router: Router) -> HubMetrics:
    """The metrics of a hub: its own registry, or (``settings.metrics_dir`` set) the process's
    one set written to that folder for ``render_metrics`` to add up."""
    global _shared  # noqa: PLW0603 - one set per process: two would overwrite each other's files
    if settings.metrics_dir is None:
        return HubMetrics(settings.agencies, kind_labels(router))
    with _shared_lock:
        if _shared is None:
            _multiprocess(settings.metrics_dir)
            _shared = HubMetrics(settings.agencies, kind_labels(router), shared=True)
        return _shared


def _multiprocess(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    # prometheus_client picks its value class when imported; a process that learns the
    # folder from its settings later switches it here, before any metric is made.
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue(process_identifier=process_id)  # type: ignore[no-untyped-call]


def process_id() -> str:
    """What names this process's metric files: its host's name and its pid.

    Containers sharing the folder (docker-compose's ``metrics`` volume) may each run their
    process as pid 1; the host name, a container's id, keeps their files apart. The
    exposition reads a file's type from the part of its name before the first ``_``."""
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"
