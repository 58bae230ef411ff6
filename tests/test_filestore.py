"""Documents in SMEV's file store: the simulator's FTP store, the hub's fetcher (hash checked,
credentials never shown), masking of the credentials, and the whole path: an application
with a document → its event carries the reference → ``hub attachments fetch`` downloads it."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub.crypto import GostBackend
from hub.crypto.keys import Certificate
from hub.protection.masking import mask_message, mask_text
from hub.simulator import ExchangeConfig
from hub.simulator.filestore import FileAccess, FileStore
from hub.simulator.population import Population
from hub.simulator.world import build_world
from hub.smev.filestore import (
    FILE_STORE_SECRETS,
    AttachmentError,
    AttachmentHashError,
    FileStoreError,
    StoreAddress,
    fetch_attachments,
)
from hub.smev.read import SmevMessage, read_message
from tests.support.bus import EventCollector
from tests.support.notices import running
from tests.support.simulator import assert_valid_reply, hub_on_exchange
from tests.support.smev import get_request

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[1]
SCAN = b"%PDF-1.4\n% a scan\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
def store(fast_backend: GostBackend) -> Iterator[FileStore]:
    with FileStore(fast_backend.digest) as running_store:
        yield running_store


def delivered(documents: list[FileAccess], version: str = "1.3") -> bytes:
    """A GetRequestResponse as SMEV delivers it with ``documents`` in its file store: the
    sender's RefAttachmentHeaderList, SMEV's FSAttachmentsList."""
    headers = "".join(
        f"<RefAttachmentHeader><uuid>{d.uuid}</uuid><Hash>{d.hash}</Hash>"
        f"<MimeType>{d.mime_type}</MimeType></RefAttachmentHeader>"
        for d in documents
    )
    access = "".join(
        f"<FSAttachment><uuid>{d.uuid}</uuid><UserName>{d.user_name}</UserName>"
        f"<Password>{d.password}</Password><FileName>{d.file_name}</FileName></FSAttachment>"
        for d in documents
    )
    raw = get_request(b"<x:Doc xmlns:x='urn:x'>1</x:Doc>", version=version).decode()
    end = "</ns2:SenderProvidedRequestData>"
    refs = f"<RefAttachmentHeaderList>{headers}</RefAttachmentHeaderList>"
    return raw.replace(
        end, refs + end + f"<FSAttachmentsList>{access}</FSAttachmentsList>"
    ).encode()


def fetch(
    store: FileStore, message: SmevMessage, target: Path, backend: GostBackend, **limits: Any
) -> list[Any]:
    return fetch_attachments(
        message, StoreAddress.parse(store.url), target, backend.digest, **limits
    )


def test_a_document_is_fetched_its_hash_checked_and_written_for_the_operator_alone(
    store: FileStore, tmp_path: Path, fast_backend: GostBackend
) -> None:
    document = store.put(SCAN, "свидетельство.pdf", "application/pdf")
    message = read_message(delivered([document], version="1.2"))  # no FileName in 1.2 headers
    [fetched] = fetch(store, message, tmp_path, fast_backend)
    assert fetched.path == tmp_path / document.uuid / "свидетельство.pdf"
    assert fetched.path.read_bytes() == SCAN and fetched.size == len(SCAN)
    assert fetched.path.stat().st_mode & 0o777 == 0o600
    # The hash is base64 of the Streebog-256 digest of the file, as SMEV's digests are.
    assert base64.b64decode(document.hash) == fast_backend.digest(SCAN)


def test_a_tampered_file_fails_its_hash_check_and_nothing_of_it_is_written(
    store: FileStore, tmp_path: Path, fast_backend: GostBackend
) -> None:
    document = store.put(SCAN, "scan.pdf", "application/pdf")
    store.path(document.uuid).write_bytes(SCAN.replace(b"a scan", b"A scan"))
    with pytest.raises(AttachmentHashError) as raised:
        fetch(store, read_message(delivered([document])), tmp_path, fast_backend)
    assert document.uuid in str(raised.value) and "digest differs" in str(raised.value)
    assert not raised.value.retryable
    assert list(tmp_path.rglob("*.pdf*")) == []


def _shown(error: BaseException) -> str:
    return str(error) + "".join(traceback.format_exception(error))


def test_refused_credentials_fail_without_showing_them(
    store: FileStore, tmp_path: Path, fast_backend: GostBackend
) -> None:
    document = store.put(SCAN, "scan.pdf", "application/pdf")
    other = store.put(b"someone else's", "other.pdf", "application/pdf")
    # The credentials of one document open no other.
    stolen = FileAccess(
        other.uuid,
        other.file_name,
        other.hash,
        other.mime_type,
        document.user_name,
        document.password,
    )
    with pytest.raises(AttachmentError) as raised:
        fetch(store, read_message(delivered([stolen])), tmp_path, fast_backend)
    assert "FTP 550" in str(raised.value)
    wrong = FileAccess(
        document.uuid,
        document.file_name,
        document.hash,
        document.mime_type,
        document.user_name,
        "not-the-password",
    )
    with pytest.raises(AttachmentError) as raised:
        fetch(store, read_message(delivered([wrong])), tmp_path, fast_backend)
    assert "FTP 530" in str(raised.value)
    for secret in (document.user_name, document.password, "not-the-password"):
        assert secret not in _shown(raised.value)


def test_an_unreachable_store_is_a_passing_failure(
    tmp_path: Path, fast_backend: GostBackend
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    document = FileAccess("1b9d", "a.pdf", "aGFzaA==", "application/pdf", "u-1", "p-1")
    message = read_message(delivered([document]))
    with pytest.raises(FileStoreError) as raised:
        fetch_attachments(message, StoreAddress("127.0.0.1", port), tmp_path, fast_backend.digest)
    assert raised.value.retryable and "u-1" not in _shown(raised.value)


@pytest.mark.parametrize("name", ["../escape.pdf", "a/b.pdf", "..", ""])
def test_a_file_name_that_is_not_a_plain_name_is_refused_before_any_transfer(
    store: FileStore, tmp_path: Path, fast_backend: GostBackend, name: str
) -> None:
    document = store.put(SCAN, "scan.pdf", "application/pdf")
    bad = FileAccess(
        document.uuid,
        name,
        document.hash,
        document.mime_type,
        document.user_name,
        document.password,
    )
    with pytest.raises(AttachmentError, match="not a plain file name"):
        fetch(store, read_message(delivered([bad])), tmp_path / "out", fast_backend)
    assert not (tmp_path / "out").exists()


def test_a_file_larger_than_allowed_is_refused(
    store: FileStore, tmp_path: Path, fast_backend: GostBackend
) -> None:
    document = store.put(SCAN, "scan.pdf", "application/pdf")
    with pytest.raises(AttachmentError, match="larger than 1000 bytes"):
        fetch(store, read_message(delivered([document])), tmp_path, fast_backend, max_bytes=1000)


def test_the_credentials_are_masked_wherever_a_delivered_message_is_shown() -> None:
    document = FileAccess("1b9d", "Иванов.pdf", "aGFzaA==", "application/pdf", "fs-u1", "pw-9")
    raw = delivered([document])
    for shown in (mask_message(raw, "smev"), mask_text(raw.decode())):
        assert "fs-u1" not in shown and "pw-9" not in shown and "Иванов" not in shown
        assert "<uuid>1b9d</uuid>" in shown
    assert "fs-u1" not in repr(read_message(raw).attachments)


def test_the_secrets_are_the_credentials_smev_declares(smev_xsd_dir: Path) -> None:
    for version in ("1.1", "1.2", "1.3"):
        schema = etree.parse(str(smev_xsd_dir / f"smev-message-exchange-basic-{version}.xsd"))
        names = schema.xpath(
            "//xs:complexType[@name='FSAuthInfo']//xs:element/@name",
            namespaces={"xs": "http://www.w3.org/2001/XMLSchema"},
        )
        assert set(names) - {"uuid", "FileName"} == set(FILE_STORE_SECRETS)


# --- the whole path --------------------------------------------------------------------------


def _hub_command(url: str, store: FileStore, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": url,
        "HUB_SMEV_FILE_STORE": store.url,
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=PROJECT,
    )


def _application_event(hub: Any, world: Any) -> dict[str, Any]:
    with (
        EventCollector(hub, "enrollment.application.received") as events,
        running(hub.worker, hub.relay),
    ):
        world.agencies.gosuslugi.step(world.exchange, time.monotonic())
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not events.received and datetime.now(UTC) < deadline:
            hub.smev_client.round()
            time.sleep(0.05)
    [event] = events.received
    return event


def test_an_application_document_travels_from_gosuslugi_to_the_operators_folder(  # noqa: PLR0917
    tmp_path: Path,
    topology_prefix: str,
    fast_backend: GostBackend,
    dev_key_pair: tuple[Any, Certificate],
    reference_dir: Path,
    store: FileStore,
) -> None:
    population = Population.generate(5, 4, reference_date=date(2026, 3, 1))
    world = build_world(
        fast_backend,
        dev_key_pair[1],
        population,
        reference_dir,
        ExchangeConfig(verify_signatures=False),
        applications=1,
    )
    world.exchange.file_store = store
    world.agencies.gosuslugi.with_documents = True
    hub = hub_on_exchange(tmp_path, topology_prefix, world.exchange, dev_key_pair, fast_backend)
    try:
        event = _application_event(hub, world)
        token = hub.access.issue("petrova", "operator", "*", None, "test").text
        stored_message = hub.journal.inbox(event["hubinboxid"])
    finally:
        hub.close()
    [reference] = event["data"]["attachments"]
    stored = store.access(reference["uuid"])
    assert stored is not None
    assert reference == {
        "uuid": stored.uuid,
        "file_name": stored.file_name,
        "hash": stored.hash,
        "mime_type": "application/pdf",
    }
    assert event["schemaversion"] == "2"
    # What the simulator delivered (FSAttachmentsList in Request) is what SMEV's schema allows.
    assert stored_message is not None and b"FSAttachmentsList>" in stored_message.raw
    assert_valid_reply(stored_message.raw, "1.3", reference_dir / "smev" / "xsd")
    assert stored.password not in str(event) and stored.user_name not in str(event)

    url, inbox_id = f"sqlite:///{tmp_path / 'hub.db'}", event["hubinboxid"]
    fetch_args = (
        "attachments",
        "fetch",
        inbox_id,
        "--to",
        str(tmp_path / "docs"),
        "--reason",
        "enrollment check",
        "--token",
        token,
    )
    done = _hub_command(url, store, *fetch_args)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "docs" / stored.uuid / stored.file_name
    assert written.read_bytes() == store.path(stored.uuid).read_bytes()

    store.path(stored.uuid).write_bytes(b"%PDF-1.4\n% altered\n%%EOF\n")
    refused = _hub_command(
        url, store, *fetch_args[:3], "--to", str(tmp_path / "again"), *fetch_args[5:]
    )
    assert refused.returncode == 1
    assert "digest differs from the Hash its sender declared" in refused.stderr
    assert not (tmp_path / "again" / stored.uuid / stored.file_name).exists()
    for secret in (stored.user_name, stored.password):
        assert secret not in done.stdout + done.stderr + refused.stdout + refused.stderr
