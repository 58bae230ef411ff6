"""Masking of personal data: in log events and free text (``mask_personal_data``,
``mask_text``), and in stored messages by what the hub declares personal, for operators' eyes.

What is personal is declared once, where the data is described (``hub.canonical.personal``):
the canonical models mark their fields (``x-personal`` in the JSON Schemas of commands and
events), each agency adapter lists the XML names of its schemas that carry personal data
(``PERSONAL`` in its ``schemas.py``). A stored JSON message (a registry command, an event, a
refusal record) is walked against its schema: a personal field is masked by its kind, a field
the schema does not describe is masked whole (nothing unknown is shown), the rest is shown
with ``mask_text`` as a second net. An XML message (SMEV envelopes with agency
content, MTOM, or bytes that do not parse) has its personal elements' text, their attributes
and everything inside them masked, and personal attributes wherever they stand.

Masking runs when a message is shown (``hub failed show``, the console) and costs a pass over
the message; it is never on the processing path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache, lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, Field
from structlog.typing import EventDict, WrappedLogger

from hub.adapters.gosuslugi.schemas import PERSONAL as GOSUSLUGI_PERSONAL
from hub.adapters.pfr.schemas import PERSONAL as PFR_PERSONAL
from hub.adapters.zags.schemas import PERSONAL as ZAGS_PERSONAL
from hub.canonical.commands import COMMAND_TYPES
from hub.canonical.jsonschemas import EVENT_TYPES, command_schema, event_schema
from hub.canonical.personal import PERSONAL_KEY, Personal
from hub.canonical.sources import Source
from hub.smev.filestore import FILE_STORE_SECRETS

__all__ = [
    "DATE_MASK",
    "SNILS_MASK",
    "VALUE_MASK",
    "XML_MASKED",
    "XML_PERSONAL",
    "Shape",
    "json_key_kinds",
    "mask_as",
    "mask_json",
    "mask_message",
    "mask_personal_data",
    "mask_text",
    "mask_xml",
    "message_shape",
    "shape_of",
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
    # Made when first needed: the JSON Schemas behind them are built on first use.
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


# Every agency's personal XML names (local names: prefixes vary, namespaces are the agency's).
XML_PERSONAL: Mapping[str, Personal] = {**ZAGS_PERSONAL, **PFR_PERSONAL, **GOSUSLUGI_PERSONAL}
# What XML masking hides: the agencies' personal names, the secrets SMEV delivers (the file
# store's credentials in FSAttachmentsList) and the documents' file names (which may name the
# child, as they are personal in the events), each masked as "***".
XML_MASKED: Mapping[str, Personal] = {
    **XML_PERSONAL,
    **dict.fromkeys((*FILE_STORE_SECRETS, "FileName"), Personal.OTHER),
}


# --- JSON: shapes from the schemas ------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What a schema says about one place in a JSON document."""

    kind: Personal | None = None  # personal: everything here is masked as this kind
    members: Mapping[str, Shape] = field(default_factory=dict)  # an object's known members
    items: Shape | None = None  # an array's items
    rest: Shape | None = None  # an object's other members (a map's values)

    @property
    def holds_personal(self) -> bool:
        """Whether personal data is declared here or anywhere below."""
        below = [*self.members.values(), self.items, self.rest]
        return self.kind is not None or any(s.holds_personal for s in below if s is not None)

    def member(self, key: str) -> Shape:
        return self.members.get(key) or self.rest or UNDECLARED

    def merged(self, other: Shape) -> Shape:
        """What either shape allows; personal where either says so."""
        if self.kind is not None or other.kind is not None:
            return Shape(self.kind or other.kind)
        keys = [*self.members, *(k for k in other.members if k not in self.members)]
        return Shape(
            None,
            {k: _either(self.members.get(k), other.members.get(k)) or UNDECLARED for k in keys},
            _either(self.items, other.items),
            _either(self.rest, other.rest),
        )


UNDECLARED = Shape(Personal.OTHER)  # what no schema describes is shown to nobody unmasked


def _either(first: Shape | None, second: Shape | None) -> Shape | None:
    if first is None or second is None:
        return first or second
    return first.merged(second)


def shape_of(schema: Mapping[str, Any]) -> Shape:
    """The shape a JSON Schema (with its ``$defs``) describes."""
    return _shape(schema, schema.get("$defs", {}), ())


def _shape(node: Mapping[str, Any], defs: Mapping[str, Any], seen: tuple[str, ...]) -> Shape:
    if PERSONAL_KEY in node:
        return Shape(Personal(node[PERSONAL_KEY]))
    reference = node.get("$ref")
    if isinstance(reference, str):
        name = reference.rpartition("/")[2]
        if name in seen:  # a recursive schema: what lies deeper is not described here
            return UNDECLARED
        return _shape(defs[name], defs, (*seen, name))
    shape = Shape(
        None,
        {k: _shape(v, defs, seen) for k, v in node.get("properties", {}).items()},
        _sub_shape(node.get("items"), defs, seen),
        _sub_shape(node.get("additionalProperties"), defs, seen),
    )
    for keyword in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(keyword, ()):
            shape = shape.merged(_shape(branch, defs, seen))
    return shape


def _sub_shape(node: object, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Shape | None:
    return _shape(node, defs, seen) if isinstance(node, Mapping) else None


# --- JSON: masking ----------------------------------------------------------------------


def mask_json(value: Any, shape: Shape) -> Any:
    """``value`` (parsed JSON) with what ``shape`` declares personal masked by its kind and
    what it does not describe masked whole; other strings pass through ``mask_text``."""
    if shape.kind is not None:
        return _hidden(value, shape.kind)
    if isinstance(value, Mapping):
        return {mask_text(str(k)): mask_json(v, shape.member(str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(item, shape.items or UNDECLARED) for item in value]
    if shape.holds_personal:  # a bare value where the schema has personal data inside
        return _hidden(value, Personal.OTHER)
    return _shown(value)


def _hidden(value: Any, kind: Personal) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {mask_text(str(k)): _hidden(v, kind) for k, v in value.items()}
    if isinstance(value, list):
        return [_hidden(item, kind) for item in value]
    return mask_as(kind, value if isinstance(value, str) else json.dumps(value))


_SNILS_INTEGERS = range(10**10, 10**11)


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) in _SNILS_INTEGERS:
        return SNILS_MASK  # eleven digits: a SNILS written as a number
    return value


class _ValidationError(BaseModel):
    # SMEV's words quote the values it refused (a name, a number): personal.
    message: Annotated[str | None, Field(json_schema_extra={PERSONAL_KEY: Personal.OTHER.value})]
    position: str | None = None


class _Fault(BaseModel):
    type: str | None = None
    sub_type: str | None = None
    code: str | None = None
    description: str | None = None
    smev_error: str | None = None
    faultcode: str | None = None
    faultstring: str | None = None
    validation_errors: list[_ValidationError] = []
    extra: dict[str, str] = {}
    retryable: bool | None = None
    action: str | None = None


class RefusalRecord(BaseModel):
    """What the inbox keeps of SMEV's refusal (``hub.services.smev_client.refusal_record``)."""

    request_id: str
    smev_message_id: str
    agency: str
    kind: str
    fault: _Fault


@cache
def _command_shapes() -> dict[str, Shape]:
    return {t: shape_of(command_schema(t)) for t in COMMAND_TYPES}


@cache
def _event_shapes() -> dict[str, Shape]:
    return {t: shape_of(event_schema(t)) for t in EVENT_TYPES}


@cache
def _refusal_shape() -> Shape:
    return shape_of(RefusalRecord.model_json_schema())


@cache
def _union(*groups: str) -> Shape:
    shapes: list[Shape] = []
    if "commands" in groups:
        shapes += _command_shapes().values()
    if "events" in groups:
        shapes += _event_shapes().values()
    if "refusal" in groups:
        shapes.append(_refusal_shape())
    merged = shapes[0]
    for shape in shapes[1:]:
        merged = merged.merged(shape)
    return merged


@cache
def json_key_kinds() -> Mapping[str, Personal]:
    """The member names personal wherever the schemas use them, with their kind (``last``,
    ``birth_date``, ``snils``...; not ``agency`` or ``reason``, which are personal in one
    place only): the free-text net masks them as quoted keys (JSON, a Python repr)."""
    seen: dict[str, set[Personal | None]] = {}
    for shape in (*_command_shapes().values(), *_event_shapes().values(), _refusal_shape()):
        _collect_keys(shape, seen)
    found: dict[str, Personal] = {}
    for key, kinds in seen.items():
        declared = {kind for kind in kinds if kind is not None}
        if declared and len(declared) == len(kinds):  # personal in every place
            found[key] = declared.pop() if len(declared) == 1 else Personal.OTHER
    return found


def _collect_keys(shape: Shape, seen: dict[str, set[Personal | None]]) -> None:
    for key, member in shape.members.items():
        seen.setdefault(key, set()).add(member.kind)
        _collect_keys(member, seen)
    for inner in (shape.items, shape.rest):
        if inner is not None:
            _collect_keys(inner, seen)


def message_shape(source: str, document: Any) -> Shape:
    """The shape of a stored JSON message: a registry command (by its ``type``), SMEV's
    refusal, a canonical event (by its ``type``); for anything else, every shape at once."""
    kind = document.get("type") if isinstance(document, Mapping) else None
    kind = kind if isinstance(kind, str) else ""
    if source == Source.SMEV_REFUSAL:
        return _refusal_shape()
    if source == Source.REGISTRY:
        return _command_shapes().get(kind) or _union("commands")
    if isinstance(document, Mapping) and "specversion" in document:
        return _event_shapes().get(kind) or _union("events")
    return _union("commands", "events", "refusal")


# --- XML ---------------------------------------------------------------------------------

# Markup, read leniently (a failed message may be malformed): comments, CDATA, processing
# instructions and declarations, end tags, start tags with their attributes.
_MARKUP = re.compile(
    r"<!--.*?-->|<!\[CDATA\[(?P<cdata>.*?)\]\]>|<[?!][^<>]*>"
    r"|</(?P<close>[^\s<>/]+)\s*>"
    r"|<(?P<open>[^\s<>/!?]+)(?P<attrs>(?:[^<>\"'/]|/(?!>)|\"[^\"]*\"|'[^']*')*)(?P<empty>/?)>",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(
    r"(?P<name>[^\s=<>\"'/]+)\s*=\s*(?P<q>[\"'])(?P<value>.*?)(?P=q)", re.DOTALL
)


def mask_xml(text: str, personal: Mapping[str, Personal] = XML_MASKED) -> str:
    """``text`` (XML, MTOM, or what does not parse) with the text, the attributes and the
    content of every element ``personal`` names (by local name) masked by its kind, and the
    attributes it names masked wherever they stand."""
    if "<" not in text:
        return text
    return _XmlMasker(text, personal).run()


@dataclass
class _XmlMasker:
    text: str
    personal: Mapping[str, Personal]
    open: list[tuple[str, Personal | None]] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    def run(self) -> str:
        position = 0
        for markup in _MARKUP.finditer(self.text):
            self._content(self.text[position : markup.start()])
            self.parts.append(self._markup(markup))
            position = markup.end()
        self._content(self.text[position:])
        return "".join(self.parts)

    @property
    def kind(self) -> Personal | None:
        return self.open[-1][1] if self.open else None

    def _content(self, content: str) -> None:
        kind = self.kind
        self.parts.append(content if kind is None else mask_as(kind, content))

    def _markup(self, markup: re.Match[str]) -> str:
        if markup["cdata"] is not None:
            kind = self.kind
            return markup[0] if kind is None else f"<![CDATA[{mask_as(kind, markup['cdata'])}]]>"
        if markup["close"] is not None:
            self._close(markup["close"])
            return markup[0]
        if markup["open"] is None:  # a comment, a declaration: the free-text net sees them
            return markup[0]
        return self._start(markup)

    def _start(self, markup: re.Match[str]) -> str:
        name = markup["open"]
        kind = self.personal.get(_local(name)) or self.kind
        attributes = _ATTRIBUTE.sub(lambda found: self._attribute(found, kind), markup["attrs"])
        if not markup["empty"]:
            self.open.append((name, kind))
        return f"<{name}{attributes}{markup['empty']}>"

    def _attribute(self, found: re.Match[str], element: Personal | None) -> str:
        name = found["name"]
        if name == "xmlns" or name.startswith("xmlns:"):
            return found[0]
        kind = self.personal.get(_local(name)) or element
        if kind is None or not found["value"].strip():
            return found[0]
        start, end = (i - found.start() for i in found.span("value"))
        return found[0][:start] + mask_as(kind, found["value"]) + found[0][end:]

    def _close(self, name: str) -> None:
        # Malformed input may close what it never opened, or leave elements open.
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == name:
                del self.open[depth:]
                return


def _local(name: str) -> str:
    return name.rpartition(":")[2]


# --- a stored message -------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"(?P<key>\s*:)?|\\?\Z)')  # an open one runs to the end


def mask_message(raw: bytes, source: str) -> str:
    """A stored message as an operator may see it: JSON walked against its schema, XML by
    the agencies' personal names; then ``mask_text`` over all as a second net."""
    text = raw.decode("utf-8", errors="replace")
    if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        return mask_text(_masked_json(text, source))
    return mask_text(mask_xml(text))


def _masked_json(text: str, source: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:  # not JSON after all: every string value is masked, names kept
        return _STRING.sub(lambda s: s[0] if s["key"] else '"***"', text)
    masked = mask_json(document, message_shape(source, document))
    return json.dumps(masked, ensure_ascii=False, indent=2)
