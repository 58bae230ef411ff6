"""``hub bench --suite translate``: agency answers and applications → canonical events.

Three kinds, each over a set of distinct messages built once (names with Ё and hyphens,
missing patronymics, partial dates, certificate series in Cyrillic look-alikes, upper-case
answers, placeholders, mismatches and not-found answers; applications with several
guardians, benefits and optional parts left out), with the registry's context for answers.
Three figures per kind, each the median of ``rounds`` passes over the set on one core:

* translate: the adapter's pure function on the element the hub's parser made
  (``translate_rogdinf_response``, ``translate_snils_response``, ``translate_application``
  with the ``ApplicationAccepted`` answer it builds for EPGU's ReplyTo);
* gate → translate: the same behind the adapter's intake gate (its schema, as the router runs
  it before every handler), the gate on and off side by side in one run;
* → CloudEvent: that, plus what the processor does with each draft (``Processor._event``):
  the event id, the CloudEvents envelope, the JSON bytes the relay publishes;
* bytes → CloudEvent: that, plus parsing the business payload with ``hub.xml.parse_xml``;
* bytes → gate → CloudEvent: that, with the gate between parsing and translating.

The official agency schemas come from the reference folder; without it their check is off
(said once) and only the canonical bounds hold.

The SMEV envelope (parse, signatures) is the ``smev`` suite's; the journal and broker the
``backbone`` suite's.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial

from lxml import etree
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hub.adapters.gosuslugi import register as register_gosuslugi
from hub.adapters.gosuslugi.requests import ReplyTarget
from hub.adapters.gosuslugi.schemas import APPLICATION
from hub.adapters.gosuslugi.schemas import NS as EPGU_NS
from hub.adapters.gosuslugi.translate import translate_application
from hub.adapters.pfr import register as register_pfr
from hub.adapters.pfr.requests import snils_context
from hub.adapters.pfr.schemas import RESPONSE as PFR_RESPONSE
from hub.adapters.pfr.translate import translate_snils_response
from hub.adapters.router import Gate, Router
from hub.adapters.zags import register as register_zags
from hub.adapters.zags.requests import rogdinf_context
from hub.adapters.zags.schemas import RESPONSE as ZAGS_RESPONSE
from hub.adapters.zags.translate import translate_rogdinf_response
from hub.bench.smev import _one_core
from hub.canonical.commands import VerifyBirthRecord, VerifySnils, parse_command
from hub.canonical.drafts import EventDraft
from hub.canonical.ids import event_id_for
from hub.config import Settings
from hub.journal.records import InboxRecord, InboxStatus
from hub.services.processing import cloud_event
from hub.simulator.documents import (
    Answer,
    Record,
    Spec,
    build_tree,
    rogdinf_record,
    rogdinf_response,
    snils_response,
    upper,
)
from hub.xml import parse_xml

TARGET = 5_000.0  # messages per second per kind, one core (issue 4)
INBOX_ID = "6f1d2c7e-0000-5000-8000-000000000001"
Translate = Callable[[etree._Element], Sequence[EventDraft]]


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Messages per second: the median of the rounds and the slowest and fastest round."""

    median: float
    low: float
    high: float


@dataclass(frozen=True)
class Result:
    kind: str
    messages: int  # distinct inputs, each translated once per round
    payload_bytes: int  # their average size
    outcomes: dict[str, int]  # event type → how many of the inputs make it
    rates: dict[str, Rate]  # by stage: translate, envelope, bytes (see STAGES)


@dataclass(frozen=True)
class Sample:
    """One input: the payload as the agency sends it, the tree the hub's parser made of it,
    and the translation with the request's context (or the reply target) bound."""

    payload: bytes
    element: etree._Element
    translate: Translate


def sample(element: etree._Element, translate: Translate) -> Sample:
    payload = etree.tostring(element, encoding="UTF-8")
    return Sample(payload, parse_xml(payload), translate)


# --- people --------------------------------------------------------------------------------

_FAMILIES = (
    ("Семёнов", "Семёнова"),
    ("Иванов", "Иванова"),
    ("Фёдоров", "Фёдорова"),
    ("Ахмеров", "Ахмерова"),
    ("Римский-Корсаков", "Римская-Корсакова"),
    ("Ким", "Ким"),
    ("Шевченко", "Шевченко"),
    ("Кузнецов", "Кузнецова"),
)
_FIRST = {
    "male": ("Артём", "Пётр", "Фёдор", "Иван", "Тимур", "Лев", "Семён"),
    "female": ("Алёна", "Мария", "Ксения", "Дарья", "Аиша", "Анна-Мария"),
}
_PATRONYMICS = (
    ("Игоревич", "Игоревна"),
    ("Петрович", "Петровна"),
    ("Ринатович", "Ринатовна"),
    ("Сергеевич", "Сергеевна"),
    ("Алексеевич", "Алексеевна"),
)
_LETTERS = "АВЕКМНОРСТХУБГДЖЗИЛПФЦЧШЭЮЯ"
_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
_LOOKALIKE_NUMERAL = str.maketrans("IXC", "ІХС")  # Cyrillic І, Х, С
_LOOKALIKE_LETTERS = str.maketrans("АВЕКМНОРСТХУ", "ABEKMHOPCTXY")  # Latin


@dataclass(frozen=True)
class Person:
    last: str
    first: str
    middle: str | None
    born: str  # YYYY-MM-DD
    sex: str  # male / female
    snils: str  # NNN-NNN-NNN CC

    @property
    def name(self) -> tuple[str, str, str | None]:
        return (self.last, self.first, self.middle)


def person(rng: random.Random, sex: str, born_from: int, born_to: int) -> Person:
    """Someone with a family name of their sex, one patronymic in eight missing."""
    last = rng.choice(_FAMILIES)[sex == "female"]
    middle = rng.choice(_PATRONYMICS)[sex == "female"] if rng.random() > 0.125 else None
    born = date(born_from, 1, 1) + timedelta(days=rng.randrange(365 * (born_to - born_from)))
    return Person(last, rng.choice(_FIRST[sex]), middle, born.isoformat(), sex, snils(rng))


def snils(rng: random.Random) -> str:
    """A SNILS with a correct check number (PFR's rule, see FACTS.md)."""
    digits = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    check = sum(int(d) * (9 - i) for i, d in enumerate(digits)) % 101 % 100
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {check:02d}"


def bare(snils: str) -> str:
    """A SNILS as PFR writes it: 11 digits."""
    return snils.replace("-", "").replace(" ", "")


def certificate(rng: random.Random) -> tuple[str, str]:
    series = f"{rng.choice(_NUMERALS)}-{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    return series, f"{rng.randrange(1_000_000):06d}"


def lookalike(series: str) -> str:
    """The series as people type it: Cyrillic numeral, Latin letters, an en dash."""
    numeral, _, letters = series.partition("-")
    return f"{numeral.translate(_LOOKALIKE_NUMERAL)}–{letters.translate(_LOOKALIKE_LETTERS)}"


def other_date(iso: str, days: int = 1) -> str:
    return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()


# --- ЕГР ЗАГС: ROGDINFResponse -------------------------------------------------------------


def _other(rng: random.Random, record: Record) -> Record:
    # A child of the same name, born elsewhere: another record in the answer.
    return replace(
        record, born=other_date(record.born or "2015-01-01", 400), certificates=(certificate(rng),)
    )


ZAGS_VARIANTS: dict[str, Callable[[Record, random.Random], Sequence[Record]]] = {
    "verified": lambda r, _: [r],
    "verified, look-alike series": lambda r, _: [
        replace(r, certificates=((lookalike(r.certificates[0][0]), r.certificates[0][1]),))
    ],
    "verified, month only": lambda r, _: [replace(r, born=(r.born or "")[:7])],
    "verified, year only, no father": lambda r, _: [
        replace(r, born=(r.born or "")[:4], father=None)
    ],
    "verified, re-issued certificate": lambda r, g: [
        replace(r, certificates=(certificate(g), *r.certificates))
    ],
    "verified, second of two records": lambda r, g: [_other(g, r), r],
    "mismatch, certificate number": lambda r, g: [
        replace(r, certificates=((r.certificates[0][0], certificate(g)[1]),))
    ],
    "mismatch, family name": lambda r, g: [replace(r, name=("ПЕТРОВА", *r.name[1:]))],
    "mismatch, date of birth": lambda r, _: [replace(r, born=other_date(r.born or "", 1))],
    "not found": lambda _r, _g: [],
}


def zags_samples(count: int, seed: int = 1) -> list[Sample]:
    """``count`` distinct answers, the variants in turn, each read against its request."""
    rng, samples = random.Random(seed), []
    variants = list(ZAGS_VARIANTS.values())
    for index in range(count):
        child = person(rng, rng.choice(("male", "female")), 2012, 2020)
        series, number = certificate(rng)
        context = rogdinf_context(_verify_birth_record(index, child, series, number))
        parents = person(rng, "female", 1978, 1996), person(rng, "male", 1975, 1994)
        name = tuple(map(upper, child.name))
        held = Record(name, child.born, ((series, number),), child.snils, *parents)
        records = variants[index % len(variants)](held, rng)
        code = "1" if records else rng.choice(("2", "2", "3"))
        element = rogdinf_response([rogdinf_record(r) for r in records], code, f"r-{index}")
        samples.append(sample(element, partial(translate_rogdinf_response, context=context)))
    return samples


def _verify_birth_record(index: int, child: Person, series: str, number: str) -> VerifyBirthRecord:
    command = parse_command(
        {
            "type": "verify_birth_record",
            "request_id": f"r-{index}",
            "student_id": f"s-{index}",
            "child": {"name": _name(child), "birth_date": child.born, "sex": child.sex},
            "birth_certificate": {"series": series, "number": number},
        }
    )
    assert isinstance(command, VerifyBirthRecord)  # noqa: S101 - the type just given
    return command


def _name(who: Person) -> dict[str, str]:
    return {"last": who.last, "first": who.first, **({"middle": who.middle} if who.middle else {})}


# --- PFR: SnilsByAdditionalDataResponse ----------------------------------------------------

PFR_VARIANTS: dict[str, Callable[[Answer, Person, random.Random], object]] = {
    "verified": lambda a, _p, _g: None,
    "verified, no patronymic": lambda a, _p, _g: a.update(Patronymic="НЕТ ДАННЫХ"),
    "verified, date placeholder": lambda a, _p, _g: a.update(BirthDate="0001-01-01"),
    "verified, mixed case with Ё": lambda a, p, _g: a.update(
        FamilyName=p.last, FirstName=p.first.lower()
    ),
    "mismatch, SNILS": lambda a, _p, g: a.update(Snils=bare(snils(g))),
    "mismatch, first name": lambda a, _p, _g: a.update(FirstName="АННА"),
    "mismatch, date of birth": lambda a, p, _g: a.update(BirthDate=other_date(p.born)),
    "mismatch, sex": lambda a, p, _g: a.update(Gender="Male" if p.sex == "female" else "Female"),
    # PFR's schema wants 11 digits: no one found is a number of zeros (the simulator's too)
    "not found, zeros": lambda a, _p, _g: a.update(Snils="0" * 11),
    "not found, zeros, placeholder patronymic": lambda a, _p, _g: a.update(
        Snils="0" * 11, Patronymic="НЕТ ДАННЫХ"
    ),
}


def pfr_samples(count: int, seed: int = 2) -> list[Sample]:
    """``count`` distinct answers, the variants in turn, each read against its request;
    one registry person in three has no SNILS yet."""
    rng, samples = random.Random(seed), []
    variants = list(PFR_VARIANTS.values())
    for index in range(count):
        who = person(rng, rng.choice(("male", "female")), 1975, 2020)
        context = snils_context(_verify_snils(index, who, with_snils=index % 3 != 0))
        answer = _pfr_fields(who)
        variants[index % len(variants)](answer, who, rng)
        translate = partial(translate_snils_response, context=context)
        samples.append(sample(snils_response(answer), translate))
    return samples


def _pfr_fields(who: Person) -> Answer:
    return {
        "FamilyName": upper(who.last),
        "FirstName": upper(who.first),
        "Patronymic": upper(who.middle) or "НЕТ ДАННЫХ",
        "Snils": bare(who.snils),
        "BirthDate": who.born,
        "Gender": who.sex.title(),
    }


def _verify_snils(index: int, who: Person, *, with_snils: bool) -> VerifySnils:
    command = parse_command(
        {
            "type": "verify_snils",
            "request_id": f"r-{index}",
            "person_id": f"p-{index}",
            "role": "student" if who.born > "2008" else "guardian",
            "person": {
                "name": _name(who),
                "birth_date": who.born,
                "sex": who.sex,
                **({"snils": who.snils} if with_snils else {}),
            },
            "document": {"kind": "birth_certificate", "series": "IV-АН", "number": "123456"},
        }
    )
    assert isinstance(command, VerifySnils)  # noqa: S101 - the type just given
    return command


# --- Gosuslugi: ApplicationRequest ---------------------------------------------------------

_BENEFITS = ("101", "102", "205", "301", "407")
_RELATIONS = ("Mother", "Father", "LegalRepresentative")


def gosuslugi_samples(count: int, seed: int = 3) -> list[Sample]:
    """``count`` distinct applications: an applicant, 0–2 other guardians, 0–3 benefits,
    optional parts (passport, SNILS, contacts) present or not, names in upper case or with
    Ё, the certificate series in look-alikes; each answered to its ReplyTo."""
    rng, samples = random.Random(seed), []
    for index in range(count):
        root = etree.Element(APPLICATION, nsmap={"se": EPGU_NS})
        build_tree(root, _application(rng, index), EPGU_NS)
        target = ReplyTarget(f"inbox-{index}", "eyJzaWQiOjF9", datetime(2026, 3, 1, tzinfo=UTC))
        samples.append(sample(root, partial(_application_events, reply=target)))
    return samples


def _application_events(element: etree._Element, reply: ReplyTarget) -> Sequence[EventDraft]:
    return translate_application(element, reply).events


def _application(rng: random.Random, index: int) -> Spec:
    child = person(rng, rng.choice(("male", "female")), 2018, 2020)
    others = tuple(("OtherRepresentative", _guardian(rng, r)) for r in _relations(rng))
    benefits = tuple(("BenefitInfo", (("BenefitCategory", b),)) for b in _benefit_codes(rng))
    return (
        ("orderId", str(1_000_000_000 + index)),
        ("FilingDate", f"2026-03-01T{rng.randrange(9, 18):02d}:15:00+03:00"),
        ("PersonInfo", _applicant(rng)),
        *others,
        ("ChildInfo", _child(rng, child)),
        (
            "EduOrganization",
            (("Code", f"16-{rng.randrange(1, 400):04d}"), ("Name", "МБОУ «Школа № 1»")),
        ),
        (
            "EntryParams",
            (("Grade", str(rng.choice((1, 1, 1, 2, 5, 10)))), ("EntryDate", "2026-09-01")),
        ),
        *benefits,
        ("Consents", (("PersonalDataConsent", "true"), ("DataAccuracyConfirmed", "true"))),
    )


def _relations(rng: random.Random) -> list[str]:
    return rng.sample(_RELATIONS[1:], k=rng.choice((0, 1, 1, 2)))


def _benefit_codes(rng: random.Random) -> list[str]:
    return rng.sample(_BENEFITS, k=rng.choice((0, 0, 1, 2, 3)))


def _people(who: Person, prefix: str, rng: random.Random) -> Spec:
    shout = rng.random() < 0.2  # some applicants type in capitals
    name = tuple(map(upper, who.name)) if shout else who.name
    parts = (
        ("Surname", name[0]),
        ("Name", name[1]),
        ("MiddleName", name[2]),
        ("BirthDate", who.born),
        ("Sex", who.sex.title()),
    )
    spec = tuple((f"{prefix}{tag}", text) for tag, text in parts if text)
    return (*spec, (f"{prefix}SNILS", who.snils)) if rng.random() < 0.75 else spec


def _guardian(rng: random.Random, relation: str) -> Spec:
    who = person(
        rng, "female" if relation == "Mother" else rng.choice(("male", "female")), 1975, 1998
    )
    return (*_people(who, "Person", rng), ("PersonType", relation))


def _applicant(rng: random.Random) -> Spec:
    who = person(rng, "female", 1975, 1998)
    contacts = (("PersonPhone", "+7 (843) 123-45-67"), ("PersonEmail", "parent@example.ru"))
    passport = (
        ("IdentityDocSeries", f"92{rng.randrange(100):02d}"),
        ("IdentityDocNumber", f"{rng.randrange(1_000_000):06d}"),
        ("IdentityDocIssueDate", other_date(who.born, 365 * 20)),
        ("IdentityDocIssued", "МВД по Республике Татарстан"),
    )
    document = (("PersonIdentityDocInfo", passport),) if rng.random() < 0.8 else ()
    return (
        *_people(who, "Person", rng),
        *contacts[: rng.randrange(3)],
        *document,
        ("PersonType", "Mother"),
    )


def _child(rng: random.Random, child: Person) -> Spec:
    series, number = certificate(rng)
    document = (
        ("ChildBirthDocSeries", lookalike(series) if rng.random() < 0.3 else series),
        ("ChildBirthDocNumber", number),
        ("ChildBirthDocIssueDate", other_date(child.born, 20)),
    )
    return (*_people(child, "Child", rng), ("ChildBirthDocRF", document))


# --- measuring -----------------------------------------------------------------------------

ROOTS = {"zags": ZAGS_RESPONSE, "pfr": PFR_RESPONSE, "gosuslugi": APPLICATION}
KINDS: dict[str, tuple[str, Callable[[int], list[Sample]]]] = {
    "zags": ("ROGDINFResponse → birth event", zags_samples),
    "pfr": ("SnilsByAdditionalDataResponse → SNILS event", pfr_samples),
    "gosuslugi": ("ApplicationRequest → application event", gosuslugi_samples),
}


def publishable(drafts: Sequence[EventDraft], record: InboxRecord) -> list[bytes]:
    """What ``Processor._event`` makes of each draft: its id, envelope and JSON bytes."""
    return [
        json.dumps(
            cloud_event(event_id_for(record.inbox_id, position), record, draft, datetime.now(UTC)),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        for position, draft in enumerate(drafts)
    ]


def gates(settings: Settings | None = None) -> dict[str, Gate]:
    """Each kind's intake gate, as the adapters register it with the router."""
    router = Router(settings or Settings())
    for register in (register_zags, register_pfr, register_gosuslugi):
        register(router)
    return {kind: router.gates[root] for kind, root in ROOTS.items()}


def stages(agency: str, gate: Gate) -> dict[str, Callable[[Sample], object]]:
    record = InboxRecord(
        INBOX_ID,
        "smev",
        "m-1",
        b"",
        agency,
        None,
        None,
        {},
        datetime.now(UTC),
        InboxStatus.RECEIVED,
        1,
    )
    return {
        "translate": lambda s: s.translate(s.element),
        "gate": lambda s: s.translate(_through(gate, s.element)),
        "envelope": lambda s: publishable(s.translate(s.element), record),
        "bytes": lambda s: publishable(s.translate(parse_xml(s.payload)), record),
        "gated": lambda s: publishable(s.translate(_through(gate, parse_xml(s.payload))), record),
    }


def _through(gate: Gate, element: etree._Element) -> etree._Element:
    gate(element)
    return element


def _pass(samples: Sequence[Sample], step: Callable[[Sample], object]) -> float:
    start = time.perf_counter()
    for one in samples:
        step(one)
    return len(samples) / (time.perf_counter() - start)


def measure(kind: str, samples: Sequence[Sample], rounds: int, gate: Gate) -> Result:
    """Every stage over every sample, ``rounds`` times; the stages interleaved, so a burst
    of CPU steal falls on all of them rather than on one."""
    steps = stages(kind, gate)
    for step in steps.values():
        _pass(samples, step)  # warm up: the regexes compiled, the schemas' names interned
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        gc.collect()  # one round's garbage is not the next round's pause
        for name, step in steps.items():
            rates[name].append(_pass(samples, step))
    summary = {name: _rate(values) for name, values in rates.items()}
    outcomes = Counter(d.type for s in samples for d in s.translate(s.element))
    size = sum(len(s.payload) for s in samples) // max(len(samples), 1)
    return Result(kind, len(samples), size, dict(outcomes), summary)


def _rate(values: Sequence[float]) -> Rate:
    return Rate(statistics.median(values), min(values), max(values))


def run(console: Console, messages: int = 1_000, rounds: int = 7) -> list[Result]:
    """Build ``messages`` inputs per kind, measure them on one core and print the table."""
    _one_core()
    results, gated = [], gates()
    for kind, (label, build) in KINDS.items():
        result = measure(kind, build(messages), rounds, gated[kind])
        outcomes = ", ".join(f"{t.rpartition('.')[2]} {n:,}" for t, n in result.outcomes.items())
        console.print(
            f"{kind}: {result.messages:,} × {label}, {result.payload_bytes:,} B: {outcomes}"
        )
        results.append(result)
    console.print(table(results, rounds))
    return results


STAGES = {
    "translate": "translate",
    "gate": "gate → translate",
    "envelope": "→ CloudEvent",
    "bytes": "bytes → CloudEvent",
    "gated": "bytes → gate → CloudEvent",
}


def table(results: Sequence[Result], rounds: int) -> Table:
    """One row per kind and stage: the median and the slowest and fastest round."""
    out = Table(title=f"hub bench: translation, one core (rounds: {rounds})")
    for column in ("kind", "stage", "median msg/s", "slowest", "fastest", f"≥ {TARGET:,.0f}"):
        out.add_column(column, justify="left" if column in {"kind", "stage"} else "right")
    for result in results:
        for position, (stage, rate) in enumerate(result.rates.items()):
            met = Text("yes") if rate.median >= TARGET else Text("no", style="red")
            row = (f"{rate.median:,.0f}", f"{rate.low:,.0f}", f"{rate.high:,.0f}", met)
            out.add_row("" if position else result.kind, STAGES[stage], *row)
    return out
