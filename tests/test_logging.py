"""hub.logging: what reaches stderr carries no personal data in clear."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import ConfigurationError
from hub.logging import configure_logging
from hub.protection.masking import DATE_MASK, SNILS_MASK, VALUE_MASK, mask_personal_data, mask_text

pytestmark = pytest.mark.unit

SNILS = "112-233-445 95"
SNILS_BARE = "12794130666"
MESSAGE_ID = "6f1c1a2e-9b7d-4c1e-8f5a-2d3b4c5d6e7f"
TIMESTAMP = "2024-05-01T10:15:30.123456+03:00"
CLEAR_VALUES = (
    "Иванов",
    "Мария",
    "Петровна",
    "Сидорова",
    "Тульская обл., г. Тула, ул. Ленина, д. 5",
    "2012-03-04",
    "IV-АН",
    "654321",
    "4510 112233",
    "112-233-445",
    "12794130666",
    "+7 916 123-45-67",
    "ivanova@example.ru",
    "771234567890",
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def _assert_clean(output: str, *clear: str) -> None:
    for value in clear or CLEAR_VALUES:
        assert value not in output, f"{value!r} leaked into {output!r}"


# --- Through real structlog / stdlib output ------------------------------------------------


def test_event_fields_nested_anywhere_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    structlog.get_logger("hub.registry").info(
        "student matched",
        message_id=MESSAGE_ID,
        code="SMEV-100",
        count=3,
        queue="smev.inbound",
        child={
            "FamilyName": "Иванов",
            "firstName": "Мария",
            "patronymic": "Петровна",
            "birth_date": "2012-03-04",
            "snils": SNILS,
            "birthCertificate": {"series": "IV-АН", "number": "654321"},
        },
        guardians=[
            {"name": "Сидорова", "phone": "+7 916 123-45-67", "email": "ivanova@example.ru"}
        ],
        documents=({"Серия": "4510", "Номер": "112233"},),
        address="Тульская обл., г. Тула, ул. Ленина, д. 5",
        inn="771234567890",
        seen={SNILS_BARE: True},
    )
    output = capsys.readouterr().err
    _assert_clean(output)
    [line] = _lines(output)
    child = line["child"]
    assert child["FamilyName"] == "И***"
    assert child["firstName"] == "М***"
    assert child["birth_date"] == DATE_MASK
    assert child["snils"] == SNILS_MASK
    assert child["birthCertificate"] == {"series": VALUE_MASK, "number": VALUE_MASK}
    assert line["guardians"] == [{"name": "С***", "phone": VALUE_MASK, "email": VALUE_MASK}]
    assert line["documents"] == [{"Серия": VALUE_MASK, "Номер": VALUE_MASK}]
    assert line["seen"] == {SNILS_MASK: True}
    assert line["message_id"] == MESSAGE_ID
    assert (line["code"], line["count"], line["queue"]) == ("SMEV-100", 3, "smev.inbound")
    assert line["level"] == "info"
    assert line["logger"] == "hub.registry"
    assert line["timestamp"].endswith("Z")


def test_personal_data_inside_the_message_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    log = structlog.get_logger("hub.smev")
    log.info(
        "raw <ns2:Request><ns2:FamilyName>Иванов</ns2:FamilyName><ns2:Имя>Мария</ns2:Имя>"
        "<BirthDate>2012-03-04</BirthDate><MessageID>" + MESSAGE_ID + "</MessageID>"
        "</ns2:Request>"
    )
    log.info('<ФИО Фамилия="Сидорова" Отчество="Петровна"/><Док СерНомДок="IV-АН 654321"/>')
    log.info("retry 2 for snils=%s, passport 4510 112233, %s", SNILS, SNILS_BARE)
    log.info("payload {'fio': 'Иванов Мария Петровна', 'dob': '2012-03-04', 'count': 2}")
    log.info(
        "Element '{urn:zags}ФИО', attribute 'Фамилия': [facet 'maxLength'] "
        "The value 'Сидорова' has a length of '8'; this exceeds the allowed maximum length."
    )
    output = capsys.readouterr().err
    _assert_clean(output)
    events = [line["event"] for line in _lines(output)]
    assert "<ns2:FamilyName>И***</ns2:FamilyName>" in events[0]
    assert f"<MessageID>{MESSAGE_ID}</MessageID>" in events[0]
    assert 'Фамилия="С***"' in events[1]
    assert events[2] == f"retry 2 for snils={SNILS_MASK}, passport ***, {SNILS_MASK}"
    assert "'dob': '****-**-**', 'count': 2" in events[3]
    assert "The value 'С***'" in events[4]


def test_exception_text_and_traceback_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    log = structlog.get_logger("hub.worker")
    snils, name = SNILS, "Иванов"
    try:
        raise ValueError(f"no match for snils {snils}, <FamilyName>{name}</FamilyName>")
    except ValueError:
        log.exception("match failed", message_id=MESSAGE_ID, code="SMEV-100")
    output = capsys.readouterr().err
    _assert_clean(output)
    [line] = _lines(output)
    assert "Traceback (most recent call last)" in line["exception"]
    assert f"ValueError: no match for snils {SNILS_MASK}, <FamilyName>И***" in line["exception"]
    assert (line["message_id"], line["code"], line["level"]) == (MESSAGE_ID, "SMEV-100", "error")


def test_third_party_stdlib_records_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    library = logging.getLogger("zeep.transport")
    library.warning("HTTP body %s for snils %s", "<Snils>12794130666</Snils>", SNILS)
    library.info("extra fields", extra={"family_name": "Иванов", "message_id": MESSAGE_ID})
    try:
        raise RuntimeError("bad СНИЛС: 112-233-445 95")
    except RuntimeError:
        library.exception("failure")
    library.info("where", stack_info=True)
    output = capsys.readouterr().err
    _assert_clean(output)
    first, second, third, fourth = _lines(output)
    assert first["event"] == f"HTTP body <Snils>{SNILS_MASK}</Snils> for snils {SNILS_MASK}"
    assert (first["logger"], first["level"]) == ("zeep.transport", "warning")
    assert (second["family_name"], second["message_id"]) == ("И***", MESSAGE_ID)
    assert f"RuntimeError: bad СНИЛС: {SNILS_MASK}" in third["exception"]
    assert fourth["stack"].startswith("Stack (most recent call last)")


def test_values_bound_in_contextvars_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    structlog.contextvars.bind_contextvars(correlation_id=MESSAGE_ID, applicant="Сидорова")
    structlog.get_logger("hub").info("received", stats={"messages": 12, "ts": TIMESTAMP})
    output = capsys.readouterr().err
    _assert_clean(output)
    [line] = _lines(output)
    assert (line["correlation_id"], line["applicant"]) == (MESSAGE_ID, "С***")
    assert line["stats"] == {"messages": 12, "ts": TIMESTAMP}


# --- Configuration -------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_renderer_on_a_terminal_and_json_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    configure_logging()
    log = structlog.get_logger("hub")
    log.info("console line", first_name="Мария", snils=SNILS)
    try:
        raise KeyError(f"snils {SNILS}")
    except KeyError:
        log.exception("boom")
    console = terminal.getvalue()
    _assert_clean(console)
    assert "console line" in console
    assert "М***" in console
    assert "Traceback" in console
    with pytest.raises(json.JSONDecodeError):
        _lines(console)

    configure_logging(json=True)  # forced JSON on a terminal
    log.info("json line")
    assert _lines(terminal.getvalue()[len(console) :])[0]["event"] == "json line"


def test_console_can_be_forced_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=False)
    structlog.get_logger("hub").info("forced console", family_name="Иванов")
    output = capsys.readouterr().err
    assert "forced console" in output
    assert "family_name=И***" in output  # no colors off a terminal
    assert "\x1b[" not in output


def test_reconfiguring_replaces_the_setup(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))  # an unmasked leftover
    configure_logging(json=False)
    log = structlog.get_logger("hub")
    log.info("first")  # caches the logger
    configure_logging(json=True)
    configure_logging(json=True, level="DEBUG")
    assert len(logging.getLogger().handlers) == 1
    log.debug("second", family_name="Иванов")
    output = capsys.readouterr().err
    console_line, json_line = output.splitlines()
    assert "first" in console_line
    assert json.loads(json_line)["family_name"] == "И***"


def test_level_filters_structlog_and_stdlib(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="warning", json=True)
    structlog.get_logger("hub").info("hidden")
    logging.getLogger("pika").info("hidden too")
    structlog.get_logger("hub").warning("shown")
    assert [line["event"] for line in _lines(capsys.readouterr().err)] == ["shown"]


def test_unknown_level_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        configure_logging(level="LOUD")
    assert caught.value.details == {"level": "LOUD"}


# --- mask_text and the processor on their own ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"message {MESSAGE_ID} sent at {TIMESTAMP}",
        str(uuid.UUID(int=12345678901234567890)),
        "00000000-0000-0000-0000-112233445950",
        "fault SMEV-100 after 3 attempts, 1714557600 epoch, 1714557600123 ms",
        "batch 123456 of 654321 queued; port=5672 host=rabbit:5672",
        "elapsed 10:00:00.123456 on 2024-05-01",
        "queue=smev.inbound count=12 code=SMEV-100 name=worker-1",
        "plain words without anything",
    ],
)
def test_non_personal_text_is_left_alone(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("СНИЛС 112-233-445 95.", f"СНИЛС {SNILS_MASK}."),
        ("snils 112-233-445-95", f"snils {SNILS_MASK}"),
        ("snils 112-233-44595", f"snils {SNILS_MASK}"),
        ("snils 112 233 445 95", f"snils {SNILS_MASK}"),
        ("(11223344595)", f"({SNILS_MASK})"),
        ("свид. IV-АН 654321", "свид. ***"),
        ("свид. ХІІ–АА № 654321", "свид. ***"),  # Cyrillic Х and І, en dash
        ("свид. XII-АА", "свид. ***"),
        ("654321, IV-АН", "***"),
        ("паспорт 4510 112233", "паспорт ***"),
        ("паспорт 45 10 112233", "паспорт ***"),
        ("паспорт 4510 № 112233", "паспорт ***"),
        ("<Фамилия>Иванов</Фамилия>", "<Фамилия>И***</Фамилия>"),
        ("<ns:Фамилия >Иванов</ns:Фамилия >", "<ns:Фамилия >И***</ns:Фамилия >"),
        ("<FirstName><![CDATA[Мария]]></FirstName>", "<FirstName><![CDATA[М***]]></FirstName>"),
        (
            "<BirthPlace><Settlement>Тула</Settlement></BirthPlace>",
            "<BirthPlace><Settlement>***</Settlement></BirthPlace>",
        ),
        ("cut <FamilyName>Иванов", "cut <FamilyName>И***"),
        ('Адрес="г. Тула, ул. Ленина"', 'Адрес="***"'),
        ("full_name=Иванов Мария Петровна count=2", "full_name=И*** count=2"),
        ('{"dateOfBirth": "2012-03-04"}', '{"dateOfBirth": "****-**-**"}'),
        ("ДатаРожд: 04.03.2012", "ДатаРожд: ****-**-**"),
        (
            "Element 'Snils': 'abc' is not a valid value",
            "Element 'Snils': '***-***-*** **' is not a valid value",
        ),
    ],
)
def test_personal_text_is_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "key",
    [
        "family_name",
        "FamilyName",
        "familyName",
        "FAMILY_NAME",
        "lastname",
        "surname",
        "fio",
        "ФИО",
        "Фамилия",
        "ns2:Имя",
        "{urn:zags}Отчество",
        "child_first_name",
        "guardianName",
        "applicant_name",
    ],
)
def test_name_fields_are_recognized_in_any_spelling(key: str) -> None:
    assert mask_personal_data(None, "info", {key: "Иванов"}) == {key: "И***"}


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("birth_date", DATE_MASK),
        ("DateOfBirth", DATE_MASK),
        ("dob", DATE_MASK),
        ("ДатаРождКаленд", DATE_MASK),
        ("snils", SNILS_MASK),
        ("СНИЛС", SNILS_MASK),
        ("BirthPlace", VALUE_MASK),
        ("МестоРожден", VALUE_MASK),
        ("address", VALUE_MASK),
        ("АдрМЖ", VALUE_MASK),
        ("Series", VALUE_MASK),
        ("СерияСвидет", VALUE_MASK),
        ("passport_number", VALUE_MASK),
        ("phone", VALUE_MASK),
        ("e-mail", VALUE_MASK),
        ("ИНН", VALUE_MASK),
    ],
)
def test_known_fields_are_masked_whole(key: str, masked: str) -> None:
    event = {key: {"any": ["content", 12]}, "count": 12, "event": "x"}
    assert mask_personal_data(None, "info", event) == {
        key: {"any": [masked, masked]},
        "count": 12,
        "event": "x",
    }


def test_unknown_objects_are_masked_as_rendered() -> None:
    class Applicant:
        def __repr__(self) -> str:
            return "Applicant(family_name='Иванов')"

    marker = object()
    event = mask_personal_data(None, "info", {"who": Applicant(), "marker": marker, "n": None})
    assert event == {"who": "Applicant(family_name='И***')", "marker": marker, "n": None}


# --- Properties ----------------------------------------------------------------------------


def _with_check_number(number: int) -> str:
    digits = f"{number:09d}"
    total = sum(int(digit) * weight for digit, weight in zip(digits, range(9, 0, -1), strict=True))
    return f"{digits}{total % 101 % 100:02d}"


snils_numbers = st.integers(min_value=1_001_999, max_value=999_999_999).map(_with_check_number)
# (the digits, the way they are written): bare, "NNN-NNN-NNN CC" or "NNN-NNN-NNN-CC"
written_snils = st.tuples(snils_numbers, st.sampled_from(["", " ", "-"])).map(
    lambda pair: (pair[0], pair[0] if not pair[1] else _formatted(pair[0], pair[1]))
)


def _formatted(digits: str, before_check: str) -> str:
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]}{before_check}{digits[9:]}"


names = st.from_regex(r"[А-ЯЁ][а-яё]{1,12}(-[А-ЯЁ][а-яё]{1,12})?", fullmatch=True)
noise = st.text(alphabet="abcXYZ0123456789 .,;!?()", max_size=30)
name_keys = st.sampled_from(
    ["family_name", "FirstName", "patronymic", "Фамилия", "Имя", "Отчество", "fio", "childName"]
)
filler = st.recursive(
    st.none() | st.integers() | noise,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(noise, inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snils=written_snils,
    name=names,
    key=name_keys,
    surrounding=st.tuples(noise, noise),
    extra=filler,
)
def test_generated_snils_and_names_never_reach_the_output(
    snils: tuple[str, str], name: str, key: str, surrounding: tuple[str, str], extra: Any
) -> None:
    digits, written = snils
    before, after = surrounding
    configure_logging(json=True)
    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        structlog.get_logger("prop").info(
            f"{before} {written} {after}",
            payload={
                "extra": extra,
                "items": [f"{before} <{key}>{name}</{key}> {after}", {key: name}],
                "note": (f"{before} snils={written}", f'{key}="{name}" {after}'),
            },
            **{key: name},
        )
        logging.getLogger("library").error("%s %s %s=%s", before, written, key, name)
    output = stream.getvalue()
    for clear in (digits, written, name):
        assert clear not in output
    assert len(_lines(output)) == 2
