"""The signature floor of a round trip: eleven real signature operations, timed."""

from __future__ import annotations

import pytest

from hub.bench.floor import Floor, _check, measure_floor
from hub.bench.smev import dev_signer, signed_response
from hub.crypto import GostBackend
from hub.crypto.xmldsig import XmlVerifier

pytestmark = pytest.mark.unit


def test_the_floor_times_signing_and_checking(fast_backend: GostBackend) -> None:
    floor = measure_floor(fast_backend, cores=2, rounds=3)
    assert floor.sign_ms > 0
    assert floor.verify_ms > 0
    assert floor.ceiling == pytest.approx(2 * 1000 / (floor.sign_ms + floor.verify_ms))


def test_a_tampered_envelope_stops_the_floor(fast_backend: GostBackend) -> None:
    # The floor times checks that really check: a broken signature is not a fast one.
    body = signed_response(dev_signer(fast_backend))
    verifier = XmlVerifier(fast_backend)
    _check(verifier, body, expected=2)
    with pytest.raises(AssertionError, match="failed to verify"):
        _check(
            verifier,
            body.replace("Константинопольская".encode(), "Константинополь".encode()),
            expected=2,
        )


def test_the_ceiling_is_what_the_cores_allow() -> None:
    assert Floor(sign_ms=1.5, verify_ms=2.5, cores=2).ceiling == 500
