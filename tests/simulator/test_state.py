"""The simulator keeps SMEV's key in a state folder: the same certificate after a restart,
printed for pinning by ``hub simulator certificate``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from lxml import etree

from hub.crypto import select_backend
from hub.crypto.keys import load_certificate
from hub.crypto.xmldsig import DS_NS
from hub.errors import ConfigurationError
from hub.simulator.state import CERTIFICATE_FILE, KEY_FILE, smev_identity
from hub.smev import SendRequest, build_send_request, serialize
from tests.support.simulator import ZAGS_NS, birth_request, make_party

pytestmark = pytest.mark.integration

BACKEND = select_backend("auto")
PROJECT = Path(__file__).resolve().parents[2]


def test_the_pair_is_made_once_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key, certificate = smev_identity(BACKEND, state)
    again_key, again = smev_identity(BACKEND, state)
    assert again.der == certificate.der and again_key.to_der() == key.to_der()
    assert stat.S_IMODE((state / KEY_FILE).stat().st_mode) == 0o600
    assert load_certificate((state / CERTIFICATE_FILE).read_bytes()).der == certificate.der


def test_half_a_pair_is_refused_never_replaced(tmp_path: Path) -> None:
    smev_identity(BACKEND, tmp_path)
    (tmp_path / KEY_FILE).unlink()
    kept = (tmp_path / CERTIFICATE_FILE).read_bytes()
    with pytest.raises(ConfigurationError, match=f"both {KEY_FILE} and {CERTIFICATE_FILE}"):
        smev_identity(BACKEND, tmp_path)
    assert (tmp_path / CERTIFICATE_FILE).read_bytes() == kept


def _hub(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub", *args]


def _smev_signer(state: Path, hub_pem: Path, body: bytes) -> str:
    """Start ``hub simulator serve --state``, send one request, stop: the base64 certificate
    SMEV signed its answer with."""
    command = _hub(
        "simulator",
        "serve",
        "--port",
        "0",
        "--state",
        str(state),
        "--system",
        f"HUB={hub_pem}",
        "--route",
        f"{ZAGS_NS}=ZAGS",
    )
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HUB_LOG_FORMAT": "json"},
        cwd=PROJECT,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith("SMEV 3 simulator on "), process.stderr
        url = f"{first.split(' on ')[1].strip()}/smev/1.3"
        reply = requests.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=20)
    signatures = etree.fromstring(reply.content).iter(f"{{{DS_NS}}}X509Certificate")
    return "".join((next(signatures).text or "").split())


def test_a_restarted_simulator_signs_with_the_pinned_certificate(tmp_path: Path) -> None:
    state = tmp_path / "simulator"
    printed = subprocess.run(
        _hub("simulator", "certificate", "--state", str(state)),
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
        timeout=60,
    ).stdout
    assert printed.startswith("-----BEGIN CERTIFICATE-----")
    pinned = load_certificate(printed.encode()).to_base64()
    hub = make_party(BACKEND, "HUB")
    hub_pem = tmp_path / "hub.pem"
    hub_pem.write_bytes(hub.certificate.to_pem())
    body = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
    assert _smev_signer(state, hub_pem, body) == pinned
    body = serialize(build_send_request(SendRequest(birth_request()), "1.3", hub.signer))
    assert _smev_signer(state, hub_pem, body) == pinned  # after a restart: the same key
