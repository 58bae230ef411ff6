"""The journal's errors, in the hub's one hierarchy (see ``hub.errors``)."""

from __future__ import annotations

from hub.errors import PermanentError, RetryableError


class DatabaseUnavailableError(RetryableError):
    """The database cannot be reached or refused the operation for now: try again later."""

    code = "DB_UNAVAILABLE"


class JournalIntegrityError(PermanentError):
    """A write broke a uniqueness or other constraint the caller should have respected."""

    code = "DB_INTEGRITY"


class NotFoundError(PermanentError):
    """One or more records the caller named do not exist."""

    code = "NOT_FOUND"


class InvalidTransitionError(PermanentError):
    """A state change the journal's rules do not allow."""

    code = "INVALID_TRANSITION"


class ReasonRequiredError(PermanentError):
    """An operator action that must say why was given no reason."""

    code = "REASON_REQUIRED"


class SchemaOutdatedError(PermanentError):
    """The database schema is not at the revision this code expects: run the migrations."""

    code = "DB_SCHEMA_OUTDATED"
