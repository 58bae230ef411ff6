"""``hub bench``: throughput of the SMEV hot paths on a 5 KB signed response, per backend."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from lxml import etree
from rich.console import Console
from rich.table import Table

from hub.crypto import GostBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner, XmlVerifier
from hub.errors import BackendUnavailableError
from hub.smev.read import read_message
from hub.smev.signing import sign_envelope
from hub.xml import parse_message

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TYPES = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3"
BASIC = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3"
ROGDINF = "urn://x-artefacts-zags-rogdinf/root/112-51/4.0.1"
MESSAGE_ID = "1c9d4a3e-8c1f-11ef-9a3b-0242ac120002"


@dataclass(frozen=True)
class Measurement:
    backend: str
    operation: str
    per_second: float
    iterations: int


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    child.text = text
    return child


def birth_answer() -> etree._Element:
    """A birth-record answer of realistic size: two act records with a family in each."""
    root = etree.Element(f"{{{ROGDINF}}}ROGDINFResponse", nsmap={"tns": ROGDINF})
    root.set("ИдЗапрос", MESSAGE_ID)
    for index in range(2):
        record = _sub(root, ROGDINF, "СведРегРожд")
        record.set("НомерЗапис", f"1202177000{index:04d}")
        record.set("ДатаЗапис", "2019-04-12")
        for role in ("СведРебен", "СведМать", "СведОтец"):
            person = _sub(record, ROGDINF, role)
            _sub(person, ROGDINF, "Фамилия", "Константинопольская")
            _sub(person, ROGDINF, "Имя", "Александра")
            _sub(person, ROGDINF, "Отчество", "Владимировна")
    return root


def _response_envelope() -> etree._Element:
    nsmap = cast(dict[str, str], {"soap": SOAP, "ns2": TYPES, None: BASIC})
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap=nsmap)
    operation = _sub(_sub(envelope, SOAP, "Body"), TYPES, "GetResponseResponse")
    message = _sub(operation, TYPES, "ResponseMessage")
    response = _sub(message, TYPES, "Response")
    response.set("Id", "SIGNED_BY_SMEV")
    _sub(response, TYPES, "OriginalMessageId", MESSAGE_ID)
    data = _sub(response, TYPES, "SenderProvidedResponseData")
    data.set("Id", "SIGNED_BY_PROVIDER")
    _sub(data, TYPES, "MessageID", "2d0e5b4f-8c1f-11ef-9a3b-0242ac120002")
    _sub(data, TYPES, "To", "eyJzaWQiOjEyMzQ1LCJtbmVtb25pYyI6IktPTlRJTkdFTlQifQ==")
    _sub(data, BASIC, "MessagePrimaryContent").append(birth_answer())
    metadata = _sub(response, TYPES, "MessageMetadata")
    _sub(metadata, TYPES, "MessageId", "2d0e5b4f-8c1f-11ef-9a3b-0242ac120002")
    _sub(metadata, TYPES, "MessageType", "RESPONSE")
    _sub(metadata, TYPES, "SendingTimestamp", "2026-11-28T10:00:00.000+03:00")
    _sub(metadata, TYPES, "Status", "responseIsDelivered")
    return envelope


def signed_response(signer: XmlSigner) -> bytes:
    """A GetResponseResponse signed by the provider and by SMEV, as SMEV delivers it."""
    envelope = _response_envelope()
    response = envelope.find(f".//{{{TYPES}}}Response")
    assert response is not None  # noqa: S101 - built just above
    data = response.find(f"{{{TYPES}}}SenderProvidedResponseData")
    _sub(response, TYPES, "SenderInformationSystemSignature").append(signer(data))  # type: ignore[arg-type]
    response.addnext(_smev_signature(signer(response)))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def _smev_signature(signature: etree._Element) -> etree._Element:
    holder = etree.Element(f"{{{TYPES}}}SMEVSignature")
    holder.append(signature)
    return holder


def _unsigned_request() -> etree._Element:
    envelope = _response_envelope()
    operation = envelope.find(f".//{{{TYPES}}}GetResponseResponse")
    assert operation is not None  # noqa: S101 - built just above
    operation.tag = f"{{{TYPES}}}SendResponseRequest"
    data = envelope.find(f".//{{{TYPES}}}SenderProvidedResponseData")
    assert data is not None  # noqa: S101
    operation.clear()
    operation.append(data)
    return envelope


def _rate(operation: Callable[[], object], seconds: float, minimum: int = 3) -> tuple[float, int]:
    operation()  # warm caches (certificate parse, key handles) as a running hub has them
    count, start = 0, time.perf_counter()
    while count < minimum or time.perf_counter() - start < seconds:
        operation()
        count += 1
    return count / (time.perf_counter() - start), count


def measure(backend: GostBackend, seconds: float) -> list[Measurement]:
    """Parse + classify, full verification, and signing, on one backend."""
    signer = dev_signer(backend)
    message, verifier, template = signed_response(signer), XmlVerifier(backend), _unsigned_request()

    def verify() -> None:
        reports = verifier.verify_all(parse_message(message).root)
        if not reports or not all(r.valid for r in reports):
            raise AssertionError("benchmark message failed to verify")

    operations: dict[str, Callable[[], object]] = {
        "parse + classify": lambda: read_message(parse_message(message)).kind,
        "verify (parse, c14n, transform, digest, GOST)": verify,
        "sign (transform, digest, GOST, serialize)": lambda: etree.tostring(
            sign_envelope(copy.deepcopy(template), signer)
        ),
    }
    return [Measurement(backend.name, name, *_rate(op, seconds)) for name, op in operations.items()]


def _one_core() -> None:
    # The targets are per core: keep the process on one CPU so numbers are comparable.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(seconds: float, backends: list[str] | None, console: Console) -> list[Measurement]:
    """Measure every requested backend and print a table with the OpenSSL/pure ratio."""
    from hub.crypto import select_backend  # noqa: PLC0415

    _one_core()
    size = len(signed_response(dev_signer(select_backend("auto"))))
    console.print(f"message: GetResponseResponse, {size} bytes, 2 GOST signatures")
    results: list[Measurement] = []
    for name in backends or ["openssl", "pure"]:
        try:
            backend = select_backend(name)  # type: ignore[arg-type]
        except BackendUnavailableError as exc:
            console.print(f"{name}: not available ({exc})", style="yellow")
            continue
        results.extend(measure(backend, seconds if name != "pure" else max(seconds, 3.0)))
    console.print(_table(results))
    return results


def dev_signer(backend: GostBackend) -> XmlSigner:
    """A signer with a fresh key and a self-signed certificate (benchmarks only)."""
    key = generate_private_key()
    return XmlSigner(LocalKeySigner(backend, key, self_signed_certificate(backend, key)), backend)


def _table(results: list[Measurement]) -> Table:
    table = Table(title="hub bench (one core)")
    for column in ("operation", "openssl msg/s", "pure msg/s", "openssl ÷ pure"):
        table.add_column(column, justify="right" if "msg" in column or "÷" in column else "left")
    by_key = {(m.backend, m.operation): m.per_second for m in results}
    for operation in dict.fromkeys(m.operation for m in results):
        fast, slow = by_key.get(("openssl", operation)), by_key.get(("pure", operation))
        ratio = f"{fast / slow:,.0f}×" if fast and slow else "—"
        table.add_row(operation, _fmt(fast), _fmt(slow), ratio)
    return table


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"
