"""Structured logging with personal data masked before anything is written.

The registry handles children's personal data (152-FZ): names, SNILS, documents, dates and
places of birth, addresses must never reach a log in clear. `configure_logging` routes both
structlog and standard-library records through one chain whose last step before rendering is
`mask_personal_data`; `mask_text` is the same masking for any free text (error texts the hub
stores or shows). Stored messages are masked by their structure in ``hub.protection.masking``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from hub.canonical.personal import Personal
from hub.errors import ConfigurationError

__all__ = [
    "DATE_MASK",
    "SNILS_MASK",
    "VALUE_MASK",
    "configure_logging",
    "mask_as",
    "mask_personal_data",
    "mask_text",
]

SNILS_MASK = "***-***-*** **"
DATE_MASK = "****-**-**"
VALUE_MASK = "***"


class _Kind(Enum):
    NAME = "name"
    DATE = "date"
    SNILS = "snils"
    OTHER = "other"
    PERSON = "person"  # a person as a whole: a string is a name, a mapping's "name" is too


# --- Field names ------------------------------------------------------------------------
# Keys, XML element and attribute names are normalized to lower snake case first
# ("FamilyName", "familyName", "family-name", "ns:FamilyName" -> "family_name").

_PERSON = (
    "applicant|child|children|guardian|parent|mother|father|person|student|pupil|declarant"
    "|representative|citizen|spouse|deceased"
)
_KEY_KINDS: tuple[tuple[re.Pattern[str], _Kind], ...] = (
    (re.compile(r"(?:^|_)snils(?:_|$)|^снилс"), _Kind.SNILS),
    (
        re.compile(
            r"(?:^|_)(?:birth_?(?:date|day)|date_?of_?birth|dob)(?:_|$)|^дата_?(?:рожд|смерт)"
        ),
        _Kind.DATE,
    ),
    (
        re.compile(
            r"(?:^|_)(?:(?:family|first|middle|last|given|full|sur|maiden|second)_?names?"
            rf"|(?:{_PERSON})_?names?|patronymic|fio)(?:_|$)"
            r"|^(?:фамилия|отчество)|^имя$|^фио"
        ),
        _Kind.NAME,
    ),
    (
        re.compile(
            r"(?:^|_)(?:birth_?place|place_?of_?birth|addr(?:ess(?:es)?)?|street|house|flat"
            r"|apartment|postal_?code|zip(?:_?code)?|settlement|phone|telephone|mobile|tel"
            r"|e_?mail|inn|passport|(?:doc(?:ument)?|cert(?:ificate)?|id)_?(?:series|number|num|no)"
            r")(?:_|$)|^(?:series|number)$"
            r"|^(?:адр|место_?(?:рожд|смерт)|телефон|эл_?почт|инн(?:_|$|фл)|серия|номер$"
            r"|номер_?(?:свидет|запис)|сер_?док|ном_?док|сер_?ном|паспорт|улица|дом$|корпус"
            r"|строение|кварт|насел_?пункт|индекс$)"
        ),
        _Kind.OTHER,
    ),
    (
        re.compile(
            rf"^(?:{_PERSON}|ребенок|дети|заявитель|мать|отец|родитель|опекун|представитель)s?$"
        ),
        _Kind.PERSON,
    ),
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-zа-яё0-9])(?=[A-ZА-ЯЁ])|(?<=[A-ZА-ЯЁ])(?=[A-ZА-ЯЁ][a-zа-яё])")
_NOT_WORD = re.compile(r"[^0-9a-zа-я]+")
_MAX_KEY_LENGTH = 64


@lru_cache(maxsize=4096)
def _normalized(key: str) -> str:
    # Strip a Clark "{uri}" or "prefix:" namespace, then split camel case into snake case.
    local = key.rpartition("}")[2].rpartition(":")[2]
    snake = _CAMEL_BOUNDARY.sub("_", local).lower().replace("ё", "е")
    return _NOT_WORD.sub("_", snake).strip("_")


@lru_cache(maxsize=4096)
def _field_kind(key: str) -> _Kind | None:
    normalized = _normalized(key)
    return next((kind for pattern, kind in _KEY_KINDS if pattern.search(normalized)), None)


def _kind_of(key: object) -> _Kind | None:
    if isinstance(key, str) and len(key) <= _MAX_KEY_LENGTH:
        return _field_kind(key)
    return None


def _is_plain_name(key: object) -> bool:
    return isinstance(key, str) and len(key) <= _MAX_KEY_LENGTH and _normalized(key) in _NAMES


_NAMES = frozenset({"name", "names", "имя"})


# --- Free text --------------------------------------------------------------------------

_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SPACE = "[ \u00a0]"
_MAYBE_PERSONAL = re.compile(rf"[\d<=:{_DASHES}]")
_VALUES = re.compile(
    rf"""
    (?P<certificate>
        (?:(?<![\w.{_DASHES}])\d{{6}}{_SPACE}*[,;]?{_SPACE}*)?
        (?<![\w{_DASHES}])[IVXLCDMІХСМ]{{1,8}}{_SPACE}?[{_DASHES}]{_SPACE}?[А-ЯЁ]{{2}}(?![\w{_DASHES}])
        (?:{_SPACE}*[,;]?{_SPACE}*(?:№|N|No\.?|номер)?{_SPACE}*\d{{6}}(?![\w{_DASHES}]))?
    )
    |(?P<passport>
        (?<![\w.:{_DASHES}])\d{{2}}{_SPACE}?\d{{2}}
        (?:{_SPACE}+|{_SPACE}*(?:№|N|номер){_SPACE}*)\d{{6}}(?![\w{_DASHES}])
    )
    |(?P<snils>
        (?<![\w.{_DASHES}])\d{{3}}(?P<sep>[{_DASHES}\ \u00a0]?)\d{{3}}(?P=sep)\d{{3}}
        [{_DASHES}\ \u00a0]?\d{{2}}(?![\w{_DASHES}])
    )
    """,
    re.VERBOSE,
)
# Cheap pre-check for _VALUES: three digits, maybe a separator, three digits; or a numeral
# with a dash (a certificate series).
_VALUE_HINT = re.compile(rf"\d{{3}}[{_DASHES}\ \u00a0]?\d{{3}}|[IVXLCDMІХСМ]{_SPACE}?[{_DASHES}]")
_START_TAG = re.compile(r"<(?P<tag>[^\s<>/!?]+)(?P<attrs>[^<>]*)>")
_TEXT_NODE = re.compile(r"(?P<lead>^|>)(?P<text>[^<>]+)|<!\[CDATA\[(?P<cdata>.*?)\]\]>", re.DOTALL)
_LXML_ERROR = re.compile(
    r"(?P<head>Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: "
    r"(?:\[facet '[^']*'\] )?(?:The value )?')(?P<value>[^']*)'"
)
_NOT_QUOTE = r"[^\s,;&\"'<>(){}\[\]"
_KEY_VALUE = re.compile(
    r"(?<![\w.-])(?P<kq>[\"']?)(?P<key>(?:[^\W\d][\w.-]*+:)?[^\W\d][\w.-]*+)(?P=kq)"
    r"[ \t]*(?P<sep>[=:])[ \t]*"
    r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'"
    # A bare value ends at a space, unless capitalized words follow (a full name).
    rf"|(?P<bare>{_NOT_QUOTE}]++(?:[ \t]+[A-ZА-ЯЁ]{_NOT_QUOTE}=:]*+(?![=:]))*))"
)
_ALREADY_MASKED = re.compile(r"[*\s\-+()]*")
_NO_VALUE = frozenset({"None", "null", "True", "False", "true", "false"})  # nothing to hide


def mask_text(text: str) -> str:
    """Mask personal data in free text and return the masked text.

    Masks SNILS numbers (any spelling), birth-certificate and passport series with their
    numbers, and the values of personal-data fields written as XML elements or attributes
    (``<FamilyName>…</FamilyName>``, ``МестоРожден МестоТекст="…"``), lxml validation
    messages, ``key=value`` or ``"key": "value"``: the fields the canonical models and agency
    schemas declare personal (``hub.protection.masking``), and a net of name patterns beside
    them. Text that cannot hold any of these is returned as is.
    """
    if not _MAYBE_PERSONAL.search(text):
        return text
    if "<" in text:
        text = _mask_xml(_declared().mask_xml(text))
    if _VALUE_HINT.search(text):
        text = _VALUES.sub(_mask_value, text)
    if "Element '" in text:
        text = _LXML_ERROR.sub(_mask_lxml_error, text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE.sub(_mask_key_value, text)
    return text


def mask_as(kind: Personal, text: str) -> str:
    """``text`` masked as personal data of ``kind``: a name keeps its first letter, a date,
    a SNILS or anything else becomes its mask."""
    return _mask_string(_Kind(kind.value), text)


def _mask_string(kind: _Kind, text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return text
    if kind in _NAME_KINDS:
        return f"{stripped[0]}***" if stripped[0].isalpha() else VALUE_MASK
    return _MASKS[kind]


_NAME_KINDS = frozenset({_Kind.NAME, _Kind.PERSON})
_MASKS = {_Kind.DATE: DATE_MASK, _Kind.SNILS: SNILS_MASK, _Kind.OTHER: VALUE_MASK}


def _mask_value(match: re.Match[str]) -> str:
    return SNILS_MASK if match["snils"] else VALUE_MASK


def _mask_xml(text: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _START_TAG.finditer(text):
        kind = _kind_of(match["tag"])
        if (
            kind is None
            or kind is _Kind.PERSON
            or match.start() < position
            or match["attrs"].endswith("/")
        ):
            continue
        closing = _closing_tag(match["tag"]).search(text, match.end())
        end = closing.start() if closing else len(text)
        parts += [text[position : match.end()], _mask_content(kind, text[match.end() : end])]
        position = end
    parts.append(text[position:])
    return "".join(parts)


@lru_cache(maxsize=256)
def _closing_tag(tag: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(tag)}\s*>")


def _mask_content(kind: _Kind, content: str) -> str:
    def mask_node(match: re.Match[str]) -> str:
        if match["cdata"] is not None:
            return f"<![CDATA[{_mask_string(kind, match['cdata'])}]]>"
        return match["lead"] + _mask_string(kind, match["text"])

    return _TEXT_NODE.sub(mask_node, content)


def _mask_lxml_error(match: re.Match[str]) -> str:
    kind = _kind_of(match["attribute"] or match["element"])
    if kind is None:
        return match[0]
    return f"{match['head']}{_mask_string(kind, match['value'])}'"


def _mask_key_value(match: re.Match[str]) -> str:
    group = next(name for name in ("dq", "sq", "bare") if match[name] is not None)
    kind = _kind_of(match["key"]) or _declared_kind(match, quoted=group != "bare")
    value = match[group]
    if kind is None or _ALREADY_MASKED.fullmatch(value) or (group == "bare" and value in _NO_VALUE):
        return match[0]
    start, end = (index - match.start() for index in match.span(group))
    whole = match[0]
    return whole[:start] + _mask_string(kind, value) + whole[end:]


@dataclass(frozen=True)
class _Declared:
    """What the models and agency schemas declare personal (``hub.protection.masking``)."""

    json_keys: Mapping[str, _Kind]  # member names personal wherever they stand
    xml_names: Mapping[str, _Kind]  # agencies' element and attribute names, SMEV's secrets
    mask_xml: Callable[[str], str]  # masks XML text by those names


@cache
def _declared() -> _Declared:
    # Read when first needed: the declarations live in modules that import this one.
    from hub.protection.masking import XML_MASKED, json_key_kinds, mask_xml  # noqa: PLC0415

    def kinds(names: Mapping[str, Personal]) -> dict[str, _Kind]:
        return {name: _Kind(kind.value) for name, kind in names.items()}

    return _Declared(kinds(json_key_kinds()), kinds(XML_MASKED), mask_xml)


def _declared_kind(match: re.Match[str], *, quoted: bool) -> _Kind | None:
    # A quoted key before ":" is JSON or a repr (the models' names); a name="value" is XML.
    key, declared = match["key"], _declared()
    if match["kq"] and match["sep"] == ":":
        return declared.json_keys.get(key)
    if not match["kq"] and match["sep"] == "=" and quoted:
        return declared.xml_names.get(key.rpartition(":")[2])
    return None


# --- Event dicts ------------------------------------------------------------------------

_SNILS_INT_RANGE = range(10**10, 10**11)


def mask_personal_data(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask personal data anywhere in ``event_dict``.

    Walks nested mappings, lists, tuples and sets. Values of known personal-data fields are
    replaced whole (names keep their first letter); every other string, key included, goes
    through `mask_text`. Run it last, right before the renderer.
    """
    return _mask_mapping(event_dict)


def _mask_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    return {_mask_any(key): _mask_entry(key, value) for key, value in mapping.items()}


def _mask_entry(key: object, value: object) -> object:
    kind = _kind_of(key)
    return _mask_any(value) if kind is None else _mask_field(kind, value)


def _mask_any(value: object) -> object:
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return SNILS_MASK if abs(value) in _SNILS_INT_RANGE else value
    if isinstance(value, Mapping):
        return _mask_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        masked = [_mask_any(item) for item in value]
        return tuple(masked) if isinstance(value, tuple) else masked
    return _mask_object(value)


def _mask_object(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return mask_text(bytes(value).decode("utf-8", "replace"))
    # Renderers fall back to repr(): mask what they would write, keep clean objects as they are.
    rendered = repr(value)
    masked_text = mask_text(rendered)
    return value if masked_text == rendered else masked_text


def _mask_field(kind: _Kind, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {_mask_any(key): _mask_member(kind, key, item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        masked = [_mask_field(kind, item) for item in value]
        return tuple(masked) if isinstance(value, tuple) else masked
    if kind is _Kind.PERSON and not isinstance(value, str):
        return _mask_any(value)
    return _mask_string(kind, value if isinstance(value, str) else str(value))


def _mask_member(kind: _Kind, key: object, value: object) -> object:
    # Inside a person only the plain "name" is a name; other members are judged on their own.
    if kind is not _Kind.PERSON:
        return _mask_field(kind, value)
    return _mask_field(_Kind.NAME, value) if _is_plain_name(key) else _mask_entry(key, value)


# --- Configuration ----------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler[TextIO]):
    # Writes to whatever sys.stderr is at emit time (test capture and redirection swap it).
    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _record_stack(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # A stdlib record brings its stack already formatted; StackInfoRenderer would take ours.
    stack = event_dict.pop("stack_info", None)
    if isinstance(stack, str):
        event_dict["stack"] = stack
    return event_dict


_SHARED: tuple[Processor, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
)
# One list for every configuration: loggers cached on first use keep pointing at it.
_STRUCTLOG_CHAIN: list[Processor] = [
    structlog.stdlib.filter_by_level,
    *_SHARED,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
]


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Send structlog and standard-library logs to stderr with personal data masked.

    ``level`` is a standard level name (``DEBUG``, ``INFO``...). Output is JSON lines unless
    stderr is a terminal (then a console renderer); ``json`` forces either. Safe to call
    again: the root logger's handlers are replaced and structlog is reconfigured.
    Raises `ConfigurationError` for an unknown level.
    """
    numeric_level = _level_number(level)
    tty = _stderr_is_tty()
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _record_stack, *_SHARED],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                mask_personal_data,
                _renderer(json=not tty if json is None else json, colors=tty),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # Every command that opens the journal runs the migrations: alembic's INFO lines (its
    # plugins, "Context impl", "Running upgrade") are noise there. `hub db upgrade` reports
    # what it applied itself; DEBUG still shows them.
    logging.getLogger("alembic").setLevel(max(numeric_level, logging.WARNING))
    structlog.configure(
        processors=_STRUCTLOG_CHAIN,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.strip().upper())
    if number is None:
        raise ConfigurationError(f"unknown log level {level!r}", level=level)
    return number


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr (pythonw) or a closed one
        return False


def _renderer(*, json: bool, colors: bool) -> Processor:
    if json:
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(
        colors=colors, exception_formatter=structlog.dev.plain_traceback
    )
