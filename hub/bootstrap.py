"""The composition root: every part of the hub is built here, from settings.

Tests build the hub the same way, lending a part or two in its place (``Overrides``: a
fast crypto backend, a signer, a transport). Nothing connects or reads files until a part
is first used. Settings are read here and by the entry points only: every part is handed
what it needs.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from hub.access.service import AccessService
from hub.adapters.router import Router
from hub.config import Settings
from hub.crypto import GostBackend, select_backend
from hub.crypto.keys import load_certificate, load_private_key
from hub.crypto.xmldsig import KeySigner, LocalKeySigner, XmlSigner, XmlVerifier
from hub.errors import ConfigurationError, HubError
from hub.files import CERTIFICATE_LIMIT, InputTooLargeError, read_bounded
from hub.journal.api import Journal
from hub.metrics import HubMetrics, build_metrics
from hub.routing.api import Bus
from hub.routing.topology import Topology, build_topology
from hub.services.operations import Operations
from hub.services.processing import Processor
from hub.services.ratelimit import RateLimiter
from hub.services.relay import Relay
from hub.services.smev_client import SmevClient, SmevClientSettings, stored_request
from hub.services.trust import TrustPolicy
from hub.services.worker import Worker, WorkerSettings
from hub.smev.transport import HttpTransport, Transport
from hub.xml import XmlLimits

if TYPE_CHECKING:
    from hub.routing.bus import BrokerTls

# The agency adapters the hub ships: a new agency is one folder under hub/adapters/ and one
# line here (and its name in ``Settings.agencies`` for a work queue).
_T = TypeVar("_T")
BUILTIN_ADAPTERS = (
    "hub.adapters.zags:register",
    "hub.adapters.pfr:register",
    "hub.adapters.gosuslugi:register",
)


@dataclass(frozen=True, slots=True)
class Overrides:
    """The parts a caller may lend the hub instead of the ones its settings describe: one
    field per part something replaces (tests, and the demo's signer). A part named here
    is used as it is and never closed by ``Hub.close``: its lender owns it."""

    crypto: GostBackend | None = None
    key_signer: KeySigner | None = None
    transport: Transport | None = None


@dataclass
class Hub:
    """The hub's parts, built lazily from ``settings``."""

    settings: Settings
    overrides: Overrides = field(default_factory=Overrides)

    @cached_property
    def xml_limits(self) -> XmlLimits:
        s = self.settings
        return XmlLimits(s.xml_max_bytes, s.xml_max_depth, s.xml_max_parts)

    @cached_property
    def crypto(self) -> GostBackend:
        lent = self.overrides.crypto
        return lent if lent is not None else select_backend(self.settings.crypto_backend)

    @cached_property
    def verifier(self) -> XmlVerifier:
        return XmlVerifier(self.crypto)

    @cached_property
    def key_signer(self) -> KeySigner:
        lent = self.overrides.key_signer
        return lent if lent is not None else self._local_key_signer()

    def _local_key_signer(self) -> LocalKeySigner:
        key_path, cert_path = self.settings.signing_key, self.settings.signing_cert
        if key_path is None or cert_path is None:
            raise ConfigurationError(
                "signing needs HUB_SIGNING_KEY and HUB_SIGNING_CERT "
                "(make a development pair with `hub keys generate`)"
            )
        key = _load_file("HUB_SIGNING_KEY", key_path, load_private_key)
        cert = _load_file("HUB_SIGNING_CERT", cert_path, load_certificate)
        return LocalKeySigner(self.crypto, key, cert)

    @cached_property
    def signer(self) -> XmlSigner:
        return XmlSigner(self.key_signer, self.crypto)

    # --- the backbone: journal, broker, routing, processing -------------------------------

    @cached_property
    def journal(self) -> Journal:
        from hub.journal.sql import SqlJournal  # noqa: PLC0415 - loads SQLAlchemy and a driver
        from hub.protection import sealer_from_settings  # noqa: PLC0415 - loads cryptography

        url = self.settings.database_url.get_secret_value()
        sealer = sealer_from_settings(self.settings)
        return SqlJournal.open(url, sealer=sealer, timeout=self.settings.database_timeout)

    @cached_property
    def topology(self) -> Topology:
        s = self.settings
        try:
            return build_topology(
                s.topology_prefix,
                s.agencies,
                s.retry_delays,
                registry_queue=s.registry_queue,
                registry_bindings=s.registry_bindings,
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid topology settings: {exc}") from exc

    @cached_property
    def bus(self) -> Bus:
        from hub.routing.bus import create_bus  # noqa: PLC0415 - loads kombu

        url = self.settings.broker_url.get_secret_value()
        return create_bus(url, self.topology, self.broker_tls)

    @property
    def broker_tls(self) -> BrokerTls:
        """The broker's TLS files from settings (for tools that connect beside the bus)."""
        from hub.routing.bus import BrokerTls  # noqa: PLC0415 - loads kombu

        s = self.settings
        return BrokerTls(s.broker_tls_ca, s.broker_tls_cert, s.broker_tls_key)

    @cached_property
    def router(self) -> Router:
        router = Router(self.settings)
        for spec in (*BUILTIN_ADAPTERS, *self.settings.adapters):
            _load_plugin(spec)(router)
        return router

    @cached_property
    def processor(self) -> Processor:
        return Processor(
            self.router,
            self.verifier if self.settings.require_signatures else None,
            self.xml_limits,
            frozenset(self.settings.agencies),
            lookup=self.journal.outbound_by_message_id,
            cancelled=functools.partial(stored_request, self.journal),
            trusted=self.trusted_certificates,
            signers_for=self.access.bound_signers,
        )

    @cached_property
    def trusted_certificates(self) -> frozenset[str] | None:
        """Fingerprints of HUB_TRUSTED_CERTIFICATES; None when the list is empty."""
        paths = self.settings.trusted_certificates
        if not paths:
            return None
        return frozenset(
            _load_file("HUB_TRUSTED_CERTIFICATES", path, load_certificate).sha256 for path in paths
        )

    @cached_property
    def worker(self) -> Worker:
        batch = self.settings.worker_batch
        # Twice the batch in flight: the next batch arrives while this one is written.
        settings = WorkerSettings(
            retry_budget=self.settings.retry_budget, max_batch=batch, prefetch=2 * batch
        )
        return Worker(
            self.journal, self.bus, self.topology, self.processor, settings, metrics=self.metrics
        )

    @cached_property
    def relay(self) -> Relay:
        days = self.settings.retention_days
        retention = timedelta(days=days) if days else None
        return Relay(
            self.journal, self.bus, self.topology, metrics=self.metrics, retention=retention
        )

    @cached_property
    def metrics(self) -> HubMetrics:
        """Prometheus metrics (shared by the processes of ``HUB_METRICS_DIR`` when set)."""
        return build_metrics(self.settings, self.router)

    @cached_property
    def transport(self) -> Transport:
        if self.overrides.transport is not None:
            return self.overrides.transport
        endpoint = self.settings.smev_endpoint
        if endpoint is None:
            raise ConfigurationError("the SMEV client needs HUB_SMEV_ENDPOINT (SMEV's SOAP URL)")
        return HttpTransport(endpoint, self.settings.smev_timeout)

    @cached_property
    def smev_client(self) -> SmevClient:
        s = self.settings
        settings = SmevClientSettings(
            version=s.smev_version,
            node_id=s.smev_node_id,
            transaction_code=s.smev_transaction_code,
            batch=s.smev_batch,
            poll_interval=s.smev_poll_interval,
            resend_after=timedelta(seconds=s.smev_resend_after),
            status_every=s.smev_status_every,
        )
        return SmevClient(
            self.journal,
            self.bus,
            self.topology,
            self.router,
            self.transport,
            self.signer,
            settings,
            RateLimiter(_rate_limits(s.smev_rate_limits)),
            self.xml_limits,
            metrics=self.metrics,
            trust=self._smev_trust(),
        )

    def _smev_trust(self) -> TrustPolicy | None:
        # The policy the worker applies: SMEV's signature is checked before each Ack.
        if not self.settings.require_signatures:
            return None
        return TrustPolicy(self.verifier, self.trusted_certificates)

    @cached_property
    def operations(self) -> Operations:
        return Operations(self.journal, self.worker)

    @cached_property
    def access(self) -> AccessService:
        return AccessService(
            self.journal,
            certificates=self.settings.client_certificates,
            known_agencies=self.settings.agencies,
        )

    def close(self) -> None:
        """Release connections (only those that were opened, none that was lent)."""
        for name in ("transport", "bus", "journal"):
            part = self.__dict__.get(name)
            if part is not None and part is not getattr(self.overrides, name, None):
                part.close()


def _load_file(setting: str, path: Path, load: Callable[[bytes], _T]) -> _T:
    # Named by its setting and path: which of several files is wrong is the whole point.
    try:
        return load(read_bounded(path, CERTIFICATE_LIMIT))
    except (OSError, InputTooLargeError, HubError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigurationError(f"{setting}={path}: {reason}", path=str(path)) from exc


def _load_plugin(spec: str) -> Callable[[Router], None]:
    module_name, _, function = spec.partition(":")
    try:
        plugin = getattr(importlib.import_module(module_name), function or "register")
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load adapter plug-in {spec!r}: {exc}") from exc
    return cast(Callable[[Router], None], plugin)


def _rate_limits(limits: Mapping[str, float]) -> dict[tuple[str, str], float]:
    # "zags" limits every kind of the agency, "zags:rogdinf" one kind.
    parsed: dict[tuple[str, str], float] = {}
    for key, rate in limits.items():
        agency, _, kind = key.partition(":")
        parsed[(agency, kind or "*")] = rate
    return parsed


def bootstrap(
    settings: Settings | None = None,
    *,
    crypto: GostBackend | None = None,
    key_signer: KeySigner | None = None,
    transport: Transport | None = None,
) -> Hub:
    """Build the hub from settings (read from the environment when not given), with the
    parts given here lent in place of the ones settings describe. The parts are named one
    by one so that a misspelt one is a ``TypeError``, never silently the real part."""
    lent = Overrides(crypto=crypto, key_signer=key_signer, transport=transport)
    return Hub(settings or Settings(), lent)
