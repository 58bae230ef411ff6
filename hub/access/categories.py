"""Data categories of the canonical events: what kind of personal data an event carries.

The registry routes events by category (header ``x-hub-data-category``, CloudEvent attribute
``datacategory``): health data, a special category under 152-FZ, goes only to consumers
entitled to it. One table keyed by event type; a type outside it is classed by its domain
(the part before the first dot), so a future ``health.*`` event is never sent as identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from hub.canonical import events


class DataCategory(StrEnum):
    IDENTITY = "identity"  # names, birth records, documents, SNILS, addresses, applications
    HEALTH = "health"  # special category (152-FZ art. 10)
    ACHIEVEMENTS = "achievements"  # marks, olympiads, certificates of education


DATA_CATEGORIES: Mapping[str, DataCategory] = {
    event_type: DataCategory.IDENTITY for event_type in events.EVENT_TYPES
}

# Domains whose events are of one category whatever their name (plug-in adapters included).
DOMAIN_CATEGORIES: Mapping[str, DataCategory] = {
    "health": DataCategory.HEALTH,
    "achievement": DataCategory.ACHIEVEMENTS,
    "achievements": DataCategory.ACHIEVEMENTS,
}


def data_category(event_type: str) -> DataCategory:
    """The category of ``event_type``: the table, else its domain's, else identity."""
    known = DATA_CATEGORIES.get(event_type)
    if known is not None:
        return known
    return DOMAIN_CATEGORIES.get(event_type.partition(".")[0], DataCategory.IDENTITY)
