"""What personal data is, as the hub declares it: the kinds, and how a field is marked.

Personal data is declared once, where the data is described: the canonical models mark their
fields (``x-personal`` in the published JSON Schemas, see ``hub.canonical.models``) and each
agency adapter lists the XML element and attribute names of its schemas that carry it
(``PERSONAL`` in the adapter's ``schemas.py``). Masking (``hub.protection.masking``) reads those
declarations; a test walks every model and every agency XSD to hold them complete.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PERSONAL_KEY", "Personal"]

# The JSON Schema keyword that marks a personal field; its value is a ``Personal`` kind.
PERSONAL_KEY = "x-personal"


class Personal(StrEnum):
    """A kind of personal data: it decides how a masked value looks."""

    NAME = "name"  # a part of a person's name: masked to its first letter ("И***")
    DATE = "date"  # of birth, of death, of a document or an act record: "****-**-**"
    SNILS = "snils"  # "***-***-*** **"
    OTHER = "other"  # documents, places, addresses, contacts, compared values: "***"
