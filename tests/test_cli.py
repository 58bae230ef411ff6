"""The ``hub`` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from hub.smev import SendRequest, build_send_request, serialize
from hub.xml import parse_xml

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((PROJECT / "schemas/cli/smev-inspect.schema.json").read_text())


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HUB_LOG_FORMAT": "json", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        cwd=PROJECT,
    )


def inspect_json(path: Path) -> dict[str, object]:
    result = hub("smev", "inspect", "--json", str(path))
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    return report


def test_inspect_genuine_signed_reply(smev_samples_dir: Path) -> None:
    report = inspect_json(smev_samples_dir / "send-request-response-1.2-signed.xml")
    assert report["version"] == "1.2" and report["kind"] == "accepted"
    assert report["operation"] == "SendRequestResponse"
    assert report["message_id"] == "ac9fbf27-8b8c-11eb-9086-e2bf794ac2e9"
    assert report["status_category"] == "requestIsQueued"
    [signature] = report["signatures"]  # type: ignore[misc]
    assert signature["valid"] is True and signature["reference"] == "#SIGNED_BY_SMEV"
    assert signature["certificate"]["not_after"].startswith("2021-09-02")


def test_inspect_fault_and_empty_queue(smev_samples_dir: Path) -> None:
    fault = inspect_json(smev_samples_dir / "fault-signature-verification-1.2.xml")
    assert fault["kind"] == "fault" and fault["operation"] == "Fault"
    assert fault["fault"]["type"] == "SignatureVerificationFault"  # type: ignore[index]
    assert fault["fault"]["retryable"] is False  # type: ignore[index]
    empty = inspect_json(smev_samples_dir / "get-response-empty-queue-1.2.xml")
    assert (empty["kind"], empty["message_id"], empty["signatures"]) == ("empty", None, [])


def test_inspect_mtom_body(tmp_path: Path) -> None:
    content = parse_xml(b'<q:Query xmlns:q="urn://example/q/1.0">x</q:Query>')
    envelope = serialize(build_send_request(SendRequest(content), "1.3"))
    body = (
        b"--MIMEBoundary\r\nContent-Type: application/xop+xml; charset=UTF-8\r\n"
        b"Content-ID: <root>\r\n\r\n" + envelope + b"\r\n--MIMEBoundary--\r\n"
    )
    (tmp_path / "mtom.bin").write_bytes(body)
    report = inspect_json(tmp_path / "mtom.bin")
    assert report["kind"] == "request" and report["content"] == "{urn://example/q/1.0}Query"


@pytest.mark.parametrize(
    "data", [b"<a>", b"", b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", b"<a/>"]
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "bad.xml").write_bytes(data)
    result = hub("smev", "inspect", "--json", str(tmp_path / "bad.xml"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hub: error: ")


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = hub("smev", "inspect", str(tmp_path / "nope.xml"))
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_verify_exit_codes(smev_samples_dir: Path, tmp_path: Path) -> None:
    sample = smev_samples_dir / "send-request-response-1.2-signed.xml"
    assert hub("smev", "verify", str(sample)).returncode == 0
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(sample.read_bytes().replace(b"77BD01", b"77BD02"))
    assert hub("smev", "verify", str(tampered)).returncode == 1
    unsigned = smev_samples_dir / "get-response-empty-queue-1.2.xml"
    result = hub("smev", "verify", str(unsigned))
    assert result.returncode == 1 and "no ds:Signature" in result.stderr


def _sample_certificate(sample: Path, tmp_path: Path) -> Path:
    root = parse_xml(sample.read_bytes())
    text = root.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate") or ""
    path = tmp_path / "smev.b64"
    path.write_text(text)
    return path


def test_verify_with_trusted_applies_the_workers_policy(
    smev_samples_dir: Path, tmp_path: Path
) -> None:
    rejected = smev_samples_dir / "get-response-async-rejected-1.2.xml"
    smev = _sample_certificate(rejected, tmp_path)
    # SMEV's certificate ran out in 2021, but it was valid when SMEV sent this message.
    ok = hub("smev", "verify", str(rejected), "--trusted", str(smev))
    assert ok.returncode == 0, ok.stderr
    assert "trusted: #SIGNED_BY_SMEV" in ok.stdout
    # SMEV's answer to a send vouches for no business content: valid, but no fact.
    accepted = smev_samples_dir / "send-request-response-1.2-signed.xml"
    assert hub("smev", "verify", str(accepted)).returncode == 0  # without --trusted: as before
    refused = hub("smev", "verify", str(accepted), "--trusted", str(smev))
    assert refused.returncode == 1 and "SignatureCoverageError" in refused.stderr
    other = tmp_path / "other.pem"
    assert hub("keys", "generate", "--out-dir", str(tmp_path / "k")).returncode == 0
    other.write_bytes((tmp_path / "k/cert.pem").read_bytes())
    untrusted = hub("smev", "verify", str(rejected), "--trusted", str(other))
    assert untrusted.returncode == 1 and "UntrustedSignerError" in untrusted.stderr
    root = parse_xml(rejected.read_bytes())
    genuine = root.find(".//{*}ResponseMessage/{*}Response")
    assert genuine is not None
    forged = copy.deepcopy(genuine)  # a copy with no Id, where the reader looks first
    for element in forged.iter():
        element.attrib.pop("Id", None)
    genuine.addprevious(forged)
    wrapped = tmp_path / "wrapped.xml"
    wrapped.write_bytes(etree.tostring(root))
    moved = hub("smev", "verify", str(wrapped), "--trusted", str(smev))
    assert moved.returncode == 1 and "SignatureCoverageError" in moved.stderr, moved.stderr


def test_generate_keys_sign_and_verify(tmp_path: Path) -> None:
    made = hub("keys", "generate", "--out-dir", str(tmp_path / "keys"), "--cn", "Тестовая ИС")
    assert made.returncode == 0, made.stderr
    key, cert = tmp_path / "keys/key.pem", tmp_path / "keys/cert.pem"
    assert key.stat().st_mode & 0o077 == 0  # a private key is for its owner only
    assert hub("keys", "generate", "--out-dir", str(tmp_path / "keys")).returncode == 2

    content = parse_xml('<q:Query xmlns:q="urn://example/q/1.0">Иванов</q:Query>'.encode())
    (tmp_path / "unsigned.xml").write_bytes(serialize(build_send_request(SendRequest(content))))
    signed = tmp_path / "signed.xml"
    result = hub(
        "smev",
        "sign",
        "--key",
        str(key),
        "--cert",
        str(cert),
        str(tmp_path / "unsigned.xml"),
        "-o",
        str(signed),
    )
    assert result.returncode == 0, result.stderr
    assert hub("smev", "verify", str(signed)).returncode == 0
    report = inspect_json(signed)
    [signature] = report["signatures"]  # type: ignore[misc]
    assert signature["valid"] and "Тестовая ИС" in signature["certificate"]["subject"]


@pytest.mark.slow
def test_signed_by_pure_python_verifies_with_openssl(tmp_path: Path, openssl_backend) -> None:  # type: ignore[no-untyped-def]
    pure = {"HUB_CRYPTO_BACKEND": "pure"}
    assert hub("keys", "generate", "--out-dir", str(tmp_path), env=pure).returncode == 0
    content = parse_xml(b'<q:Query xmlns:q="urn://example/q/1.0">x</q:Query>')
    request = SendRequest(content, transaction_code="T1")
    (tmp_path / "m.xml").write_bytes(serialize(build_send_request(request, "1.2")))
    signed = hub(
        "smev",
        "sign",
        "--key",
        str(tmp_path / "key.pem"),
        "--cert",
        str(tmp_path / "cert.pem"),
        str(tmp_path / "m.xml"),
        "-o",
        str(tmp_path / "s.xml"),
        env=pure,
    )
    assert signed.returncode == 0, signed.stderr
    checked = hub("smev", "verify", str(tmp_path / "s.xml"), env={"HUB_CRYPTO_BACKEND": "openssl"})
    assert checked.returncode == 0, checked.stdout


def test_config_masks_secrets() -> None:
    result = hub("config", env={"HUB_INDEX_KEY": "12345678", "HUB_XML_MAX_DEPTH": "42"})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["index_key"] == "********" and "12345678" not in result.stdout
    assert shown["xml_max_depth"] == 42


def test_bad_setting_is_a_clear_error() -> None:
    result = hub("config", env={"HUB_XML_MAX_DEPTH": "lots"})
    assert result.returncode == 2
    assert result.stderr.startswith("hub: error: invalid settings: HUB_XML_MAX_DEPTH")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bench_refuses_a_suite_it_does_not_have() -> None:
    result = hub("bench", "--suite", "smevv")
    assert result.returncode == 2
    assert "smevv" in result.stderr and "translate" in result.stderr
