"""The SMEV 3 message exchange as a state machine: no sockets, no threads of its own.

``Exchange.handle(body, version)`` takes the bytes of one SOAP call and returns the bytes
SMEV would answer with (HTTP 200, or 500 with a SOAP Fault), following FACTS.md:

- a request goes to the request queue of the system registered as the provider of its
  business namespace (``route``); a response goes, by its ``To`` (the request's ReplyTo), to
  the response queue of the request's sender; GetRequest/GetResponse hand out the oldest
  message their MessageTypeSelector lets through (NamespaceURI + RootElementLocalName,
  NodeID); a message not acked within the visibility timeout is handed out again;
- the caller is known by the certificate of its signature (ЭП-ОВ), which must be valid
  (SignatureVerificationFault); MessageIDs must be fresh version-1 UUIDs, each accepted once
  (InvalidMessageIdFormat, StaleMessageId, MessageIsAlreadySent); business data that breaks
  its registered schema is accepted and then rejected asynchronously (SMEV-403 in the
  sender's response queue); quotas give QuoteLimitExceeded;
- SMEV signs what it returns with its own key (SMEVSignature);
- ``config.quirks`` makes it deliver what real SMEV delivers (``Quirks``): the sender's
  signature inside Request/Response, SMEV's code strings, 1.3 statuses in older replies,
  DeliveryTimestamp, the same head message until it is acked; ``faults.plain_fault_rate``
  adds plain ``soap:Server`` faults.

Agencies living inside the simulator (``attach``) get requests and responses as calls
instead of polling, and answer through ``respond``; ``push_request`` sends a request on an
agency's behalf. All state sits behind one lock; clock and randomness are injected.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import structlog
from lxml import etree

from hub.adapters.gate import SchemaCheck
from hub.crypto import GostBackend
from hub.crypto.devcert import generate_private_key, self_signed_certificate
from hub.crypto.keys import Certificate, PrivateKey
from hub.crypto.xmldsig import LocalKeySigner, XmlSigner, XmlVerifier
from hub.errors import ConfigurationError, SmevMessageError, XmlError
from hub.simulator import checks
from hub.simulator import replies as r
from hub.simulator.checks import RefusedError, refuse
from hub.simulator.config import ExchangeConfig, MtomIds, Quirks
from hub.simulator.filestore import FileAccess, FileStore
from hub.simulator.mtom import cxf_mtom
from hub.simulator.queues import Filter, Letter, Mailbox, ReplyAddress
from hub.smev.build import (
    OutgoingAttachment,
    SendRequest,
    SendResponse,
    build_send_request,
    build_send_response,
    new_message_id,
    serialize,
)
from hub.smev.model import Rejection, RequestStatus
from hub.smev.read import SmevMessage, read_message
from hub.smev.signing import CALLER_SIGNATURE, operation_element
from hub.smev.versions import SmevVersion, as_version, version_of_namespace
from hub.xml import XmlDocument, XmlLimits, parse_message
from hub.xml.navigate import child, text

log = structlog.get_logger("hub.simulator")

Answer = etree._Element | Rejection | RequestStatus
SMEV = r.Party("SMEV", "СМЭВ 3 (симулятор)")
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
# 1.3 status names and what 1.1/1.2 readers get instead.
_OLDER_NAMES = {
    "messageIsDelivered": "responseIsDelivered",
    "responseIsRejectedBySmev": "requestIsRejectedBySmev",
}
DELIVERED = "messageIsDelivered"
# CXF's faultstring for an exception it has no fault for: a fault without detail.
PLAIN_FAULT = "Fault occurred while processing."


class Agency(Protocol):
    """An information system emulated inside the simulator (ZAGS, PFR, Gosuslugi...).

    ``on_request`` gets each request routed to it, read as the hub would read it, and may
    answer at once (business content, a Rejection or a RequestStatus) or later through
    ``Exchange.respond(mnemonic, request.reply_to, answer)``. ``on_response`` gets the
    responses to requests it pushed, and SMEV's own rejections of what it sent.
    """

    def on_request(self, request: SmevMessage) -> Answer | None: ...

    def on_response(self, response: SmevMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """The HTTP answer to one SOAP call."""

    status: int
    body: bytes
    fault: r.Fault | None = None
    content_type: str = SOAP_CONTENT_TYPE


@dataclass(slots=True)
class _System:
    party: r.Party
    requests: Mailbox
    responses: Mailbox
    statuses: deque[r.AsyncStatus]
    agency: Agency | None = None


_Call = tuple[str, Agency, Letter]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Exchange:
    """The simulator's state and rules; see the module docstring."""

    def __init__(
        self,
        *,
        verifier: XmlVerifier | None,
        signer: XmlSigner | None,
        config: ExchangeConfig | None = None,
        clock: Callable[[], datetime] = _utc_now,
        limits: XmlLimits | None = None,
    ) -> None:
        self.config = config or ExchangeConfig()
        if self.config.verify_signatures and verifier is None:
            raise ConfigurationError("the simulator checks signatures: give it a verifier")
        if self.config.sign_replies and signer is None:
            raise ConfigurationError("the simulator signs its replies: give it a signer")
        self._verifier = verifier
        self._signer = signer if self.config.sign_replies else None
        self._quirks: Quirks = self.config.quirks
        self._style = r.Style(self._quirks.delivery_metadata, self._quirks.smev_codes)
        # Agencies inside the simulator sign what they send with keys of their own.
        self._backend = signer.backend if signer is not None else None
        self._own_signers: dict[str, XmlSigner] = {}
        self._clock = clock
        self._limits = limits or XmlLimits()
        self._lock = threading.RLock()
        # Fault injection wants repeatable draws, not secrets.
        self._random = random.Random(self.config.faults.seed)  # noqa: S311
        self._systems: dict[str, _System] = {}
        self._certificates: dict[str, str] = {}
        self._routes: dict[str, str] = {}
        self._schemas: dict[str, SchemaCheck] = {}
        self._seen: set[str] = set()
        # SMEV's file store (hub.simulator.filestore): none, no documents by FTP
        self.file_store: FileStore | None = None
        self._damaged: set[str] = set()
        self._damage_next: dict[str, int] = {}
        self._seen_order: deque[tuple[datetime, str]] = deque()
        self._quota_use: dict[tuple[str, str], tuple[int, int]] = {}
        # Each request's recipient and kinds by its MessageID: where its Cancel goes.
        self._request_routes: dict[str, tuple[str, frozenset[str]]] = {}
        self._operations: dict[str, Callable[[XmlDocument, etree._Element, SmevVersion], bytes]]
        self._operations = {
            "SendRequestRequest": self._send_request,
            "SendResponseRequest": self._send_response,
            "GetRequestRequest": self._get_request,
            "GetResponseRequest": self._get_response,
            "GetStatusRequest": self._get_status,
            "AckRequest": self._ack,
        }

    @classmethod
    def create(
        cls,
        backend: GostBackend,
        config: ExchangeConfig | None = None,
        clock: Callable[[], datetime] = _utc_now,
        identity: tuple[PrivateKey, Certificate] | None = None,
    ) -> Exchange:
        """An exchange signing with ``identity`` (SMEV's key and certificate, e.g. kept in a
        state folder, ``hub.simulator.state``), by default a fresh self-signed pair."""
        if identity is None:
            key = generate_private_key()
            identity = key, self_signed_certificate(backend, key, SMEV.name)
        signer = XmlSigner(LocalKeySigner(backend, *identity), backend)
        return cls(verifier=XmlVerifier(backend), signer=signer, config=config, clock=clock)

    def damage_next(self, sender: str, count: int = 1) -> None:
        """Deliver the next ``count`` messages ``sender`` sends altered after SMEV signed
        them (as by a proxy re-encoding them): their signatures no longer verify."""
        with self._lock:
            self._damage_next[sender] = self._damage_next.get(sender, 0) + count

    def renew_certificate(self, backend: GostBackend) -> Certificate:
        """SMEV signs with a new key and certificate from now on, as after its yearly
        renewal; systems that pin the old certificate refuse what it signs until told."""
        if not self.config.sign_replies:
            raise ConfigurationError("this simulator does not sign its replies")
        key = generate_private_key()
        certificate = self_signed_certificate(backend, key, SMEV.name)
        with self._lock:
            self._signer = XmlSigner(LocalKeySigner(backend, key, certificate), backend)
        return certificate

    @property
    def certificate(self) -> Certificate | None:
        """SMEV's own certificate (what SMEVSignature verifies against)."""
        return None if self._signer is None else self._signer.key_signer.certificate

    # --- registration ----------------------------------------------------------------

    def register_system(
        self, mnemonic: str, name: str | None = None, certificate: Certificate | None = None
    ) -> None:
        """An information system; a caller signing with ``certificate`` is this system."""
        with self._lock:
            if mnemonic not in self._systems:
                party = r.Party(mnemonic, name or mnemonic)
                self._systems[mnemonic] = _System(
                    party, Mailbox(), Mailbox(), deque(maxlen=self.config.status_queue_limit)
                )
            if certificate is not None:
                self._certificates[certificate.to_base64()] = mnemonic

    def route(self, namespace: str, mnemonic: str) -> None:
        """Requests whose business root is in ``namespace`` go to system ``mnemonic``."""
        with self._lock:
            self._system(mnemonic)
            self._routes[namespace] = mnemonic

    def register_schema(self, namespace: str, xsd: Path) -> None:
        """Business data in ``namespace`` must validate against ``xsd`` (else SMEV-403): the
        hub's intake check of that schema, off (said once) when the file is not there."""
        check = SchemaCheck(xsd, f"SMEV's registered schema of {namespace}")
        with self._lock:
            self._schemas[namespace] = check

    def attach(self, mnemonic: str, agency: Agency) -> None:
        """Messages for ``mnemonic`` go to ``agency`` as calls instead of waiting in queues."""
        with self._lock:
            self._system(mnemonic).agency = agency

    def depths(self) -> dict[str, dict[str, int]]:
        """Per system: requests and responses waiting or in flight, statuses waiting."""
        with self._lock:
            return {
                mnemonic: {
                    "requests": len(system.requests),
                    "responses": len(system.responses),
                    "statuses": len(system.statuses),
                }
                for mnemonic, system in self._systems.items()
            }

    # --- SOAP ------------------------------------------------------------------------

    def handle(
        self, body: bytes, version: str | SmevVersion, content_type: str | None = None
    ) -> Reply:
        """Answer one SOAP call made to the endpoint of ``version``."""
        endpoint = as_version(version)
        try:
            self._inject_failure()
            return self._written(Reply(200, self._call(body, endpoint, content_type)))
        except RefusedError as refused:
            envelope = r.fault(endpoint, refused.fault, self._style)
            return self._written(Reply(500, serialize(envelope), refused.fault))

    def _written(self, reply: Reply) -> Reply:
        # Real SMEV (Apache CXF) may answer everything in MTOM, faults and empty queues too.
        if self.config.mtom is MtomIds.OFF:
            return reply
        body, content_type = cxf_mtom(reply.body, self.config.mtom, self._limits)
        return Reply(reply.status, body, reply.fault, content_type)

    def _call(self, body: bytes, endpoint: SmevVersion, content_type: str | None) -> bytes:
        try:
            document = parse_message(body, content_type, self._limits)
            operation = operation_element(document.root)
        except (XmlError, SmevMessageError) as exc:
            raise refuse(None, f"Не SOAP 1.1 сообщение СМЭВ: {exc}") from exc
        name = etree.QName(operation).localname
        handler = self._operations.get(name)
        if version_of_namespace(etree.QName(operation).namespace) is not endpoint or not handler:
            raise refuse(None, f"Операция {name} не поддерживается точкой доступа {endpoint}")
        return handler(document, operation, endpoint)

    def _send_request(self, doc: XmlDocument, op: etree._Element, v: SmevVersion) -> bytes:
        sender = self._caller(doc.root, op)
        message = read_message(doc)
        self._check_new(message, op, v)
        self._check_eol(message.eol)
        signature = _caller_signature(op)
        data, attachments = _detach(op, "SenderProvidedRequestData")
        metadata = self._accept_request(sender, message, data, v, attachments, signature)
        accepted = replace(metadata, status="requestIsQueued")
        return serialize(r.accepted(v, "SendRequestResponse", accepted, self._signer))

    def _send_response(self, doc: XmlDocument, op: etree._Element, v: SmevVersion) -> bytes:
        sender = self._caller(doc.root, op)
        message = read_message(doc)
        self._check_new(message, op, v)
        signature = _caller_signature(op)
        data, attachments = _detach(op, "SenderProvidedResponseData")
        metadata = self._accept_response(sender, message, data, v, attachments, signature)
        return serialize(r.accepted(v, "SendResponseResponse", metadata, self._signer))

    def _get_request(self, doc: XmlDocument, op: etree._Element, v: SmevVersion) -> bytes:
        return self._take(doc, op, v, requests=True)

    def _get_response(self, doc: XmlDocument, op: etree._Element, v: SmevVersion) -> bytes:
        return self._take(doc, op, v, requests=False)

    def _take(self, doc: XmlDocument, op: etree._Element, v: SmevVersion, requests: bool) -> bytes:
        system = self._caller(doc.root, op)
        self._check_envelope(op, v)
        selector = replace(self._selector(op, system, requests), cancels=v is not SmevVersion.V1_3)
        mailbox = system.requests if requests else system.responses
        with self._lock:
            now = self._clock().timestamp()
            timeout, head = self.config.visibility_timeout, self._quirks.head_until_acked
            letter = mailbox.take(selector, now, timeout, head=head)
            if letter is not None and letter.deliveries == 1:
                letter.duplicate = self._draw(self.config.faults.duplicate_rate)
        if letter is None:
            operation = "GetRequestResponse" if requests else "GetResponseResponse"
            return serialize(r.empty(v, operation))
        return self._wire(letter, v)

    def _ack(self, doc: XmlDocument, op: etree._Element, v: SmevVersion) -> bytes:
        system = self._caller(doc.root, op)
        self._check_envelope(op, v)
        message = read_message(doc)
        with self._lock:
            letter = system.requests.ack(message.message_id or "")
            letter = letter or system.responses.ack(message.message_id or "")
            if letter is None:
                raise refuse(
                    "TargetMessageIsNotFound",
                    f"Неподтверждённое сообщение {message.message_id} не найдено",
                    checks.ACK_TARGET_ERROR,
                )
            self._after_ack(system, letter, accepted=message.ack_accepted is not False)
        return serialize(r.empty(v, "AckResponse"))

    def _get_status(self, doc: XmlDocument, op: etree._Element, v: SmevVersion) -> bytes:
        system = self._caller(doc.root, op)
        self._check_envelope(op, v)
        with self._lock:
            status = system.statuses.popleft() if system.statuses else None
        if status is not None:
            status = replace(status, category=self._status_name(status.category, v))
        return serialize(r.status_delivery(v, status, self._signer, self._style))

    # --- in-process API (agencies) ---------------------------------------------------

    def push_request(
        self,
        sender: str,
        content: etree._Element,
        *,
        version: str | SmevVersion = SmevVersion.V1_3,
        node_id: str | None = None,
        transaction_code: str | None = None,
        reference_message_id: str | None = None,
        attachments: Sequence[OutgoingAttachment] = (),
        test_message: bool = False,
    ) -> str:
        """Send a request as system ``sender`` (an agency); its MessageID. ``attachments``:
        documents already put in the file store (their headers). ``test_message``: a test
        request (TestMessage), which its recipient must answer without changing data."""
        request = SendRequest(
            content,
            node_id=node_id,
            transaction_code=transaction_code,
            reference_message_id=reference_message_id,
            attachments=attachments,
            test_message=test_message,
        )
        envelope = build_send_request(request, version)
        return self._take_in(envelope, sender, version, requests=True)

    def push_cancel(self, sender: str, message_reference: str) -> str:
        """SMEV's Cancel, for system ``sender``, of the request it sent under
        ``message_reference``: queued for that request's recipient, which gets it from a
        1.1/1.2 GetRequest (1.3 has no Cancel). The Cancel's MessageID."""
        with self._lock:
            route = self._request_routes.get(message_reference)
            if route is None:
                raise ConfigurationError(f"no request {message_reference} to cancel")
            recipient, kinds = self._system(route[0]), route[1]
            message_id = new_message_id()
            metadata = r.Metadata(
                message_id,
                "CANCEL",
                self._system(sender).party,
                self._clock(),
                recipient.party,
                "cancelled",
            )
            reference = etree.Element("MessageReference")
            reference.text = message_reference
            letter = Letter(message_id, kinds, None, reference, SmevVersion.V1_2, metadata)
            letter.cancels = message_reference
            recipient.requests.put(letter)  # a queue even for an agency in process: none cancels
        return message_id

    def respond(
        self,
        responder: str,
        to: str,
        answer: Answer,
        *,
        version: str | SmevVersion = SmevVersion.V1_3,
    ) -> str:
        """Answer a request as system ``responder``: ``to`` is the request's ReplyTo."""
        response = SendResponse(
            to,
            content=answer if isinstance(answer, etree._Element) else None,
            rejections=(answer,) if isinstance(answer, Rejection) else (),
            status=answer if isinstance(answer, RequestStatus) else None,
        )
        envelope = build_send_response(response, version)
        return self._take_in(envelope, responder, version, requests=False)

    def _take_in(
        self, envelope: etree._Element, sender: str, version: str | SmevVersion, *, requests: bool
    ) -> str:
        # What an agency sends in process is accepted as if it had come over HTTP, unsigned.
        message = read_message(XmlDocument(envelope))
        part = "SenderProvidedRequestData" if requests else "SenderProvidedResponseData"
        data, _ = _detach(operation_element(envelope), part)
        accept = self._accept_request if requests else self._accept_response
        with self._lock:
            if self._damage_next.get(sender):
                self._damage_next[sender] -= 1
                self._damaged.add(message.message_id or "")
            accept(self._system(sender), message, data, as_version(version), None)
        return message.message_id or ""

    # --- acceptance ------------------------------------------------------------------

    def _accept_request(  # noqa: PLR0917 - the parts of one accepted message
        self,
        sender: _System,
        message: SmevMessage,
        data: etree._Element,
        version: SmevVersion,
        attachments: etree._Element | None,
        signature: etree._Element | None = None,
    ) -> r.Metadata:
        recipient = self._provider(message.content)
        address = ReplyAddress(
            sender.party.mnemonic,
            message.message_id or "",
            message.node_id,
            message.reference_message_id,
            message.transaction_code,
            message.content_name,
        )
        metadata = r.Metadata(
            address.message_id,
            "REQUEST",
            sender.party,
            self._clock(),
            recipient.party,
            "requestIsAcceptedBySmev",
            message.content_name,
        )
        kinds = frozenset({message.content_name or ""})
        letter = Letter(address.message_id, kinds, None, data, version, metadata)
        letter.reply_to, letter.attachments = address.encode(), attachments
        letter.sender_signature = signature
        letter.file_access = self._file_access(message)
        with self._lock:
            self._request_routes[address.message_id] = (recipient.party.mnemonic, kinds)
        self._accept(sender, recipient, letter, address, message.content)
        return metadata

    def _file_access(self, message: SmevMessage) -> tuple[FileAccess, ...]:
        # What SMEV gives the recipient for each document its file store holds.
        if self.file_store is None:
            return ()
        found = (self.file_store.access(a.id) for a in message.attachments if a.kind == "filestore")
        return tuple(access for access in found if access is not None)

    def _accept_response(  # noqa: PLR0917 - the parts of one accepted message
        self,
        sender: _System,
        message: SmevMessage,
        data: etree._Element,
        version: SmevVersion,
        attachments: etree._Element | None,
        signature: etree._Element | None = None,
    ) -> r.Metadata:
        address = ReplyAddress.decode(message.to)
        requester = self._systems.get(address.sender) if address else None
        if address is None or requester is None:
            raise refuse("RecipientIsNotFound", "Адрес To не соответствует ни одному получателю")
        metadata = r.Metadata(
            message.message_id or "",
            "RESPONSE",
            sender.party,
            self._clock(),
            requester.party,
            "responseIsAcceptedBySmev",
        )
        kinds = frozenset(k for k in (message.content_name, address.kind) if k)
        letter = Letter(metadata.message_id, kinds, address.node_id, data, version, metadata)
        letter.original, letter.attachments = _original(address), attachments
        letter.sender_signature = signature
        kind = message.content_name or address.kind
        own = ReplyAddress(sender.party.mnemonic, metadata.message_id, kind=kind)
        self._accept(sender, requester, letter, own, message.content)
        return metadata

    def _accept(
        self,
        sender: _System,
        recipient: _System,
        letter: Letter,
        own: ReplyAddress,
        content: etree._Element | None,
    ) -> None:
        """Take ``letter`` once, then queue it, or queue SMEV's rejection of it (SMEV-403)
        for its sender; ``own`` is the sender's address for that rejection."""
        namespace = _namespace_of_kind(own.kind)
        rejection = checks.content_fault(content, self._schemas.get(namespace))
        request = letter.is_request
        if rejection is None and request:
            rejection = checks.injected_rejection(content, self.config.faults.async_rejected)
        with self._lock:
            self._admit(sender, letter.message_id, namespace, _attachment_bytes(letter))
            if rejection is not None:
                category = (
                    "requestIsRejectedBySmev"
                    if request
                    else self._status_name("responseIsRejectedBySmev", letter.version)
                )
                calls = self._reject(sender, own, rejection, letter.version, category)
            else:
                calls = self._post(recipient, letter)
                accepted = "requestIsAcceptedBySmev" if request else "responseIsAcceptedBySmev"
                self._status(sender, letter.message_id, accepted)
        self._notify(calls)

    def _admit(self, sender: _System, message_id: str, namespace: str, size: int) -> None:
        # Under the lock: one MessageID is taken once, and counts against the quota once.
        # A message over the quota is dropped before it is remembered: SMEV never had it.
        if message_id in self._seen:
            raise refuse("MessageIsAlreadySent", f"Сообщение {message_id} уже было отправлено")
        self._spend_quota(sender, namespace, size)
        self._remember(message_id)

    def _reject(
        self,
        sender: _System,
        address: ReplyAddress,
        fault: r.Fault,
        version: SmevVersion,
        category: str,
    ) -> list[_Call]:
        """SMEV's own asynchronous rejection, in the sender's response queue."""
        status = r.AsyncStatus(address.message_id, category, fault.text, fault)
        message_id = new_message_id()
        data = r.async_status_data(version, message_id, address.encode(), status, self._style)
        metadata = r.Metadata(message_id, "RESPONSE", SMEV, self._clock(), sender.party, category)
        kinds = frozenset(k for k in (address.kind,) if k)
        letter = Letter(message_id, kinds, address.node_id, data, version, metadata)
        letter.original = _original(address)
        self._status(sender, address.message_id, category, fault)
        return self._post(sender, letter)

    def _post(self, recipient: _System, letter: Letter) -> list[_Call]:
        # Under the lock: into the queue, or to the agency once the lock is released.
        if recipient.agency is not None:
            return [(recipient.party.mnemonic, recipient.agency, letter)]
        (recipient.requests if letter.is_request else recipient.responses).put(letter)
        return []

    def _notify(self, calls: list[_Call]) -> None:
        for mnemonic, agency, letter in calls:
            try:
                self._call_agency(mnemonic, agency, letter)
            except Exception as exc:  # an emulator's bug must not break SMEV
                log.error("agency_failed", agency=mnemonic, error=type(exc).__name__)

    def _call_agency(self, mnemonic: str, agency: Agency, letter: Letter) -> None:
        view = read_message(XmlDocument(self._envelope(letter, letter.version, None)))
        if not letter.is_request:
            agency.on_response(view)
            return
        answer = agency.on_request(view)
        if answer is not None:
            self.respond(mnemonic, letter.reply_to or "", answer, version=letter.version)

    def _after_ack(self, system: _System, letter: Letter, *, accepted: bool) -> None:
        if letter.duplicate:
            letter.duplicate = False
            (system.requests if letter.is_request else system.responses).put(letter, first=True)
        sender = self._systems.get(letter.metadata.sender.mnemonic)
        if accepted and sender is not None:
            self._status(sender, letter.message_id, "messageIsDelivered")

    def _status(
        self, system: _System, message_id: str, category: str, fault: r.Fault | None = None
    ) -> None:
        system.statuses.append(r.AsyncStatus(message_id, category, None, fault))

    # --- checks ----------------------------------------------------------------------

    def _caller(self, envelope: etree._Element, operation: etree._Element) -> _System:
        verifier = self._verifier if self.config.verify_signatures else None
        certificate = checks.caller_certificate(envelope, operation, verifier, self._clock())
        with self._lock:
            mnemonic = self._certificates.get(certificate)
            if mnemonic is None and self.config.open_registration:
                mnemonic = self._register_open(certificate)
        if mnemonic is None:
            raise refuse("SenderIsNotRegistered", "Отправитель не зарегистрирован в СМЭВ")
        return self._systems[mnemonic]

    def _register_open(self, certificate: str) -> str:
        parsed = Certificate.from_bytes(certificate.encode("ascii"))
        digest = hashlib.sha256(certificate.encode("ascii")).hexdigest()[:10].upper()
        mnemonic = f"IS{digest}"
        self.register_system(mnemonic, parsed.subject[:500] or mnemonic, parsed)
        return mnemonic

    def _check_new(self, message: SmevMessage, op: etree._Element, v: SmevVersion) -> None:
        checks.check_message_id(message.message_id, self._clock(), self.config.stale_after)
        self._check_envelope(op, v)

    def _check_envelope(self, op: etree._Element, v: SmevVersion) -> None:
        if self.config.xsd_dir is not None:
            checks.check_envelope(op, v, self.config.xsd_dir)

    def _check_eol(self, eol: str | None) -> None:
        try:
            end = datetime.fromisoformat(eol) if eol else None
        except ValueError:
            return  # the envelope schema has the last word on its form
        if end is not None and end.tzinfo is not None and end < self._clock():
            raise refuse("EndOfLifeReached", f"Время жизни сообщения истекло в {eol}")

    def _provider(self, content: etree._Element | None) -> _System:
        name = etree.QName(content) if content is not None else None
        mnemonic = self._routes.get(name.namespace or "") if name is not None else None
        if name is None or mnemonic is None:
            raise refuse(
                "BusinessDataTypeIsNotSupported",
                "Запрос с таким полным именем корневого элемента не зарегистрирован в СМЭВ",
                extra=(
                    ("RootElementLocalName", name.localname if name else ""),
                    ("RootElementNamespaceURI", (name.namespace or "") if name else ""),
                ),
            )
        return self._systems[mnemonic]

    def _selector(self, op: etree._Element, system: _System, requests: bool) -> Filter:
        selector = child(op, "MessageTypeSelector")
        namespace, root = text(selector, "NamespaceURI"), text(selector, "RootElementLocalName")
        if namespace is not None:
            known = (
                self._routes.get(namespace) == system.party.mnemonic
                if requests
                else namespace in self._routes or namespace in self._schemas
            )
            if not known:
                raise refuse("UnknownMessageType", f"Тип сообщений {namespace} не известен СМЭВ")
        kind = f"{{{namespace}}}{root}" if namespace and root else None
        return Filter(kind, text(selector, "NodeID"))

    def _spend_quota(self, sender: _System, namespace: str, size: int) -> None:
        """Count ``size`` bytes of attachments against the sender's quota for the kind, or
        drop the message with QuoteLimitExceeded when they exceed what is left."""
        quota = self.config.quota_for(namespace)
        if quota is None:
            return
        window = int(self._clock().timestamp() // quota.period)
        key = (sender.party.mnemonic, namespace)
        start, used = self._quota_use.get(key, (window, 0))
        remained = quota.total_bytes - (used if start == window else 0)
        if size > remained:
            raise refuse(
                "QuoteLimitExceeded",
                "Суммарный размер вложений превысил размер оставшейся квоты",
                extra=(
                    ("RemainedTotalQuoteSize", str(remained)),
                    ("RealTotalAttachmentSize", str(size)),
                ),
            )
        self._quota_use[key] = (window, quota.total_bytes - remained + size)

    def _remember(self, message_id: str) -> None:
        # A MessageID older than stale_after is refused anyway: forget those.
        now = self._clock()
        self._seen.add(message_id)
        self._seen_order.append((now, message_id))
        cutoff = now - self.config.stale_after
        while self._seen_order and self._seen_order[0][0] < cutoff:
            self._seen.discard(self._seen_order.popleft()[1])

    def _inject_failure(self) -> None:
        with self._lock:
            failed = self._draw(self.config.faults.failure_rate)
            plain = not failed and self._draw(self.config.faults.plain_fault_rate)
        if failed:
            raise refuse(
                "SMEVFailure", "Сбой в инфраструктуре СМЭВ (внесён симулятором)", server=True
            )
        if plain:  # a faultstring and no detail, as real SMEV sometimes answers
            raise refuse(None, PLAIN_FAULT, server=True)

    def _status_name(self, category: str, version: SmevVersion) -> str:
        # Real SMEV writes 1.3's names in 1.2 replies too (the genuine capture).
        return category if self._quirks.newer_statuses else _for_version(category, version)

    def _draw(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def _system(self, mnemonic: str) -> _System:
        system = self._systems.get(mnemonic)
        if system is None:
            raise ConfigurationError(f"no information system {mnemonic!r} in the simulator")
        return system

    # --- replies ---------------------------------------------------------------------

    def _wire(self, letter: Letter, version: SmevVersion) -> bytes:
        # A redelivery is the same signed bytes.
        cached = letter.wire.get(version)
        if cached is None:
            envelope = self._envelope(letter, version, self._signer, delivery=True)
            if letter.message_id in self._damaged:
                _alter_content(envelope)
            cached = serialize(envelope)
            letter.wire[version] = cached
        return cached

    def _envelope(
        self,
        letter: Letter,
        version: SmevVersion,
        signer: XmlSigner | None,
        *,
        delivery: bool = False,
    ) -> etree._Element:
        """The delivery of ``letter`` in ``version``; ``delivery``: to a poller over SOAP
        (with the quirks), not to an agency inside the simulator."""
        if letter.cancels is not None:
            return r.cancel_delivery(version, letter.cancels, letter.metadata, signer)
        data = r.in_version(
            letter.data, letter.version, version
        )  # a copy: the letter keeps its own
        metadata = self._delivered(letter.metadata, version) if delivery else letter.metadata
        signature = self._sender_signature(letter, data, version) if delivery else None
        if letter.original is None:
            return r.request_delivery(
                version,
                data,
                metadata,
                letter.reply_to or "",
                letter.attachments,
                signer,
                file_access=letter.file_access,
                sender_signature=signature,
                style=self._style,
            )
        return r.response_delivery(
            version,
            data,
            metadata,
            letter.original,
            letter.attachments,
            signer,
            sender_signature=signature,
            style=self._style,
        )

    def _delivered(self, metadata: r.Metadata, version: SmevVersion) -> r.Metadata:
        # The genuine capture's MessageMetadata says when and that the message was delivered.
        if not self._quirks.delivery_metadata:
            return metadata
        status = self._status_name(DELIVERED, version)
        return replace(metadata, delivered=self._clock(), status=status)

    def _sender_signature(
        self, letter: Letter, data: etree._Element, version: SmevVersion
    ) -> etree._Element | None:
        """SenderInformationSystemSignature: the caller's own signature, moved from its call
        (it holds only in the version it was made in: another version renames the data's
        namespaces); SMEV's over its own rejections; an agency's inside the simulator."""
        if not self._quirks.sender_signatures:
            return None
        if letter.sender_signature is not None:
            same = version is letter.version
            return copy.deepcopy(letter.sender_signature) if same else None
        sender = letter.metadata.sender
        signer = self._signer if sender == SMEV else self._own_signer(sender)
        return signer(data) if signer is not None and data.get("Id") else None

    def _own_signer(self, party: r.Party) -> XmlSigner | None:
        """The key an agency inside the simulator signs with (made on first use)."""
        if self._backend is None:
            return None
        with self._lock:
            signer = self._own_signers.get(party.mnemonic)
            if signer is None:
                key = generate_private_key()
                certificate = self_signed_certificate(self._backend, key, party.name)
                signer = XmlSigner(LocalKeySigner(self._backend, key, certificate), self._backend)
                self._own_signers[party.mnemonic] = signer
        return signer

    def _serialize(self, envelope: etree._Element) -> bytes:
        return serialize(envelope)


def _attachment_bytes(letter: Letter) -> int:
    """The decoded size of the attachments a message carries inline (MTOM)."""
    contents = letter.attachments.iter("{*}Content") if letter.attachments is not None else ()
    return sum(len(base64.b64decode(c.text or "")) for c in contents)


def _alter_content(envelope: etree._Element) -> None:
    content = envelope.find(".//{*}MessagePrimaryContent")
    for element in content.iter() if content is not None else ():
        if element.text and element.text.strip():
            element.text += " "
            return


def _detach(op: etree._Element, name: str) -> tuple[etree._Element, etree._Element | None]:
    """The sender's data element and its AttachmentContentList, taken out of the call."""
    data = child(op, name)
    if data is None:
        raise refuse("InvalidContent", f"В сообщении нет {name}")
    contents = child(op, "AttachmentContentList")
    for element in (data, contents):
        if element is not None:
            op.remove(element)
            element.tail = None
    return data, contents


def _caller_signature(op: etree._Element) -> etree._Element | None:
    """The caller's ds:Signature over its data (CallerInformationSystemSignature), taken out
    of the call: SMEV delivers it as SenderInformationSystemSignature."""
    holder = child(op, CALLER_SIGNATURE)
    if holder is None:
        return None
    signature = next((c for c in holder if isinstance(c.tag, str)), None)
    if signature is not None:
        holder.remove(signature)
        signature.tail = None
    return signature


def _original(address: ReplyAddress) -> r.Original:
    """The request a response (or SMEV's rejection) answers, from its address."""
    return r.Original(address.message_id, address.reference_message_id, address.transaction_code)


def _namespace_of_kind(kind: str | None) -> str:
    return kind[1:].partition("}")[0] if kind and kind.startswith("{") else ""


def _for_version(category: str, version: SmevVersion) -> str:
    return (
        category if category in version.status_categories else _OLDER_NAMES.get(category, category)
    )
