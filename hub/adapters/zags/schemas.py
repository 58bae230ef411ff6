"""ЕГР ЗАГС: the names of its kinds of data and where their schemas are.

Birth records (ROGDINF 4.0.1) have an official schema, read from
``<reference_dir>/agencies/zags`` (``Settings.reference_dir``) and never copied. Change
notifications have none: the hub's own schemas, modelled on the official response types, are
in ``zags/`` of the hub's schemas folder (``Settings.schemas_dir``, the project's ``schemas/``
by default). Both folders come from the settings the composition root passes in. Schemas are
compiled once per file and used under a lock (``hub.xml.xsd``): a compiled lxml
``XMLSchema`` must not validate from two threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lxml import etree

from hub.adapters.gate import SchemaCheck
from hub.adapters.router import Gate
from hub.canonical.personal import Personal
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.xml.xsd import validate_xsd

AGENCY = "zags"
KIND = "rogdinf"
ACK_KIND = "zags-notification-ack"

NS = "urn://x-artefacts-zags-rogdinf/root/112-51/4.0.1"
TYPES_NS = "urn://x-artefacts-zags-rogdinf/types/4.0.1"
NSMAP = {"tns": NS, "fnst": TYPES_NS}
REQUEST = f"{{{NS}}}ROGDINFRequest"
RESPONSE = f"{{{NS}}}ROGDINFResponse"
XSD = Path("agencies/zags/rogdinf-4.0.1/zags-rogdinf-ru-root.xsd")

DIRECTIVE_NS = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/directive/1.3"
REGISTRY = f"{{{DIRECTIVE_NS}}}Registry"
# The hub's own notification schemas, relative to its schemas folder (``Settings.schemas_dir``).
OWN_FOLDER = Path("zags")

# --- personal data in these schemas (hub.canonical.personal) ---------------------------
# The element and attribute names whose content is personal: masking hides their text, their
# attributes and everything inside them. A test walks the official ROGDINF schema and the
# hub's own notification schemas: every element or attribute of a type in PERSONAL_TYPES (or
# of xs:date) must be named here or in NOT_PERSONAL, and every name here must be declared.
_NAMES = ("ФИО", "ФИОРожд", "ФИОУмер", "ФИОДо", "ФИОПосле", "ФИОИП", "ФИОФЛ", "ФИООтв")
# dates of birth and death, of act records and of documents
_DATES = (
    "ДатаРождКаленд",
    "ДатаРождДок",
    "ДатаСмертКаленд",
    "ДатаСмертДок",
    "ДатаЗапис",
    "ДатаЗаписДок",
    "ДатаУвед",
    "ДатаПринят",
    "ДатаКаленд",
    "ДатаДок",
    "ДатаЛегал",
)
# people, places, addresses, documents and certificates, act records' numbers
_OTHER = (
    "СведМать",
    "СведОтец",
    "МестоРожден",
    "АдрМЖ",
    "УдЛичнФЛ",
    "СвидетРожд",
    "СвидетСмерт",
    "СвидетПерИмя",
    "СвидетРегОтцов",
    "СведДокРод",
    "СведДокОснОтец",
    "ЗапАктОсн",
    "ДокОсн",
    "ЗасвидДок",
    "ЗасвидПеревод",
    "НомерЗапис",
    "НомерЗаписЕГР",
    "НомАГССвид",
    "СвПодпТекст",
)
PERSONAL: Mapping[str, Personal] = {
    **dict.fromkeys(_NAMES, Personal.NAME),
    **dict.fromkeys(_DATES, Personal.DATE),
    "СНИЛС": Personal.SNILS,
    **dict.fromkeys(_OTHER, Personal.OTHER),
}
# The types with personal meaning: names, people, places, addresses, identity and other
# documents, certificates, act records, SNILS, partial dates (and xs:date, always).
PERSONAL_TYPES = frozenset(
    {
        "ФИОПрТип",
        "СведРодитТип",
        "СведЛицоТип",
        "МестоТип",
        "АдрМЖТип",
        "АдрРФТип",
        "УдЛичнФЛПрТип",
        "УдЛичнФЛСНТип",
        "СведДокТип",
        "СведДокОснТип",
        "ЗасвидТип",
        "СведСвидетТип",
        "ЗапАктТип",
        "СНИЛСТип",
        "ДатаДокТип",
    }
)
# Dates that are no person's: the operator needs them to tell versions and answers apart.
NOT_PERSONAL: Mapping[str, str] = {
    "ДатаВерс": "the date of an act record's version",
    "ДатаСвед": "the date ZAGS made its answer on",
}


class Notice(StrEnum):
    """The four kinds of ЕГР ЗАГС change notification."""

    BIRTH = "birth"
    DEATH = "death"
    NAME_CHANGE = "name_change"
    PATERNITY = "paternity"


@dataclass(frozen=True, slots=True)
class NoticeKind:
    """A notification kind's namespace, record element, answer element and schema file."""

    notice: Notice
    namespace: str
    record: str  # local name of the element inside RecordContent
    answer: str  # local name of the subscriber's answer
    xsd: str  # file name under schemas/zags

    @property
    def root(self) -> str:
        """The business root element as SMEV delivers it (wrapping the directive Registry)."""
        return f"{{{self.namespace}}}Request"


NOTICES = {
    kind.namespace: kind
    for kind in (
        NoticeKind(
            Notice.BIRTH,
            "urn://x-artefacts-zags-rogdzp/root/112-23/4.0.1",
            "СведРегРожд",
            "ROGDZPResponse",
            "zags-rogdzp-4.0.1.xsd",
        ),
        NoticeKind(
            Notice.DEATH,
            "urn://x-artefacts-zags-fatalzp/root/112-25/4.0.1",
            "СведРегСмерт",
            "FATALZPResponse",
            "zags-fatalzp-4.0.1.xsd",
        ),
        NoticeKind(
            Notice.NAME_CHANGE,
            "urn://x-artefacts-zags-pernamezp/root/112-24/4.0.1",
            "СведРегПерИмя",
            "PERNAMEZPResponse",
            "zags-pernamezp-4.0.1.xsd",
        ),
        NoticeKind(
            Notice.PATERNITY,
            "urn://x-artefacts-zags-parent/root/112-27/4.0.1",
            "СведРегОтцов",
            "PARENTZPResponse",
            "zags-parent-4.0.1.xsd",
        ),
    )
}
KINDS = {kind.notice: kind for kind in NOTICES.values()}


def xsd_path(reference_dir: Path) -> Path:
    """The official ROGDINF schema in the reference folder (``Settings.reference_dir``)."""
    return reference_dir / XSD


def own_xsd_path(kind: NoticeKind, schemas_dir: Path = PROJECT_SCHEMAS_DIR) -> Path:
    """The hub's own schema of a notification kind (and of its answer) in ``schemas_dir``
    (by default the project's own folder, where tests and tools find it)."""
    return schemas_dir / OWN_FOLDER / kind.xsd


def answer_gate(reference_dir: Path) -> SchemaCheck:
    """The intake gate of ZAGS's answers: the official ROGDINF schema (off without it)."""
    return SchemaCheck(reference_dir / XSD, "ЕГР ЗАГС ROGDINF 4.0.1 (official schema)")


def notice_gate(schemas_dir: Path) -> Gate:
    """The intake gate of change notifications: the hub's own schema of each kind (in
    ``schemas_dir``, ``Settings.schemas_dir``), for the ``{ns}Request`` root and for every
    record inside the directive wrapper (also when the wrapper comes bare)."""
    checks = {
        namespace: SchemaCheck(
            own_xsd_path(kind, schemas_dir), f"ЕГР ЗАГС {kind.notice.value} notification"
        )
        for namespace, kind in NOTICES.items()
    }

    def gate(content: etree._Element) -> None:
        check = checks.get(etree.QName(content).namespace or "")
        if check is not None:
            check(content)
        for record in content.iterfind(f".//{{{DIRECTIVE_NS}}}RecordContent/*"):
            inner = checks.get(etree.QName(record).namespace or "")
            if inner is not None:  # a record of no known kind: translation refuses it
                inner(record)

    return gate


def validate(
    element: etree._Element,
    reference_dir: Path | None = None,
    schemas_dir: Path = PROJECT_SCHEMAS_DIR,
) -> None:
    """Check a ROGDINF request or answer against the official schema in ``reference_dir``,
    or a notification or its answer against the hub's own in ``schemas_dir``.

    A notification's record, inside the directive wrapper, is checked strictly too. Raises
    ``SchemaValidationError`` listing every violation with the quoted values masked;
    ``ConfigurationError`` when the schema is not there; ``ValueError`` for ROGDINF content
    without ``reference_dir`` (nothing here guesses where the official schemas are).
    """
    namespace = etree.QName(element).namespace or ""
    kind = NOTICES.get(namespace)
    path = own_xsd_path(kind, schemas_dir) if kind is not None else _official(reference_dir)
    validate_xsd(element, path)  # values are masked there
    if kind is not None and etree.QName(element).localname == "Request":
        for record in element.iterfind(f".//{{{DIRECTIVE_NS}}}RecordContent/*"):
            validate_xsd(record, path)


def _official(reference_dir: Path | None) -> Path:
    if reference_dir is None:
        raise ValueError("checking ROGDINF content needs reference_dir (the official schema)")
    return xsd_path(reference_dir)
