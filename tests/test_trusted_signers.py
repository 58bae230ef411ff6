"""The trust list: a message counts only when signed by a certificate the hub pins."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.adapters.router import Router
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate
from hub.crypto.xmldsig import XmlSigner, XmlVerifier
from hub.errors import ConfigurationError
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import Processor
from hub.xml import XmlLimits
from tests.support.notices import notice
from tests.support.notices import register as register_notices

pytestmark = pytest.mark.unit


def _record(raw: bytes) -> InboxRecord:
    return InboxRecord(
        "inbox-1",
        "smev",
        "m-1",
        raw,
        "zags",
        None,
        "text/xml",
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )


def _processor(backend: object, trusted: frozenset[str] | None) -> Processor:
    router = Router(Settings())
    register_notices(router)
    verifier = XmlVerifier(backend)  # type: ignore[arg-type]
    return Processor(router, verifier, XmlLimits(), frozenset({"zags"}), trusted=trusted)


def test_a_pinned_signer_passes_and_another_is_refused_by_fingerprint(
    fast_backend: object, xml_signer: XmlSigner, dev_key_pair: tuple[object, Certificate]
) -> None:
    raw = notice("child-1", 1, signer=xml_signer)
    own = dev_key_pair[1].sha256
    assert _processor(fast_backend, frozenset({own})).process(_record(raw)).failure is None
    assert _processor(fast_backend, None).process(_record(raw)).failure is None
    refused = _processor(fast_backend, frozenset({"0" * 64})).process(_record(raw)).failure
    assert refused is not None and refused.error_type == "UntrustedSignerError"
    assert own in refused.reason  # the operator sees which certificate to pin, nothing else


def test_bootstrap_reads_the_trust_list_from_certificate_files(
    tmp_path: Path, fast_backend: object
) -> None:
    key = generate_private_key()
    certificate = self_signed_certificate(fast_backend, key, "SMEV")  # type: ignore[arg-type]
    path = tmp_path / "smev.pem"
    path.write_bytes(certificate.der)
    hub = bootstrap(Settings(trusted_certificates=(path,)))
    assert hub.trusted_certificates == frozenset({certificate.sha256})
    assert bootstrap(Settings()).trusted_certificates is None
    missing = bootstrap(Settings(trusted_certificates=(tmp_path / "gone.pem",)))
    with pytest.raises(ConfigurationError, match=r"HUB_TRUSTED_CERTIFICATES=.*gone\.pem: No such"):
        _ = missing.trusted_certificates
