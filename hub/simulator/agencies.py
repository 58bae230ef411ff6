"""Agency emulators living inside the simulator (``Exchange.attach``), answering from a
synthetic ``Population`` with the searches it defines, so its expected outcomes hold:

* ``ZagsEmulator`` answers ROGDINFRequest 4.0.1 with ROGDINFResponse (the records
  ``population.zags.find`` gives, or РезОбраб 2 "not found") and pushes the population's
  change notifications (``push_notices``) in the SMEV 1.3 directive wrapper;
* ``PfrEmulator`` answers SnilsByAdditionalDataRequest 1.0.1 with what
  ``population.pfr.find`` holds (an all-zero Snils when it holds no one);
* ``GosuslugiEmulator`` submits the population's enrollment applications at a set rate
  (``due``/``step``, driven by the caller's clock) and answers each ``orderStatusEvent``
  with ``orderStatusEventResponse`` code 0, recording the statuses it got.

``install`` registers the three systems, routes their kinds of data and their schemas.
A request of a kind an emulator does not serve is rejected (UNKNOWN_REQUEST_DESCRIPTION).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from lxml import etree

from hub.adapters.gosuslugi import schemas as epgu
from hub.adapters.pfr import schemas as pfr
from hub.adapters.zags import schemas as zags
from hub.canonical.events import EnrollmentApplication
from hub.canonical.values import (
    BirthCertificate,
    FullName,
    InvalidValueError,
    PartialDate,
    PassportRF,
    Person,
    Sex,
)
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.simulator.documents import (
    FOUND,
    NOT_FOUND,
    ActEntry,
    Answer,
    Document,
    NamedParent,
    Record,
    application_request,
    notification,
    rogdinf_record,
    rogdinf_response,
    snils_response,
    upper,
)
from hub.simulator.exchange import Answer as Reply
from hub.simulator.exchange import Exchange
from hub.simulator.population import BirthRecord, Population, SnilsHolder, ZagsNotice, applications
from hub.smev.build import FileStoreAttachment
from hub.smev.model import Rejection
from hub.smev.read import SmevMessage
from hub.xml.navigate import child, text

UNKNOWN = Rejection("UNKNOWN_REQUEST_DESCRIPTION", "Запрос этого вида не обслуживается")
NO_PATRONYMIC = "НЕТ ДАННЫХ"  # PFR's placeholder
NO_SNILS = "0" * 11  # PFR found no one: the schema wants 11 digits all the same
_GENDER = {Sex.MALE: "Male", Sex.FEMALE: "Female"}


# --- ЕГР ЗАГС ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeAnswer:
    """The subscriber's answer to a notification: the record id and КодОбр."""

    record_id: str
    code: str


class ZagsEmulator:
    """ЕГР ЗАГС: birth records from the population; its change notifications."""

    mnemonic = "ZAGS"

    def __init__(self, population: Population) -> None:
        self.population = population
        self.answers: list[NoticeAnswer] = []

    def on_request(self, request: SmevMessage) -> Reply | None:
        """ROGDINFResponse for a ROGDINFRequest; a Rejection for anything else."""
        content = request.content
        if content is None or content.tag != zags.REQUEST:
            return UNKNOWN
        try:
            found = self._find(content)
        except InvalidValueError:
            found = []  # a name or date ZAGS cannot search by finds nothing
        on = self.population.reference_date.isoformat()
        records = [rogdinf_record(r) for held in found for r in _versions(held, on)]
        key = content.get("ИдЗапрос") or request.message_id or ""
        return rogdinf_response(records, FOUND if records else NOT_FOUND, key, on)

    def on_response(self, response: SmevMessage) -> None:
        """Keeps the subscriber's answers to the notifications pushed."""
        content = response.content
        if content is not None and content.get("ИдСвед"):
            self.answers.append(NoticeAnswer(content.get("ИдСвед", ""), content.get("КодОбр", "")))

    def push_notices(
        self, exchange: Exchange, notices: tuple[ZagsNotice, ...], *, test: bool = False
    ) -> list[str]:
        """Each notice as a request of ZAGS's (routed by its namespace); their MessageIDs.
        ``test``: sent as test requests (TestMessage), to be answered and change nothing."""
        return [
            exchange.push_request(self.mnemonic, notification(n), test_message=test)
            for n in notices
        ]

    def _find(self, content: etree._Element) -> list[BirthRecord]:
        query = child(content, "СведЗапрос")
        person = child(query, "СведФЛ")
        names = child(person, "ФИО")
        name = FullName.parse(*(text(names, p) or "" for p in ("Фамилия", "Имя", "Отчество")))
        act = child(query, "СведАГС")
        act_number = act.get("НомерЗапис") if act is not None else None
        return self.population.zags.find(name, _zags_date(person), act_number)


def _zags_date(person: etree._Element | None) -> PartialDate | None:
    full = text(person, "ДатаРождКаленд")
    if full is not None:
        return PartialDate.parse(full)
    parts = child(person, "ДатаРождДок")
    if parts is None:
        return None
    year, month, day = (text(parts, tag) for tag in ("Год", "Месяц", "День"))
    iso = "-".join(f"{int(v):02d}" for v in (month, day) if v is not None)
    return PartialDate.parse(f"{year}-{iso}" if iso else year or "")


def _record(held: BirthRecord) -> Record:
    child, act = held.child, held.act_record
    return Record(
        name=tuple(map(upper, (child.name.last, child.name.first, child.name.middle))),
        born=child.birth_date.iso() if child.birth_date else None,
        certificates=((held.certificate.series, held.certificate.number),),
        snils=child.snils.formatted if child.snils else None,
        mother=_parent(held.mother),
        father=_parent(held.father) if held.father is not None else None,
        sex="1" if child.sex is Sex.MALE else "2",
        place=child.birth_place or "Нет данных",
        act=ActEntry(
            act.number, act.date.iso() if act.date else "", act.office or "", held.office_code
        ),
    )


def _versions(held: BirthRecord, on: str) -> list[Record]:
    """The record as ZAGS answers with it: one version, or, when a correction replaced its
    certificate, the superseded version 1 first and the current version 2 after it (document
    order says nothing: the version number does)."""
    current = _record(held)
    old = held.superseded_certificate
    if old is None:
        return [current]
    dated = current.act.date
    corrected = min(_year_later(dated), on) if dated else on  # ISO dates order as text
    superseded = replace(current, certificates=((old.series, old.number),))
    return [superseded, replace(current, version="2", version_date=corrected, state="0102")]


def _year_later(iso: str) -> str:
    day = date.fromisoformat(iso)
    return day.replace(year=day.year + 1, day=min(day.day, 28)).isoformat()


def _parent(who: Person) -> NamedParent:
    name = (who.name.last, who.name.first, who.name.middle)
    return NamedParent(name, who.birth_date.iso() if who.birth_date else "")


# --- PFR -----------------------------------------------------------------------------------


class PfrEmulator:
    """PFR/SFR: SNILS by additional data, from the people the population holds."""

    mnemonic = "PFR"

    def __init__(self, population: Population) -> None:
        self.population = population

    def on_request(self, request: SmevMessage) -> Reply | None:
        """SnilsByAdditionalDataResponse for its request; a Rejection for anything else."""
        content = request.content
        if content is None or content.tag != pfr.REQUEST:
            return UNKNOWN
        asked = _asked_person(content)
        document = _document(content)
        held = self._find(asked, document)
        return snils_response(_answer(asked, held), document)

    def on_response(self, response: SmevMessage) -> None:
        """PFR sends no requests of its own: nothing comes back."""

    def _find(self, asked: Person | None, document: Document | None) -> SnilsHolder | None:
        if asked is None:
            return None
        try:
            known = _known_document(document)
        except InvalidValueError:
            known = None
        return self.population.pfr.find(asked.name, asked.birth_date, asked.sex, known)


def _asked_person(content: etree._Element) -> Person | None:
    try:
        name = FullName.parse(
            *(text(content, t) or "" for t in ("FamilyName", "FirstName", "Patronymic"))
        )
        born = PartialDate.parse(text(content, "BirthDate") or "")
        return Person(name, born, Sex.parse(text(content, "Gender") or ""))
    except InvalidValueError:
        return None  # what PFR cannot search by finds no one


def _document(content: etree._Element) -> Document | None:
    for kind in ("PassportRF", "BirthCertificate"):
        holder = child(content, kind)
        if holder is not None:
            parts = (text(holder, t) or "" for t in ("Series", "Number", "IssueDate", "Issuer"))
            series, number, issued, issuer = parts
            return (kind, series, number, issued, issuer)
    return None


def _known_document(document: Document | None) -> BirthCertificate | PassportRF | None:
    if document is None:
        return None
    kind, series, number, _issued, _issuer = document
    if kind == "PassportRF":
        return PassportRF.parse(series, number)
    return BirthCertificate.parse(series, number)


def _answer(asked: Person | None, held: SnilsHolder | None) -> Answer:
    who = held.person if held is not None else asked
    if who is None:
        who = Person(FullName("НЕТ ДАННЫХ", "НЕТ ДАННЫХ"))
    snils = who.snils.digits if held is not None and who.snils is not None else NO_SNILS
    return {
        "FamilyName": upper(who.name.last),
        "FirstName": upper(who.name.first),
        "Patronymic": upper(who.name.middle) or NO_PATRONYMIC,
        "Snils": snils,
        "BirthDate": who.birth_date.iso() if who.birth_date else "0001-01-01",
        "Gender": _GENDER[who.sex] if who.sex else "Female",
    }


# --- Gosuslugi -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedStatus:
    """An application's status as EPGU received it (orderStatusEvent)."""

    order_number: str
    code: int
    comment: str | None


@dataclass
class GosuslugiEmulator:
    """EPGU: submits ``count`` applications, ``rate`` per second from the first ``step``;
    answers order-status events and keeps them."""

    population: Population
    count: int
    rate: float
    mnemonic: str = "EPGU"
    # each application with a scan of the birth certificate, put in the exchange's file store
    with_documents: bool = False
    applications: tuple[EnrollmentApplication, ...] = field(init=False)
    sent: list[str] = field(default_factory=list, init=False)  # MessageIDs, in order
    accepted: list[str] = field(default_factory=list, init=False)  # order numbers answered
    statuses: list[ReceivedStatus] = field(default_factory=list, init=False)
    _started: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be above 0 applications per second")
        self.applications = applications(self.population, self.count)

    def due(self, now: float) -> int:
        """How many applications are due by ``now`` (seconds, the caller's clock) and not
        yet sent: one at the first call, then ``rate`` per second."""
        if self._started is None:
            self._started = now
        by_now = math.floor((now - self._started) * self.rate) + 1
        return max(0, min(len(self.applications), by_now) - len(self.sent))

    def step(self, exchange: Exchange, now: float) -> list[str]:
        """Sends the applications due by ``now``; their MessageIDs."""
        start = len(self.sent)
        for application in self.applications[start : start + self.due(now)]:
            content, documents = application_request(application), self._documents(exchange)
            self.sent.append(exchange.push_request(self.mnemonic, content, attachments=documents))
        return self.sent[start:]

    def _documents(self, exchange: Exchange) -> list[FileStoreAttachment]:
        if not self.with_documents or exchange.file_store is None:
            return []
        number = len(self.sent) + 1
        scan = b"%PDF-1.4\n% synthetic scan of a birth certificate, application " + (
            f"{number}\n".encode() + bytes(range(256)) * 16 + b"\n%%EOF\n"
        )
        stored = exchange.file_store.put(scan, f"birth-certificate-{number}.pdf", "application/pdf")
        return [stored.header()]

    def push_test(self, exchange: Exchange, index: int = 0) -> str:
        """Application ``index`` once more, as a test request (TestMessage), which the hub
        must answer without registering it; its MessageID (not in ``sent``)."""
        content = application_request(self.applications[index])
        return exchange.push_request(self.mnemonic, content, test_message=True)

    def cancel(self, exchange: Exchange, index: int = 0) -> str:
        """SMEV's Cancel (1.1/1.2) of the ``index``-th application sent: the applicant
        withdrew it. The Cancel's MessageID."""
        return exchange.push_cancel(self.mnemonic, self.sent[index])

    @property
    def done(self) -> bool:
        return len(self.sent) == len(self.applications)

    def on_request(self, request: SmevMessage) -> Reply | None:
        """``orderStatusEventResponse`` code 0 for an ``orderStatusEvent``, kept."""
        content = request.content
        if content is None or content.tag != epgu.STATUS_EVENT:
            return UNKNOWN
        code = text(child(content, "statusCode"), "techCode") or text(
            child(content, "statusCode"), "orgCode"
        )
        number = text(content, "orderId") or ""
        self.statuses.append(ReceivedStatus(number, int(code or 0), text(content, "eventComment")))
        answer = etree.Element(epgu.STATUS_RESPONSE, nsmap=epgu.EVENT_NSMAP)
        etree.SubElement(answer, f"{{{epgu.EVENT_NS}}}code").text = "0"
        return answer

    def on_response(self, response: SmevMessage) -> None:
        """Keeps the order numbers the hub accepted (ApplicationAccepted)."""
        content = response.content
        if content is not None and content.tag == epgu.ACCEPTED:
            self.accepted.append(text(content, "orderId") or "")


# --- wiring --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agencies:
    zags: ZagsEmulator
    pfr: PfrEmulator
    gosuslugi: GosuslugiEmulator


def install(
    exchange: Exchange,
    population: Population,
    *,
    subscriber: str,
    reference_dir: Path,
    schemas_dir: Path = PROJECT_SCHEMAS_DIR,
    applications_count: int = 0,
    rate: float = 10.0,
) -> Agencies:
    """The three emulators attached to ``exchange``: requests of their kinds go to them,
    ZAGS notifications and Gosuslugi applications to system ``subscriber`` (the hub, which
    must be registered); every kind's business data checked against its schema (the
    official ones in ``reference_dir``, the hub's own in ``schemas_dir``)."""
    made = Agencies(
        ZagsEmulator(population),
        PfrEmulator(population),
        GosuslugiEmulator(population, applications_count, rate),
    )
    for agency, namespaces in (
        (made.zags, {zags.NS: zags.xsd_path(reference_dir)}),
        (made.pfr, {pfr.NS: pfr.xsd_path(reference_dir)}),
        (made.gosuslugi, {epgu.EVENT_NS: schemas_dir / epgu.ORDER_STATUS_SCHEMA}),
    ):
        exchange.register_system(agency.mnemonic)
        exchange.attach(agency.mnemonic, agency)
        _serve(exchange, agency.mnemonic, namespaces)
    notices = {ns: zags.own_xsd_path(kind, schemas_dir) for ns, kind in zags.NOTICES.items()}
    _serve(exchange, subscriber, {**notices, epgu.NS: schemas_dir / epgu.ENROLLMENT_SCHEMA})
    return made


def _serve(exchange: Exchange, mnemonic: str, namespaces: dict[str, Path]) -> None:
    for namespace, xsd in namespaces.items():
        exchange.route(namespace, mnemonic)
        exchange.register_schema(namespace, xsd)
