"""Development keys and self-signed certificates (``hub keys generate``, tests)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from asn1crypto import core, keys, x509
from gostcrypto import gostsignature

from hub.crypto.backends.base import GostBackend
from hub.crypto.keys import (
    CURVES,
    DEFAULT_CURVE,
    GOST2012_256_SIGNATURE,
    Certificate,
    PrivateKey,
)


def generate_private_key(curve_oid: str = DEFAULT_CURVE) -> PrivateKey:
    """A fresh random private key on ``curve_oid`` (default CryptoPro-A)."""
    order = gostsignature.CURVES_R_1323565_1_024_2019[CURVES[curve_oid]]["q"]
    return PrivateKey(curve_oid, 1 + secrets.randbelow(int(order) - 1))


def self_signed_certificate(
    backend: GostBackend,
    key: PrivateKey,
    common_name: str = "hub development signer",
    *,
    days: int = 365,
    not_before: datetime | None = None,
) -> Certificate:
    """A self-signed X.509 v3 certificate for ``key``, signed with GOST R 34.10-2012."""
    start = (not_before or datetime.now(UTC)).replace(microsecond=0)
    name = x509.Name.build({"common_name": common_name, "organization_name": "hub (development)"})
    algorithm = {"algorithm": GOST2012_256_SIGNATURE}
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(63),
            "signature": algorithm,
            "issuer": name,
            "validity": {
                "not_before": x509.Time({"utc_time": start}),
                "not_after": x509.Time({"utc_time": start + timedelta(days=days)}),
            },
            "subject": name,
            "subject_public_key_info": keys.PublicKeyInfo.load(backend.public_key(key).to_der()),
        }
    )
    tbs_der = tbs.dump()
    signature = backend.sign(key, backend.digest(tbs_der))
    certificate = core.Sequence()
    certificate.contents = (
        tbs_der
        + x509.SignedDigestAlgorithm(algorithm).dump()
        + core.OctetBitString(signature).dump()
    )
    return Certificate(bytes(certificate.dump()))
