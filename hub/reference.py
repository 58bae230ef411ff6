"""The official schemas the project does not ship: which are here, and which checks are off.

The SMEV envelope schemas and the agencies' official XSDs (ZAGS ROGDINF, PFR VS00648) are
published by others and never copied into the project: they are read from
``HUB_REFERENCE_DIR`` (and ``HUB_SMEV_XSD_DIR``). On a bare clone they are not there; the
demo and the simulator still run, every other check included, and say once which checks are
off and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.adapters.pfr import schemas as pfr
from hub.adapters.zags import schemas as zags
from hub.config import Settings
from hub.smev.versions import SmevVersion

SMEV_ENVELOPE = "SMEV envelope schemas 1.1/1.2/1.3"


def smev_schema_path(xsd_dir: Path, version: SmevVersion) -> Path:
    """Where the official types schema of ``version`` is in ``xsd_dir``."""
    return xsd_dir / f"smev-message-exchange-types-{version.value}.xsd"


def smev_schemas_present(xsd_dir: Path | None) -> bool:
    """Whether ``xsd_dir`` holds the official schema of every SMEV version."""
    return xsd_dir is not None and all(
        smev_schema_path(xsd_dir, version).is_file() for version in SmevVersion
    )


def usable_xsd_dir(xsd_dir: Path | None) -> Path | None:
    """``xsd_dir`` when it holds every version's schema; None (the envelope check off) when
    not, so a missing file is said once at start instead of failing every call."""
    return xsd_dir if smev_schemas_present(xsd_dir) else None


@dataclass(frozen=True, slots=True)
class OfficialSchemas:
    """The official schemas a hub and its simulator would check against."""

    reference_dir: Path
    smev_xsd_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> OfficialSchemas:
        return cls(settings.reference_dir, settings.effective_smev_xsd_dir)

    def missing(self) -> tuple[str, ...]:
        """The checks that are off, by the schema each one needs."""
        wanted = {
            SMEV_ENVELOPE: smev_schemas_present(self.smev_xsd_dir),
            "ZAGS ROGDINF content": zags.xsd_path(self.reference_dir).is_file(),
            "PFR VS00648 content": pfr.xsd_path(self.reference_dir).is_file(),
        }
        return tuple(name for name, present in wanted.items() if not present)

    def checks_off(self) -> str | None:
        """One line saying which checks are off and why; None when every schema is here."""
        missing = self.missing()
        if not missing:
            return None
        return (
            f"checks off: {', '.join(missing)} (official schemas not found: "
            f"HUB_REFERENCE_DIR={self.reference_dir}, HUB_SMEV_XSD_DIR={self.smev_xsd_dir}; "
            "point them at the official schemas); every other check runs"
        )
