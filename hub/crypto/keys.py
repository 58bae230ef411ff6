"""GOST R 34.10-2012 (256-bit) key material: private keys, public keys, certificates.

Private keys are PKCS#8 as OpenSSL's GOST engine writes them (the secret as a 32-byte
little-endian OCTET STRING); certificates are X.509, DER or PEM. The ASN.1 is read with
asn1crypto, whose stock classes do not know GOST key algorithms, so the few GOST
structures are declared here.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache

from asn1crypto import core, pem, x509

from hub.errors import KeyMaterialError

GOST2012_256_KEY = "1.2.643.7.1.1.1.1"
GOST2012_256_DIGEST = "1.2.643.7.1.1.2.2"
GOST2012_256_SIGNATURE = "1.2.643.7.1.1.3.2"

# Curve OIDs and the TC26 names under which gostcrypto knows the same curves.
CURVES: dict[str, str] = {
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
}
DEFAULT_CURVE = "1.2.643.2.2.35.1"


class _GostKeyParams(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


class _GostAlgorithm(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("algorithm", core.ObjectIdentifier),
        ("parameters", _GostKeyParams, {"optional": True}),
    ]


class _SubjectPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("algorithm", _GostAlgorithm),
        ("public_key", core.OctetBitString),
    ]


class _PrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("private_key_algorithm", _GostAlgorithm),
        ("private_key", core.OctetString),
    ]


def _algorithm(curve_oid: str) -> _GostAlgorithm:
    params = _GostKeyParams(
        {"public_key_param_set": curve_oid, "digest_param_set": GOST2012_256_DIGEST}
    )
    return _GostAlgorithm({"algorithm": GOST2012_256_KEY, "parameters": params})


def _check_algorithm(algorithm: _GostAlgorithm, what: str) -> str:
    oid = algorithm["algorithm"].dotted
    if oid != GOST2012_256_KEY:
        raise KeyMaterialError(f"{what} is not a GOST R 34.10-2012-256 key (algorithm {oid})")
    curve = algorithm["parameters"]["public_key_param_set"].dotted
    if curve not in CURVES:
        raise KeyMaterialError(f"{what} uses an unsupported curve {curve}")
    return str(curve)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A point on a GOST curve; ``x``/``y`` are integers."""

    curve_oid: str
    x: int
    y: int

    def to_der(self) -> bytes:
        """SubjectPublicKeyInfo: an OCTET STRING of X‖Y, each 32 bytes little-endian."""
        return _public_der(self.curve_oid, self.x, self.y)

    @classmethod
    def from_der(cls, der: bytes) -> PublicKey:
        """Read a SubjectPublicKeyInfo."""
        return _public_from_der(der)


@lru_cache(maxsize=256)
def _public_der(curve_oid: str, x: int, y: int) -> bytes:
    point = x.to_bytes(32, "little") + y.to_bytes(32, "little")
    info = _SubjectPublicKeyInfo(
        {"algorithm": _algorithm(curve_oid), "public_key": core.OctetString(point).dump()}
    )
    return bytes(info.dump())


@lru_cache(maxsize=256)
def _public_from_der(der: bytes) -> PublicKey:
    try:
        info = _SubjectPublicKeyInfo.load(der)
        curve = _check_algorithm(info["algorithm"], "public key")
        point = core.OctetString.load(info["public_key"].native).native
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyMaterialError(f"public key is not valid DER: {exc}") from exc
    if len(point) != 64:
        raise KeyMaterialError(f"public key point is {len(point)} bytes, expected 64")
    return PublicKey(
        curve, int.from_bytes(point[:32], "little"), int.from_bytes(point[32:], "little")
    )


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A GOST R 34.10-2012-256 private key. Its ``repr`` never shows the secret."""

    curve_oid: str
    secret: int

    def __repr__(self) -> str:
        return f"PrivateKey(curve_oid={self.curve_oid!r}, secret=<hidden>)"

    def to_der(self) -> bytes:
        """PKCS#8 in the GOST engine's layout."""
        return _private_der(self.curve_oid, self.secret)

    def to_pem(self) -> bytes:
        return bytes(pem.armor("PRIVATE KEY", self.to_der()))

    @classmethod
    def from_der(cls, der: bytes) -> PrivateKey:
        try:
            info = _PrivateKeyInfo.load(der)
            curve = _check_algorithm(info["private_key_algorithm"], "private key")
            raw = info["private_key"].native
        except (ValueError, TypeError) as exc:
            raise KeyMaterialError(f"private key is not valid PKCS#8 DER: {exc}") from exc
        return cls(curve, _secret_from(raw))


@lru_cache(maxsize=64)
def _private_der(curve_oid: str, secret: int) -> bytes:
    info = _PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": _algorithm(curve_oid),
            "private_key": secret.to_bytes(32, "little"),
        }
    )
    return bytes(info.dump())


def _secret_from(raw: bytes) -> int:
    # Older engines wrapped the secret in a nested INTEGER or OCTET STRING; newer write it bare.
    if len(raw) == 32:
        return int.from_bytes(raw, "little")
    try:
        inner = core.Asn1Value.load(raw)
    except ValueError as exc:
        raise KeyMaterialError("private key secret has an unknown layout") from exc
    if isinstance(inner, core.Integer) or inner.tag == 2:
        return int(core.Integer.load(raw).native)
    return int.from_bytes(core.OctetString.load(raw).native, "little")


@dataclass(frozen=True)
class Certificate:
    """An X.509 certificate holding a GOST public key."""

    der: bytes

    @cached_property
    def _parsed(self) -> x509.Certificate:
        try:
            cert = x509.Certificate.load(self.der)
            cert["tbs_certificate"]["validity"].native  # noqa: B018 - forces a full parse
        except (ValueError, TypeError) as exc:
            raise KeyMaterialError(f"certificate is not valid DER: {exc}") from exc
        return cert

    @cached_property
    def public_key(self) -> PublicKey:
        spki = self._parsed["tbs_certificate"]["subject_public_key_info"]
        return PublicKey.from_der(spki.dump())

    @property
    def subject(self) -> str:
        return str(self._parsed.subject.human_friendly)

    @property
    def issuer(self) -> str:
        return str(self._parsed.issuer.human_friendly)

    @property
    def not_before(self) -> datetime:
        return self._parsed["tbs_certificate"]["validity"]["not_before"].native  # type: ignore[no-any-return]

    @property
    def not_after(self) -> datetime:
        return self._parsed["tbs_certificate"]["validity"]["not_after"].native  # type: ignore[no-any-return]

    @property
    def serial_number(self) -> int:
        return int(self._parsed.serial_number)

    def is_valid_at(self, moment: datetime) -> bool:
        return self.not_before <= moment <= self.not_after

    def to_pem(self) -> bytes:
        return bytes(pem.armor("CERTIFICATE", self.der))

    @property
    def sha256(self) -> str:
        """The certificate's SHA-256 fingerprint (hex of its DER): how the hub pins it."""
        return hashlib.sha256(self.der).hexdigest()

    def to_base64(self) -> str:
        return base64.b64encode(self.der).decode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> Certificate:
        """A certificate in DER, PEM or bare base64 (as in ds:X509Certificate)."""
        return cls(_der_of(data, "CERTIFICATE"))


def _der_of(data: bytes, label: str) -> bytes:
    if pem.detect(data):
        found, _headers, der = pem.unarmor(data)
        if found != label:
            raise KeyMaterialError(f"PEM block is {found!r}, expected {label!r}")
        return bytes(der)
    stripped = data.strip()
    if stripped[:1] == b"\x30":
        return data
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", stripped), validate=True)
    except ValueError as exc:
        raise KeyMaterialError(f"{label.lower()} is neither PEM, DER nor base64") from exc


def load_private_key(data: bytes) -> PrivateKey:
    """A private key from PEM (``-----BEGIN PRIVATE KEY-----``) or DER PKCS#8."""
    return PrivateKey.from_der(_der_of(data, "PRIVATE KEY"))


def load_certificate(data: bytes) -> Certificate:
    """A certificate from PEM, DER or base64."""
    cert = Certificate.from_bytes(data)
    cert.public_key  # noqa: B018 - fail here, not at first use, if it holds no GOST key
    return cert
