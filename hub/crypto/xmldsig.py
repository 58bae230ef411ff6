"""XMLDSig as SMEV 3 does it: exc-c14n + SMEV transform, Streebog-256, GOST R 34.10-2012-256."""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol, cast

from lxml import etree

from hub.crypto.backends.base import GostBackend
from hub.crypto.keys import Certificate, PrivateKey
from hub.crypto.transform import smev_transform
from hub.errors import HubError, SignatureError

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SMEV_TRANSFORM = "urn://smev-gov-ru/xmldsig/transform"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNATURE_METHOD = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"
DIGEST_METHOD = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256"
# Older senders still name the same algorithms by these URIs.
_SIGNATURE_ALIASES = {
    SIGNATURE_METHOD,
    "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-256",
}
_DIGEST_ALIASES = {DIGEST_METHOD}

_NSMAP = {"ds": DS_NS}
_find_signatures = etree.XPath("//ds:Signature", namespaces=_NSMAP)
# SMEV spells the attribute Id; other tools ID or id. A reference must name one element in
# the whole document under any spelling: an id that two elements share is ambiguous, and
# ambiguity is how a signature is made to cover one element while a reader reads another.
_find_by_id = etree.XPath("//*[@Id=$id or @ID=$id or @id=$id]")


def _ds(name: str) -> str:
    return f"{{{DS_NS}}}{name}"


class KeySigner(Protocol):
    """Whatever holds the private key: in-process, CryptoPro CSP, or a remote service.

    ``sign`` gets the canonical SignedInfo bytes and returns the 64-byte s‖r value.
    """

    @property
    def certificate(self) -> Certificate: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class LocalKeySigner:
    """A key held in this process, signing through a GOST backend."""

    backend: GostBackend
    key: PrivateKey
    certificate: Certificate

    def sign(self, data: bytes) -> bytes:
        return self.backend.sign(self.key, self.backend.digest(data))


@dataclass(frozen=True)
class XmlSigner:
    """Makes the ds:Signature over an element with an ``Id`` (an ``ElementSigner``)."""

    key_signer: KeySigner
    backend: GostBackend

    def __call__(self, element: etree._Element) -> etree._Element:
        element_id = element.get("Id")
        if not element_id:
            raise SignatureError(f"<{etree.QName(element).localname}> has no Id to sign")
        digest = self.backend.digest(smev_transform(element))
        signed_info = _signed_info(element_id, digest)
        value = self.key_signer.sign(_c14n(signed_info))
        return _signature(signed_info, value, self.key_signer.certificate)


def _sub(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> Any:
    child = etree.SubElement(parent, _ds(name), attrs)
    child.text = text
    return child


def _signed_info(element_id: str, digest: bytes) -> etree._Element:
    signed_info = etree.Element(_ds("SignedInfo"), nsmap=_NSMAP)
    _sub(signed_info, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _sub(signed_info, "SignatureMethod", Algorithm=SIGNATURE_METHOD)
    reference = _sub(signed_info, "Reference", URI=f"#{element_id}")
    transforms = _sub(reference, "Transforms")
    _sub(transforms, "Transform", Algorithm=EXC_C14N)
    _sub(transforms, "Transform", Algorithm=SMEV_TRANSFORM)
    _sub(reference, "DigestMethod", Algorithm=DIGEST_METHOD)
    _sub(reference, "DigestValue", base64.b64encode(digest).decode("ascii"))
    return signed_info


def _signature(signed_info: etree._Element, value: bytes, cert: Certificate) -> etree._Element:
    signature = etree.Element(_ds("Signature"), nsmap=_NSMAP)
    signature.append(signed_info)
    _sub(signature, "SignatureValue", base64.b64encode(value).decode("ascii"))
    x509_data = _sub(_sub(signature, "KeyInfo"), "X509Data")
    _sub(x509_data, "X509Certificate", cert.to_base64())
    return signature


def _c14n(signed_info: etree._Element) -> bytes:
    return etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)


# --- verification --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    not_before: datetime
    not_after: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """What one ds:Signature in a message proves."""

    reference: str | None
    digest_valid: bool
    signature_valid: bool
    algorithm: str | None
    certificate: CertificateInfo | None
    expired: bool | None
    error: str | None = None
    certificate_sha256: str | None = None  # fingerprint of the signer's certificate
    # The element the reference resolved to (the one whose digest was checked).
    target: etree._Element | None = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return self.digest_valid and self.signature_valid

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest_valid": self.digest_valid,
            "signature_valid": self.signature_valid,
            "valid": self.valid,
            "algorithm": self.algorithm,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "expired": self.expired,
            "error": self.error,
            "certificate_sha256": self.certificate_sha256,
        }


class XmlVerifier:
    """Checks every ds:Signature of a document."""

    def __init__(self, backend: GostBackend) -> None:
        self.backend = backend

    def verify_all(
        self, root: etree._Element, now: datetime | None = None
    ) -> list[SignatureReport]:
        moment = now or datetime.now(UTC)
        signatures = cast(list[etree._Element], _find_signatures(root))
        return [self.verify(signature, moment) for signature in signatures]

    def verify(self, signature: etree._Element, now: datetime) -> SignatureReport:
        parts = _SignatureParts(signature)
        try:
            parts.read()
            certificate = _certificate(parts.certificate_text)
            cert_info = CertificateInfo(
                certificate.subject, certificate.not_before, certificate.not_after
            )
            target = _target(parts.signature, parts.uri)
            digest_valid = self._digest_valid(parts, target)
            signature_valid = self._signature_valid(parts, certificate)
        except HubError as exc:
            return parts.failed(str(exc))
        return SignatureReport(
            parts.uri,
            digest_valid,
            signature_valid,
            parts.signature_method,
            cert_info,
            not certificate.is_valid_at(now),
            certificate_sha256=certificate.sha256,
            target=target,
        )

    def _digest_valid(self, parts: _SignatureParts, target: etree._Element) -> bool:
        data = _apply_transforms(target, parts.transforms, parts.signature)
        return self.backend.digest(data) == parts.digest_value

    def _signature_valid(self, parts: _SignatureParts, certificate: Certificate) -> bool:
        digest = self.backend.digest(_c14n(_without_blank_text(parts.signed_info)))
        return self.backend.verify(certificate.public_key, digest, parts.signature_value)


class _SignatureParts:
    """The pieces of one ds:Signature, read leniently and checked for what matters."""

    def __init__(self, signature: etree._Element) -> None:
        self.signature = signature
        self.uri: str | None = None
        self.signature_method: str | None = None

    def read(self) -> None:
        self.signed_info = self._one(self.signature, "SignedInfo")
        self.signature_method = self._one(self.signed_info, "SignatureMethod").get("Algorithm")
        reference = self._one(self.signed_info, "Reference")
        self.uri = reference.get("URI")
        self._check_algorithms(reference)
        self.transforms = [t.get("Algorithm", "") for t in reference.iter(_ds("Transform"))]
        self.digest_value = _b64(self._one(reference, "DigestValue").text, "DigestValue")
        self.signature_value = _b64(
            self._one(self.signature, "SignatureValue").text, "SignatureValue"
        )
        self.certificate_text = "".join(
            (self._one(self.signature, "X509Certificate").text or "").split()
        )

    def _check_algorithms(self, reference: etree._Element) -> None:
        if self.signature_method not in _SIGNATURE_ALIASES:
            raise SignatureError(f"unsupported SignatureMethod {self.signature_method!r}")
        digest_method = self._one(reference, "DigestMethod").get("Algorithm")
        if digest_method not in _DIGEST_ALIASES:
            raise SignatureError(f"unsupported DigestMethod {digest_method!r}")

    @staticmethod
    def _one(parent: etree._Element, name: str) -> etree._Element:
        found = next(parent.iter(_ds(name)), None)
        if found is None:
            raise SignatureError(f"ds:Signature has no ds:{name}")
        return found

    def failed(self, error: str) -> SignatureReport:
        return SignatureReport(self.uri, False, False, self.signature_method, None, None, error)


@lru_cache(maxsize=128)
def _certificate(text: str) -> Certificate:
    # A peer signs thousands of messages with one certificate: parse it once.
    return Certificate.from_bytes(text.encode("ascii"))


def _b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"ds:{what} is not valid base64") from exc


def _target(signature: etree._Element, uri: str | None) -> etree._Element:
    if not uri or not uri.startswith("#"):
        raise SignatureError(f"Reference URI {uri!r} does not point to an element by Id")
    found = cast(list[etree._Element], _find_by_id(signature, id=uri[1:]))
    if len(found) != 1:
        raise SignatureError(f"Reference URI {uri!r} matches {len(found)} elements, expected 1")
    return found[0]


def _apply_transforms(
    target: etree._Element, transforms: list[str], signature: etree._Element
) -> bytes:
    unknown = [t for t in transforms if t not in (EXC_C14N, SMEV_TRANSFORM, ENVELOPED)]
    if unknown:
        raise SignatureError(f"unsupported Transform {unknown[0]!r}")
    if ENVELOPED in transforms:
        target = _without_signature(target, signature)
    if SMEV_TRANSFORM in transforms:
        return smev_transform(target)
    return etree.tostring(target, method="c14n", exclusive=True, with_comments=False)


def _without_signature(target: etree._Element, signature: etree._Element) -> etree._Element:
    clone = copy.deepcopy(target)
    value = signature.findtext(f".//{_ds('SignatureValue')}")
    for candidate in clone.iter(_ds("Signature")):
        if candidate.findtext(f".//{_ds('SignatureValue')}") == value:
            parent = candidate.getparent()
            if parent is not None:
                parent.remove(candidate)
    return clone


def _without_blank_text(signed_info: etree._Element) -> etree._Element:
    # SignedInfo has no mixed content: whitespace-only text there is re-indentation
    # added after signing, and SMEV signed it without.
    clone = copy.deepcopy(signed_info)
    for element in clone.iter():
        if element.text is not None and not element.text.strip():
            element.text = None
        if element is not clone and element.tail is not None and not element.tail.strip():
            element.tail = None
    return clone
