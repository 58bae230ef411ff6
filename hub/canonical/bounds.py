"""The canonical model's own bounds: how long, in what alphabet, how many and when every value
an agency sends may be. They hold always, with or without the agencies' official schemas
(which a bare clone lacks): the value objects (``hub.canonical.values``) and the events' parts
(``hub.canonical.events``) check them when made, and the events' JSON Schemas state them
(``hub.canonical.models``), so the registry reads the same bounds in the AsyncAPI document.

Each bound is the widest any agency's schema allows for the value, so a value an agency may
lawfully send always fits; where the schemas say nothing (a count left unbounded, a date
without a range) the bound is the hub's own and says why. Sources, by short name:

- ROGDINF: ЕГР ЗАГС birth answer, ``agencies/zags/rogdinf-4.0.1/zags-rogdinf-types.xsd`` and
  ``zags-rogdinf-ru-root.xsd`` (reference folder)
- ZAGS notices: the hub's ``schemas/zags/zags-notification-types.xsd`` and the notice XSDs
- PFR: VS00648 1.0.1, ``agencies/pfr/commons/smev-supplementary-commons-1.0.1.xsd`` and
  ``pfr-common-types-1.0.0.xsd`` (reference folder)
- EPGU: the hub's ``schemas/gosuslugi/school-enrollment-1.0.0.xsd``
- SMEV: ``smev/xsd/smev-message-exchange-types-1.3.xsd`` (reference folder)

A value out of bounds raises ``InvalidValueError`` (an ``IntakeError``: permanent, never an
event) naming the field and the bound, never the value.

A pure leaf: it imports nothing of the hub but its errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hub.errors import IntakeError

__all__ = [
    "Count",
    "DateRange",
    "InvalidValueError",
    "TextBound",
]


class InvalidValueError(IntakeError):
    """A value that cannot be what its field says (a SNILS, a certificate, a date, a name too
    long or in the wrong alphabet); names the field and why, never the value."""

    code = "INVALID_VALUE"


def invalid(field: str, why: str, **details: Any) -> InvalidValueError:
    return InvalidValueError(f"{field}: {why}", field=field, **details)


# --- alphabets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alphabet:
    """The characters a text may hold, as the body of a regular-expression class that means
    the same in Python and in JSON Schema (ECMA-262): ranges and \\uXXXX escapes only."""

    name: str  # what an error says the text broke
    chars: str  # a class body: "A-Z…" or "^…" (negated)
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(f"[{self.chars}]*"))

    def holds(self, text: str) -> bool:
        return self._compiled.fullmatch(text) is not None


# Name parts. ROGDINF ФИОПрТип (Фамилия/Имя/Отчество: string-60) allows any text; PFR `rus`
# ([а-яА-ЯёЁ\-0-9][а-яА-ЯёЁ\-\s'',.]*) and EPGU NameType allow Cyrillic, hyphens, spaces,
# apostrophes, dots and commas (a digit only where a pattern lets one through, never as a
# name). The canonical name is those, plus Latin letters (with their accented forms) for the
# foreign names ZAGS records, plus the typographic apostrophe (’ ʼ) and dashes people type.
# No digits, no control characters, no markup.
NAME = Alphabet(
    "letters (Cyrillic or Latin), spaces, hyphens, apostrophes, dots and commas only",
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u017fА-яЁё '\u2019\u02bc.,"
    "\u2010-\u2015\u2212\\-",
)
# Any text the schemas leave free (xs:string with a length): no control characters but tab,
# line feed and carriage return, and nothing markup-significant (< >).
FREE_TEXT = Alphabet(
    "no control characters and no < or >",
    "^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f<>",
)
# A code or number the schemas leave free (an act-record number, a school's code, a benefit
# category, a version): letters, digits and the separators codes are written with.
CODE = Alphabet("letters, digits, spaces and . _ / - only", "0-9A-Za-zА-яЁё ._/\\-")


# Markup-significant characters in informative text, as their typographic look-alikes.
_LOOKALIKES = str.maketrans({"<": "‹", ">": "›"})


# --- text lengths --------------------------------------------------------------------------


@dataclass(frozen=True)
class TextBound:
    """How long a text may be and in what alphabet; ``source`` says where the bound comes
    from."""

    longest: int
    alphabet: Alphabet
    source: str

    def check(self, value: str, field: str) -> str:
        """``value`` itself when it fits; ``InvalidValueError`` naming the field and the bound
        (never the value) when it does not."""
        if len(value) > self.longest:
            raise invalid(
                field, f"longer than {self.longest} characters", bound=f"maxLength {self.longest}"
            )
        if not self.alphabet.holds(value):
            raise invalid(field, f"allows {self.alphabet.name}", bound="alphabet")
        return value

    def optional(self, value: str | None, field: str) -> str | None:
        return None if value is None else self.check(value, field)

    def clipped(self, value: str) -> str:
        """``value`` made to fit, for text that only informs (an agency's reason for a
        refusal): refusing it would leave the request it settles open for good. What the
        alphabet forbids becomes a look-alike or a space; the end is cut, marked with "…"."""
        fitted = value.translate(_LOOKALIKES)
        if not self.alphabet.holds(fitted):
            fitted = "".join(c if self.alphabet.holds(c) else " " for c in fitted)
        if len(fitted) > self.longest:
            fitted = fitted[: self.longest - 1] + "…"
        return fitted

    @property
    def pattern(self) -> str:
        return f"^[{self.alphabet.chars}]*$"

    def json_schema(self) -> dict[str, Any]:
        """The same bound in JSON Schema (``maxLength`` and ``pattern``)."""
        return {"maxLength": self.longest, "pattern": self.pattern}


# The widest of ROGDINF ФИОПрТип string-60, PFR PhysicalPersonQualifiedName-ModelGroup rus-100
# and EPGU NameType (maxLength 100).
NAME_PART = TextBound(100, NAME, "PFR rus-100, EPGU NameType (ROGDINF string-60)")
# ROGDINF МестоРожден/@МестоТекст string-512 (PFR BirthPlaceType: parts of string-50).
PLACE = TextBound(512, FREE_TEXT, "ROGDINF МестоРожденТип/@МестоТекст string-512")
# An address as text: the same bound as a place (ROGDINF АдрМЖТип text parts are string-512
# at most).
ADDRESS = TextBound(512, FREE_TEXT, "ROGDINF address text string-512")
REGION_CODE = TextBound(2, CODE, "ROGDINF ССРФТип (2 digits)")
# Who issued a document: ROGDINF ВыдДок string-1000, EPGU IdentityDocIssued Text1000Type
# (PFR rus-and-num-200).
ISSUER = TextBound(1000, FREE_TEXT, "ROGDINF ВыдДок string-1000, EPGU Text1000Type")
# A birth-certificate series as an agency writes it, before normalisation: ROGDINF
# СерияСвидет string-10; EPGU ChildBirthDocSeries at most 8 numerals, 2 separators, 2 letters.
RAW_SERIES = TextBound(12, FREE_TEXT, "ROGDINF СерияСвидет string-10, EPGU ChildBirthDocSeries")
# ROGDINF НомерСвидет string-1_8 (EPGU and PFR: 6 digits).
RAW_CERTIFICATE_NUMBER = TextBound(8, CODE, "ROGDINF СведСвидетТип/НомерСвидет string-1_8")
# The numeral of a normalised series: EPGU ChildBirthDocSeries allows 1 to 8 numerals.
SERIES_NUMERALS = 8
# The act record's number: ROGDINF @НомерЗаписЕГР string-21 (@НомАГССвид string-10).
ACT_NUMBER = TextBound(21, CODE, "ROGDINF СведРегРожд/@НомерЗаписЕГР string-21")
# The registry office: ROGDINF ОрганЗАГСТип/@НаимЗАГС string-1000.
OFFICE = TextBound(1000, FREE_TEXT, "ROGDINF ОрганЗАГСТип/@НаимЗАГС string-1000")
# A version of an act record: ROGDINF @НомерВерс string-1_3, @КодСостСтат string-4.
VERSION_NUMBER = TextBound(3, CODE, "ROGDINF СведРегРожд/@НомерВерс string-1_3")
STATE_CODE = TextBound(4, CODE, "ROGDINF СведРегРожд/@КодСостСтат string-4")
# A notice's id in ZAGS's feed: ZAGS notices @ИдСвед string-36.
RECORD_ID = TextBound(36, CODE, "ZAGS notices zags-notification-types.xsd string-36 (@ИдСвед)")
# ZAGS's result code (@РезОбраб) as a reason names it: ROGDINF string-1 … the hub takes 10.
RESULT_CODE = TextBound(10, CODE, "ROGDINF СведОтветАГС/@РезОбраб (a one-character code)")
# Free text an agency writes: EPGU CancelRequest/Reason and orderStatusEvent comment
# Text1000Type; SMEV RejectionReasonDescription string-4000 is the widest.
REASON = TextBound(4000, FREE_TEXT, "SMEV RejectionReasonDescription string-4000")
CANCEL_REASON = TextBound(1000, FREE_TEXT, "EPGU CancelRequestType/Reason Text1000Type")
COMMENT = TextBound(1000, FREE_TEXT, "EPGU ApplicationAcceptedType/comment Text1000Type")
# EPGU EduOrganizationType: Code Text50Type, Name Text1000Type; BenefitCategory Text50Type.
SCHOOL_CODE = TextBound(50, CODE, "EPGU EduOrganizationType/Code Text50Type")
SCHOOL_NAME = TextBound(1000, FREE_TEXT, "EPGU EduOrganizationType/Name Text1000Type")
# A document in SMEV's file store (RefAttachmentHeader / FSAttachment): its uuid, file name,
# declared hash (base64 of a Streebog-256 digest) and MIME type.
ATTACHMENT_ID = TextBound(200, CODE, "SMEV FSAttachment uuid (the hub's: 200, a uuid is 36)")
FILE_NAME = TextBound(1000, FREE_TEXT, "SMEV FSAttachment FileName (the hub's: 1000)")
BASE64 = Alphabet("base64 characters only", "A-Za-z0-9+/=")
ATTACHMENT_HASH = TextBound(200, BASE64, "SMEV RefAttachmentHeader Hash (base64 of 32 bytes)")
MIME = Alphabet("a MIME type's characters only", "A-Za-z0-9!#$&^_.+/;= \\-")
MIME_TYPE = TextBound(255, MIME, "SMEV RefAttachmentHeader MimeType (RFC 6838: 255)")
BENEFIT = TextBound(50, CODE, "EPGU BenefitInfoType/BenefitCategory Text50Type")
# EPGU PhoneType (\+?[0-9()\- ]{5,20}) and EmailType (maxLength 256, [^@\s]+@[^@\s]+).
PHONE = TextBound(21, Alphabet("digits, spaces, + ( ) - only", "0-9+() \\-"), "EPGU PhoneType")
EMAIL = TextBound(
    256,
    Alphabet("no spaces, control characters, < or >", "^\\u0000-\\u0020\\u007f-\\u009f<>"),
    "EPGU EmailType",
)
# EPGU orderId: xs:long, at least 1 (19 digits at most).
ORDER_NUMBER = TextBound(19, Alphabet("digits only", "0-9"), "EPGU OrderIdType (xs:long)")
# The registry's own ids (request, student, person): the hub's bound, as the trace id's
# (hub.services.tracing, 1 to 128 characters), so an id of the registry's always fits an event.
REGISTRY_ID = TextBound(128, FREE_TEXT, "the hub's (as hub.services.tracing's trace id)")
# A compared value in a difference: the longest value compared (a name part).
COMPARED = TextBound(NAME_PART.longest, FREE_TEXT, "the longest compared value (NAME_PART)")


# --- counts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """How many of a thing one message may carry."""

    most: int
    source: str

    def check(self, count: int, field: str) -> None:
        if count > self.most:
            raise invalid(field, f"more than {self.most}", bound=f"maxItems {self.most}")


# EPGU ApplicationType/OtherRepresentative maxOccurs 4.
OTHER_GUARDIANS = Count(4, "EPGU ApplicationType/OtherRepresentative maxOccurs=4")
# ROGDINF ПрдСведРег: one СведМать and one СведОтец.
PARENTS = Count(2, "ROGDINF ПрдСведРег (СведМать, СведОтец)")
# EPGU ApplicationType/BenefitInfo maxOccurs 20.
BENEFITS = Count(20, "EPGU ApplicationType/BenefitInfo maxOccurs=20")
# ROGDINF leaves СведОтветАГС and СведРегРожд unbounded; an answer is about one child, and
# its records are that child's act records and their versions: the hub takes 50 at most.
RECORDS_PER_ANSWER = Count(50, "the hub's (ROGDINF СведРегРожд maxOccurs=unbounded)")
# ROGDINF СвидетРожд maxOccurs unbounded: a record's certificates (first issue, re-issues).
CERTIFICATES_PER_RECORD = Count(20, "the hub's (ROGDINF СвидетРожд maxOccurs=unbounded)")


# --- dates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """The dates a field may hold: none before ``earliest``, none more than ``ahead`` days
    after today (a day, for dates that cannot be in the future: time zones)."""

    earliest: date
    ahead: int
    source: str

    def check(self, year: int, month: int | None, day: int | None, field: str) -> None:
        """A date, or a partial one (the first day of its month or year stands for it)."""
        first = date(year, month or 1, day or 1)
        last = date.today() + timedelta(days=self.ahead)
        if first < self.earliest:
            raise invalid(field, f"before {self.earliest.isoformat()}", bound="date range")
        if first > last:
            raise invalid(field, f"more than {self.ahead} day(s) ahead", bound="date range")

    def description(self) -> str:
        return f"not before {self.earliest.isoformat()}, at most {self.ahead} day(s) ahead"


# Nobody the registry deals with was born before 1900 (ROGDINF Год: gYear ≥ 1826 is wider).
BIRTH = DateRange(date(1900, 1, 1), 1, "the hub's (ROGDINF ДатаДокТип/Год minInclusive 1826)")
# Documents, act records, deaths, versions: of people born from 1900, none in the future.
EVENT_DATE = DateRange(date(1900, 1, 1), 1, "the hub's (as BIRTH)")
# The date a child is to start school: from 2000 and up to two years ahead.
ENTRY = DateRange(date(2000, 1, 1), 731, "the hub's (EPGU EntryParamsType/EntryDate)")
