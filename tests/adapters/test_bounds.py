"""The canonical bounds hold in every adapter, without any agency schema: a value too long, in
the wrong alphabet, too many guardians or parents, a date out of range is refused as an
``IntakeError`` naming the field and the bound, never showing the value, and no event is made.

The messages are built with each adapter's own test builders and given straight to the
translation (no intake gate, as on a clone without the reference folder)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from hub.adapters.gosuslugi.translate import translate_application, translate_cancel
from hub.adapters.pfr.translate import translate_snils_response
from hub.adapters.zags.schemas import Notice
from hub.adapters.zags.translate import translate_notification, translate_rogdinf_response
from hub.errors import IntakeError
from tests.adapters import test_gosuslugi_translate as epgu
from tests.adapters import test_pfr_translate as pfr
from tests.adapters import test_zags_notifications as notices
from tests.adapters import test_zags_translate as zags

pytestmark = pytest.mark.unit

HUGE = "Ж" * 300_000  # the answer of issue 24: a first name 300,000 characters long
SCRIPT = "<script>alert(1)</script>"
CONTROL = "Али\x9bна"  # a C1 control: XML 1.0 forbids those of C0
DIGITS = "Алёна2"


def refused(translate: Callable[[], Any], field: str, *bound: str, value: str) -> IntakeError:
    """``translate`` fails with an IntakeError naming ``field`` and ``bound``, not ``value``."""
    with pytest.raises(IntakeError) as caught:
        translate()
    error = caught.value
    assert field in str(error.details["field"]), (error.details, field)
    assert all(part in str(error) for part in bound), str(error)
    assert value not in str(error) and value[:12] not in repr(error.details)
    assert not error.retryable
    return error


# --- ZAGS birth answers --------------------------------------------------------------------


def _zags(element: etree._Element) -> Callable[[], Any]:
    return lambda: translate_rogdinf_response(element, zags.context())


@pytest.mark.parametrize(
    ("first", "bound"),
    [
        (HUGE, "longer than 100"),
        (SCRIPT, "allows letters"),
        (CONTROL, "allows letters"),
        (DIGITS, "allows letters"),
    ],
    ids=["300,000 characters", "markup", "control character", "digit"],
)
def test_zags_a_childs_first_name_out_of_bounds_is_no_mismatch(first: str, bound: str) -> None:
    answer = zags.answer(zags.record(name=("СЕМЕНОВА", first, "ИГОРЕВНА")))
    refused(_zags(answer), "name.first", bound, value=first)


def test_zags_a_name_that_matches_but_is_too_long_is_no_verified_event() -> None:
    context = zags.context(name={"last": "Семёнова", "first": "Алёна", "middle": "Игоревна"})
    answer = zags.answer(zags.record(mother=("Ж" * 101, "ОЛЬГА", "ПЕТРОВНА")))
    with pytest.raises(IntakeError) as caught:
        translate_rogdinf_response(answer, context)
    assert caught.value.details["field"] == "name.last" and "Ж" * 20 not in str(caught.value)


def test_zags_a_place_or_office_beyond_its_bound_is_refused() -> None:
    place = zags.record()
    found = place.find(".//{*}МестоРожден")
    assert found is not None
    found.set("МестоТекст", "г. " + "Казань" * 100)
    refused(_zags(zags.answer(place)), "birth_place", "longer than 512", value="Казань" * 3)
    office = zags.record()
    held = office.find("{*}ОрганЗАГС")
    assert held is not None
    held.set("НаимЗАГС", f"Отдел ЗАГС {SCRIPT}")
    refused(_zags(zags.answer(office)), "act_record.office", "no < or >", value=SCRIPT)


def test_zags_too_many_records_or_an_out_of_range_birth_date_are_refused() -> None:
    many = zags.answer(*(zags.record() for _ in range(51)))
    refused(_zags(many), "СведРегРожд", "more than 50", value="СЕМЕНОВА")
    ancient = zags.answer(zags.record(birth="1899-12-31"))
    refused(_zags(ancient), "birth_date", "before 1900-01-01", value="1899-12-31")
    future = zags.answer(zags.record(birth="2100-01-01"))
    refused(_zags(future), "birth_date", "ahead", value="2100-01-01")


def test_zags_a_certificate_series_as_written_beyond_its_bound_is_refused() -> None:
    answer = zags.answer(zags.record(certificates=(("IV-АН" + "Б" * 20, "123456"),)))
    refused(_zags(answer), "birth_certificate.series", "longer than 12", value="ББББББ")


# --- ZAGS notices --------------------------------------------------------------------------


def test_zags_a_notice_with_a_name_out_of_bounds_is_refused() -> None:
    element = notices.record(Notice.DEATH, name=("ИВАНОВ", HUGE, "ПЕТРОВИЧ"))
    refused(lambda: translate_notification(element), "name.first", "longer than 100", value=HUGE)


def test_zags_a_notice_dated_out_of_range_is_refused() -> None:
    element = notices.record(Notice.DEATH)
    died = element.find(".//{*}ДатаСмертКаленд")
    assert died is not None
    died.text = "2100-01-01"
    refused(lambda: translate_notification(element), "death_date", "ahead", value="2100-01-01")


# --- PFR -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "value", "field", "bound"),
    [
        ("FirstName", HUGE, "name.first", "longer than 100"),
        ("FamilyName", SCRIPT, "name.last", "allows letters"),
        ("Patronymic", CONTROL, "name.middle", "allows letters"),
        ("BirthDate", "1850-01-01", "birth_date", "before 1900-01-01"),
    ],
    ids=["too long", "markup", "control character", "date out of range"],
)
def test_pfr_an_answer_out_of_bounds_is_refused(
    tag: str, value: str, field: str, bound: str
) -> None:
    answer = pfr.answer(**{tag: value})
    refused(lambda: translate_snils_response(answer, pfr.context()), field, bound, value=value)


# --- Gosuslugi -----------------------------------------------------------------------------

CHILD = "ApplicationRequest/ChildInfo"


@pytest.mark.parametrize(
    ("changes", "field", "bound", "value"),
    [
        ({"ChildInfo/ChildName": HUGE}, f"{CHILD}/ChildName", "longer than 100", HUGE),
        ({"ChildInfo/ChildName": SCRIPT}, f"{CHILD}/ChildName", "allows letters", SCRIPT),
        ({"ChildInfo/ChildSurname": DIGITS}, f"{CHILD}/ChildSurname", "allows letters", DIGITS),
        (
            {"ChildInfo/ChildBirthDate": "1899-01-01"},
            f"{CHILD}/ChildBirthDate",
            "before 1900",
            "1899-01-01",
        ),
        (
            {"PersonInfo/PersonPhone": "+7 (843) " + "1" * 30},
            "PersonInfo/PersonPhone",
            "longer than 21",
            "1" * 30,
        ),
        ({"EduOrganization/Name": f"Школа {SCRIPT}"}, "EduOrganization/Name", "no < or >", SCRIPT),
        ({"EntryParams/EntryDate": "2099-09-01"}, "EntryParams/EntryDate", "ahead", "2099-09-01"),
    ],
    ids=[
        "name too long",
        "markup",
        "digit in a name",
        "birth date out of range",
        "phone too long",
        "markup in a school's name",
        "entry date out of range",
    ],
)
def test_gosuslugi_an_application_out_of_bounds_is_refused(
    changes: dict[str, str], field: str, bound: str, value: str
) -> None:
    element = epgu.application(changes)
    refused(lambda: translate_application(element, epgu.REPLY), field, bound, value=value)


def test_gosuslugi_too_many_guardians_are_refused() -> None:
    element = epgu.application()
    guardian = element.find("{*}OtherRepresentative")
    assert guardian is not None
    for _ in range(4):  # five in all: the schema's maxOccurs is 4
        guardian.addnext(copy.deepcopy(guardian))
    refused(
        lambda: translate_application(element, epgu.REPLY),
        "OtherRepresentative",
        "more than 4",
        value="Ольга",
    )


def test_gosuslugi_a_cancellation_reason_beyond_its_bound_is_refused() -> None:
    element = epgu.cancel(reason="Передумали. " * 100)
    refused(
        lambda: translate_cancel(element),
        "CancelRequest/Reason",
        "longer than 1000",
        value="Передумали",
    )
