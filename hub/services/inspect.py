"""What ``hub smev inspect`` reports about one message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.smev.read import read_message
from hub.xml import parse_message

if TYPE_CHECKING:
    from hub.bootstrap import Hub


def inspect_message(data: bytes, hub: Hub, *, content_type: str | None = None) -> dict[str, Any]:
    """Classify and verify a message; the dict matches ``schemas/cli/smev-inspect.schema.json``."""
    document = parse_message(data, content_type, hub.xml_limits)
    message = read_message(document)
    summary = message.to_dict()
    return {
        "version": message.version,
        "operation": message.operation,
        "kind": message.kind,
        "message_id": message.message_id,
        "original_message_id": message.original_message_id,
        "reference_message_id": message.reference_message_id,
        "status_category": message.status_category,
        "content": message.content_name,
        "fault": summary["fault"],
        "attachments": summary["attachments"],
        "signatures": [r.to_dict() for r in hub.verifier.verify_all(document.root)],
        "details": {k: v for k, v in summary.items() if k not in _TOP_LEVEL},
    }


_TOP_LEVEL = {
    "version",
    "operation",
    "kind",
    "message_id",
    "original_message_id",
    "reference_message_id",
    "status_category",
    "content_name",
    "fault",
    "attachments",
}
