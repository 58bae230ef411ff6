"""TLS to the local PostgreSQL and RabbitMQ, with the CA that ``.ci/tls-setup`` made.

The journal connects with libpq's ``sslmode=verify-full`` and the bus over ``amqps://``;
both really encrypt, both refuse a server whose certificate another CA signed.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.errors import ConfigurationError, HubError
from hub.journal.engine import make_engine
from hub.journal.migrate import upgrade
from hub.journal.sql import SqlJournal
from hub.routing.api import Delivery, Outgoing
from hub.routing.bus import (
    BrokerRefusedError,
    BrokerTls,
    BrokerTlsError,
    KombuBus,
    create_bus,
    delete_topology,
)
from hub.routing.topology import Topology, build_topology
from hub.simulator.registry import ReferenceRegistry
from tests.test_health import health, statuses

pytestmark = pytest.mark.integration

TLS_DIR = Path("/var/lib/hub-ci-tls")  # where .ci/tls-setup puts the CA
AMQPS_PORT = 5671
PERSONAL = "Ёлкина Анна, СНИЛС 112-233-445 95".encode()


def _require(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def tls_ca() -> Path:
    """The CA of the local services' certificates (run .ci/tls-setup to make it)."""
    ca = Path(os.environ.get("HUB_TEST_TLS_CA", TLS_DIR / "ca.pem"))
    if not ca.is_file():
        _require(f"TLS not set up locally: no CA at {ca} (run .ci/tls-setup)")
    return ca


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that signed nothing the services present."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("wrong-ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


# --- PostgreSQL ----------------------------------------------------------------------------


def verified(url: str, ca: Path, **query: str) -> str:
    parsed = make_url(url).update_query_dict({"sslmode": "verify-full", "sslrootcert": str(ca)})
    return parsed.update_query_dict(query).render_as_string(hide_password=False)


@pytest.fixture
def journal_db(pg_url: str, tls_ca: Path) -> str:
    """A fresh database, migrated over verified TLS; its URL without TLS parameters."""
    upgrade(verified(pg_url, tls_ca))
    return pg_url


def test_the_journal_works_over_verified_tls(journal_db: str, tls_ca: Path) -> None:
    url = verified(journal_db, tls_ca)
    with SqlJournal.open(url) as journal:
        assert journal.health_counts().inbox_unfinished == 0
    engine = make_engine(url)  # what SqlJournal builds: the same URL, the same libpq options
    try:
        with engine.connect() as connection:
            query = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            encrypted, version = connection.execute(text(query)).one()
    finally:
        engine.dispose()
    assert encrypted is True and version in {"TLSv1.2", "TLSv1.3"}


def test_the_journal_refuses_a_server_another_ca_signed(journal_db: str, wrong_ca: Path) -> None:
    with pytest.raises(HubError, match="certificate verify failed"):
        SqlJournal.open(verified(journal_db, wrong_ca))


def test_the_journal_refuses_a_certificate_for_another_host(journal_db: str, tls_ca: Path) -> None:
    # Connect to 127.0.0.1 but expect the name db.invalid: the certificate does not name it.
    url = make_url(journal_db).set(host="db.invalid").render_as_string(hide_password=False)
    with pytest.raises(HubError, match="does not match host name"):
        SqlJournal.open(verified(url, tls_ca, hostaddr="127.0.0.1"))


# --- RabbitMQ ------------------------------------------------------------------------------


@pytest.fixture
def amqps_url(amqp_url: str, tls_ca: Path) -> str:
    if not _port_open(AMQPS_PORT):
        _require(f"RabbitMQ has no TLS listener on 127.0.0.1:{AMQPS_PORT} (run .ci/tls-setup)")
    return f"amqps://guest:guest@127.0.0.1:{AMQPS_PORT}//"


@pytest.fixture
def topology(topology_prefix: str, amqp_url: str) -> Iterator[Topology]:
    built = build_topology(topology_prefix)
    try:
        yield built
    finally:
        delete_topology(amqp_url, built)  # the same broker, over its plain listener


def round_trip(bus: KombuBus, topology: Topology, bodies: list[bytes]) -> list[bytes]:
    """Publish with confirms, consume until every message came, return the bodies."""
    bus.declare()
    messages = [Outgoing(b, "zags", {}, f"id-{n}", "text/plain") for n, b in enumerate(bodies)]
    bus.publish(topology.inbound_exchange.name, messages)
    received: list[Delivery] = []
    stop = threading.Event()

    def on_batch(batch: list[Delivery]) -> None:
        received.extend(batch)
        for delivery in batch:
            delivery.ack()
        if len(received) >= len(bodies):
            stop.set()

    timer = threading.Timer(15, stop.set)  # a bound: a lost message fails, never hangs
    timer.start()
    try:
        bus.consume([topology.work_queue("zags").name], on_batch, stop=stop)
    finally:
        timer.cancel()
    return [d.body for d in received]


@pytest.mark.parametrize("client_certificate", [False, True], ids=["ca-only", "mutual"])
def test_the_bus_publishes_and_consumes_over_amqps(
    amqps_url: str, tls_ca: Path, topology: Topology, client_certificate: bool
) -> None:
    tls = BrokerTls(tls_ca)
    if client_certificate:
        cert, key = tls_ca.with_name("client.pem"), tls_ca.with_name("client.key")
        if not (cert.is_file() and key.is_file()):
            _require(f"no client certificate beside {tls_ca} (run .ci/tls-setup)")
        tls = BrokerTls(tls_ca, cert, key)
    bus = create_bus(amqps_url, topology, tls)
    try:
        bodies = [PERSONAL + str(n).encode() for n in range(20)]
        assert sorted(round_trip(bus, topology, bodies)) == sorted(bodies)
        assert bus.queue_depths()[topology.work_queue("zags").name] == 0
    finally:
        bus.close()


def test_the_reference_registry_and_clean_up_connect_over_amqps(
    amqps_url: str, tls_ca: Path, amqp_url: str, topology_prefix: str
) -> None:
    # Tools beside the bus (the registry of the demo and benchmarks, a test's clean-up)
    # connect with the same TLS settings: a broker that only speaks TLS serves them too.
    built, tls = build_topology(f"{topology_prefix}-tools"), BrokerTls(tls_ca)
    bus = create_bus(amqps_url, built, tls)
    bus.declare()
    registry = ReferenceRegistry(amqps_url, built, tls=tls).start()
    try:
        event = Outgoing(b'{"id": "evt-1", "type": "t"}', "student.birth.verified", {}, "evt-1")
        bus.publish(built.events_exchange.name, [event])
        assert registry.wait_for(lambda r: "evt-1" in r.events, timeout=10)
    finally:
        registry.stop(delete_queue=True)
        bus.close()
    delete_topology(amqps_url, built, tls=tls)
    with pytest.raises(BrokerRefusedError):  # gone: asked over the plain listener
        create_bus(amqp_url, built).queue_depths()


def test_the_bus_refuses_a_broker_another_ca_signed(
    amqps_url: str, wrong_ca: Path, topology: Topology
) -> None:
    bus = create_bus(amqps_url, topology, BrokerTls(wrong_ca))
    with pytest.raises(BrokerTlsError, match="TLS certificate rejected") as refused:
        bus.declare()
    assert refused.value.retryable is False
    assert "guest" not in str(refused.value.as_dict())  # the URL's password is masked


def test_missing_tls_files_are_a_configuration_error(tmp_path: Path) -> None:
    topology = build_topology("tls-config")
    url = "amqps://guest:guest@127.0.0.1:5671//"
    missing = tmp_path / "absent.pem"
    with pytest.raises(ConfigurationError, match=f"broker_tls_ca: no file {missing}"):
        create_bus(url, topology, BrokerTls(missing))
    with pytest.raises(ConfigurationError, match="go together"):
        create_bus(url, topology, BrokerTls(None, tmp_path / "client.pem"))
    with pytest.raises(ConfigurationError, match="need an amqps://"):
        create_bus(url.replace("amqps", "amqp"), topology, BrokerTls(missing))


# --- hub health over TLS -------------------------------------------------------------------


def test_hub_health_reaches_both_over_tls(  # noqa: PLR0917 - pytest fixtures
    journal_db: str,
    amqps_url: str,
    tls_ca: Path,
    wrong_ca: Path,
    topology: Topology,
    tmp_path: Path,
) -> None:
    create_bus(amqps_url, topology, BrokerTls(tls_ca)).declare()
    env = {
        "HUB_DATABASE_URL": verified(journal_db, tls_ca),
        "HUB_BROKER_URL": amqps_url,
        "HUB_BROKER_TLS_CA": str(tls_ca),
        "HUB_TOPOLOGY_PREFIX": topology.prefix,
    }
    checks = ("--check", "broker", "--check", "database")
    code, report, stderr = health(*checks, env=env, cwd=tmp_path)
    assert code == 0, stderr
    assert statuses(report) == {"broker": "ok", "database": "ok"}
    for ca, says in (
        (wrong_ca, "BrokerTlsError: broker's TLS certificate rejected"),
        (tmp_path / "no.pem", f"ConfigurationError: broker_tls_ca: no file {tmp_path}"),
    ):
        code, report, _ = health(*checks, env={**env, "HUB_BROKER_TLS_CA": str(ca)}, cwd=tmp_path)
        assert code == 1 and statuses(report) == {"broker": "failing", "database": "ok"}
        assert report["checks"]["broker"]["detail"].startswith(says)
