"""The hub's one error hierarchy.

Every error says whether trying again can help (``retryable``) and carries the data
an operator needs (``details``). Callers decide what to do from those two facts,
never from the message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    retryable: ClassVar[bool] = False
    code: ClassVar[str] = "HUB"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly description: type, code, message, retryable and details."""
        return {
            "type": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "details": self.details,
        }


class PermanentError(HubError):
    """Trying again with the same input gives the same failure."""


class RetryableError(HubError):
    """A passing failure: the same input may succeed later."""

    retryable = True


class ConfigurationError(PermanentError):
    """Settings, keys or reference files are missing or wrong."""

    code = "CONFIG"


# --- XML --------------------------------------------------------------------------


class XmlError(PermanentError):
    """Input is not XML the hub accepts. ``line``/``column`` say where, when known."""

    code = "XML"

    def __init__(
        self, message: str, *, line: int | None = None, column: int | None = None, **details: Any
    ) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}", line=line, column=column, **details)
        self.line = line
        self.column = column


class MalformedXmlError(XmlError):
    code = "XML_MALFORMED"


class ForbiddenXmlError(XmlError):
    """DTDs, entity declarations and other constructs the hub refuses on principle."""

    code = "XML_FORBIDDEN"


class XmlTooLargeError(XmlError):
    code = "XML_TOO_LARGE"


class XmlTooDeepError(XmlError):
    code = "XML_TOO_DEEP"


class MultipartError(XmlError):
    """An MTOM (multipart/related) body that cannot be taken apart."""

    code = "MTOM"


class SchemaValidationError(PermanentError):
    """A document that breaks its XML schema; ``errors`` lists each violation."""

    code = "SCHEMA"

    def __init__(self, message: str, *, errors: list[str], **details: Any) -> None:
        super().__init__(message, errors=errors, **details)
        self.errors = errors


# --- agency content ------------------------------------------------------------------


class IntakeError(PermanentError):
    """An agency message the hub refuses at intake: it breaks the agency's schema or the
    canonical model's bounds, or lacks what the hub needs. Never an event, never retried."""

    code = "INTAKE"


# --- SMEV messages ------------------------------------------------------------------


class SmevMessageError(PermanentError):
    """A SOAP message that is XML but not a SMEV 3 message the hub can read."""

    code = "SMEV_MESSAGE"


# --- Signatures ---------------------------------------------------------------------


class CryptoError(PermanentError):
    code = "CRYPTO"


class SignatureError(CryptoError):
    """A signature that cannot be checked or made (missing parts, unknown algorithm)."""

    code = "SIGNATURE"


class KeyMaterialError(CryptoError):
    """A key or certificate that cannot be read or does not fit the algorithm."""

    code = "KEY"


class BackendUnavailableError(ConfigurationError):
    """The requested crypto backend is not installed on this machine."""

    code = "CRYPTO_BACKEND"


UNEXPECTED = "UNEXPECTED"  # the code of a failure that is no error of the hub's (a bug)


def error_class(type_name: str) -> type[HubError] | None:
    """The hub's error class a failure names by type (failures are stored by type name):
    ``None`` for a type that is not the hub's (a bug's ``KeyError``) or a name classes with
    different codes share."""
    found = {cls.code: cls for cls in _subclasses(HubError) if cls.__name__ == type_name}
    return next(iter(found.values())) if len(found) == 1 else None


def _subclasses(cls: type[HubError]) -> list[type[HubError]]:
    direct = cls.__subclasses__()
    return [*direct, *(grand for sub in direct for grand in _subclasses(sub))]
