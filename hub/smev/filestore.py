"""Documents in SMEV's file store: fetched by FTP with the credentials SMEV gave, hash checked.

A large attachment does not travel inside a message: its sender uploads it to SMEV's file
store and names it in ``RefAttachmentHeaderList`` (uuid, FileName, Hash, MimeType: under the
sender's signature); SMEV delivers the message with ``FSAttachmentsList``, for each uuid a
``UserName`` and ``Password`` to fetch the file by FTP. The store's address is not in the
message: it is SMEV's, one per contour (``HUB_SMEV_FILE_STORE``); a file lies at
``/{uuid}/{FileName}`` there. ``Hash`` is base64 of the file's GOST R 34.11-2012
(Streebog-256) digest, the digest SMEV's signatures use too.

The credentials are secrets: they go to the FTP server and nowhere else. No error, log line
or repr made here holds them (an FTP server's reply may echo the user name, so only its
three-digit code is kept), and masking hides the elements that carry them
(``FILE_STORE_SECRETS``). A file name may name the child: errors name the uuid instead.
"""

from __future__ import annotations

import base64
import binascii
import ftplib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hub.errors import PermanentError, RetryableError
from hub.smev.read import SmevAttachment, SmevMessage

__all__ = [
    "FILE_STORE_SECRETS",
    "AttachmentError",
    "AttachmentHashError",
    "FetchedFile",
    "FileStoreError",
    "StoreAddress",
    "fetch_attachments",
]

# The elements of FSAttachmentsList (SMEV's FSAuthInfo) that hold the store's credentials.
FILE_STORE_SECRETS = ("UserName", "Password")
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
Digest = Callable[[bytes], bytes]  # Streebog-256 (a GostBackend's digest)
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")


class AttachmentError(PermanentError):
    """A file-store document the hub cannot fetch as declared (no credentials, no hash, a
    name that is not a plain file name, larger than allowed, refused by the store)."""

    code = "SMEV_ATTACHMENT"


class AttachmentHashError(AttachmentError):
    """The file fetched is not the file its sender declared: its digest differs."""

    code = "SMEV_ATTACHMENT_HASH"


class FileStoreError(RetryableError):
    """SMEV's file store could not be reached or failed for a while: try again later."""

    code = "SMEV_FILE_STORE"


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """Where SMEV's file store listens (``ftp://host[:port]``, no credentials in it)."""

    host: str
    port: int = 21

    @classmethod
    def parse(cls, url: str) -> StoreAddress:
        parts = urlsplit(url)
        if parts.scheme != "ftp" or not parts.hostname or parts.username or parts.path.strip("/"):
            raise AttachmentError("the file store's address must be ftp://host[:port]")
        return cls(parts.hostname, parts.port or 21)


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """A document fetched, its digest checked, and written to ``path``."""

    uuid: str
    path: Path
    size: int
    mime_type: str | None


def fetch_attachments(  # noqa: PLR0917 - what a fetch needs, each named
    message: SmevMessage,
    store: StoreAddress,
    target: Path,
    digest: Digest,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = 30.0,
) -> list[FetchedFile]:
    """Every file-store document of ``message`` fetched into ``target/<uuid>/<file name>``,
    each written only once its digest matches the declared Hash. Raises ``AttachmentError``
    (``AttachmentHashError`` for a file that is not the one declared) or ``FileStoreError``."""
    documents = list(file_store_documents(message))
    for document in documents:
        _check_declared(document)  # all, before any transfer: a bad message fetches nothing
    fetched = []
    for document in documents:
        content = _download(store, document, max_bytes, timeout)
        _check_hash(document, content, digest)
        fetched.append(_write(target, document, content))
    return fetched


def _check_declared(document: SmevAttachment) -> None:
    where = f"attachment {document.id}"
    if not _SAFE_NAME.match(document.id) or document.id in (".", ".."):
        raise AttachmentError("an attachment's uuid is not a plain name", field="uuid")
    if not document.user_name or not document.password:
        raise AttachmentError(f"{where}: SMEV gave no credentials (FSAttachmentsList)")
    if not document.hash:
        raise AttachmentError(f"{where}: no Hash declared, the file cannot be checked")
    name = document.file_name or ""
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        raise AttachmentError(f"{where}: its FileName is missing or not a plain file name")


def _download(store: StoreAddress, document: SmevAttachment, limit: int, timeout: float) -> bytes:
    received = bytearray()

    def keep(block: bytes) -> None:
        received.extend(block)
        if len(received) > limit:
            raise AttachmentError(f"attachment {document.id}: larger than {limit} bytes")

    # SMEV's file store speaks plain FTP; the declared hash, under the sender's signature,
    # is what vouches for the file.
    ftp = ftplib.FTP(timeout=timeout)  # noqa: S321
    try:
        with _failures(document.id):
            ftp.connect(store.host, store.port)
            ftp.login(document.user_name or "", document.password or "")
            ftp.retrbinary(f"RETR /{document.id}/{document.file_name}", keep)
    finally:
        ftp.close()  # not QUIT: after an aborted transfer its answer would be a new failure
    return bytes(received)


@contextmanager
def _failures(uuid: str) -> Iterator[None]:
    """What ftplib and the network raise, as the hub's errors with the FTP reply code only:
    a server's reply text may echo the user name."""
    where = f"attachment {uuid}"
    try:
        yield
    except AttachmentError:
        raise
    except ftplib.error_perm as exc:
        raise AttachmentError(f"{where}: the file store refused it (FTP {_code(exc)})") from None
    except (ftplib.Error, OSError, EOFError) as exc:
        why = f"FTP {_code(exc)}" if _code(exc) else type(exc).__name__
        raise FileStoreError(f"{where}: the file store failed ({why})") from None


def _code(error: Exception) -> str:
    text = str(error.args[0]) if isinstance(error, ftplib.Error) and error.args else ""
    return text[:3] if text[:3].isdigit() else ""


def _check_hash(document: SmevAttachment, content: bytes, digest: Digest) -> None:
    try:
        declared = base64.b64decode(document.hash or "", validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentHashError(
            f"attachment {document.id}: its declared Hash is not base64"
        ) from None
    if digest(content) != declared:
        raise AttachmentHashError(
            f"attachment {document.id}: the file's GOST R 34.11-2012 digest differs from the "
            "Hash its sender declared; the file was not written"
        )


def _write(target: Path, document: SmevAttachment, content: bytes) -> FetchedFile:
    folder = target / document.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (document.file_name or document.id)
    partial = path.with_name(f".{path.name}.part")
    # Personal documents: readable by the operator alone; whole or not at all.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    partial.replace(path)
    return FetchedFile(document.id, path, len(content), document.mime_type)


def file_store_documents(message: SmevMessage) -> Iterable[SmevAttachment]:
    """The message's documents in SMEV's file store."""
    return (a for a in message.attachments if a.kind == "filestore")
