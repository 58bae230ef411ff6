"""HTTPS and mutual TLS for the hub's HTTP endpoints, with a CA made here (cryptography)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.access import Role
from hub.bootstrap import Hub
from hub.canonical.ids import inbox_id_for
from hub.config import Settings
from tests.support.console import SCHOOL_A, Served, csrf_of, fresh_prefix, serving, token
from tests.support.notices import notice

pytestmark = pytest.mark.integration
XML = {"content-type": "text/xml"}


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    sha256: str

    @property
    def pair(self) -> tuple[str, str]:
        return str(self.cert), str(self.key)


class Authority:
    """A certificate authority in a folder: it issues server and client certificates."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.key = folder, ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = self._builder(self.name, self.key.public_key()).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
        self.cert = builder.sign(self.key, hashes.SHA256())
        self.path = folder / f"{name}.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def _builder(
        self, subject: x509.Name, public: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    def issue(self, name: str, *, server: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = self._builder(subject, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if server:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_path, key_path = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        return Issued(cert_path, key_path, hashlib.sha256(der).hexdigest())


@dataclass(frozen=True)
class Pki:
    ca: Authority
    agency: Issued  # mapped in HUB_CLIENT_CERTIFICATES, bound to zags
    unbound: Issued  # mapped as an agency system, naming no agency (as before the binding)
    stranger: Issued  # signed by the same CA, not mapped
    rogue: Issued  # signed by another CA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = Authority(tmp_path, "hub-test-ca")
    rogue_ca = Authority(tmp_path, "rogue-ca")
    return Pki(
        ca,
        ca.issue("school-a-system"),
        ca.issue("unbound-system"),
        ca.issue("stranger"),
        rogue_ca.issue("rogue"),
    )


@pytest.fixture
def served(tmp_path: Path, pki: Pki) -> Iterator[tuple[Hub, Served]]:
    server = pki.ca.issue("hub-console", server=True)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        topology_prefix=fresh_prefix(),
        require_signatures=False,
        adapters=("tests.support.notices:register",),
        tls_cert=server.cert,
        tls_key=server.key,
        tls_client_ca=pki.ca.path,
        client_certificates={
            pki.agency.sha256: f"agency@{SCHOOL_A}:zags",
            pki.unbound.sha256: f"agency@{SCHOOL_A}",
        },
    )
    hub = Hub(settings)
    hub.bus.declare()
    with serving(hub) as running:
        yield hub, running
    hub.close()


def test_https_with_the_ca_works_and_plain_http_does_not(
    served: tuple[Hub, Served], pki: Pki
) -> None:
    _, server = served
    assert server.url.startswith("https://")
    page = requests.get(f"{server.url}/login", verify=pki.ca.path, timeout=10)
    assert page.status_code == 200 and "API token" in page.text
    assert page.headers["strict-transport-security"].startswith("max-age=")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.url}/login", timeout=10)  # a CA the client does not know
    with pytest.raises(requests.RequestException):
        requests.get(server.url.replace("https://", "http://") + "/login", timeout=10)


def test_the_session_cookie_is_secure_under_tls(served: tuple[Hub, Served], pki: Pki) -> None:
    hub, server = served
    session, ca = requests.Session(), str(pki.ca.path)  # verify per call: env CA bundles win
    csrf = csrf_of(session.get(f"{server.url}/login", verify=ca, timeout=10).text)
    text = token(hub, Role.OPERATOR, SCHOOL_A)
    reply = session.post(
        f"{server.url}/login",
        data={"token": text, "csrf": csrf},
        allow_redirects=False,
        verify=ca,
        timeout=10,
    )
    cookie = reply.headers["set-cookie"]
    assert reply.status_code == 303 and cookie.startswith("__Host-hub_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert session.get(f"{server.url}/failed", verify=ca, timeout=10).status_code == 200


def test_a_mapped_client_certificate_may_post_to_the_inbound_endpoint(
    served: tuple[Hub, Served], pki: Pki
) -> None:
    hub, server = served
    body = notice("child", 1)
    reply = requests.post(
        f"{server.url}/inbound/zags",
        data=body,
        headers=XML,
        cert=pki.agency.pair,
        verify=pki.ca.path,
        timeout=10,
    )
    assert reply.status_code == 202, reply.text
    record = hub.journal.inbox(reply.json()["inbox_id"])
    assert record is not None and record.source == f"http:cert:{pki.agency.sha256}"
    assert record.scope == SCHOOL_A and record.raw == body
    assert reply.json()["inbox_id"] == inbox_id_for(record.source, record.external_id)


def test_without_a_mapped_certificate_posting_is_refused(
    served: tuple[Hub, Served], pki: Pki
) -> None:
    hub, server = served
    url, body = f"{server.url}/inbound/zags", notice("child", 2)
    bare = requests.post(url, data=body, headers=XML, verify=pki.ca.path, timeout=10)
    assert bare.status_code == 401
    stranger = requests.post(
        url, data=body, headers=XML, cert=pki.stranger.pair, verify=pki.ca.path, timeout=10
    )
    assert stranger.status_code == 401
    with pytest.raises(requests.RequestException):  # the TLS handshake itself fails
        requests.post(
            url, data=body, headers=XML, cert=pki.rogue.pair, verify=pki.ca.path, timeout=10
        )
    assert any("certificate" in e.actor for e in hub.journal.audit_log(20))
    assert requests.get(f"{server.url}/login", verify=pki.ca.path, timeout=10).ok  # still up


def test_a_certificate_posts_only_for_the_agencies_it_names(
    served: tuple[Hub, Served], pki: Pki
) -> None:
    hub, server = served
    for system, where, why in (
        (pki.agency, "pfr", "may post for zags only, not pfr"),
        (pki.unbound, "zags", "this client certificate names no agency"),
    ):
        reply = requests.post(
            f"{server.url}/inbound/{where}",
            data=notice("child", 3),
            headers=XML,
            cert=system.pair,
            verify=pki.ca.path,
            timeout=10,
        )
        assert reply.status_code == 403 and reply.json()["error"].startswith(why), reply.text
    denials = [e for e in hub.journal.audit_log(20) if e.action == "denied"]
    assert sorted(e.target for e in denials) == ["pfr", "zags"]
    assert {e.actor.split(" (")[0] for e in denials} == {
        f"certificate {pki.agency.sha256[:16]}",
        f"certificate {pki.unbound.sha256[:16]}",
    }
    assert hub.journal.health_counts().inbox_unfinished == 0  # nothing stored
