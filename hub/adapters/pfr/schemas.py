"""PFR/SFR "SNILS by additional data" (VS00648) 1.0.1: its names and its official schema.

The schema is never copied into the project: it is read from ``<reference_dir>/agencies/pfr``
(``Settings.reference_dir``), compiled once and used under a lock (``hub.xml.xsd``), because a
compiled lxml ``XMLSchema`` must not validate from two threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lxml import etree

from hub.adapters.gate import SchemaCheck
from hub.canonical.personal import Personal
from hub.xml.xsd import validate_xsd

AGENCY = "pfr"
KIND = "snils-by-additional-data"
NS = "http://kvs.pfr.com/snils-by-additionalData/1.0.1"
COMMONS_NS = "urn://x-artefacts-smev-gov-ru/supplementary/commons/1.0.1"
PFR_NS = "http://common.kvs.pfr.com/1.0.0"
NSMAP = {"tns": NS, "smev": COMMONS_NS, "pfr": PFR_NS}
REQUEST = f"{{{NS}}}SnilsByAdditionalDataRequest"
RESPONSE = f"{{{NS}}}SnilsByAdditionalDataResponse"
XSD = Path("agencies/pfr/snils-by-additionalData-1.0.1.xsd")

# --- personal data in these schemas (hub.canonical.personal) ---------------------------
# The element names whose content is personal: masking hides their text, their attributes
# and everything inside them. A test walks the official schema with its commons: every
# element of a type in PERSONAL_TYPES (or of xs:date) must be named here or in NOT_PERSONAL,
# and every name here must be declared.
_DOCUMENTS = (
    "PrimaryIdentityDocument",
    "IdentityDocument",
    "PassportRF",
    "ForeignPassport",
    "ResidencePermitRF",
    "InternationalPassportRF",
    "MilitaryPassport",
    "SailorPassport",
    "SovietPassport",
    "BirthCertificate",
    "DrivingLicenseRF",
    "ReleaseCertificate",
    "PassportLossCertificate",
    "Form9Certificate",
    "TemporaryIdentityCardRF",
    "PfrIdentificationDocument",
)
PERSONAL: Mapping[str, Personal] = {
    **dict.fromkeys(("FamilyName", "FirstName", "Patronymic"), Personal.NAME),
    "BirthDate": Personal.DATE,
    "Snils": Personal.SNILS,
    "BirthPlace": Personal.OTHER,
    **dict.fromkeys(_DOCUMENTS, Personal.OTHER),
}
# The types with personal meaning: name parts (rus-100), SNILS, places of birth, identity
# documents, contacts, a person's INN (and xs:date, always).
PERSONAL_TYPES = frozenset(
    {
        "rus-100",
        "SNILSType",
        "BirthPlaceType",
        "rus-and-num-500",
        "PassportRFType",
        "NotRestrictedDocumentType",
        "SovietPassportType",
        "InternationalPassportRFType",
        "MilitaryPassportDocumentType",
        "DrivingLicenseRFType",
        "IdentificationDocumentType",
        "PrimaryIdentityDocumentType",
        "AnyIdentityDocumentType",
        "PhoneNumberRFType",
        "EmailAddressType",
        "PhysicalPersonINNType",
        "PostalCodeRFType",
    }
)
NOT_PERSONAL: Mapping[str, str] = {}


def answer_gate(reference_dir: Path) -> SchemaCheck:
    """The intake gate of PFR's answers: the official VS00648 schema (off without it)."""
    return SchemaCheck(reference_dir / XSD, "ПФР VS00648 SnilsByAdditionalData 1.0.1 (official)")


def xsd_path(reference_dir: Path) -> Path:
    """The official schema's file in the reference folder (``Settings.reference_dir``)."""
    return reference_dir / XSD


def validate(element: etree._Element, reference_dir: Path) -> None:
    """Check a request or an answer against the official schema in ``reference_dir``.

    Raises ``SchemaValidationError`` listing every violation, with the values lxml quotes
    (names, numbers) masked; ``ConfigurationError`` when the schema is not there.
    """
    validate_xsd(element, xsd_path(reference_dir))
