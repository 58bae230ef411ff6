"""SMEV's file store, simulated: a local FTP server (pyftpdlib) over a temporary folder.

An agency puts a document in (``put``); the store keeps it at ``/{uuid}/{file name}`` and makes
it a user and password of its own, which only reach that one folder. The exchange hands those
to the recipient in ``FSAttachmentsList``, as SMEV does, and the sender names the document in
its ``RefAttachmentHeaderList`` (``header``). pyftpdlib is a test and development dependency:
it is imported when a store starts, never by the hub itself.
"""

from __future__ import annotations

import base64
import logging
import secrets
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.smev.build import FileStoreAttachment

Digest = Callable[[bytes], bytes]  # Streebog-256, as SMEV's Hash is made

__all__ = ["FileAccess", "FileStore"]


@dataclass(frozen=True, slots=True)
class FileAccess:
    """One stored document: what the sender declares and what SMEV gives the recipient."""

    uuid: str
    file_name: str
    hash: str  # base64 Streebog-256 of the content
    mime_type: str
    user_name: str
    password: str

    def __repr__(self) -> str:  # the credentials are secrets, in tests too
        return f"FileAccess(uuid={self.uuid!r}, mime_type={self.mime_type!r})"

    def header(self, *, with_file_name: bool = True) -> FileStoreAttachment:
        """The sender's RefAttachmentHeader (FileName exists there in 1.3 only)."""
        name = self.file_name if with_file_name else None
        return FileStoreAttachment(self.uuid, self.hash, self.mime_type, file_name=name)


class FileStore:
    """A running FTP server on ``host`` (a free port unless ``port``) serving ``root`` (a
    temporary folder, removed on ``stop``, unless given). Use as a context manager."""

    def __init__(
        self, digest: Digest, root: Path | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._digest, self._address = digest, (host, port)
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="smev-file-store-"))
        self._documents: dict[str, FileAccess] = {}
        self._stop = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``ftp://host:port``: what the hub is configured with (HUB_SMEV_FILE_STORE)."""
        host, port = self._server.address[:2]
        return f"ftp://{host}:{port}"

    def start(self) -> FileStore:
        from pyftpdlib.authorizers import DummyAuthorizer  # noqa: PLC0415 - a test dependency
        from pyftpdlib.handlers import FTPHandler  # noqa: PLC0415
        from pyftpdlib.servers import FTPServer  # noqa: PLC0415

        _quiet_pyftpdlib()
        handler = type("SmevFileStoreHandler", (FTPHandler,), {"authorizer": DummyAuthorizer()})
        self._server = FTPServer(self._address, handler)
        self._thread = threading.Thread(target=self._serve, name="smev-file-store", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._server.ioloop.loop(0.05, blocking=False)
        self._server.close_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> FileStore:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def put(self, content: bytes, file_name: str, mime_type: str) -> FileAccess:
        """Store a document under a new uuid, with a user and password for it alone."""
        stored = FileAccess(
            str(uuid.uuid4()),
            file_name,
            base64.b64encode(self._digest(content)).decode("ascii"),
            mime_type,
            f"fs-{secrets.token_hex(6)}",
            secrets.token_urlsafe(12),
        )
        self._documents[stored.uuid] = stored
        self.path(stored.uuid).parent.mkdir(parents=True)
        self.path(stored.uuid).write_bytes(content)
        self._grant(stored)
        return stored

    def _grant(self, stored: FileAccess) -> None:
        # Home is the store's root (the path is /uuid/name), but only the document's own
        # folder can be read.
        authorizer = self._server.handler.authorizer
        authorizer.add_user(stored.user_name, stored.password, str(self.root), perm="")
        folder = str(self.root / stored.uuid)
        authorizer.override_perm(stored.user_name, folder, perm="elr", recursive=True)

    def access(self, file_id: str) -> FileAccess | None:
        """The stored document ``file_id`` (a uuid), if the store holds it."""
        return self._documents.get(file_id)

    def path(self, file_id: str) -> Path:
        """Where the store keeps document ``file_id`` on disk."""
        stored = self._documents.get(file_id)
        if stored is None:
            return self.root / file_id / "document"
        return self.root / file_id / stored.file_name


def _quiet_pyftpdlib() -> None:
    # pyftpdlib logs each login with its user name, a credential: its logger speaks from
    # WARNING up. A handler of its own also keeps it from configuring logging globally.
    logger = logging.getLogger("pyftpdlib")
    logger.setLevel(logging.WARNING)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
