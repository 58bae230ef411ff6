"""One contract for every GOST backend: each must agree with every other."""

from __future__ import annotations

import pytest

from hub.crypto.devcert import generate_private_key
from hub.crypto.keys import CURVES

pytestmark = pytest.mark.contract

BACKENDS = ["openssl_backend", "pure_backend"]


@pytest.fixture(params=BACKENDS)
def backend(request):  # type: ignore[no-untyped-def]
    return request.getfixturevalue(request.param)


@pytest.fixture(params=BACKENDS)
def other(request):  # type: ignore[no-untyped-def]
    return request.getfixturevalue(request.param)


def test_streebog_256_standard_vector(backend) -> None:  # type: ignore[no-untyped-def]
    # GOST R 34.11-2012, example 1 (M1, given there as a big-endian number).
    message = bytes.fromhex(
        "323130393837363534333231303938373635343332313039383736353433323130393837363534333231303938373635343332313039383736353433323130"
    )[::-1]
    expected = "00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d"
    assert backend.digest(message)[::-1].hex() == expected


def test_signature_made_by_one_verifies_with_the_other(backend, other) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    digest = backend.digest(b"SenderProvidedRequestData")
    signature = backend.sign(key, digest)
    assert len(signature) == 64
    assert other.verify(other.public_key(key), digest, signature)
    assert not other.verify(other.public_key(key), other.digest(b"tampered"), signature)


def test_public_keys_agree(backend, other) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    assert backend.public_key(key) == other.public_key(key)


@pytest.mark.parametrize("curve", sorted(set(CURVES)))
def test_every_supported_curve_signs_and_verifies(
    curve: str, openssl_backend, pure_backend
) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key(curve)
    digest = openssl_backend.digest(curve.encode())
    signature = openssl_backend.sign(key, digest)
    assert pure_backend.verify(pure_backend.public_key(key), digest, signature)


def test_a_broken_signature_is_refused_not_raised(backend) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    digest = backend.digest(b"x")
    assert not backend.verify(backend.public_key(key), digest, b"\x00" * 64)
    assert not backend.verify(backend.public_key(key), digest, b"short")
