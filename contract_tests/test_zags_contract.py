"""ZAGS contract: every ROGDINF request the hub builds is valid against the official 4.0.1
schema (``<reference_dir>/agencies/zags``); an answer built as that schema allows (validated
too) becomes the expected event; the notifications and answers of the hub's own schemas
(``schemas/zags``) are valid against them, their directive wrapper against SMEV's; every
event matches its published JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
from lxml import etree

from contract_tests.agency_contract import Broken, OfficialSchemaContract
from hub.adapters.zags import schemas
from hub.adapters.zags.requests import (
    ACCEPTED,
    REFUSED,
    LegalBasis,
    notices_answer,
    notification_answer,
    rogdinf_request,
)
from hub.adapters.zags.translate import translate_notification, translate_rogdinf_response
from hub.canonical.commands import VerifyBirthRecord, parse_command
from hub.canonical.jsonschemas import validate_event
from hub.errors import SchemaValidationError
from hub.xml import parse_xml
from hub.xml.xsd import validate_xsd
from tests.adapters.test_zags_notifications import RECORD_ID, notification, record, wrap
from tests.adapters.test_zags_translate import answer
from tests.adapters.test_zags_translate import record as birth_record

pytestmark = pytest.mark.contract

CHILDREN = {
    "full": {
        "name": {"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"},
        "birth_date": "2015-04-12",
        "sex": "female",
        "snils": "112-233-445 95",
    },
    "without patronymic": {"name": {"last": "Ким", "first": "Олег"}, "birth_date": "2016-02-29"},
    "born in some month": {
        "name": {"last": "Ли", "first": "Ян", "middle": "Сергеевич"},
        "birth_date": "2015-04",
    },
    "born in some year": {"name": {"last": "Ли", "first": "Ян"}, "birth_date": "2015"},
    "no date of birth": {"name": {"last": "Ли", "first": "Ян"}},
    "double-barrelled": {
        "name": {"last": "Римская – Корсакова", "first": "Анна-Мария", "middle": "Д'Артаньян"},
        "birth_date": "2016-02-29",
    },
}
ACT = {"number": "170", "date": "2015-05-01", "office": "Отдел ЗАГС Кировского района"}
EXTRAS = {
    "nothing more": {},
    "act record": {"act_record": ACT},
    "act record of some month": {"act_record": {**ACT, "date": "2015-05"}},
    "act record without office": {"act_record": {**ACT, "office": None}},
    "passport": {
        "identity_document": {
            "series": "4510",
            "number": "123456",
            "issued_on": "2019-05-01",
            "issuer": "МВД по РТ",
        }
    },
    "bare passport": {"identity_document": {"series": "4510", "number": "123456"}},
    "long request id": {"request_id": "registry-request-" + "x" * 40},
}


def verify(child: dict[str, Any], **extra: Any) -> VerifyBirthRecord:
    data = {
        "type": "verify_birth_record",
        "request_id": "r-1",
        "student_id": "s-1",
        "child": child,
        "birth_certificate": {"series": "IV-АН", "number": "123456"},
        **extra,
    }
    command = parse_command(data)
    assert isinstance(command, VerifyBirthRecord)
    return command


class TestZagsContract(OfficialSchemaContract):
    """ZAGS answers against its official ROGDINF schema; notifications use the hub's own."""

    agency = "zags"
    schemas = schemas

    def valid_and_invalid(self) -> list[tuple[etree._Element, bool]]:
        good = parse_xml(rogdinf_request(verify(CHILDREN["full"])).content)
        bad = parse_xml(rogdinf_request(verify(CHILDREN["full"])).content)
        bad.set("ТипАГС", "02")
        return [(good, True), (bad, False)]

    def broken(self) -> Broken:
        root = parse_xml(rogdinf_request(verify(CHILDREN["full"])).content)
        last = root.find(f".//{{{schemas.TYPES_NS}}}Фамилия")
        assert last is not None
        last.text = "Ж" * 61  # string-60
        return Broken(root, ("Фамилия",), ("ЖЖЖ",))


envelope = TestZagsContract.envelope


@pytest.mark.parametrize("extra", EXTRAS.values(), ids=EXTRAS)
@pytest.mark.parametrize("child", CHILDREN.values(), ids=CHILDREN)
def test_every_request_is_valid_against_the_official_schema(
    reference_dir: Path, child: dict[str, Any], extra: dict[str, Any]
) -> None:
    request = rogdinf_request(verify(child, **extra))
    schemas.validate(parse_xml(request.content), reference_dir)


def test_a_request_with_a_basis_document_is_valid(reference_dir: Path) -> None:
    request = rogdinf_request(verify(CHILDREN["full"]), LegalBasis("05", "Приказ № 12"))
    schemas.validate(parse_xml(request.content), reference_dir)


# --- round trip: request → answer as the schema allows → event ---------------------------


def answer_to(request: bytes, series: str, number: str, *, born: str | None = "asked") -> Any:
    """ZAGS's record of the child asked about: the request's name in upper case, its date of
    birth (or ``born``), the certificate given."""
    asked = parse_xml(request)
    fio = asked.find(f".//{{{schemas.NS}}}ФИО")
    assert fio is not None
    parts = {etree.QName(c).localname: (c.text or "").upper() for c in fio}
    name = tuple(parts.get(p) for p in ("Фамилия", "Имя", "Отчество"))
    when = asked.findtext(f".//{{{schemas.NS}}}ДатаРождКаленд") if born == "asked" else born
    found = birth_record(name, when, ((series, number),))
    return answer(found, request_id=asked.get("ИдЗапрос") or "")


class RoundTrip(NamedTuple):
    child: str
    series: str  # what ZAGS answers
    number: str
    born: str | None
    expected: str
    fields: list[str]


ROUND_TRIPS = {
    "same record": RoundTrip("full", "IV-АН", "123456", "asked", "student.birth.verified", []),
    "look-alike series": RoundTrip(
        "full", "ІV–ан", "123456", "asked", "student.birth.verified", []
    ),
    "no patronymic": RoundTrip(
        "without patronymic", "IV-АН", "123456", "asked", "student.birth.verified", []
    ),
    "registry knows the month, ZAGS the day": RoundTrip(
        "born in some month", "IV-АН", "123456", "2015-04-30", "student.birth.verified", []
    ),
    "double-barrelled": RoundTrip(
        "double-barrelled", "IV-АН", "123456", "asked", "student.birth.verified", []
    ),
    "another number": RoundTrip(
        "full", "IV-АН", "654321", "asked", "student.birth.mismatch", ["birth_certificate.number"]
    ),
    "another birth date": RoundTrip(
        "full", "IV-АН", "123456", "2015-04-13", "student.birth.mismatch", ["birth_date"]
    ),
}


@pytest.mark.parametrize("case", ROUND_TRIPS.values(), ids=ROUND_TRIPS)
def test_round_trip_request_answer_event(reference_dir: Path, case: RoundTrip) -> None:
    request = rogdinf_request(verify(CHILDREN[case.child]))
    response = answer_to(request.content, case.series, case.number, born=case.born)
    schemas.validate(response, reference_dir)
    [event] = translate_rogdinf_response(response, request.context)
    assert (event.type, event.subject) == (case.expected, "student:s-1")
    assert [d["field"] for d in event.data.get("differences", [])] == case.fields
    validate_event(envelope(event))


@pytest.mark.parametrize("code", ["2", "3"])
def test_round_trip_not_found(reference_dir: Path, code: str) -> None:
    request = rogdinf_request(verify(CHILDREN["full"]))
    response = answer(code=code)
    schemas.validate(response, reference_dir)
    [event] = translate_rogdinf_response(response, request.context)
    assert event.type == "student.birth.not_found"
    validate_event(envelope(event))


def test_round_trip_versions_of_one_act_record(reference_dir: Path) -> None:
    # the registry's data are those of version 1; a correction (version 2) changed the number
    request = rogdinf_request(verify(CHILDREN["full"]))
    corrected = (("IV-АН", "654321"),)
    response = answer(
        birth_record(certificates=corrected, version=("2", "2019-06-03", "0102")),
        birth_record(version=("1", "2015-05-01", "0101")),
    )
    schemas.validate(response, reference_dir)
    [event] = translate_rogdinf_response(response, request.context)
    assert event.type == "student.birth.mismatch"
    assert event.data["record_version"] == {
        "version_number": "2",
        "version_date": "2019-06-03",
        "state_code": "0102",
    }
    assert event.data["matched_superseded_version"]["version_number"] == "1"
    validate_event(envelope(event))


@pytest.mark.parametrize(
    "version",
    [
        (None, "2015-05-01", "0101"),
        ("1", None, "0101"),
        ("1", "2015-05-01", None),
        ("1", "2015-05-01", "01"),
        ("1000", "2015-05-01", "0101"),
    ],
    ids=["no number", "no date", "no state code", "short state code", "long number"],
)
def test_the_official_schema_requires_the_version(
    reference_dir: Path, version: tuple[str | None, str | None, str | None]
) -> None:
    # so with the schema gate on, a record the hub could not place never reaches translation
    with pytest.raises(SchemaValidationError):
        schemas.validate(answer(birth_record(version=version)), reference_dir)


# --- notifications: the hub's own schemas -------------------------------------------------

KINDS = list(schemas.KINDS.values())
IDS = [kind.notice.value for kind in KINDS]
VARIANTS = {
    "as built": {},
    "partial dates": {"died": "2026-02"},
    "no patronymic": {"name": ("Ким", "Олег", None)},
}


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS)
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_notifications_are_valid_against_the_hubs_schemas(
    kind: schemas.NoticeKind, options: dict[str, Any]
) -> None:
    element = parse_xml(etree.tostring(notification(kind.notice, **options), encoding="UTF-8"))
    schemas.validate(element)
    translation = translate_notification(element)
    for event in translation.events:
        validate_event(envelope(event))


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_directive_wrapper_is_valid_against_smevs_schema(
    smev_xsd_dir: Path, kind: schemas.NoticeKind
) -> None:
    registry = notification(kind.notice)[0]
    validate_xsd(registry, smev_xsd_dir / "smev-message-exchange-directive-1.3.xsd")


@pytest.mark.parametrize("code", [ACCEPTED, REFUSED])
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_answers_are_valid_against_the_hubs_schemas(kind: schemas.NoticeKind, code: Any) -> None:
    schemas.validate(parse_xml(notification_answer(RECORD_ID, code, kind=kind)))


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_notice_of_several_records_and_its_answer_are_valid(
    smev_xsd_dir: Path, kind: schemas.NoticeKind
) -> None:
    notice = wrap(record(kind.notice), record(kind.notice), record(kind.notice))
    schemas.validate(parse_xml(etree.tostring(notice, encoding="UTF-8")))
    validate_xsd(notice[0], smev_xsd_dir / "smev-message-exchange-directive-1.3.xsd")
    answer = notices_answer([(RECORD_ID, ACCEPTED), ("r-2", REFUSED)], kind=kind)
    schemas.validate(parse_xml(answer))


def test_a_record_the_schema_does_not_know_is_refused_inside_the_wrapper() -> None:
    found = record(schemas.Notice.DEATH)
    found.tag = f"{{{schemas.KINDS[schemas.Notice.DEATH].namespace}}}СведРегЧего"
    with pytest.raises(SchemaValidationError, match="СведРегЧего"):
        schemas.validate(wrap(found))


def test_a_notification_without_record_id_is_refused_with_values_masked() -> None:
    found = record(schemas.Notice.DEATH)
    del found.attrib["ИдСвед"]
    found.set("НомерЗаписЕГР", "Семёнова")  # not 21 characters
    with pytest.raises(SchemaValidationError) as caught:
        schemas.validate(wrap(found))
    assert any("ИдСвед" in error for error in caught.value.errors)
    shown = str(caught.value) + "".join(caught.value.errors)
    assert "Семёнова" not in shown and "НомерЗаписЕГР" in shown
