"""The canonical bounds, near their edges (Hypothesis): a text of the longest length a bound
allows is taken, one character more is refused naming the field and the bound, never the
value; the published schemas say the same as the check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hub.canonical import bounds
from hub.canonical.values import FullName, InvalidValueError, Person
from hub.errors import IntakeError

pytestmark = pytest.mark.unit

NAME_LETTERS = st.sampled_from("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя")
NAME_MARKS = st.sampled_from(" -'’.,")  # a name's own marks: spaces, hyphens, apostrophes
FREE = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="<>")


def name_of(length: int) -> st.SearchStrategy[str]:
    """A name ``length`` characters long: letters, with marks inside, never at the ends
    (``FullName.parse`` squeezes spaces, so an outer or doubled space would shorten it)."""
    inner = st.lists(
        st.one_of(NAME_LETTERS, NAME_LETTERS, NAME_MARKS), min_size=length - 2, max_size=length - 2
    ).map("".join)
    return st.tuples(NAME_LETTERS, inner, NAME_LETTERS).map("".join).filter(lambda s: "  " not in s)


LONGEST = bounds.NAME_PART.longest


@given(name_of(LONGEST))
def test_a_name_part_of_the_longest_length_is_taken(first: str) -> None:
    assert FullName.parse("Иванова", first).first == first


@given(name_of(LONGEST + 1))
def test_one_character_more_is_refused_naming_the_field_and_bound(first: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        FullName.parse("Иванова", first, field="child.name")
    assert isinstance(caught.value, IntakeError)
    assert caught.value.details == {"field": "child.name.first", "bound": f"maxLength {LONGEST}"}
    assert first not in str(caught.value) and first[:10] not in str(caught.value)


@given(st.text(FREE, min_size=1, max_size=bounds.PLACE.longest + 40))
def test_a_place_is_taken_exactly_up_to_its_bound(place: str) -> None:
    name = FullName("Иванова", "Анна")
    if len(place) <= bounds.PLACE.longest:
        assert Person(name, birth_place=place).birth_place == place
    else:
        with pytest.raises(InvalidValueError, match=r"person\.birth_place: longer than 512"):
            Person(name, birth_place=place)


@given(
    st.sampled_from(
        [
            bounds.NAME_PART,
            bounds.PLACE,
            bounds.ACT_NUMBER,
            bounds.PHONE,
            bounds.REASON,
            bounds.SCHOOL_CODE,
            bounds.EMAIL,
        ]
    ),
    st.text(max_size=120),
)
def test_the_published_bound_says_what_the_check_does(bound: bounds.TextBound, text: str) -> None:
    schema = Draft202012Validator({"type": "string", **bound.json_schema()})
    try:
        bound.check(text, "field")
        checked = True
    except InvalidValueError:
        checked = False
    # Python's "$" also matches before a final line feed; ECMA-262's (the schema's) does not
    assert schema.is_valid(text) == checked or text.endswith("\n")


@pytest.mark.parametrize("text", ["<b>", "Анна\x00", "Анна\x1b[31m", "Анна\x9b"])
def test_markup_and_control_characters_are_no_free_text(text: str) -> None:
    with pytest.raises(InvalidValueError, match="no control characters and no < or >"):
        bounds.PLACE.check(text, "place")


@pytest.mark.parametrize(
    "name",
    [
        "Римская-Корсакова",
        "Д'Артаньян",
        "Д’Артаньян",
        "Анна Мария",
        "Семёнова",
        "O'Connor",
        "Müller",
        "Сен-Жюст",
        "мл.",
    ],
)
def test_genuine_names_are_in_the_alphabet(name: str) -> None:
    assert bounds.NAME_PART.check(name, "name") == name


@pytest.mark.parametrize(
    ("year", "month", "day", "why"),
    [(1899, 12, 31, "before 1900-01-01"), (2999, 1, 1, "ahead"), (1900, None, None, None)],
)
def test_a_birth_date_is_in_range(
    year: int, month: int | None, day: int | None, why: str | None
) -> None:
    if why is None:
        bounds.BIRTH.check(year, month, day, "birth_date")
        return
    with pytest.raises(InvalidValueError, match=why):
        bounds.BIRTH.check(year, month, day, "birth_date")


@given(st.text(max_size=5000))
def test_an_informative_text_is_made_to_fit_never_refused(text: str) -> None:
    # A refusal's reason settles the request it answers: refusing the reason would not.
    fitted = bounds.REASON.clipped(text)
    assert bounds.REASON.check(fitted, "reason") == fitted
    assert len(text) > bounds.REASON.longest or len(fitted) == len(text)


def test_markup_in_a_reason_becomes_look_alikes_and_a_long_one_is_cut_marked() -> None:
    assert (
        bounds.REASON.clipped("Element '<Snils>' is not valid") == "Element '‹Snils›' is not valid"
    )
    cut = bounds.REASON.clipped("я" * 5000)
    assert len(cut) == bounds.REASON.longest and cut.endswith("…")
