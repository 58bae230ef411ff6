"""GOST key material: PKCS#8 as OpenSSL's engine writes it, certificates, interop with openssl."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core

from hub.crypto import keys
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import PrivateKey, PublicKey, load_certificate, load_private_key
from hub.errors import KeyMaterialError


@pytest.mark.unit
def test_private_key_pem_round_trip_and_repr_hides_secret() -> None:
    key = generate_private_key()
    assert load_private_key(key.to_pem()) == key
    assert load_private_key(key.to_der()) == key
    assert str(key.secret) not in repr(key) and "hidden" in repr(key)


@pytest.mark.unit
def test_public_key_der_round_trip(fast_backend) -> None:  # type: ignore[no-untyped-def]
    public = fast_backend.public_key(generate_private_key())
    assert PublicKey.from_der(public.to_der()) == public


@pytest.mark.unit
def test_certificate_formats_and_validity(fast_backend) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert = self_signed_certificate(fast_backend, key, "Школа №1", days=30, not_before=start)
    for form in (cert.der, cert.to_pem(), cert.to_base64().encode()):
        loaded = load_certificate(form)
        assert loaded.der == cert.der
    assert "Школа №1" in cert.subject
    assert cert.not_before == start and cert.not_after == start + timedelta(days=30)
    assert cert.is_valid_at(start + timedelta(days=1))
    assert not cert.is_valid_at(start + timedelta(days=31))
    assert cert.public_key == fast_backend.public_key(key)


@pytest.mark.unit
@pytest.mark.parametrize(
    "data",
    [b"", b"garbage!", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_bad_key_material_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(KeyMaterialError):
        load_private_key(data)
    with pytest.raises(KeyMaterialError):
        load_certificate(data)


@pytest.mark.unit
def test_a_certificate_label_is_not_a_key(fast_backend) -> None:  # type: ignore[no-untyped-def]
    cert = self_signed_certificate(fast_backend, generate_private_key())
    with pytest.raises(KeyMaterialError, match="expected 'PRIVATE KEY'"):
        load_private_key(cert.to_pem())


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=False)


@pytest.mark.integration
def test_key_written_by_the_openssl_engine_loads_and_signs(
    tmp_path: Path, openssl_backend, pure_backend
) -> None:  # type: ignore[no-untyped-def]
    made = _openssl(
        "genpkey",
        "-engine",
        "gost",
        "-algorithm",
        "gost2012_256",
        "-pkeyopt",
        "paramset:A",
        "-out",
        "key.pem",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    key = load_private_key((tmp_path / "key.pem").read_bytes())
    digest = openssl_backend.digest(b"data")
    signature = openssl_backend.sign(key, digest)
    assert pure_backend.verify(pure_backend.public_key(key), digest, signature)


@pytest.mark.integration
def test_openssl_verifies_what_the_hub_signs(tmp_path: Path, openssl_backend, dev_key_pair) -> None:  # type: ignore[no-untyped-def]
    key, cert = dev_key_pair
    (tmp_path / "data").write_bytes("<ns1:a>подпись</ns1:a>".encode())
    (tmp_path / "cert.pem").write_bytes(cert.to_pem())
    sign_input = (tmp_path / "data").read_bytes()
    (tmp_path / "sig").write_bytes(openssl_backend.sign(key, openssl_backend.digest(sign_input)))
    extracted = _openssl(
        "x509",
        "-engine",
        "gost",
        "-in",
        "cert.pem",
        "-pubkey",
        "-noout",
        "-out",
        "pub.pem",
        cwd=tmp_path,
    )
    assert extracted.returncode == 0, extracted.stderr
    checked = _openssl(
        "dgst",
        "-engine",
        "gost",
        "-md_gost12_256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig",
        "data",
        cwd=tmp_path,
    )
    assert b"Verified OK" in checked.stdout, checked.stdout + checked.stderr
    chain = _openssl("verify", "-engine", "gost", "-CAfile", "cert.pem", "cert.pem", cwd=tmp_path)
    assert chain.returncode == 0, chain.stdout + chain.stderr


@pytest.mark.unit
@pytest.mark.parametrize("layout", ["integer", "octet-string"])
def test_secret_layouts_of_older_engines(layout: str) -> None:
    key = generate_private_key()
    info = keys._PrivateKeyInfo.load(key.to_der())
    wrapped = (
        core.Integer(key.secret)
        if layout == "integer"
        else core.OctetString(key.secret.to_bytes(32, "little"))
    )
    old = keys._PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": info["private_key_algorithm"],
            "private_key": wrapped.dump(),
        }
    )
    assert PrivateKey.from_der(old.dump()) == key
