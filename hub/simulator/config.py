"""How the SMEV 3 simulator behaves: timeouts, checks, quotas and injected faults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

ANY_KIND = "*"
GENUINE_PLAIN = 0.02  # the genuine-quirks profile's least share of plain server faults
PROFILES = ("plain", "genuine-quirks")  # ``hub simulator serve --profile``


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
    ``plain_fault_rate``: share of calls answered with a plain ``soap:Server`` fault, a
    faultstring and no detail, as real SMEV (its CXF stack) sometimes answers.
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
    plain_fault_rate: float = 0.0  # last: older callers pass the others by position

    def __post_init__(self) -> None:
        for name in ("failure_rate", "plain_fault_rate", "drop_rate", "duplicate_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {getattr(self, name)}")
        if self.latency < 0 or self.latency_jitter < 0:
            raise ValueError("latency and latency_jitter must not be negative")


@dataclass(frozen=True, slots=True)
class Quirks:
    """What real SMEV delivers and a tidy simulator would not (genuine captures in
    ``../shared/smev/samples``); each off by default, all on in ``Quirks.genuine()``.

    ``sender_signatures``: Request and Response carry SenderInformationSystemSignature, the
    sender's signature over its data (the caller's own, moved from the call; for agencies
    inside the simulator, a key of their own), and SMEV signs its asynchronous rejections
    (``SenderProvidedResponseData Id="SIGNED_ASYNC_BY_SMEV"``) there itself.
    ``smev_codes``: fault Code strings as SMEV writes them (``tsmev3:...``, the SMEV-nnn
    number in front of Description) and the asynchronous SmevFault with ``xsi:type``.
    ``newer_statuses``: 1.3's status names (messageIsDelivered, responseIsRejectedBySmev)
    in 1.1/1.2 replies too, against their own schemas.
    ``delivery_metadata``: MessageMetadata of a delivery as the genuine capture has it:
    DeliveryTimestamp and Status, and without what 1.1/1.2 require but real replies omit
    (DestinationName, SupplementaryData, HumanReadableName; 1.2's OriginalTransactionCode
    and ReferenceMessageID when the request had none).
    ``head_until_acked``: GetRequest/GetResponse hand out the same head message again until
    it is acked, instead of the next one.
    """

    sender_signatures: bool = False
    smev_codes: bool = False
    newer_statuses: bool = False
    delivery_metadata: bool = False
    head_until_acked: bool = False

    @classmethod
    def genuine(cls) -> Quirks:
        """Every quirk on."""
        return cls(True, True, True, True, True)


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
    SMEV sends them, even for an empty queue (see ``MtomIds``). ``quirks``: real SMEV's
    shapes (see ``Quirks``); ``genuine_quirks()`` is the profile with all of them.
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
    quirks: Quirks = Quirks()

    @classmethod
    def genuine_quirks(cls, **settings: Any) -> ExchangeConfig:
        """The ``genuine-quirks`` profile: every quirk, CXF's MTOM with encoded Content-IDs,
        and plain server faults on at least 2 % of calls; ``settings`` as for the class."""
        faults: FaultInjection = settings.pop("faults", FaultInjection())
        faults = replace(faults, plain_fault_rate=max(faults.plain_fault_rate, GENUINE_PLAIN))
        settings.setdefault("mtom", MtomIds.CXF_ENCODED)
        return cls(faults=faults, quirks=Quirks.genuine(), **settings)

    def quota_for(self, namespace: str) -> Quota | None:
        """The quota that applies to ``namespace``, if any."""
        return self.quotas.get(namespace) or self.quotas.get(ANY_KIND)
