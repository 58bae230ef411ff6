"""How the SMEV 3 simulator behaves: timeouts, checks, quotas and injected faults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

ANY_KIND = "*"


class MtomIds(StrEnum):
    """How the simulator writes its replies: plain XML (``off``), or MTOM as Apache CXF
    (real SMEV's stack) does, its Content-ID headers decoded (``cxf``) or percent-encoded
    (``cxf-encoded``, as some CXF versions write them); see ``hub.simulator.mtom``."""

    OFF = "off"
    CXF = "cxf"
    CXF_ENCODED = "cxf-encoded"


@dataclass(frozen=True, slots=True)
class Quota:
    """SMEV's attachment quota: at most ``total_bytes`` of attachments in the messages of one
    kind of data per sender in each ``period`` seconds. A message whose attachments exceed
    what is left is dropped with QuoteLimitExceeded (the faults XSD); a message without
    attachments always fits. It limits sizes, not message rates."""

    total_bytes: int
    period: float

    def __post_init__(self) -> None:
        if self.total_bytes < 0 or self.period <= 0:
            raise ValueError(f"quota needs total_bytes >= 0 and period > 0, got {self}")


@dataclass(frozen=True, slots=True)
class FaultInjection:
    """Faults the simulator adds on purpose; every draw comes from ``Random(seed)``.

    ``failure_rate``: share of calls answered with SMEVFailure (nothing is done).
    ``drop_rate``: share of calls whose connection is closed without an answer, after the
    call took effect (the client cannot tell whether its message went).
    ``duplicate_rate``: share of delivered messages that come once more after their Ack.
    ``latency`` + uniform ``0..latency_jitter``: seconds added before every answer.
    ``async_rejected``: requests taken and then rejected asynchronously (SMEV-403).
    """

    failure_rate: float = 0.0
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    latency: float = 0.0
    latency_jitter: float = 0.0
    seed: int = 0
    # Requests SMEV takes and then rejects asynchronously (SMEV-403, as when its registered
    # schema is stricter than the published one): those whose business root element has an
    # attribute with one of these values (a ROGDINF request's ИдЗапрос, say).
    async_rejected: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("failure_rate", "drop_rate", "duplicate_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {getattr(self, name)}")
        if self.latency < 0 or self.latency_jitter < 0:
            raise ValueError("latency and latency_jitter must not be negative")


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """The simulator's rules.

    ``xsd_dir``: the official SMEV schemas; when given, every incoming envelope is validated
    against its version's schema (InvalidContent otherwise). ``verify_signatures``: check the
    caller's GOST signature (off only to measure without it: the signature's certificate still
    names the caller). ``sign_replies``: SMEV signs what it returns (SMEVSignature).
    ``open_registration``: a caller with an unknown certificate is registered on the fly
    instead of getting SenderIsNotRegistered. ``quotas``: per namespace of the business data
    (``"*"``: every kind without its own quota). ``mtom``: replies in CXF's MTOM, as real
    SMEV sends them, even for an empty queue (see ``MtomIds``).
    """

    visibility_timeout: float = 60.0
    stale_after: timedelta = timedelta(days=2)
    xsd_dir: Path | None = None
    verify_signatures: bool = True
    sign_replies: bool = True
    open_registration: bool = False
    quotas: Mapping[str, Quota] = field(default_factory=lambda: MappingProxyType({}))
    faults: FaultInjection = FaultInjection()
    status_queue_limit: int = 10_000
    mtom: MtomIds = MtomIds.OFF

    def quota_for(self, namespace: str) -> Quota | None:
        """The quota that applies to ``namespace``, if any."""
        return self.quotas.get(namespace) or self.quotas.get(ANY_KIND)
