"""The signature work one SMEV round trip cannot do without, in CPU time (``hub bench --suite
e2e`` prints it beside the measured round trips).

SMEV 3 has every call signed by its caller and checked by SMEV (FACTS.md): the hub signs its
SendRequest, each GetResponse (the MessageTypeSelector) and each Ack, and SMEV checks them;
the agency signs its answer; SMEV signs the Response it delivers; the hub checks both
signatures on it. Ten signature operations per round trip, as the benchmark's round trip
does them (real SMEV also checks the agency's call, which the simulator's in-process agency
does not make), with the hub's own signer and verifier (canonicalization, the SMEV
transform, Streebog digests, GOST R 34.10), whatever else the round trip costs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from lxml import etree

from hub.bench.smev import birth_answer, dev_signer, signed_response
from hub.crypto import GostBackend
from hub.crypto.xmldsig import XmlSigner, XmlVerifier
from hub.smev.build import (
    Ack,
    Selector,
    SendRequest,
    SendResponse,
    build_ack,
    build_get_response,
    build_send_request,
    build_send_response,
    new_message_id,
    serialize,
)
from hub.xml import parse_message

_REPLY_TO = "eyJzaWQiOjEyMzQ1LCJtbmVtb25pYyI6IktPTlRJTkdFTlQifQ=="


@dataclass(frozen=True)
class Floor:
    """CPU milliseconds per round trip spent on signatures, and the rate they alone allow."""

    sign_ms: float
    verify_ms: float
    cores: int

    @property
    def total_ms(self) -> float:
        return self.sign_ms + self.verify_ms

    @property
    def ceiling(self) -> float:
        """Round trips per second if the cores did nothing but these signatures."""
        return self.cores * 1000 / self.total_ms


def _cpu_ms(operation: Callable[[], object], rounds: int) -> float:
    operation()  # keys loaded, schemas and caches warm
    started = time.process_time()
    for _ in range(rounds):
        operation()
    return (time.process_time() - started) * 1000 / rounds


def measure_floor(backend: GostBackend, cores: int, rounds: int = 200) -> Floor:
    """Time each signing and each check of one round trip on the real envelopes."""
    signer, verifier = dev_signer(backend), XmlVerifier(backend)
    content = birth_answer()
    hub_calls: list[Callable[[], etree._Element]] = [
        lambda: build_send_request(
            SendRequest(content, message_id=new_message_id()), "1.3", signer
        ),
        lambda: build_get_response(Selector(), "1.3", signer),
        lambda: build_ack(Ack(new_message_id()), "1.3", signer),
    ]
    agency_answer = partial(
        build_send_response,
        SendResponse(_REPLY_TO, content, message_id=new_message_id()),
        "1.3",
        signer,
    )
    signings: list[Callable[[], object]] = [*hub_calls, agency_answer]
    sign_ms = sum((_cpu_ms(build, rounds) for build in signings), 0.0)
    sign_ms += _smev_signature_ms(signer, rounds)
    calls = [serialize(build()) for build in hub_calls]
    answer = signed_response(signer)
    verify_ms = sum((_cpu_ms(partial(_check, verifier, body), rounds) for body in calls), 0.0)
    verify_ms += _cpu_ms(partial(_check, verifier, answer, expected=2), rounds)
    return Floor(sign_ms, verify_ms, cores)


def _smev_signature_ms(signer: XmlSigner, rounds: int) -> float:
    # SMEV's own signature over the Response it delivers (the provider's is already inside).
    response = parse_message(signed_response(signer)).root.find(".//{*}Response")
    assert response is not None  # noqa: S101 - built by signed_response
    return _cpu_ms(lambda: signer(copy.deepcopy(response)), rounds)


def _check(verifier: XmlVerifier, body: bytes, expected: int = 1) -> None:
    reports = verifier.verify_all(parse_message(body).root)
    if len(reports) != expected or not all(r.valid for r in reports):
        raise AssertionError("a benchmark envelope failed to verify")
