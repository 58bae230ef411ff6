"""Masking of stored messages by what the hub declares personal (``hub.protection.masking``): every
command, event and refusal schema is walked and every field it marks personal is shown
masked while the others stay readable; every XML name an agency lists is masked with its
attributes and content; hostile and broken input masks more, never less."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.canonical.commands import COMMAND_TYPES
from hub.canonical.jsonschemas import EVENT_TYPES, command_schema, event_schema
from hub.canonical.personal import PERSONAL_KEY
from hub.canonical.sources import Source
from hub.protection.masking import XML_PERSONAL, RefusalRecord, mask_message, mask_xml

pytestmark = pytest.mark.unit


# --- every schema, every field ------------------------------------------------------------


@dataclass
class Sample:
    """Documents made from a schema: each free value is a unique word, remembered as
    personal or not by where it stands."""

    defs: Mapping[str, Any]
    personal: set[str] = field(default_factory=set)
    shown: set[str] = field(default_factory=set)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def documents(self, node: Mapping[str, Any], under_personal: bool = False) -> list[Any]:
        """One document per branch of every choice (anyOf/oneOf) met on the way."""
        under_personal = under_personal or PERSONAL_KEY in node
        if "$ref" in node:
            return self.documents(self.defs[node["$ref"].rpartition("/")[2]], under_personal)
        if "const" in node or "enum" in node:
            return [node.get("const", (node.get("enum") or [None])[0])]
        branches = [b for b in node.get("anyOf", node.get("oneOf", ())) if b.get("type") != "null"]
        if branches:
            return [d for b in branches for d in self.documents(b, under_personal)]
        if node.get("type") == "object" or "properties" in node:
            return self._objects(node, under_personal)
        if node.get("type") == "array":
            return [[item] for item in self.documents(node["items"], under_personal)]
        return [self._value(node.get("type"), under_personal)]

    def _objects(self, node: Mapping[str, Any], under_personal: bool) -> list[Any]:
        members = {
            k: self.documents(v, under_personal) for k, v in node.get("properties", {}).items()
        }
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            members["some_key"] = self.documents(extra, under_personal)
        widest = max((len(v) for v in members.values()), default=1)
        return [{k: v[min(i, len(v) - 1)] for k, v in members.items()} for i in range(widest)]

    def _value(self, kind: object, under_personal: bool) -> Any:
        if kind == "boolean":
            return True
        if kind == "integer":
            return 7
        word = f"value{next(self.counter):04d}word"
        (self.personal if under_personal else self.shown).add(word)
        return word


SCHEMAS = [
    *((f"command {t}", Source.REGISTRY, command_schema(t)) for t in COMMAND_TYPES),
    *((f"event {t}", "smev", event_schema(t)) for t in EVENT_TYPES),
    ("refusal record", Source.SMEV_REFUSAL, RefusalRecord.model_json_schema()),
]


@pytest.mark.parametrize(
    ("source", "schema"), [s[1:] for s in SCHEMAS], ids=[s[0] for s in SCHEMAS]
)
def test_every_personal_field_of_every_schema_is_masked(
    source: str, schema: Mapping[str, Any]
) -> None:
    sample = Sample(schema.get("$defs", {}))
    documents = sample.documents(schema)
    shown = "\n".join(mask_message(json.dumps(d).encode(), source) for d in documents)
    assert {word for word in sample.personal if word in shown} == set()
    assert {word for word in sample.shown if word not in shown} == set()  # readable, not blanked


def test_the_schemas_mark_what_the_issue_named() -> None:
    # The hub's own keys: name.last/first/middle, birth dates, SNILS, documents, guardians.
    marked = json.dumps([command_schema(t) for t in COMMAND_TYPES])
    marked += json.dumps([event_schema(t) for t in EVENT_TYPES])
    for personal in ('"x-personal": "name"', '"x-personal": "date"', '"x-personal": "snils"'):
        assert personal in marked
    person = event_schema("student.birth.verified")["$defs"]["PersonData"]["properties"]
    assert {k for k, v in person.items() if PERSONAL_KEY in v} == {
        "birth_date",
        "snils",
        "birth_place",
    }
    name = event_schema("student.birth.verified")["$defs"]["Name"]["properties"]
    assert {k: v[PERSONAL_KEY] for k, v in name.items()} == dict.fromkeys(
        ("last", "first", "middle"), "name"
    )


# --- the issue's case: a failed registry command ------------------------------------------

COMMAND = {
    "type": "verify_snils",
    "request_id": "req-7",
    "person_id": "p-7",
    "role": "guardian",
    "person": {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "1988-02-29",
        "sex": "female",
        "snils": "112-233-445 95",
        "birth_place": "г. Казань",
    },
    "document": {
        "kind": "passport",
        "series": "4510",
        "number": "123456",
        "issued_on": "2008-03-01",
        "issuer": "ОВД Вахитовского района",
    },
}
SECRETS = (
    "Семёнова",
    "Алёна",
    "Игоревна",
    "1988-02-29",
    "112-233-445 95",
    "Казань",
    "4510",
    "123456",
    "2008-03-01",
    "Вахитовского",
)


def test_a_failed_command_shows_names_by_first_letter_and_nothing_else_personal() -> None:
    shown = mask_message(json.dumps(COMMAND, ensure_ascii=False).encode(), Source.REGISTRY)
    assert [s for s in SECRETS if s in shown] == []
    document = json.loads(shown)
    assert document["person"]["name"] == {"last": "С***", "first": "А***", "middle": "И***"}
    assert (document["request_id"], document["role"], document["person"]["sex"]) == (
        "req-7",
        "guardian",
        "female",
    )


@pytest.mark.parametrize(
    "command",
    [
        {**COMMAND, "type": "no_such_command"},  # unknown type: every command's shape at once
        {k: v for k, v in COMMAND.items() if k != "type"},
        {**COMMAND, "child": COMMAND["person"], "person": "Семёнова Алёна"},  # wrong places
        {**COMMAND, "notes": {"mother": "Семёнова", "passport": "4510 123456"}},  # undeclared
        [COMMAND],
    ],
    ids=["unknown type", "no type", "wrong places", "undeclared members", "an array"],
)
def test_commands_of_the_wrong_shape_mask_more_never_less(command: Any) -> None:
    shown = mask_message(json.dumps(command, ensure_ascii=False).encode(), Source.REGISTRY)
    assert [s for s in SECRETS if s in shown] == []


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(COMMAND, ensure_ascii=False)[:-40],  # cut short
        "\ufeff" + json.dumps(COMMAND, ensure_ascii=False),  # a byte-order mark
        json.dumps(COMMAND, ensure_ascii=False).replace('"sex"', "sex"),  # not quite JSON
    ],
    ids=["truncated", "bom", "invalid"],
)
def test_json_that_does_not_parse_has_every_string_masked(raw: str) -> None:
    shown = mask_message(raw.encode(), Source.REGISTRY)
    assert [s for s in SECRETS if s in shown] == []
    assert '"last"' in shown  # names of members stay: the operator sees the structure


def test_numbers_that_may_be_a_snils_are_masked() -> None:
    raw = b'{"type": "verify_snils", "person": {"snils": 11223344595}, "x": 11223344595}'
    shown = mask_message(raw, Source.REGISTRY)
    assert "11223344595" not in shown


# --- XML: every listed name ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(XML_PERSONAL))
def test_every_listed_xml_name_is_masked_with_its_attributes_and_content(name: str) -> None:
    document = (
        f'<e:Envelope xmlns:e="urn:e" xmlns:a="urn:a"><a:{name} a:Kind="secret1" Code=\'secret2\'>'
        f'secret3<a:Inner Text="secret4">secret5</a:Inner><![CDATA[secret6]]></a:{name}>'
        f'<a:Plain {name}="secret7" Keep="shown1">shown2</a:Plain><{name}/></e:Envelope>'
    )
    masked = mask_xml(document)
    assert [f"secret{i}" for i in range(1, 8) if f"secret{i}" in masked] == []
    assert "shown1" in masked and "shown2" in masked
    assert masked.count(f"{name}") == 4 and 'xmlns:a="urn:a"' in masked


BIRTH_PLACE = (
    '<fnst:СведРодившемся xmlns:fnst="urn://x-artefacts-zags-rogdinf/types/4.0.1" '
    'СНИЛС="112-233-445 95"><fnst:Пол>2</fnst:Пол>'
    "<fnst:ФИОРожд><fnst:Фамилия>Семёнова</fnst:Фамилия><fnst:Имя>Алёна</fnst:Имя>"
    "</fnst:ФИОРожд><fnst:ДатаРождКаленд>2015-04-12</fnst:ДатаРождКаленд>"
    '<fnst:МестоРожден ПризнМесто="1" МестоТекст="г. Казань" НаимСтраны="Россия" '
    'Город="Казань" НаселПункт="Дербышки"/></fnst:СведРодившемся>'
)


def test_the_birth_place_in_zags_xml_is_masked_with_its_attributes() -> None:
    masked = mask_xml(BIRTH_PLACE)
    for secret in (
        "Казань",
        "Дербышки",
        "Россия",
        "Семёнова",
        "Алёна",
        "2015-04-12",
        "112-233-445 95",
    ):
        assert secret not in masked
    assert "<fnst:Пол>2</fnst:Пол>" in masked  # what is not personal stays
    assert "<fnst:Фамилия>С***</fnst:Фамилия>" in masked


@pytest.mark.parametrize(
    "broken",
    [
        BIRTH_PLACE.replace("</fnst:ФИОРожд>", ""),  # never closed: what follows is masked
        BIRTH_PLACE.replace("</fnst:Фамилия>", "</fnst:Другое>"),  # closed by another name
        BIRTH_PLACE[: BIRTH_PLACE.index("Алёна") + 5],  # cut short
        f"--MIME_boundary\r\nContent-Type: application/xop+xml\r\n\r\n{BIRTH_PLACE}\r\n--MIME",
        BIRTH_PLACE.replace('МестоТекст="г. Казань"', "МестоТекст='г. > Казань'"),
    ],
    ids=["unclosed", "misclosed", "truncated", "mtom", "quotes"],
)
def test_xml_that_does_not_parse_is_masked_as_far_as_it_goes(broken: str) -> None:
    masked = mask_message(broken.encode(), "smev")
    for secret in ("Казань", "Семёнова", "Алёна", "2015-04-12", "112-233-445 95"):
        assert secret not in masked


def test_the_free_text_net_still_catches_what_no_schema_names() -> None:
    # A comment and an unknown element: no declaration covers them, the patterns do.
    masked = mask_message(
        b"<x><!-- SNILS 112-233-445 95 --><y>IV-\xd0\x90\xd0\x9d 123456</y></x>", "smev"
    )
    assert "112-233-445 95" not in masked and "123456" not in masked
