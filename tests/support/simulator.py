"""Shared pieces for the SMEV simulator's tests: parties with keys, a fake clock, a world."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.crypto import GostBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate, PrivateKey
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner
from hub.simulator import Exchange, ExchangeConfig
from hub.simulator.transport import ExchangeTransport
from hub.simulator.world import World
from hub.smev import SmevMessage, read_message, serialize
from hub.smev.schemas import validate
from hub.xml import parse_xml
from hub.xml.xsd import load_xsd

ZAGS_NS = "urn://x-artefacts-zags-rogdinf/root/112-51/4.0.1"
ZAGS_TYPES_NS = "urn://x-artefacts-zags-rogdinf/types/4.0.1"
ZAGS_XSD = Path("agencies/zags/rogdinf-4.0.1/zags-rogdinf-ru-root.xsd")
NOTICE_NS = "urn://x-artefacts-zags-rogdzp/root/112-23/4.0.1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass(frozen=True)
class Party:
    """An information system outside the simulator: its mnemonic, certificate and signer."""

    mnemonic: str
    certificate: Certificate
    signer: XmlSigner


def make_party(backend: GostBackend, mnemonic: str, *, days: int = 365) -> Party:
    key = generate_private_key()
    start = datetime.now(UTC) - timedelta(days=1)
    certificate = self_signed_certificate(backend, key, mnemonic, days=days, not_before=start)
    return Party(
        mnemonic, certificate, XmlSigner(LocalKeySigner(backend, key, certificate), backend)
    )


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_exchange(
    backend: GostBackend,
    reference_dir: Path,
    parties: tuple[Party, ...],
    config: ExchangeConfig | None = None,
    clock: FakeClock | None = None,
) -> Exchange:
    """An exchange where ``parties`` are registered and ZAGS births go to the ``ZAGS`` party."""
    config = config or ExchangeConfig(xsd_dir=reference_dir / "smev" / "xsd")
    exchange = Exchange.create(backend, config, clock or FakeClock())
    for party in parties:
        exchange.register_system(party.mnemonic, f"ИС {party.mnemonic}", party.certificate)
    exchange.register_system("ZAGS", "ЕГР ЗАГС")
    exchange.route(ZAGS_NS, "ZAGS")
    exchange.register_schema(ZAGS_NS, reference_dir / ZAGS_XSD)
    return exchange


def call(exchange: Exchange, envelope: etree._Element, version: str = "1.3") -> SmevMessage:
    """One SOAP call in process; the answer read by the hub's own reader."""
    reply = exchange.handle(serialize(envelope), version)
    message = read_message(reply.body)
    assert (reply.status == 500) == (message.kind == "fault")
    return message


def birth_request(surname: str = "Иванов", number: str = "42") -> etree._Element:
    """A ROGDINFRequest that validates against the official ZAGS schema."""
    text = _BIRTH_REQUEST.format(ns=ZAGS_NS, types=ZAGS_TYPES_NS, surname=surname, number=number)
    return parse_xml(text.encode())


def birth_response(number: str = "42") -> etree._Element:
    """A ROGDINFResponse that validates against the official ZAGS schema (no record found:
    РезОбраб 2)."""
    return parse_xml(_BIRTH_RESPONSE.format(ns=ZAGS_NS, number=number).encode())


def uuid1_at(moment: datetime) -> str:
    """A version-1 UUID whose timestamp is ``moment``."""
    ticks = int((moment - datetime(1582, 10, 15, tzinfo=UTC)).total_seconds() * 10_000_000)
    fields = (
        ticks & 0xFFFFFFFF,
        (ticks >> 32) & 0xFFFF,
        ((ticks >> 48) & 0x0FFF) | 0x1000,
        0x80,
        0x00,
        0x0242AC110002,
    )
    return str(uuid.UUID(fields=fields))


def assert_valid_reply(body: bytes, version: str, xsd_dir: Path) -> None:
    """A SMEV reply validates against the official schema: the Body's child, or for a
    fault the SMEV element in its detail."""
    root = parse_xml(body)
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    if fault is None:
        validate(root, version, xsd_dir)
        return
    detail = fault.find("detail")
    if detail is not None:
        schema = load_xsd((xsd_dir / f"smev-message-exchange-faults-{version}.xsd").resolve())
        assert schema.validate(detail[0]), schema.error_log


_BIRTH_REQUEST = """<tns:ROGDINFRequest xmlns:tns="{ns}" xmlns:fnst="{types}" ИдЗапрос="{number}"
 КолДок="1" ТипАГС="01"><tns:СведОсн КодНормОсн="01"><tns:ПрСведДокОсн>1</tns:ПрСведДокОсн>
</tns:СведОсн><tns:СведЗапрос ИдДок="d-{number}"><tns:СведФЛ ТипУчАЗ="1"><tns:ФИО>
<fnst:Фамилия>{surname}</fnst:Фамилия><fnst:Имя>Алёна</fnst:Имя><fnst:Отчество>Игоревна
</fnst:Отчество></tns:ФИО><tns:ДатаРождКаленд>2015-04-12</tns:ДатаРождКаленд></tns:СведФЛ>
<tns:ПрРегионРегАГС>1</tns:ПрРегионРегАГС></tns:СведЗапрос></tns:ROGDINFRequest>"""
_BIRTH_RESPONSE = """<tns:ROGDINFResponse xmlns:tns="{ns}" ИдЗапрос="{number}" ДатаСвед="2026-03-01"
 КолДок="1" ТипАГСЗапрос="01"><tns:СведОтветАГС ИдДок="d-{number}" РезОбраб="2"/>
</tns:ROGDINFResponse>"""


def hub_on_exchange(
    tmp_path: Path,
    prefix: str,
    exchange: Exchange,
    dev_key_pair: tuple[Any, Certificate],
    backend: Any,
    **settings: Any,
) -> Hub:
    """The embedded hub (SQLite, memory://) talking to ``exchange`` in process, topology
    declared; signatures are not required of what it takes."""
    base = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        broker_url="memory://",
        topology_prefix=prefix,
        require_signatures=False,
        **settings,
    )
    signer = LocalKeySigner(backend, dev_key_pair[0], dev_key_pair[1])
    transport = ExchangeTransport(exchange, base.smev_version)  # the endpoint of its version
    hub = bootstrap(base, key_signer=signer, transport=transport)
    hub.bus.declare()
    return hub


def key_files(
    folder: Path, key: PrivateKey, certificate: Certificate, world: World
) -> dict[str, str]:
    """The hub's key pair, and SMEV's certificate pinned as the one the hub trusts."""
    smev = world.exchange.certificate
    assert smev is not None
    paths = {name: folder / name for name in ("key.pem", "cert.pem", "smev.pem")}
    paths["key.pem"].write_bytes(key.to_pem())
    paths["key.pem"].chmod(0o600)
    paths["cert.pem"].write_bytes(certificate.to_pem())
    paths["smev.pem"].write_bytes(smev.to_pem())
    return {
        "HUB_SIGNING_KEY": str(paths["key.pem"]),
        "HUB_SIGNING_CERT": str(paths["cert.pem"]),
        "HUB_TRUSTED_CERTIFICATES": json.dumps([str(paths["smev.pem"])]),
    }
