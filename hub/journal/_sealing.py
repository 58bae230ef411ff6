"""Sealed columns: each value is sealed under the row's id and its column, so a value moved to
another row or column does not open; rows whose ``key_id`` is ``plain`` are in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from hub.protection.sealing import PLAIN, Sealer

SEALED_JSON = "$sealed"  # a JSON column's sealed value: {"$sealed": base64}


def context(where: str, row_id: str) -> bytes:
    """The associated data of a value: ``table.column:row id``."""
    return f"{where}:{row_id}".encode()


class Vault:
    """Seals and opens the journal's columns with one sealer; hashes index values."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.index_key = b""  # set by the journal once it knows the stored one

    @property
    def key_id(self) -> str:
        return self.sealer.key_id

    @property
    def plain(self) -> bool:
        return self.sealer.key_id == PLAIN

    def blob(self, value: bytes, where: str, row_id: str) -> bytes:
        return value if self.plain else self.sealer.seal(value, context(where, row_id))

    def unblob(self, value: bytes, key_id: str, where: str, row_id: str) -> bytes:
        if key_id == PLAIN:
            return bytes(value)
        return self.sealer.open(bytes(value), context(where, row_id))

    def text(self, value: str, where: str, row_id: str) -> str:
        if self.plain:
            return value
        return base64.b64encode(self.blob(value.encode(), where, row_id)).decode()

    def untext(self, value: str, key_id: str, where: str, row_id: str) -> str:
        if key_id == PLAIN:
            return value
        return self.unblob(base64.b64decode(value), key_id, where, row_id).decode()

    def json(self, value: Mapping[str, Any], where: str, row_id: str) -> dict[str, Any]:
        if self.plain:
            return dict(value)
        data = json.dumps(dict(value), ensure_ascii=False).encode()
        return {SEALED_JSON: base64.b64encode(self.blob(data, where, row_id)).decode()}

    def unjson(self, value: Mapping[str, Any] | None, key_id: str, where: str, row_id: str) -> Any:
        if key_id == PLAIN or not value or SEALED_JSON not in value:
            return dict(value or {})
        data = self.unblob(base64.b64decode(value[SEALED_JSON]), key_id, where, row_id)
        return json.loads(data)

    def index(self, value: str) -> str:
        """A keyed hash for an index column: equal values match, none can be read back."""
        return hmac.new(self.index_key, value.encode(), hashlib.sha256).hexdigest()
