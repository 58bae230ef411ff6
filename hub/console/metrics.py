"""The console's ``/metrics``: the Prometheus text exposition of a whole hub, made at scrape
time from what its processes counted (``hub.metrics``) and the state read now (queue depths,
the journal's backlog, outbound requests by state)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hub.metrics import CONTENT_TYPE, SCRAPE_TIMEOUT, HubMetrics, log
from hub.protection.masking import mask_text

if TYPE_CHECKING:
    from hub.bootstrap import Hub
    from hub.journal.records import HealthCounts


def render_metrics(hub: Hub) -> tuple[bytes, str]:
    """The Prometheus text exposition of ``hub`` (all processes sharing its metrics folder)
    and its content type. A broker or database that does not answer leaves its gauges out
    and counts a scrape error; the rest is still served."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_State(hub))  # first: a source that failed counts in this scrape
    folder = hub.settings.metrics_dir
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    else:
        registry.register(_Counted(hub.metrics))
    return generate_latest(registry), CONTENT_TYPE


class _Counted(Collector):
    def __init__(self, metrics: HubMetrics) -> None:
        self._registry = metrics.registry

    def collect(self) -> Iterator[Metric]:
        if self._registry is not None:
            yield from self._registry.collect()


class _State(Collector):
    """Gauges read at scrape time: the broker's queue depths and the journal's counts."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        depths = _Probe(hub, "broker", lambda: hub.bus.queue_depths())  # noqa: PLW0108
        counts = _Probe(hub, "database", lambda: hub.journal.health_counts())  # noqa: PLW0108
        found_depths: dict[str, int] | None = depths.result()
        if found_depths is not None:
            yield _queue_depths(found_depths)
        found_counts: HealthCounts | None = counts.result()
        if found_counts is not None:
            yield from _journal_gauges(found_counts)


class _Probe:
    """Read a source in a daemon thread, so a broker or database that never answers holds
    the scrape no longer than ``SCRAPE_TIMEOUT``; one read per source at a time."""

    def __init__(self, hub: Hub, source: str, read: Callable[[], Any]) -> None:
        self._hub, self._source, self._read = hub, source, read
        self._value: Any = None
        self._error: str | None = None
        self._started = time.monotonic()
        running = hub.metrics.probes.get(source)
        self._thread: threading.Thread | None = None
        if running is not None and running.is_alive():
            self._error = "an earlier read has not answered yet"
            return
        self._thread = threading.Thread(target=self._run, name=f"metrics-{source}", daemon=True)
        hub.metrics.probes[source] = self._thread
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._read()
        except Exception as exc:  # any failure leaves the gauges out; the log says why
            self._error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"

    def result(self) -> Any:
        if self._thread is not None:
            self._thread.join(max(0.0, SCRAPE_TIMEOUT - (time.monotonic() - self._started)))
            if self._thread.is_alive():
                self._error = f"no answer in {SCRAPE_TIMEOUT:g} s"
        if self._error is None:
            return self._value
        self._hub.metrics.scrape_errors(self._source).inc()
        log.warning("metrics source unavailable", source=self._source, error=mask_text(self._error))
        return None


def _queue_depths(depths: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily("hub_queue_depth", "Messages ready in each queue.", labels=["queue"])
    for queue, depth in sorted(depths.items()):
        family.add_metric([queue], depth)
    return family


def _journal_gauges(counts: HealthCounts) -> Iterator[GaugeMetricFamily]:
    states = GaugeMetricFamily(
        "hub_outbound_requests", "The hub's requests to agencies by state.", labels=["state"]
    )
    for state, number in sorted(counts.outbound_by_state.items()):
        states.add_metric([state.value], number)
    yield states
    yield GaugeMetricFamily(
        "hub_failed_messages_open",
        "Failed messages waiting for an operator.",
        value=counts.failed_open,
    )
    yield GaugeMetricFamily(
        "hub_inbox_unfinished",
        "Messages stored but not processed yet (or waiting to retry).",
        value=counts.inbox_unfinished,
    )
    yield GaugeMetricFamily(
        "hub_outbox_pending", "Events written but not published yet.", value=counts.outbox_pending
    )
    oldest = counts.oldest_unfinished_at
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    yield GaugeMetricFamily(
        "hub_oldest_unfinished_age_seconds",
        "How long the oldest unprocessed message has waited (0: none).",
        value=max(0.0, age),
    )
