"""The intake gate: every agency message is checked against its schema before any event is
drafted, on every path (the worker, ``/inbound``, replay, ``--dry-run``, ``hub translate``):
the router runs an adapter's gate before its handler (``Router.register_inbound``/
``register_answer`` with ``gate=``).

Two steps. The schema: the agency's official XSD (ZAGS ROGDINF, PFR VS00648), read from the
reference folder when it is configured, or the hub's own published XSD (ZAGS notices,
Gosuslugi), always there. A missing official schema is said once, when the gate is made, and
that check is then off; the second step holds anyway: the canonical model's bounds (lengths,
alphabets, cardinalities, dates; ``hub.canonical``), enforced as the adapter reads the
message. A message that fails either is an ``IntakeError``: permanent, never an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog
from lxml import etree

from hub.errors import IntakeError, SchemaValidationError
from hub.xml.xsd import validate_xsd

log = structlog.get_logger("hub.intake")


class AgencySchemaError(IntakeError, SchemaValidationError):
    """An agency message that breaks its schema; ``errors`` lists each violation with its
    line and element path, values masked."""

    code = "AGENCY_SCHEMA"


@dataclass(frozen=True)
class SchemaCheck:
    """One schema an agency's content is checked against; off (said once) when its file is
    not there, as the official schemas are on a machine without the reference folder."""

    path: Path
    what: str  # how the schema is named to an operator, e.g. "ЕГР ЗАГС ROGDINF 4.0.1"
    available: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "available", self.path.is_file())
        if not self.available:
            log.warning(
                "intake schema check off",
                schema=self.what,
                path=str(self.path),
                why="schema file not found (set HUB_REFERENCE_DIR to the official schemas); "
                "the canonical model's bounds still hold",
            )

    def __call__(self, content: etree._Element) -> None:
        if not self.available:
            return
        try:
            validate_xsd(content, self.path)
        except SchemaValidationError as exc:
            raise AgencySchemaError(
                f"{self.what}: {exc}", errors=exc.errors, schema=self.what, **_first(exc)
            ) from exc


def _first(exc: SchemaValidationError) -> dict[str, str]:
    element = exc.details.get("element")
    return {"element": str(element)} if element else {}
