"""``hub attachments fetch``: the documents a stored SMEV message points to in SMEV's file
store, fetched for an operator allowed to see them (audited)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.bootstrap import Hub
from hub.cli._common import (
    EXIT_INVALID,
    TokenOption,
    fail,
    guarded,
    make_hub,
    principal,
)
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.journal.records import InboxRecord
    from hub.smev.filestore import FetchedFile, StoreAddress


attachments_app = typer.Typer(
    no_args_is_help=True, help="Documents attached to SMEV messages in SMEV's file store."
)


@attachments_app.command("fetch")
def attachments_fetch(
    inbox_id: Annotated[str, typer.Argument(help="the stored message (an event's hubinboxid)")],
    to: Annotated[
        Path, typer.Option("--to", help="folder to write <uuid>/<file name> in")
    ] = Path(),
    reason: Annotated[str, typer.Option(help="why you need the documents (audited)")] = "",
    token: TokenOption = "",
) -> None:
    """Fetch the documents of a stored message from SMEV's file store (HUB_SMEV_FILE_STORE)
    with the credentials SMEV gave, check each against its declared GOST hash, write them.
    Personal documents: needs reveal over the message's scope and --reason; audited. Exit 1
    when a file is not the one declared (nothing of it is written)."""
    from hub.smev.filestore import AttachmentHashError, StoreAddress  # noqa: PLC0415

    if not reason.strip():
        fail("--reason is needed: fetching personal documents is audited")
    hub = make_hub()
    address = hub.settings.smev_file_store
    if not address:
        fail("HUB_SMEV_FILE_STORE is not set: the address of SMEV's file store (ftp://host)")
    store = guarded(lambda: StoreAddress.parse(address))
    who = principal(hub, token)
    record = guarded(lambda: hub.operations.documents_source(who, inbox_id, reason))
    try:
        fetched = _fetch_documents(hub, record, store, to)
    except AttachmentHashError as exc:
        fail(str(exc), EXIT_INVALID)
    except HubError as exc:
        fail(str(exc))
    for document in fetched:
        print(f"{document.uuid}\t{document.size} bytes\t{document.path}")
    if not fetched:
        print("the message has no documents in SMEV's file store")


def _fetch_documents(
    hub: Hub, record: InboxRecord, store: StoreAddress, target: Path
) -> list[FetchedFile]:
    from hub.smev.filestore import fetch_attachments  # noqa: PLC0415
    from hub.smev.read import read_message  # noqa: PLC0415

    message = read_message(record.raw, record.content_type)
    settings = hub.settings
    return fetch_attachments(
        message,
        store,
        target,
        hub.crypto.digest,
        settings.smev_file_max_bytes,
        settings.smev_timeout,
    )
