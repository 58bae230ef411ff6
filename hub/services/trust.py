"""The hub's trust policy: a SMEV message becomes facts only when a valid signature by a
trusted certificate, valid when SMEV sent the message, covers the element that vouches for
it (``hub.smev.trust``), and so the very content the adapters read.

The worker (``hub.services.processing``) and ``hub smev verify --trusted`` apply this one
policy. The checks, in order, each with its own error:

1. no ``Id`` used twice (``SignatureCoverageError``);
2. at least one signature, and every signature in the document valid (``SignatureError``);
3. a signature whose reference resolves to the vouching element, found by the reader's own
   path, with the business content inside it (``SignatureCoverageError``);
4. one of those by a trusted certificate (``UntrustedSignerError``);
5. that certificate valid at the moment SMEV's metadata gives (inside the signed element), or
   else when the hub received the message (``CertificateValidityError``): replaying a
   message after SMEV's yearly renewal still works, an expired certificate's signature on a
   new message does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from hub.crypto.xmldsig import DS_NS, SignatureReport, XmlVerifier
from hub.errors import SignatureError
from hub.smev.read import SmevMessage
from hub.smev.trust import SignatureCoverageError, Vouching, covers, duplicated_ids, vouching

__all__ = [
    "CertificateValidityError",
    "SignatureCoverageError",
    "TrustPolicy",
    "UntrustedSignerError",
]


# The signatures whose one Reference names an element's Id.
_SIGNATURES_OVER = etree.XPath(
    "//ds:Signature[ds:SignedInfo/ds:Reference/@URI = $uri]", namespaces={"ds": DS_NS}
)


class UntrustedSignerError(SignatureError):
    """Valid signatures, but none over the vouching element by a certificate the hub trusts."""

    code = "UNTRUSTED_SIGNER"


class CertificateValidityError(UntrustedSignerError):
    """The trusted certificate was not valid when SMEV sent the message."""

    code = "CERTIFICATE_VALIDITY"


@dataclass(frozen=True)
class TrustPolicy:
    """Checks a message against the policy; ``trusted`` is None for any certificate
    (development only: structure, coverage and validity are still checked)."""

    verifier: XmlVerifier
    trusted: frozenset[str] | None = None

    def check(
        self,
        message: SmevMessage,
        received_at: datetime,
        trusted: frozenset[str] | None = None,
    ) -> SignatureReport:
        """The report of the signature that vouches for ``message``, or the error saying why
        there is none. ``trusted`` replaces the policy's list (a system's bound signers)."""
        _unique_ids(message)
        reports = self.verifier.verify_all(message.root)
        _all_valid(reports)
        vouch = vouching(message)
        covering = _covering(reports, vouch, message)
        by_trusted = _by_trusted(covering, trusted if trusted is not None else self.trusted, vouch)
        return _in_time(by_trusted, vouch.moment or _aware(received_at), vouch)

    def check_smev(self, message: SmevMessage, received_at: datetime) -> SignatureReport:
        """SMEV's own signature over what it delivered, alone: valid, over the vouching
        element, by a trusted certificate valid in time. What the SMEV client checks before it
        acks (``accepted="false"`` when this fails); the worker applies ``check`` later."""
        _unique_ids(message)
        vouch = vouching(message)
        if vouch.signer != "smev":
            raise SignatureCoverageError(f"SMEV does not sign a {message.operation}")
        moment = datetime.now(UTC)
        reports = [self.verifier.verify(s, moment) for s in _signatures_over(vouch.element)]
        covering = [r for r in reports if r.target is vouch.element]
        if not covering:
            raise SignatureCoverageError(
                f"no signature of SMEV's covers <{vouch.name}>", element=vouch.name
            )
        _all_valid(covering)
        by_trusted = _by_trusted(covering, self.trusted, vouch)
        return _in_time(by_trusted, vouch.moment or _aware(received_at), vouch)


def _signatures_over(element: etree._Element) -> list[etree._Element]:
    found = _SIGNATURES_OVER(element.getroottree(), uri=f"#{element.get('Id') or ''}")
    return [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []


def _all_valid(reports: Sequence[SignatureReport]) -> None:
    if not reports:
        raise SignatureError("message carries no signature (SMEV messages must be signed)")
    for report in reports:
        if not report.valid:
            reason = report.error or (
                f"digest valid: {report.digest_valid}, signature valid: {report.signature_valid}"
            )
            raise SignatureError(
                f"signature over {report.reference} is invalid ({reason})",
                reference=report.reference,
            )


def _unique_ids(message: SmevMessage) -> None:
    duplicated = duplicated_ids(message.root)
    if duplicated:
        raise SignatureCoverageError(
            f"Id used by more than one element: {', '.join(duplicated)[:200]}",
            duplicated=duplicated[:10],
        )


def _covering(
    reports: Sequence[SignatureReport], vouch: Vouching, message: SmevMessage
) -> list[SignatureReport]:
    if not covers(vouch.element, message.content):
        raise SignatureCoverageError(
            f"the business content lies outside <{vouch.name}>, the element that vouches for "
            f"a {message.operation}",
            element=vouch.name,
        )
    covering = [r for r in reports if r.target is vouch.element]
    if not covering:
        elsewhere = ", ".join(sorted({_target_name(r) for r in reports}))
        raise SignatureCoverageError(
            f"no signature covers <{vouch.name}>, the element that vouches for a "
            f"{message.operation} (the signatures cover: {elsewhere})",
            element=vouch.name,
        )
    return covering


def _by_trusted(
    covering: list[SignatureReport], trusted: frozenset[str] | None, vouch: Vouching
) -> list[SignatureReport]:
    if trusted is None:
        return covering
    found = [r for r in covering if r.certificate_sha256 in trusted]
    if not found:
        signers = sorted({r.certificate_sha256 or "?" for r in covering})
        who = "SMEV's current certificate" if vouch.signer == "smev" else "the sender's certificate"
        raise UntrustedSignerError(
            f"the signature over <{vouch.name}> is by no certificate the hub trusts (signers' "
            f"SHA-256: {', '.join(signers)}; trust {who} in HUB_TRUSTED_CERTIFICATES"
            f"{'' if vouch.signer == 'smev' else ' or the posting token'})",
            signers=signers,
        )
    return found


def _in_time(found: list[SignatureReport], moment: datetime, vouch: Vouching) -> SignatureReport:
    for report in found:
        certificate = report.certificate
        if certificate is not None and certificate.not_before <= moment <= certificate.not_after:
            return report
    first = found[0].certificate
    period = f"{first.not_before:%Y-%m-%d}…{first.not_after:%Y-%m-%d}" if first else "unknown"
    raise CertificateValidityError(
        f"the certificate that signed <{vouch.name}> ({found[0].certificate_sha256}) was not "
        f"valid at {moment.isoformat()} (valid {period})",
        signers=[found[0].certificate_sha256],
    )


def _aware(moment: datetime) -> datetime:
    # A journal on SQLite gives times back without a zone; the hub stores them in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _target_name(report: SignatureReport) -> str:
    if report.target is None:
        return "?"
    return f"<{str(report.target.tag).rpartition('}')[2]}>"
